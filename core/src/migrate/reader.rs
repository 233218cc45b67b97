//! Streaming readers: JSONL and CSV files, and iterators of records. Memory stays bounded by
//! one line (at most [`MAX_LINE_BYTES`]) whatever the file size.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::record::{MigrationRecord, RecordError};
use crate::{Error, Result};

/// Longest accepted JSONL line; longer lines are reported and skipped without being buffered.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Input file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    Jsonl,
    /// Header row plus one record per row (`.csv`).
    Csv,
}

/// Where the records come from.
pub enum MigrationSource {
    /// A file; `format: None` picks it from the extension or sniffs the first byte.
    File {
        path: PathBuf,
        format: Option<Format>,
    },
    /// Typed records (line numbers are 1-based positions).
    Records(Box<dyn Iterator<Item = MigrationRecord> + Send>),
    /// JSON objects, e.g. dicts from a binding (line numbers are 1-based positions).
    Json(Box<dyn Iterator<Item = Value> + Send>),
    /// JSON objects from a source that can fail, e.g. a binding's host iterator (which may
    /// raise): an `Err` stops the run like an unreadable file (nothing after it is sent, not even
    /// the partial batch before it; checkpoint and report are synced) and is the run's error.
    /// The iterator is pulled on the run's reader thread, one item at a time, so a binding
    /// need not hold a lock across the whole run.
    TryJson(Box<dyn Iterator<Item = Result<Value>> + Send>),
}

impl MigrationSource {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        MigrationSource::File {
            path: path.into(),
            format: None,
        }
    }

    pub fn records<I>(records: I) -> Self
    where
        I: IntoIterator<Item = MigrationRecord>,
        I::IntoIter: Send + 'static,
    {
        MigrationSource::Records(Box::new(records.into_iter()))
    }

    pub fn json<I>(values: I) -> Self
    where
        I: IntoIterator<Item = Value>,
        I::IntoIter: Send + 'static,
    {
        MigrationSource::Json(Box::new(values.into_iter()))
    }

    /// [`MigrationSource::TryJson`] from any fallible iterator.
    pub fn try_json<I>(values: I) -> Self
    where
        I: IntoIterator<Item = Result<Value>>,
        I::IntoIter: Send + 'static,
    {
        MigrationSource::TryJson(Box::new(values.into_iter()))
    }

    /// A short description for checkpoints and summaries (no content).
    pub(crate) fn describe(&self) -> String {
        match self {
            MigrationSource::File { path, .. } => path.display().to_string(),
            MigrationSource::Records(_) => "records".into(),
            MigrationSource::Json(_) | MigrationSource::TryJson(_) => "json".into(),
        }
    }
}

impl std::fmt::Debug for MigrationSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MigrationSource({})", self.describe())
    }
}

impl From<PathBuf> for MigrationSource {
    fn from(path: PathBuf) -> Self {
        MigrationSource::file(path)
    }
}

impl From<&Path> for MigrationSource {
    fn from(path: &Path) -> Self {
        MigrationSource::file(path)
    }
}

impl From<&str> for MigrationSource {
    fn from(path: &str) -> Self {
        MigrationSource::file(path)
    }
}

impl From<Vec<MigrationRecord>> for MigrationSource {
    fn from(records: Vec<MigrationRecord>) -> Self {
        MigrationSource::records(records)
    }
}

/// One record read from the source, or why it could not be read.
pub(crate) struct Item {
    pub line: u64,
    pub record: std::result::Result<MigrationRecord, RecordError>,
}

/// A pull reader over any source.
pub(crate) trait RecordReader: Send {
    /// `Ok(None)` at the end; `Err` only for failures that stop the whole run (I/O).
    fn next_item(&mut self) -> Result<Option<Item>>;
    fn bytes_read(&self) -> u64;
    fn bytes_total(&self) -> Option<u64>;
}

/// Opens a source for reading.
pub(crate) fn open(source: MigrationSource) -> Result<Box<dyn RecordReader>> {
    match source {
        MigrationSource::File { path, format } => {
            let file = File::open(&path).map_err(|e| {
                Error::io(format!("cannot open {}: {e}", path.display())).with_field("file")
            })?;
            let total = file.metadata().ok().map(|m| m.len());
            let mut reader = BufReader::with_capacity(256 * 1024, file);
            let format = match format.or_else(|| format_from_extension(&path)) {
                Some(f) => f,
                None => sniff(&mut reader)?,
            };
            Ok(match format {
                Format::Jsonl => Box::new(JsonlReader {
                    inner: reader,
                    line: 0,
                    bytes: 0,
                    total,
                    buf: Vec::new(),
                }),
                Format::Csv => Box::new(CsvReader::new(reader, total)?),
            })
        }
        MigrationSource::Records(iter) => Ok(Box::new(IterReader {
            iter: iter.map(Ok),
            index: 0,
            map: Ok,
        })),
        MigrationSource::Json(iter) => Ok(Box::new(IterReader {
            iter: iter.map(Ok),
            index: 0,
            map: MigrationRecord::from_json,
        })),
        MigrationSource::TryJson(iter) => Ok(Box::new(IterReader {
            iter,
            index: 0,
            map: MigrationRecord::from_json,
        })),
    }
}

pub fn format_from_extension(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
        "csv" => Some(Format::Csv),
        _ => None,
    }
}

fn sniff<R: BufRead>(reader: &mut R) -> Result<Format> {
    let buf = reader.fill_buf()?;
    let first = buf
        .iter()
        .copied()
        .find(|b| !(b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF));
    Ok(match first {
        Some(b'{') => Format::Jsonl,
        _ => Format::Csv,
    })
}

struct IterReader<I, F> {
    iter: I,
    index: u64,
    map: F,
}

impl<I, T, F> RecordReader for IterReader<I, F>
where
    I: Iterator<Item = Result<T>> + Send,
    F: FnMut(T) -> std::result::Result<MigrationRecord, super::record::FieldIssue> + Send,
{
    /// An `Err` from the iterator ends the run (see [`MigrationSource::TryJson`]).
    fn next_item(&mut self) -> Result<Option<Item>> {
        let Some(value) = self.iter.next().transpose()? else {
            return Ok(None);
        };
        self.index += 1;
        let line = self.index;
        Ok(Some(Item {
            line,
            record: (self.map)(value).map_err(|e| e.at(line)),
        }))
    }
    fn bytes_read(&self) -> u64 {
        0
    }
    fn bytes_total(&self) -> Option<u64> {
        None
    }
}

struct JsonlReader<R> {
    inner: R,
    line: u64,
    bytes: u64,
    total: Option<u64>,
    buf: Vec<u8>,
}

impl<R: BufRead> JsonlReader<R> {
    /// Reads one line into `buf` (without the newline). Returns `None` at EOF, `Some(true)` when
    /// the line was longer than [`MAX_LINE_BYTES`] (its content is discarded).
    fn read_line(&mut self) -> Result<Option<bool>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                return Ok(any.then_some(too_long));
            }
            any = true;
            let (take, done) = match avail.iter().position(|b| *b == b'\n') {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > MAX_LINE_BYTES {
                    too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(&avail[..take]);
                }
            }
            let consumed = if done { take + 1 } else { take };
            self.inner.consume(consumed);
            self.bytes += consumed as u64;
            if done {
                return Ok(Some(too_long));
            }
        }
    }
}

impl<R: BufRead + Send> RecordReader for JsonlReader<R> {
    fn next_item(&mut self) -> Result<Option<Item>> {
        loop {
            let Some(too_long) = self.read_line()? else {
                return Ok(None);
            };
            self.line += 1;
            let line = self.line;
            if too_long {
                return Ok(Some(Item {
                    line,
                    record: Err(RecordError::invalid(
                        line,
                        None,
                        format!("line is longer than {MAX_LINE_BYTES} bytes"),
                    )),
                }));
            }
            let mut bytes: &[u8] = &self.buf;
            if line == 1 {
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            if bytes.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let record = match std::str::from_utf8(bytes) {
                Err(_) => Err(RecordError::invalid(line, None, "line is not valid UTF-8")),
                Ok(text) => match serde_json::from_str::<Value>(text) {
                    Err(e) => Err(RecordError::invalid(
                        line,
                        None,
                        // serde_json's syntax errors carry positions only, never content.
                        format!("invalid JSON at column {}", e.column()),
                    )),
                    Ok(value) => MigrationRecord::from_json(value).map_err(|e| e.at(line)),
                },
            };
            return Ok(Some(Item { line, record }));
        }
    }
    fn bytes_read(&self) -> u64 {
        self.bytes
    }
    fn bytes_total(&self) -> Option<u64> {
        self.total
    }
}

/// Columns a CSV header may name.
pub const CSV_COLUMNS: &[&str] = &[
    "key",
    "hash",
    "variant",
    "name",
    "externalId",
    "customerId",
    "workspaceId",
    "meta",
    "roles",
    "permissions",
    "scopes",
    "expires",
    "enabled",
    "credits",
    "ratelimits",
    "start",
];

struct CsvReader<R: Read> {
    inner: csv::Reader<R>,
    headers: Vec<String>,
    record: csv::StringRecord,
    total: Option<u64>,
}

impl<R: Read + Send> CsvReader<R> {
    fn new(reader: R, total: Option<u64>) -> Result<Self> {
        let mut inner = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(reader);
        let headers: Vec<String> = inner
            .headers()
            .map_err(|e| csv_fatal(&e))?
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = h.trim();
                let h = if i == 0 {
                    h.trim_start_matches('\u{feff}')
                } else {
                    h
                };
                h.to_string()
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for h in &headers {
            if !CSV_COLUMNS.contains(&h.as_str()) {
                return Err(Error::invalid_input(
                    "header",
                    format!(
                        "line 1: unknown CSV column `{}` (known: {})",
                        super::record::shown_name(h),
                        CSV_COLUMNS.join(", ")
                    ),
                )
                .with_record(1));
            }
            if !seen.insert(h.as_str()) {
                return Err(Error::invalid_input(
                    "header",
                    format!("line 1: CSV column `{h}` appears twice"),
                )
                .with_record(1));
            }
        }
        if !seen.contains("key") && !seen.contains("hash") {
            return Err(Error::invalid_input(
                "header",
                "line 1: the CSV header needs a `key` or a `hash` column",
            )
            .with_record(1));
        }
        Ok(CsvReader {
            inner,
            headers,
            record: csv::StringRecord::new(),
            total,
        })
    }
}

fn csv_fatal(e: &csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::Io(io) => Error::io(format!("reading CSV: {io}")),
        _ => Error::invalid_input("file", "the CSV header row cannot be read"),
    }
}

impl<R: Read + Send> RecordReader for CsvReader<R> {
    fn next_item(&mut self) -> Result<Option<Item>> {
        loop {
            let line_before = self.inner.position().line();
            match self.inner.read_record(&mut self.record) {
                Ok(false) => return Ok(None),
                Ok(true) => {
                    let line = self
                        .record
                        .position()
                        .map(|p| p.line())
                        .unwrap_or(line_before);
                    if self.record.iter().all(|c| c.trim().is_empty()) {
                        continue;
                    }
                    let record = MigrationRecord::from_csv(&self.headers, &self.record)
                        .map_err(|e| e.at(line));
                    return Ok(Some(Item { line, record }));
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(line_before.max(2));
                    match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => {
                            return Ok(Some(Item {
                                line,
                                record: Err(RecordError::invalid(
                                    line,
                                    None,
                                    "row is not valid UTF-8",
                                )),
                            }))
                        }
                        csv::ErrorKind::Io(io) => {
                            return Err(Error::io(format!("reading CSV: {io}")))
                        }
                        _ => {
                            return Ok(Some(Item {
                                line,
                                record: Err(RecordError::invalid(line, None, "malformed CSV row")),
                            }))
                        }
                    }
                }
            }
        }
    }
    fn bytes_read(&self) -> u64 {
        self.inner.position().byte()
    }
    fn bytes_total(&self) -> Option<u64> {
        self.total
    }
}
