//! Validation, local hashing, duplicate detection and batching: everything between the reader
//! and the wire. Runs on a blocking thread; plaintext lives only inside one chunk.

use super::reader::RecordReader;
use super::record::{digest_of, Checked, Material, RecordError};
use crate::hashing::{hash_keys, HashVariant};
use crate::wire::MigrateKeyData;
use crate::{ErrorCode, Result};

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

/// Fingerprints of every key seen, in 65 536 sorted buckets chosen by the top 16 bits
/// (fingerprints are uniform, so buckets stay even: ~15 per bucket at a million keys). Each
/// bucket grows by a quarter at a time, so memory is ~8–10 bytes per key plus ~1.5 MiB of
/// bucket headers, with no rehash spike.
struct FingerprintSet {
    buckets: Vec<Vec<u64>>,
}

impl Default for FingerprintSet {
    fn default() -> Self {
        FingerprintSet {
            buckets: (0..1 << 16).map(|_| Vec::new()).collect(),
        }
    }
}

impl FingerprintSet {
    /// False when the fingerprint was there already.
    fn insert(&mut self, fp: u64) -> bool {
        let bucket = &mut self.buckets[(fp >> 48) as usize];
        match bucket.binary_search(&fp) {
            Ok(_) => false,
            Err(at) => {
                if bucket.len() == bucket.capacity() {
                    bucket.reserve_exact((bucket.len() / 4).max(4));
                }
                bucket.insert(at, fp);
                true
            }
        }
    }
}

/// Pulls records from a reader and yields them validated, hashed and de-duplicated, in order.
pub(crate) struct Preparer {
    reader: Box<dyn RecordReader>,
    default_variant: HashVariant,
    /// 8-byte fingerprints (first bytes of the SHA-256 a key stands for) of every key seen:
    /// ~8–10 bytes per key in memory. Two different keys share a fingerprint with probability
    /// n²/2⁶⁵ (3·10⁻⁸ for a million keys); such a pair would be reported as a duplicate.
    seen: FingerprintSet,
    pub records: u64,
    eof: bool,
}

impl Preparer {
    pub fn new(reader: Box<dyn RecordReader>, default_variant: HashVariant) -> Self {
        Preparer {
            reader,
            default_variant,
            seen: FingerprintSet::default(),
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
            if !self.seen.insert(fp) {
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
}

impl Batch {
    pub fn first_line(&self) -> u64 {
        self.lines.first().copied().unwrap_or(0)
    }
    pub fn last_line(&self) -> u64 {
        self.lines.last().copied().unwrap_or(0)
    }
}

fn estimate_bytes(d: &MigrateKeyData) -> usize {
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

/// Groups keys by variant into batches of `batch_size` (or fewer when the body would exceed
/// [`MAX_BATCH_BYTES`]). Deterministic: the same input and options give the same batches, which
/// is what lets a resumed run recognise the batches of its checkpoint.
pub(crate) struct Batcher {
    batch_size: usize,
    next_no: u64,
    pending: [(Vec<u64>, Vec<MigrateKeyData>, usize); 3],
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
    pub fn new(batch_size: usize) -> Self {
        Batcher {
            batch_size,
            next_no: 0,
            pending: Default::default(),
        }
    }

    /// Adds a key; returns the batches it completed (usually none, at most two).
    pub fn push(&mut self, key: PreparedKey) -> Vec<Batch> {
        let i = slot(key.variant);
        let size = estimate_bytes(&key.data);
        let mut out = Vec::new();
        if !self.pending[i].0.is_empty() && self.pending[i].2 + size > MAX_BATCH_BYTES {
            out.extend(self.take(i));
        }
        let p = &mut self.pending[i];
        p.0.push(key.line);
        p.1.push(key.data);
        p.2 += size;
        if p.0.len() >= self.batch_size {
            out.extend(self.take(i));
        }
        out
    }

    fn take(&mut self, i: usize) -> Option<Batch> {
        let p = &mut self.pending[i];
        if p.0.is_empty() {
            return None;
        }
        let lines = std::mem::take(&mut p.0);
        let keys = std::mem::take(&mut p.1);
        p.2 = 0;
        let no = self.next_no;
        self.next_no += 1;
        Some(Batch {
            no,
            variant: SLOTS[i],
            lines,
            keys,
        })
    }

    /// The remaining partial batches, in a fixed variant order.
    pub fn finish(&mut self) -> Vec<Batch> {
        (0..3).filter_map(|i| self.take(i)).collect()
    }
}
