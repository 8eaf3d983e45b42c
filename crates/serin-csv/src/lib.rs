//! Reads exported metric series from CSV files into a [`MetricSet`], streaming, with polars.
//!
//! Two layouts are accepted:
//! - long: one file with columns `metric`, `scope` (`baseline`/`canary`, or Kayenta's
//!   `control`/`experiment`), `timestamp` (RFC 3339 or epoch seconds) and `value`;
//! - a pair of files, one per scope, each with columns `metric`, `timestamp`, `value`.
//!
//! Column names are matched ignoring ASCII case (a column named twice, in any case,
//! is an error); other columns are ignored; a UTF-8 byte-order mark is skipped. An empty
//! value, `NaN` or `±Inf` is kept as NaN for the metric's NaN strategy to handle; a
//! number too large for a float (`1e400`) is an error, not a missing point.
//!
//! A metric has one value per scope and timestamp: a repeated (metric, scope,
//! timestamp) is an error naming both lines, since a file written twice would
//! otherwise double every sample and narrow every interval. A file that carries
//! several series of a metric (one per instance, say) says so with a `series` column;
//! the key is then (metric, scope, series, timestamp), and the series are pooled.
//!
//! A file is read in chunks of whole rows (about 16 MiB each) that polars parses, so
//! memory stays bounded by the chunk size plus, per value kept, the value (8 bytes)
//! and its key for the repeat check. A row longer than [`MAX_ROW_BYTES`] is refused.
//! Any malformed row fails the whole read with the file name and line number: nothing
//! is skipped silently.

mod rows;

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use polars::prelude::{
    CsvParseOptions, CsvReadOptions, DataFrame, DataType, Field, PlSmallStr, Schema, SerReader,
};
use serin_core::{MetricSet, Scope};
use thiserror::Error;

use crate::rows::{RowChunk, RowError, RowReader, split_fields};

pub use crate::rows::MAX_ROW_BYTES;

/// Bytes of whole rows handed to polars at a time.
pub const DEFAULT_CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Why a CSV file could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file has no header row.
    #[error("{path}: file is empty (expected a header row)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A required column is missing from the header.
    #[error("{path}:{line}: missing column '{column}' (header has: {header})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The header's line number.
        line: u64,
        /// The missing column.
        column: &'static str,
        /// The header as read.
        header: String,
    },
    /// A column the reader uses is named twice.
    #[error("{path}:{line}: column '{column}' appears twice (as '{first}' and '{second}')")]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The header's line number.
        line: u64,
        /// The column.
        column: &'static str,
        /// Its first spelling.
        first: String,
        /// Its second spelling.
        second: String,
    },
    /// A (metric, scope, series, timestamp) appears on two rows.
    #[error(
        "{path}:{line}: {metric} ({scope}) at {timestamp} repeats line {first_line}; a file with several series of a metric needs a 'series' column"
    )]
    RepeatedPoint {
        /// The file.
        path: PathBuf,
        /// The repeating row's line.
        line: u64,
        /// The line it repeats.
        first_line: u64,
        /// The metric.
        metric: String,
        /// The scope, as `baseline` or `canary`.
        scope: &'static str,
        /// The timestamp, in RFC 3339.
        timestamp: String,
    },
    /// A row is longer than [`MAX_ROW_BYTES`].
    #[error("{path}:{line}: row is longer than {limit} bytes")]
    RowTooLong {
        /// The file.
        path: PathBuf,
        /// The row's first line.
        line: u64,
        /// The limit.
        limit: usize,
    },
    /// A row is malformed.
    #[error("{path}:{line}: {message}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line number where the row starts.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
}

/// The time span covered by the rows read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Earliest timestamp.
    pub start: DateTime<Utc>,
    /// Latest timestamp.
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    fn include(window: &mut Option<Self>, at: DateTime<Utc>) {
        match window {
            Some(window) => {
                window.start = window.start.min(at);
                window.end = window.end.max(at);
            }
            None => *window = Some(Self { start: at, end: at }),
        }
    }
}

/// Everything read from one or more CSV files.
#[derive(Debug, Clone, Default)]
pub struct LoadedMetrics {
    /// Raw values by metric and scope.
    pub metrics: MetricSet,
    /// Data rows read.
    pub rows: u64,
    /// Span of the timestamps, if any row was read.
    pub window: Option<TimeWindow>,
}

/// The timestamps read of every series, with their lines, for the repeat check.
#[derive(Debug, Default)]
struct PointLines {
    metric_ids: HashMap<String, u32>,
    series_ids: HashMap<String, u32>,
    points: HashMap<SeriesKey, Vec<PointLine>>,
}

/// One series of the file: its metric, its `series` value and its scope, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SeriesKey {
    metric: u32,
    series: u32,
    scope: Scope,
}

/// One point's timestamp and the line it was read on (ordered by time, then line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct PointLine {
    seconds: i64,
    nanos: u32,
    line: u64,
}

/// A point read twice: where, and which line it repeats.
struct Repeat<'a> {
    metric: &'a str,
    scope: Scope,
    seconds: i64,
    nanos: u32,
    line: u64,
    first_line: u64,
}

impl PointLines {
    fn id(table: &mut HashMap<String, u32>, name: &str) -> u32 {
        if let Some(&id) = table.get(name) {
            return id;
        }
        let id = table.len() as u32;
        table.insert(name.to_owned(), id);
        id
    }

    fn record(&mut self, metric: &str, series: &str, scope: Scope, at: DateTime<Utc>, line: u64) {
        let key = SeriesKey {
            metric: Self::id(&mut self.metric_ids, metric),
            series: Self::id(&mut self.series_ids, series),
            scope,
        };
        self.points.entry(key).or_default().push(PointLine {
            seconds: at.timestamp(),
            nanos: at.timestamp_subsec_nanos(),
            line,
        });
    }

    /// The repeat whose later line comes first in the file, if any.
    fn first_repeat(&mut self) -> Option<Repeat<'_>> {
        // (the series, the repeating point, the line it repeats)
        let mut found: Option<(SeriesKey, PointLine, u64)> = None;
        for (key, points) in &mut self.points {
            // Rows usually arrive in time order, where this sort is a linear pass.
            points.sort_unstable();
            for pair in points.windows(2) {
                let (earlier, later) = (pair[0], pair[1]);
                if (earlier.seconds, earlier.nanos) == (later.seconds, later.nanos)
                    && found.is_none_or(|(_, point, _)| later.line < point.line)
                {
                    found = Some((*key, later, earlier.line));
                }
            }
        }
        let (key, point, first_line) = found?;
        let metric = self
            .metric_ids
            .iter()
            .find(|(_, id)| **id == key.metric)
            .map_or("", |(name, _)| name.as_str());
        let (scope, seconds, nanos, line) = (key.scope, point.seconds, point.nanos, point.line);
        Some(Repeat {
            metric,
            scope,
            seconds,
            nanos,
            line,
            first_line,
        })
    }
}

/// Tuning for the reader.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Bytes of rows parsed per chunk.
    pub chunk_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            chunk_bytes: DEFAULT_CHUNK_BYTES,
        }
    }
}

/// Reads a long-format file (`metric`, `scope`, `timestamp`, `value`).
/// `progress` is called with the bytes read so far after each chunk.
pub fn read_long(
    path: &Path,
    options: ReadOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<LoadedMetrics, CsvError> {
    let mut loaded = LoadedMetrics::default();
    read_into(open(path)?, path, None, options, &mut loaded, progress)?;
    Ok(loaded)
}

/// Reads a baseline file and a canary file (`metric`, `timestamp`, `value` each).
/// `progress` is called with the bytes read so far, over both files.
pub fn read_pair(
    baseline: &Path,
    canary: &Path,
    options: ReadOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<LoadedMetrics, CsvError> {
    let mut loaded = LoadedMetrics::default();
    let mut done = 0u64;
    for (path, scope) in [(baseline, Scope::Baseline), (canary, Scope::Canary)] {
        let before = done;
        let read = read_into(
            open(path)?,
            path,
            Some(scope),
            options,
            &mut loaded,
            &mut |bytes| progress(before + bytes),
        )?;
        done += read;
    }
    Ok(loaded)
}

/// Reads CSV from any reader; `name` is used in error messages.
pub fn read_long_from(reader: impl Read, name: &Path) -> Result<LoadedMetrics, CsvError> {
    let mut loaded = LoadedMetrics::default();
    read_into(
        reader,
        name,
        None,
        ReadOptions::default(),
        &mut loaded,
        &mut |_| {},
    )?;
    Ok(loaded)
}

fn open(path: &Path) -> Result<File, CsvError> {
    File::open(path).map_err(|source| CsvError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Where a row's scope comes from.
#[derive(Debug, Clone, Copy)]
enum ScopeColumn {
    /// Every row of the file has this scope (the paired-files layout).
    Fixed(Scope),
    /// The scope column at this position.
    Column(usize),
}

/// Positions of the columns this reader uses, within the header.
struct Columns {
    names: Vec<String>,
    metric: usize,
    scope: ScopeColumn,
    timestamp: usize,
    value: usize,
    /// The optional `series` column.
    series: Option<usize>,
}

impl Columns {
    fn from_header(
        header: &[u8],
        line: u64,
        path: &Path,
        fixed_scope: Option<Scope>,
    ) -> Result<Self, CsvError> {
        let header = header.strip_prefix("\u{feff}".as_bytes()).unwrap_or(header);
        let names: Vec<String> = split_fields(header)
            .into_iter()
            .map(|name| name.trim().to_owned())
            .collect();
        let find_optional = |column: &'static str| -> Result<Option<usize>, CsvError> {
            let mut found = names
                .iter()
                .enumerate()
                .filter(|(_, name)| name.eq_ignore_ascii_case(column));
            let first = found.next();
            if let (Some((_, first)), Some((_, second))) = (first, found.next()) {
                return Err(CsvError::DuplicateColumn {
                    path: path.to_owned(),
                    line,
                    column,
                    first: first.clone(),
                    second: second.clone(),
                });
            }
            Ok(first.map(|(index, _)| index))
        };
        let find = |column: &'static str| {
            find_optional(column)?.ok_or_else(|| CsvError::MissingColumn {
                path: path.to_owned(),
                line,
                column,
                header: names.join(","),
            })
        };
        Ok(Self {
            metric: find("metric")?,
            scope: match fixed_scope {
                Some(scope) => ScopeColumn::Fixed(scope),
                None => ScopeColumn::Column(find("scope")?),
            },
            timestamp: find("timestamp")?,
            value: find("value")?,
            series: find_optional("series")?,
            names,
        })
    }

    /// Every column as a string, except `value` as a float; positional names so
    /// duplicate or odd header names cannot confuse polars.
    fn schema(&self) -> Schema {
        Schema::from_iter((0..self.names.len()).map(|index| {
            let dtype = if index == self.value {
                DataType::Float64
            } else {
                DataType::String
            };
            Field::new(PlSmallStr::from(format!("c{index}")), dtype)
        }))
    }
}

fn read_into(
    reader: impl Read,
    path: &Path,
    fixed_scope: Option<Scope>,
    options: ReadOptions,
    loaded: &mut LoadedMetrics,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, CsvError> {
    let io_error = |source| CsvError::Io {
        path: path.to_owned(),
        source,
    };
    let chunk_error = |error| match error {
        RowError::Io(source) => io_error(source),
        RowError::TooLong { line } => CsvError::RowTooLong {
            path: path.to_owned(),
            line,
            limit: MAX_ROW_BYTES,
        },
    };
    let mut rows = RowReader::new(reader, options.chunk_bytes);
    let mut chunk = rows
        .next_chunk()
        .map_err(chunk_error)?
        .ok_or_else(|| CsvError::Empty {
            path: path.to_owned(),
        })?;
    // The first row is the header; the rest of the chunk is data.
    let columns = Columns::from_header(chunk.row(0), chunk.lines[0], path, fixed_scope)?;
    chunk.drop_first_row();
    let schema = Arc::new(columns.schema());
    let mut points = PointLines::default();
    loop {
        if !chunk.lines.is_empty() {
            // polars pads short rows with nulls; a missing field is an error here.
            let expected = columns.names.len() as u32;
            if let Some(row) = chunk.fields.iter().position(|&fields| fields != expected) {
                return Err(row_error(
                    path,
                    chunk.lines[row],
                    format!("expected {expected} fields, found {}", chunk.fields[row]),
                ));
            }
            let frame = parse_chunk(&chunk, &schema)
                .map_err(|message| locate_error(&chunk, &columns, path, message))?;
            append_rows(&frame, &chunk, &columns, path, loaded, &mut points)?;
        }
        progress(rows.bytes_read);
        match rows.next_chunk().map_err(chunk_error)? {
            Some(next) => chunk = next,
            None => break,
        }
    }
    if let Some(repeat) = points.first_repeat() {
        return Err(CsvError::RepeatedPoint {
            path: path.to_owned(),
            line: repeat.line,
            first_line: repeat.first_line,
            metric: repeat.metric.to_owned(),
            scope: match repeat.scope {
                Scope::Baseline => "baseline",
                Scope::Canary => "canary",
            },
            timestamp: DateTime::from_timestamp(repeat.seconds, repeat.nanos)
                .map_or_else(|| repeat.seconds.to_string(), |at| at.to_rfc3339()),
        });
    }
    Ok(rows.bytes_read)
}

fn parse_chunk(chunk: &RowChunk, schema: &Arc<Schema>) -> Result<DataFrame, String> {
    let parse_options = CsvParseOptions::default().with_missing_is_null(true);
    CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(schema.clone()))
        .with_parse_options(parse_options)
        .with_raise_if_empty(false)
        .into_reader_with_file_handle(std::io::Cursor::new(chunk.bytes.as_slice()))
        .finish()
        .map_err(|error| error.to_string())
}

fn row_error(path: &Path, line: u64, message: impl Into<String>) -> CsvError {
    CsvError::Row {
        path: path.to_owned(),
        line,
        message: message.into(),
    }
}

/// Finds the row polars refused, to report its line; falls back to polars' message.
fn locate_error(chunk: &RowChunk, columns: &Columns, path: &Path, message: String) -> CsvError {
    for (index, &line) in chunk.lines.iter().enumerate() {
        let fields = split_fields(chunk.row(index));
        if let Err(reason) = parse_value(fields.get(columns.value).map(String::as_str)) {
            return row_error(path, line, reason);
        }
    }
    row_error(
        path,
        chunk.lines.first().copied().unwrap_or(0),
        format!(
            "could not parse rows up to line {}: {message}",
            chunk.lines.last().copied().unwrap_or(0)
        ),
    )
}

/// Empty, `NaN` and `±Inf` become NaN; anything else must be a finite number.
fn parse_value(text: Option<&str>) -> Result<f64, String> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(f64::NAN);
    };
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) if names_a_non_finite_value(text) => Ok(f64::NAN),
        Ok(_) => Err(format!(
            "value '{}' is too large for a 64-bit float",
            abbreviated(text)
        )),
        Err(_) => Err(format!("value '{}' is not a number", abbreviated(text))),
    }
}

/// `NaN`, `inf` or `infinity`, signed or not, in any case: written as missing on purpose.
fn names_a_non_finite_value(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    ["nan", "inf", "infinity"]
        .iter()
        .any(|word| unsigned.eq_ignore_ascii_case(word))
}

/// At most 40 characters of `text`, for an error message.
fn abbreviated(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>()
        && seconds.is_finite()
    {
        let whole = seconds.floor();
        let nanos = ((seconds - whole) * 1e9).round() as u32;
        if let Some(at) = DateTime::from_timestamp(whole as i64, nanos.min(999_999_999)) {
            return Ok(at);
        }
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| format!("timestamp '{text}' is neither RFC 3339 nor epoch seconds"))
}

fn append_rows(
    frame: &DataFrame,
    chunk: &RowChunk,
    columns: &Columns,
    path: &Path,
    loaded: &mut LoadedMetrics,
    points: &mut PointLines,
) -> Result<(), CsvError> {
    let column = |index: usize| frame.columns()[index].as_materialized_series().clone();
    let internal =
        |error: polars::error::PolarsError| row_error(path, chunk.lines[0], error.to_string());
    let metric_series = column(columns.metric);
    let metrics = metric_series.str().map_err(internal)?;
    let timestamp_series = column(columns.timestamp);
    let timestamps = timestamp_series.str().map_err(internal)?;
    let value_series = column(columns.value);
    let values = value_series.f64().map_err(internal)?;
    let scope_series;
    let scopes = match columns.scope {
        ScopeColumn::Fixed(scope) => Ok(scope),
        ScopeColumn::Column(index) => {
            scope_series = column(index);
            Err(scope_series.str().map_err(internal)?)
        }
    };
    let series_materialised = columns.series.map(column);
    let series_column = match &series_materialised {
        Some(series) => Some(series.str().map_err(internal)?),
        None => None,
    };
    if frame.height() != chunk.lines.len() {
        return Err(row_error(
            path,
            chunk.lines[0],
            format!(
                "parsed {} rows from {} lines",
                frame.height(),
                chunk.lines.len()
            ),
        ));
    }
    for (row, &line) in chunk.lines.iter().enumerate() {
        let metric = metrics
            .get(row)
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| row_error(path, line, "missing metric name"))?;
        let scope = match scopes {
            Ok(scope) => scope,
            Err(scopes) => {
                let text = scopes.get(row).unwrap_or("");
                Scope::parse(text).ok_or_else(|| {
                    row_error(
                        path,
                        line,
                        format!("scope '{text}' is not baseline, canary, control or experiment"),
                    )
                })?
            }
        };
        let at = parse_timestamp(timestamps.get(row).unwrap_or(""))
            .map_err(|message| row_error(path, line, message))?;
        let value = match values.get(row) {
            Some(value) if value.is_finite() => value,
            // Not finite (or not parsed): only the words for it mean a missing point.
            _ => parse_value(
                split_fields(chunk.row(row))
                    .get(columns.value)
                    .map(String::as_str),
            )
            .map_err(|message| row_error(path, line, message))?,
        };
        let series = match (columns.series, &series_column) {
            (Some(_), Some(series)) => series.get(row).unwrap_or("").trim(),
            _ => "",
        };
        points.record(metric, series, scope, at, line);
        TimeWindow::include(&mut loaded.window, at);
        loaded
            .metrics
            .push_at(metric, scope, at.timestamp_millis(), value);
        loaded.rows += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
