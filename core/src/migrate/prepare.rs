//! Validation, local hashing, duplicate detection and batching: everything between the reader
//! and the wire. Runs on a blocking thread; plaintext lives only inside one chunk.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::checkpoint::Entry;
use super::fingerprints::FingerprintSet;
use super::reader::RecordReader;
use super::record::{digest_of, Checked, Material, RecordError};
use crate::hashing::{hash_keys, HashVariant};
use crate::wire::MigrateKeyData;
use crate::{Error, ErrorCode, Result};

/// Records validated and hashed together (plaintext of one chunk is hashed in parallel).
pub(crate) const CHUNK: usize = 2048;
/// Upper bound of one request body we build (the server accepts 10 MiB).
pub(crate) const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// A record ready for the wire, or why it is not.
pub(crate) enum Prepared {
    Key(PreparedKey),
    Invalid(RecordError),
}

pub(crate) struct PreparedKey {
    pub line: u64,
    pub variant: HashVariant,
    pub data: MigrateKeyData,
}

/// Pulls records from a reader and yields them validated, hashed and de-duplicated, in order.
pub(crate) struct Preparer {
    reader: Box<dyn RecordReader>,
    default_variant: HashVariant,
    /// 8-byte fingerprints (first bytes of the SHA-256 a key stands for) of every key seen,
    /// in bounded memory ([`FingerprintSet`]). Two different keys share a fingerprint with
    /// probability n²/2⁶⁵ (3·10⁻⁸ for a million keys); such a pair would be reported as a
    /// duplicate.
    seen: FingerprintSet,
    pub records: u64,
    eof: bool,
}

impl Preparer {
    /// `spill_dir`: where duplicate detection writes the fingerprints it does not keep in
    /// memory ([`MigrateOptions::spill_dir`](super::MigrateOptions::spill_dir)).
    pub fn new(
        reader: Box<dyn RecordReader>,
        default_variant: HashVariant,
        spill_dir: PathBuf,
    ) -> Self {
        Preparer {
            reader,
            default_variant,
            seen: FingerprintSet::new(spill_dir),
            records: 0,
            eof: false,
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.reader.bytes_read()
    }

    pub fn bytes_total(&self) -> Option<u64> {
        self.reader.bytes_total()
    }

    /// The next chunk, in input order; `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<Prepared>>> {
        if self.eof {
            return Ok(None);
        }
        let mut checked: Vec<Result<Checked, RecordError>> = Vec::with_capacity(CHUNK);
        while checked.len() < CHUNK {
            match self.reader.next_item()? {
                None => {
                    self.eof = true;
                    break;
                }
                Some(item) => {
                    self.records += 1;
                    checked.push(
                        item.record
                            .and_then(|r| r.check(item.line, self.default_variant)),
                    );
                }
            }
        }
        if checked.is_empty() {
            return Ok(None);
        }
        // Hash the chunk's plaintext in parallel, then drop it.
        let plain: Vec<&str> = checked
            .iter()
            .filter_map(|c| match c {
                Ok(Checked {
                    material: Material::Plain(k),
                    ..
                }) => Some(k.expose()),
                _ => None,
            })
            .collect();
        // Keys were checked non-blank, so hashing cannot fail; keep the error path anyway.
        let hashes = hash_keys(&plain, HashVariant::Sha256Base64)?;
        drop(plain);
        let mut hashes = hashes.into_iter().map(|h| h.value);
        let mut out = Vec::with_capacity(checked.len());
        for c in checked {
            let c = match c {
                Err(e) => {
                    out.push(Prepared::Invalid(e));
                    continue;
                }
                Ok(c) => c,
            };
            let Checked {
                line,
                variant,
                material,
                mut data,
            } = c;
            let masked = match material {
                Material::Plain(key) => {
                    data.hash = hashes.next().unwrap_or_default();
                    Some(key.masked())
                    // `key` (the plaintext) is dropped here.
                }
                Material::Hash(_) => None,
            };
            let digest = digest_of(&data.hash, variant);
            let fp = u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]));
            let new = self.seen.insert(fp).map_err(|e| {
                Error::io(format!(
                    "duplicate detection could not read its file back: {e}"
                ))
            })?;
            if !new {
                let field = if masked.is_some() { "key" } else { "hash" };
                let what = match masked {
                    Some(m) => format!("duplicate key {m}: an earlier record has the same key"),
                    None => "duplicate hash: an earlier record has the same key".to_string(),
                };
                out.push(Prepared::Invalid(RecordError {
                    line,
                    hash: Some(data.hash),
                    code: ErrorCode::InvalidInput,
                    field: Some(field.into()),
                    message: what,
                }));
                continue;
            }
            out.push(Prepared::Key(PreparedKey {
                line,
                variant,
                data,
            }));
        }
        Ok(Some(out))
    }
}

/// A request's worth of keys (one hash variant).
#[derive(Debug)]
pub(crate) struct Batch {
    pub no: u64,
    pub variant: HashVariant,
    pub lines: Vec<u64>,
    pub keys: Vec<MigrateKeyData>,
    /// [`estimate_bytes`] of its keys.
    pub est_bytes: usize,
    /// The checkpoint entry this batch replays (a resumed run with recorded boundaries).
    pub recorded: Option<Entry>,
}

impl Batch {
    pub fn first_line(&self) -> u64 {
        self.lines.first().copied().unwrap_or(0)
    }
    pub fn last_line(&self) -> u64 {
        self.lines.last().copied().unwrap_or(0)
    }
}

pub(crate) fn estimate_bytes(d: &MigrateKeyData) -> usize {
    let mut n = 64 + d.hash.len();
    n += d.name.as_ref().map_or(0, |s| s.len() + 16);
    n += d.external_id.as_ref().map_or(0, |s| s.len() + 16);
    n += d
        .roles
        .as_ref()
        .map_or(0, |v| v.iter().map(|s| s.len() + 4).sum::<usize>() + 12);
    n += d
        .permissions
        .as_ref()
        .map_or(0, |v| v.iter().map(|s| s.len() + 4).sum::<usize>() + 16);
    if let Some(m) = &d.meta {
        n += serde_json::to_vec(m).map_or(super::record::MAX_META_BYTES, |v| v.len()) + 8;
    }
    n += d
        .ratelimits
        .as_ref()
        .map_or(0, |v| v.iter().map(|r| r.name.len() + 96).sum::<usize>());
    n + 160
}

/// How big the batches the [`Batcher`] forms are: keys per batch and estimated body bytes.
/// Fixed for a run with an explicit `batch_size`; moved by the run as answers come in when it
/// adapts (the batcher reads them for every batch it starts).
#[derive(Debug)]
pub(crate) struct Limits {
    pub keys: AtomicUsize,
    pub bytes: AtomicUsize,
}

impl Limits {
    pub fn new(keys: usize) -> Arc<Limits> {
        Arc::new(Limits {
            keys: AtomicUsize::new(keys),
            bytes: AtomicUsize::new(MAX_BATCH_BYTES),
        })
    }
    pub fn keys(&self) -> usize {
        self.keys.load(Ordering::Relaxed).max(1)
    }
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// A recorded batch being re-formed: its entry and the keys gathered so far.
struct Replaying {
    entry: Entry,
    lines: Vec<u64>,
    keys: Vec<MigrateKeyData>,
    bytes: usize,
}

pub(crate) fn input_changed(why: String) -> Error {
    Error::invalid_input(
        "checkpoint",
        format!("the input changed since the checkpoint was written: {why}"),
    )
}

/// Groups keys by variant into batches of `limits.keys` (or fewer when the body would exceed
/// `limits.bytes`). With fixed limits it is deterministic: the same input and options give the
/// same batches, which is what lets a resumed run with fixed batches recognise them. With
/// recorded batches ([`Batcher::replay`]) it first re-forms exactly those, by their
/// boundaries, and batches only the keys no recorded batch covers.
pub(crate) struct Batcher {
    limits: Arc<Limits>,
    next_no: Arc<AtomicU64>,
    pending: [(Vec<u64>, Vec<MigrateKeyData>, usize); 3],
    /// Recorded batches not started yet, by first line.
    replay: VecDeque<Entry>,
    replaying: [Option<Replaying>; 3],
}

fn slot(v: HashVariant) -> usize {
    match v {
        HashVariant::Sha256Base64 => 0,
        HashVariant::Sha256Hex => 1,
        HashVariant::Bcrypt => 2,
    }
}

const SLOTS: [HashVariant; 3] = [
    HashVariant::Sha256Base64,
    HashVariant::Sha256Hex,
    HashVariant::Bcrypt,
];

impl Batcher {
    /// Fixed batches of `batch_size`, numbered from 0.
    pub fn new(batch_size: usize) -> Self {
        Self::with_limits(Limits::new(batch_size), Arc::new(AtomicU64::new(0)))
    }

    /// Batches of `limits`, numbered from `next_no` (shared with whoever else numbers batches).
    pub fn with_limits(limits: Arc<Limits>, next_no: Arc<AtomicU64>) -> Self {
        Batcher {
            limits,
            next_no,
            pending: Default::default(),
            replay: VecDeque::new(),
            replaying: Default::default(),
        }
    }

    /// Re-form these recorded batches (any order) before forming new ones.
    pub fn replay(mut self, mut entries: Vec<Entry>) -> Self {
        entries.sort_by_key(|e| (e.first_line, e.batch));
        self.replay = entries.into();
        self
    }

    /// Adds a key; returns the batches it completed (usually none, at most two). An error when
    /// the input no longer matches the recorded batches.
    pub fn push(&mut self, key: PreparedKey) -> Result<Vec<Batch>> {
        let i = slot(key.variant);
        let size = estimate_bytes(&key.data);
        let mut out = Vec::new();
        if let Some(r) = &mut self.replaying[i] {
            r.lines.push(key.line);
            r.keys.push(key.data);
            r.bytes += size;
            if r.keys.len() as u64 >= r.entry.count {
                out.push(self.finish_replay(i)?);
            }
            return Ok(out);
        }
        if let Some(head) = self.replay.front() {
            if head.first_line < key.line {
                return Err(input_changed(format!(
                    "batch {} began at line {}, which is no longer a key to migrate",
                    head.batch, head.first_line
                )));
            }
            if head.first_line == key.line {
                let entry = self.replay.pop_front().expect("a head");
                // A new batch of this variant never spans a recorded one.
                out.extend(self.take(i));
                self.replaying[i] = Some(Replaying {
                    entry,
                    lines: vec![key.line],
                    keys: vec![key.data],
                    bytes: size,
                });
                if self.replaying[i]
                    .as_ref()
                    .is_some_and(|r| r.keys.len() as u64 >= r.entry.count)
                {
                    out.push(self.finish_replay(i)?);
                }
                return Ok(out);
            }
        }
        if !self.pending[i].0.is_empty() && self.pending[i].2 + size > self.limits.bytes() {
            out.extend(self.take(i));
        }
        let p = &mut self.pending[i];
        p.0.push(key.line);
        p.1.push(key.data);
        p.2 += size;
        if p.0.len() >= self.limits.keys() {
            out.extend(self.take(i));
        }
        Ok(out)
    }

    fn finish_replay(&mut self, i: usize) -> Result<Batch> {
        let r = self.replaying[i].take().expect("a batch being replayed");
        let last = r.lines.last().copied().unwrap_or(0);
        if last != r.entry.last_line {
            return Err(input_changed(format!(
                "batch {} was lines {}–{} and is now {}–{}",
                r.entry.batch, r.entry.first_line, r.entry.last_line, r.entry.first_line, last
            )));
        }
        Ok(Batch {
            no: r.entry.batch,
            variant: SLOTS[i],
            lines: r.lines,
            keys: r.keys,
            est_bytes: r.bytes,
            recorded: Some(r.entry),
        })
    }

    fn take(&mut self, i: usize) -> Option<Batch> {
        let p = &mut self.pending[i];
        if p.0.is_empty() {
            return None;
        }
        let lines = std::mem::take(&mut p.0);
        let keys = std::mem::take(&mut p.1);
        let est_bytes = std::mem::take(&mut p.2);
        let no = self.next_no.fetch_add(1, Ordering::Relaxed);
        Some(Batch {
            no,
            variant: SLOTS[i],
            lines,
            keys,
            est_bytes,
            recorded: None,
        })
    }

    /// The remaining partial batches, in a fixed variant order; an error when a recorded
    /// batch could not be re-formed (the input ended before it).
    pub fn finish(&mut self) -> Result<Vec<Batch>> {
        let open = self
            .replaying
            .iter()
            .flatten()
            .map(|r| &r.entry)
            .chain(self.replay.front())
            .min_by_key(|e| e.first_line);
        if let Some(e) = open {
            return Err(input_changed(format!(
                "the input ends before batch {} (lines {}–{}) is complete",
                e.batch, e.first_line, e.last_line
            )));
        }
        Ok((0..3).filter_map(|i| self.take(i)).collect())
    }
}
