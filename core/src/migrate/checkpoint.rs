//! The checkpoint: an append-only JSONL file, synced to disk at every batch, from which a run
//! killed at any moment resumes without losing or duplicating a key.
//!
//! ```text
//! {"checkpoint":1,"migrationId":"m1","apiId":"api_…","batchSize":100,"variant":"sha256_base64","source":"keys.jsonl"}
//! {"batch":0,"firstLine":1,"lastLine":100,"count":100,"state":"sent","idempotencyKey":"ksm-…"}
//! {"batch":0,"firstLine":1,"lastLine":100,"count":100,"state":"done","idempotencyKey":"ksm-…","migrated":100,"alreadyPresent":0,"failed":0}
//! ```
//!
//! A `sent` entry is synced before its request leaves; a `done` entry is written after the
//! batch's answer is in the report and becomes durable with the next sync (group commit: one
//! fsync per batch). Batches are formed deterministically from the input, so a resumed run
//! re-forms the same batches: `done` ones are skipped, `sent`-but-not-`done` ones are re-sent
//! with the same `Idempotency-Key` (the server replays its answer; a hash it reports as existing
//! counts as already present), and the rest are sent as new.
//!
//! Two formats, told apart by the header's `checkpoint` number:
//!
//! - **1, fixed batches** (a run with an explicit `batch_size`): batch `n` is always the `n`-th
//!   batch of `batchSize` keys, so a resumed run re-forms the same batches from the input and
//!   must use the same batch size (another one is refused).
//! - **2, recorded batches** (a run with the default, adaptive batch size): batch sizes follow
//!   the server's answer times, so they cannot be re-formed from the input. Each entry's
//!   `firstLine` and `count` are the batch's boundaries (the `count` keys of the first record's
//!   hash variant from `firstLine` on); a resumed run replays exactly the recorded batches
//!   (same keys, same number, same `Idempotency-Key`), whatever its own batch size, and forms
//!   new batches only for records no entry covers. A batch the server refused as too large
//!   (413) gets a `split` entry: nothing of it was stored, and its keys are sent again in
//!   smaller batches with entries of their own. `batchSize` is the starting size there.
//!
//! A format-1 file resumed by a run with the default options continues with fixed batches of
//! its recorded size.
//!
//! A torn last line (a crash in the middle of an append) is cut off on resume. Any other line
//! that is not an entry means the file was changed or damaged: resume refuses it, naming the
//! line, rather than guess which batches were sent.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Format 1: fixed batches (see the module docs).
pub const VERSION: u32 = 1;
/// Format 2: recorded batch boundaries (see the module docs).
pub const VERSION_RECORDED: u32 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub checkpoint: u32,
    pub migration_id: String,
    pub api_id: String,
    pub batch_size: usize,
    pub variant: String,
    pub source: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Sent,
    Done,
    /// Refused whole as too large (413, format 2 only): nothing of it was stored; its keys
    /// went out again in smaller batches.
    Split,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub batch: u64,
    pub first_line: u64,
    pub last_line: u64,
    pub count: u64,
    pub state: State,
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub already_present: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
}

/// What an earlier run left: its finished and its unfinished batches.
#[derive(Debug, Default)]
pub struct ResumeState {
    pub done: HashMap<u64, Entry>,
    pub sent: HashMap<u64, Entry>,
    /// The header found (`None` for a new checkpoint).
    pub found: Option<Header>,
    /// Highest batch number any entry uses (split ones included).
    pub last_batch: Option<u64>,
}

impl ResumeState {
    pub fn is_empty(&self) -> bool {
        self.done.is_empty() && self.sent.is_empty()
    }

    /// Whether the batches of this checkpoint are recorded by their boundaries (format 2).
    pub fn recorded(&self) -> bool {
        self.found
            .as_ref()
            .is_some_and(|h| h.checkpoint == VERSION_RECORDED)
    }
}

pub struct Checkpoint {
    file: File,
    path: PathBuf,
    line: Vec<u8>,
}

fn corrupt(path: &Path, line: usize, why: &str) -> Error {
    Error::invalid_input(
        "checkpoint",
        format!(
            "checkpoint {} is unusable at line {line}: {why}",
            path.display()
        ),
    )
}

impl Checkpoint {
    /// Opens (`resume`) or creates the checkpoint. An existing non-empty checkpoint without
    /// `resume` is refused, so a second run never silently mixes with the first.
    pub fn open(path: &Path, header: &Header, resume: bool) -> Result<(Checkpoint, ResumeState)> {
        let existing = std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        if existing && !resume {
            return Err(Error::invalid_input(
                "checkpoint",
                format!(
                    "checkpoint {} already exists: pass --resume (resume: true) to continue that migration, or remove it to start over",
                    path.display()
                ),
            ));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| Error::io(format!("cannot open checkpoint {}: {e}", path.display())))?;
        let mut state = ResumeState::default();
        if existing {
            state = Self::load(&mut file, path, header)?;
        } else {
            let mut line = serde_json::to_vec(header).map_err(|e| Error::io(e.to_string()))?;
            line.push(b'\n');
            file.write_all(&line)?;
            file.sync_all()?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
            }
        }
        Ok((
            Checkpoint {
                file,
                path: path.to_path_buf(),
                line: Vec::with_capacity(256),
            },
            state,
        ))
    }

    fn load(file: &mut File, path: &Path, header: &Header) -> Result<ResumeState> {
        file.seek(SeekFrom::Start(0))?;
        let mut text = Vec::new();
        BufReader::new(&mut *file).read_to_end(&mut text)?;
        let ends_with_newline = text.last() == Some(&b'\n');
        let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
        // The last piece after the final newline is empty; a non-empty one is a torn write.
        let complete = if ends_with_newline {
            lines.len() - 1
        } else {
            lines.len().saturating_sub(1)
        };
        let first = lines.first().copied().unwrap_or_default();
        let found: Header = serde_json::from_slice(first)
            .map_err(|_| corrupt(path, 1, "the header is not a keyshift checkpoint"))?;
        if found.checkpoint != VERSION && found.checkpoint != VERSION_RECORDED {
            return Err(corrupt(path, 1, "unsupported checkpoint version"));
        }
        for (what, a, b) in [
            ("migration id", &found.migration_id, &header.migration_id),
            ("api id", &found.api_id, &header.api_id),
            ("hash variant", &found.variant, &header.variant),
        ] {
            if a != b {
                return Err(Error::invalid_input(
                    "checkpoint",
                    format!(
                        "checkpoint {} belongs to a run with {what} `{a}`, not `{b}`",
                        path.display()
                    ),
                ));
            }
        }
        // Fixed batches must be re-formed with their size; a run with the default (adaptive)
        // options resumes them with it, and recorded batches are replayed whatever the size.
        if found.checkpoint == VERSION
            && header.checkpoint == VERSION
            && found.batch_size != header.batch_size
        {
            return Err(Error::invalid_input(
                "checkpoint",
                format!(
                    "checkpoint {} was written with batch size {}; resume with the same batch size",
                    path.display(),
                    found.batch_size
                ),
            ));
        }
        let mut state = ResumeState::default();
        for entry in parse_entries(path, &lines[..complete])? {
            state.last_batch = state.last_batch.max(Some(entry.batch));
            match entry.state {
                State::Sent => {
                    if !state.done.contains_key(&entry.batch) {
                        state.sent.insert(entry.batch, entry);
                    }
                }
                State::Done => {
                    state.sent.remove(&entry.batch);
                    state.done.insert(entry.batch, entry);
                }
                State::Split => {
                    state.sent.remove(&entry.batch);
                }
            }
        }
        state.found = Some(found);
        if !ends_with_newline {
            // A torn last line (a crash in the middle of an append, never synced): its
            // request was not sent yet (`sent`) or the batch is simply sent again (`done`).
            // Cut it off so that our appends start on a fresh line and it never turns into
            // a complete, corrupt line.
            let keep: usize = lines[..complete].iter().map(|l| l.len() + 1).sum();
            file.set_len(keep as u64)?;
            file.sync_data()?;
        }
        Ok(state)
    }

    /// Appends one entry; `sync` makes it durable before returning.
    pub fn append(&mut self, entry: &Entry, sync: bool) -> Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, entry).map_err(|e| Error::io(e.to_string()))?;
        self.line.push(b'\n');
        self.file
            .write_all(&self.line)
            .map_err(|e| Error::io(format!("writing checkpoint {}: {e}", self.path.display())))?;
        if sync {
            self.sync()?;
        }
        Ok(())
    }

    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(format!("syncing checkpoint {}: {e}", self.path.display())))
    }
}

/// The entries of the complete lines after the header (`lines[0]`). A complete line that is
/// not an entry is corruption the run cannot reason about: an error naming its line number.
/// Blank lines are skipped.
fn parse_entries(path: &Path, lines: &[&[u8]]) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (i, raw) in lines.iter().enumerate().skip(1) {
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let entry = serde_json::from_slice::<Entry>(raw).map_err(|e| {
            corrupt(
                path,
                i + 1,
                &format!(
                    "not a checkpoint entry ({e}); the file was changed or damaged: restore it or \
                     remove it to start over"
                ),
            )
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Reads every entry of a checkpoint (for tools and tests). A torn last line is ignored; a
/// corrupt complete line is an error naming its line number.
pub fn read_entries(path: &Path) -> Result<(Header, Vec<Entry>)> {
    let text = std::fs::read(path)?;
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    // After a final newline the last piece is empty; without one it is a torn write.
    lines.pop();
    let header: Header = lines
        .first()
        .and_then(|l| serde_json::from_slice(l).ok())
        .ok_or_else(|| corrupt(path, 1, "the header is not a keyshift checkpoint"))?;
    let entries = parse_entries(path, &lines)?;
    Ok((header, entries))
}
