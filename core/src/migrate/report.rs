//! The migration report: JSONL lines per key and a final summary, plus the in-memory
//! [`MigrationReport`] and [`Progress`].
//!
//! ```text
//! {"line":1,"hash":"…","keyId":"key_…","batch":0}                         migrated
//! {"line":7,"hash":"…","alreadyPresent":true,"batch":0}                    sent by an earlier attempt
//! {"line":9,"hash":"…","error":"…","code":"conflict","batch":0}            refused by the server
//! {"line":12,"error":"`expires` must be …","code":"invalid_input","field":"expires"}   invalid record
//! {"summary":{"total":…,"migrated":…,…}}
//! ```
//!
//! Rows of keys name their `batch` (0-based, as in the checkpoint). A resumed run keeps the
//! rows of the batches the checkpoint records as done and drops every other row (see
//! [`ReportWriter::open_resumed`]), so the finished report lists each key exactly once.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::record::RecordError;
use crate::{Error, Result};

/// The outcome of a migration (or of a dry run).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationReport {
    /// Records read from the source.
    pub total: u64,
    /// Records that passed validation (in a dry run: what would be sent).
    pub valid: u64,
    pub migrated: u64,
    /// Keys the server already had from an earlier attempt of this migration.
    pub already_present: u64,
    /// Keys the server refused or that could not be sent (resume retries the unsent ones).
    pub failed: u64,
    /// Records rejected by validation (never sent).
    pub invalid: u64,
    /// Records of batches an earlier run finished (resume).
    pub skipped_resumed: u64,
    pub batches: u64,
    #[serde(rename = "elapsedMs", serialize_with = "ser_ms")]
    pub elapsed: Duration,
    pub dry_run: bool,
    /// The first `max_errors` problems, in the order they were found.
    pub errors: Vec<RecordError>,
    /// True when more errors happened than `errors` holds.
    pub errors_truncated: bool,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl MigrationReport {
    /// Keys handled per second (migrated + already present + failed).
    pub fn keys_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        (self.migrated + self.already_present + self.failed) as f64 / secs
    }

    /// Every record is in the key service (migrated now, before, or by an earlier run).
    pub fn is_complete(&self) -> bool {
        self.failed == 0 && self.invalid == 0
    }

    /// A few human lines.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if self.dry_run {
            s.push_str(&format!(
                "dry run: {} records, {} valid, {} invalid ({:.1}s)\n",
                self.total,
                self.valid,
                self.invalid,
                self.elapsed.as_secs_f64()
            ));
        } else {
            s.push_str(&format!(
                "{} records: {} migrated, {} already present, {} failed, {} invalid, {} skipped (done by an earlier run)\n",
                self.total, self.migrated, self.already_present, self.failed, self.invalid, self.skipped_resumed
            ));
            s.push_str(&format!(
                "{} batches in {:.1}s ({:.0} keys/s)\n",
                self.batches,
                self.elapsed.as_secs_f64(),
                self.keys_per_sec()
            ));
        }
        if self.errors_truncated {
            s.push_str(&format!(
                "showing the first {} problems; the report file lists all\n",
                self.errors.len()
            ));
        }
        s
    }
}

impl std::fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.summary().trim_end())
    }
}

/// A snapshot handed to the progress callback.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub records_read: u64,
    pub bytes_read: u64,
    /// Size of the input file, when known (for an ETA).
    pub bytes_total: Option<u64>,
    pub migrated: u64,
    pub already_present: u64,
    pub failed: u64,
    pub invalid: u64,
    pub skipped_resumed: u64,
    pub batches_done: u64,
    pub in_flight: usize,
    pub elapsed: Duration,
    pub finished: bool,
}

impl Progress {
    /// Records whose fate is known.
    pub fn handled(&self) -> u64 {
        self.migrated + self.already_present + self.failed + self.invalid + self.skipped_resumed
    }

    pub fn keys_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs <= 0.0 {
            0.0
        } else {
            (self.migrated + self.already_present + self.failed) as f64 / secs
        }
    }

    /// Share of the input read so far (0–1), when the input size is known.
    pub fn fraction(&self) -> Option<f64> {
        let total = self.bytes_total.filter(|t| *t > 0)?;
        Some((self.bytes_read as f64 / total as f64).min(1.0))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MigratedLine<'a> {
    line: u64,
    hash: &'a str,
    key_id: &'a str,
    batch: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PresentLine<'a> {
    line: u64,
    hash: &'a str,
    already_present: bool,
    batch: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorLine<'a> {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
    error: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch: Option<u64>,
}

/// Writes the report file (buffered; [`ReportWriter::flush`] before a batch is checkpointed).
pub struct ReportWriter {
    out: BufWriter<File>,
    buf: Vec<u8>,
}

impl ReportWriter {
    /// Opens the report of a resumed run: keeps only the rows of keys whose `batch` satisfies
    /// `keep` (the batches the checkpoint records as done), drops every other row (rows of
    /// unfinished batches, invalid records and summaries: the resumed run writes them again)
    /// and a torn last line, then appends. The cut is made on a copy that replaces the file
    /// atomically, so a crash during it leaves the old report whole. Memory stays flat.
    pub fn open_resumed(path: &Path, keep: impl Fn(u64) -> bool) -> Result<Self> {
        use std::io::BufRead;
        #[derive(serde::Deserialize)]
        struct Row {
            batch: Option<u64>,
        }
        let old = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Self::open(path, false),
            Err(e) => {
                return Err(Error::io(format!(
                    "cannot read report {}: {e}",
                    path.display()
                )))
            }
        };
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".resume-tmp");
        let tmp = std::path::PathBuf::from(tmp_name);
        let io = |e: std::io::Error| Error::io(format!("rewriting report {}: {e}", path.display()));
        {
            let mut out = BufWriter::with_capacity(64 * 1024, File::create(&tmp).map_err(io)?);
            let mut reader = std::io::BufReader::with_capacity(64 * 1024, old);
            let mut line = Vec::with_capacity(256);
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line).map_err(io)? == 0 {
                    break;
                }
                if line.last() != Some(&b'\n') {
                    break; // torn last line of a crashed run
                }
                let kept = serde_json::from_slice::<Row>(&line)
                    .ok()
                    .and_then(|r| r.batch)
                    .is_some_and(&keep);
                if kept {
                    out.write_all(&line).map_err(io)?;
                }
            }
            let file = out.into_inner().map_err(|e| io(e.into_error()))?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Self::open(path, true)
    }

    pub fn open(path: &Path, append: bool) -> Result<Self> {
        let file = if append {
            OpenOptions::new().append(true).create(true).open(path)
        } else {
            File::create(path)
        }
        .map_err(|e| Error::io(format!("cannot open report {}: {e}", path.display())))?;
        Ok(ReportWriter {
            out: BufWriter::with_capacity(64 * 1024, file),
            buf: Vec::with_capacity(256),
        })
    }

    fn write<T: Serialize>(&mut self, value: &T) -> Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, value).map_err(|e| Error::io(e.to_string()))?;
        self.buf.push(b'\n');
        self.out
            .write_all(&self.buf)
            .map_err(|e| Error::io(format!("writing report: {e}")))
    }

    pub fn migrated(&mut self, batch: u64, line: u64, hash: &str, key_id: &str) -> Result<()> {
        self.write(&MigratedLine {
            line,
            hash,
            key_id,
            batch,
        })
    }

    pub fn already_present(&mut self, batch: u64, line: u64, hash: &str) -> Result<()> {
        self.write(&PresentLine {
            line,
            hash,
            already_present: true,
            batch,
        })
    }

    /// An invalid record (not part of any batch).
    pub fn error(&mut self, e: &RecordError) -> Result<()> {
        self.write_error(e, None)
    }

    /// A key of batch `batch` that was not migrated.
    pub fn batch_error(&mut self, batch: u64, e: &RecordError) -> Result<()> {
        self.write_error(e, Some(batch))
    }

    fn write_error(&mut self, e: &RecordError, batch: Option<u64>) -> Result<()> {
        self.write(&ErrorLine {
            line: e.line,
            hash: e.hash.as_deref(),
            error: &e.message,
            code: e.code.as_str(),
            field: e.field.as_deref(),
            batch,
        })
    }

    pub fn summary(&mut self, report: &MigrationReport) -> Result<()> {
        self.summary_with(report, None)
    }

    /// The summary line; `aborted` names the error that stopped the run early.
    pub fn summary_with(&mut self, report: &MigrationReport, aborted: Option<&str>) -> Result<()> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Summary<'a> {
            total: u64,
            valid: u64,
            migrated: u64,
            already_present: u64,
            failed: u64,
            invalid: u64,
            skipped_resumed: u64,
            batches: u64,
            elapsed_ms: u64,
            keys_per_sec: f64,
            dry_run: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            aborted: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Wrap<'a> {
            summary: Summary<'a>,
        }
        self.write(&Wrap {
            summary: Summary {
                total: report.total,
                valid: report.valid,
                migrated: report.migrated,
                already_present: report.already_present,
                failed: report.failed,
                invalid: report.invalid,
                skipped_resumed: report.skipped_resumed,
                batches: report.batches,
                elapsed_ms: report.elapsed.as_millis() as u64,
                keys_per_sec: (report.keys_per_sec() * 10.0).round() / 10.0,
                dry_run: report.dry_run,
                aborted,
            },
        })
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io(format!("writing report: {e}")))
    }

    /// Flushes and makes the report durable.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|e| Error::io(format!("syncing report: {e}")))
    }
}
