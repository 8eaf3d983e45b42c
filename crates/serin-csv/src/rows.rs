//! Splits CSV bytes into bounded chunks of whole rows, keeping each row's line number.
//!
//! Rows end at a newline outside double quotes, so a quoted field may span lines.
//! Blank rows are dropped here (and never reach polars) so that every parsed row
//! maps back to the line it started on.

use std::io::{self, Read};

/// The longest row accepted, in bytes: a metric row is a few dozen bytes, and a
/// longer one is a mistake (or an attack) that would otherwise be buffered whole.
pub const MAX_ROW_BYTES: usize = 1024 * 1024;

/// Why the next chunk could not be cut.
#[derive(Debug)]
pub(crate) enum RowError {
    /// Reading failed.
    Io(io::Error),
    /// The row starting at `line` is longer than [`MAX_ROW_BYTES`].
    TooLong {
        /// 1-based line number where the row starts.
        line: u64,
    },
}

impl From<io::Error> for RowError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// A run of complete, non-blank rows and the line each one starts on.
#[derive(Debug, Default)]
pub(crate) struct RowChunk {
    /// The rows, each ending in `\n` (a `\r` before it is removed).
    pub bytes: Vec<u8>,
    /// 1-based line number of each row.
    pub lines: Vec<u64>,
    /// Where each row starts in `bytes`.
    pub starts: Vec<usize>,
    /// Fields in each row (separators outside quotes, plus one).
    pub fields: Vec<u32>,
}

impl RowChunk {
    /// Row `index` without its newline.
    pub(crate) fn row(&self, index: usize) -> &[u8] {
        let end = self
            .starts
            .get(index + 1)
            .copied()
            .unwrap_or(self.bytes.len());
        &self.bytes[self.starts[index]..end - 1]
    }

    /// Drops the first row (the header).
    pub(crate) fn drop_first_row(&mut self) {
        let second = self.starts.get(1).copied().unwrap_or(self.bytes.len());
        self.bytes.drain(..second);
        self.lines.remove(0);
        self.fields.remove(0);
        self.starts.remove(0);
        for start in &mut self.starts {
            *start -= second;
        }
    }
}

/// Reads rows from `reader` in chunks of about `chunk_bytes`.
pub(crate) struct RowReader<R> {
    reader: R,
    chunk_bytes: usize,
    buffer: Vec<u8>,
    /// Bytes of `buffer` already handed out.
    start: usize,
    /// Line number of the first byte at `start`.
    line: u64,
    eof: bool,
    /// Bytes read from the underlying reader so far.
    pub bytes_read: u64,
}

impl<R: Read> RowReader<R> {
    pub(crate) fn new(reader: R, chunk_bytes: usize) -> Self {
        Self {
            reader,
            chunk_bytes: chunk_bytes.max(1024),
            buffer: Vec::new(),
            start: 0,
            line: 1,
            eof: false,
            bytes_read: 0,
        }
    }

    /// The next chunk, or `None` at the end of input.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<RowChunk>, RowError> {
        let mut chunk = RowChunk::default();
        loop {
            // Hand out whole rows from what is buffered.
            let mut in_quotes = false;
            let mut row_start = self.start;
            let mut index = self.start;
            while index < self.buffer.len() {
                match self.buffer[index] {
                    b'"' => in_quotes = !in_quotes,
                    b'\n' if !in_quotes => {
                        let rows_before = self.buffer[row_start..index]
                            .iter()
                            .filter(|&&b| b == b'\n')
                            .count();
                        self.push_row(&mut chunk, row_start, index);
                        self.line += 1 + rows_before as u64;
                        row_start = index + 1;
                        self.start = row_start;
                        if chunk.bytes.len() >= self.chunk_bytes {
                            return Ok(Some(chunk));
                        }
                    }
                    _ => {}
                }
                index += 1;
                if index - row_start > MAX_ROW_BYTES {
                    // `self.line` is the line `row_start` is on.
                    return Err(RowError::TooLong { line: self.line });
                }
            }
            if self.eof {
                // A last row without a trailing newline.
                if self.start < self.buffer.len() {
                    let end = self.buffer.len();
                    self.push_row(&mut chunk, self.start, end);
                    self.start = end;
                }
                return Ok((!chunk.lines.is_empty()).then_some(chunk));
            }
            self.refill()?;
        }
    }

    fn push_row(&self, chunk: &mut RowChunk, start: usize, end: usize) {
        let mut row = &self.buffer[start..end];
        if let Some(stripped) = row.strip_suffix(b"\r") {
            row = stripped;
        }
        if row.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let mut in_quotes = false;
        let mut fields = 1u32;
        for &byte in row {
            match byte {
                b'"' => in_quotes = !in_quotes,
                b',' if !in_quotes => fields += 1,
                _ => {}
            }
        }
        chunk.starts.push(chunk.bytes.len());
        chunk.fields.push(fields);
        chunk.bytes.extend_from_slice(row);
        chunk.bytes.push(b'\n');
        chunk.lines.push(self.line);
    }

    fn refill(&mut self) -> io::Result<()> {
        self.buffer.drain(..self.start);
        self.start = 0;
        let old_len = self.buffer.len();
        let want = self.chunk_bytes.max(64 * 1024);
        self.buffer.resize(old_len + want, 0);
        let mut filled = old_len;
        while filled < self.buffer.len() {
            match self.reader.read(&mut self.buffer[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(read) => filled += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.bytes_read += (filled - old_len) as u64;
        self.buffer.truncate(filled);
        Ok(())
    }
}

/// Splits one CSV row (no trailing newline) into fields, honouring double quotes.
pub(crate) fn split_fields(row: &[u8]) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = Vec::new();
    let mut in_quotes = false;
    let mut index = 0;
    while index < row.len() {
        let byte = row[index];
        match byte {
            b'"' if in_quotes && row.get(index + 1) == Some(&b'"') => {
                field.push(b'"');
                index += 1;
            }
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                fields.push(String::from_utf8_lossy(&std::mem::take(&mut field)).into_owned())
            }
            _ => field.push(byte),
        }
        index += 1;
    }
    fields.push(String::from_utf8_lossy(&field).into_owned());
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_chunks(text: &str, chunk_bytes: usize) -> Vec<(String, Vec<u64>)> {
        let mut reader = RowReader::new(text.as_bytes(), chunk_bytes);
        let mut out = Vec::new();
        while let Some(chunk) = reader.next_chunk().unwrap() {
            out.push((String::from_utf8(chunk.bytes).unwrap(), chunk.lines));
        }
        out
    }

    #[test]
    fn keeps_line_numbers_across_blank_lines_quotes_and_crlf() {
        let text = "a,b\r\n\r\n1,\"x\ny\"\n\n2,z";
        let chunks = all_chunks(text, 1 << 20);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].0, "a,b\n1,\"x\ny\"\n2,z\n");
        assert_eq!(chunks[0].1, vec![1, 3, 6]);
        let mut reader = RowReader::new(text.as_bytes(), 1 << 20);
        let mut chunk = reader.next_chunk().unwrap().unwrap();
        assert_eq!(chunk.fields, vec![2, 2, 2]);
        assert_eq!(chunk.row(1), b"1,\"x\ny\"");
        chunk.drop_first_row();
        assert_eq!(
            (chunk.row(0), chunk.row(1)),
            (&b"1,\"x\ny\""[..], &b"2,z"[..])
        );
    }

    #[test]
    fn chunks_hold_whole_rows() {
        let text: String = (0..5000).map(|i| format!("m,canary,{i},{i}.5\n")).collect();
        let chunks = all_chunks(&text, 1024);
        assert!(chunks.len() > 10);
        let lines: Vec<u64> = chunks.iter().flat_map(|c| c.1.clone()).collect();
        assert_eq!(lines, (1..=5000).collect::<Vec<u64>>());
        assert!(
            chunks
                .iter()
                .all(|c| c.0.ends_with('\n') && c.0.lines().count() == c.1.len())
        );
    }

    #[test]
    fn a_row_past_the_limit_is_refused_with_its_line() {
        let long = "x".repeat(MAX_ROW_BYTES + 1);
        let text = format!("a,b\n1,2\n\n3,{long}\n4,5\n");
        let mut reader = RowReader::new(text.as_bytes(), 1 << 20);
        let error = reader.next_chunk().unwrap_err();
        assert!(matches!(error, RowError::TooLong { line: 4 }), "{error:?}");
        // One byte less is a row like any other.
        let fits = format!("a,b\n3,{}\n", "x".repeat(MAX_ROW_BYTES - 3));
        let mut reader = RowReader::new(fits.as_bytes(), 1 << 20);
        assert_eq!(reader.next_chunk().unwrap().unwrap().lines, vec![1, 2]);
    }

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(
            split_fields(br#"a,"b,c","d""e",""#),
            vec!["a", "b,c", "d\"e", ""]
        );
    }
}
