//! Reads exported metric series from CSV files into a [`MetricSet`], streaming, with polars.
//!
//! Two layouts are accepted:
//! - long: one file with columns `metric`, `scope` (`baseline`/`canary`, or Kayenta's
//!   `control`/`experiment`), `timestamp` (RFC 3339 or epoch seconds) and `value`;
//! - a pair of files, one per scope, each with columns `metric`, `timestamp`, `value`.
//!
//! Column names are matched ignoring ASCII case; other columns are ignored. An empty
//! value, `NaN` or `±Inf` is kept as NaN for the metric's NaN strategy to handle. A file
//! is read in chunks of whole rows (about 16 MiB each) that polars parses, so memory
//! stays bounded by the chunk size plus 8 bytes per value kept. Any malformed row fails
//! the whole read with the file name and line number: nothing is skipped silently.

mod rows;

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

use crate::rows::{RowChunk, RowReader, split_fields};

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
}

impl Columns {
    fn from_header(
        header: &[u8],
        line: u64,
        path: &Path,
        fixed_scope: Option<Scope>,
    ) -> Result<Self, CsvError> {
        let names: Vec<String> = split_fields(header)
            .into_iter()
            .map(|name| name.trim().to_owned())
            .collect();
        let find = |column: &'static str| {
            names
                .iter()
                .position(|name| name.eq_ignore_ascii_case(column))
                .ok_or_else(|| CsvError::MissingColumn {
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
    let mut rows = RowReader::new(reader, options.chunk_bytes);
    let mut chunk = rows
        .next_chunk()
        .map_err(io_error)?
        .ok_or_else(|| CsvError::Empty {
            path: path.to_owned(),
        })?;
    // The first row is the header; the rest of the chunk is data.
    let columns = Columns::from_header(chunk.row(0), chunk.lines[0], path, fixed_scope)?;
    chunk.drop_first_row();
    let schema = Arc::new(columns.schema());
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
            append_rows(&frame, &chunk, &columns, path, loaded)?;
        }
        progress(rows.bytes_read);
        match rows.next_chunk().map_err(io_error)? {
            Some(next) => chunk = next,
            None => return Ok(rows.bytes_read),
        }
    }
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

/// Empty, `NaN` and `±Inf` become NaN; anything else must be a number.
fn parse_value(text: Option<&str>) -> Result<f64, String> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(f64::NAN);
    };
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Ok(f64::NAN),
        Err(_) => Err(format!("value '{text}' is not a number")),
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
        let value = values.get(row).unwrap_or(f64::NAN);
        let value = if value.is_finite() { value } else { f64::NAN };
        TimeWindow::include(&mut loaded.window, at);
        loaded.metrics.push(metric, scope, value);
        loaded.rows += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
