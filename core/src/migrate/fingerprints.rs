//! The set of key fingerprints a migration has seen (duplicate detection), in memory bounded
//! whatever the input size: the newest keys in sorted in-memory buckets, the rest in sorted
//! runs on disk read back with positioned reads, so they sit in the kernel's page cache rather
//! than in this process (DESIGN.md §6: memory stays flat whatever the file size).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Fingerprints held in memory before they are written out as a run: ~9 MiB at ~8.6 bytes a
/// key. A million-key migration never touches the disk.
const MEM_KEYS: usize = 1 << 20;
/// Fingerprints per block of a run on disk (4 KiB): one read answers a lookup in a run.
const BLOCK: usize = 512;

/// Fingerprints of every key seen. In memory: 65 536 sorted buckets chosen by the top 16 bits
/// (fingerprints are uniform, so buckets stay even: ~15 per bucket at a million keys), each
/// storing only the low 48 bits (its index is the rest): 6 bytes a key, ~8.6 with growth
/// slack, plus ~1.5 MiB of bucket headers. Each bucket grows by a quarter at a time, so there
/// is no rehash spike. When `mem_keys` are held, the buckets (read in order, already globally
/// sorted) become a run in an unlinked temporary file and are emptied, keeping their capacity
/// for the next round. Runs are merged pairwise while the older is at most twice the newer,
/// so there are at most ~log₂(n / mem_keys) + 1 of them; each keeps the first fingerprint of
/// each block in memory (16 bytes per 1 000 keys).
pub(crate) struct FingerprintSet {
    buckets: Vec<Vec<[u8; 6]>>,
    in_memory: usize,
    mem_keys: usize,
    dir: PathBuf,
    runs: Vec<Run>,
    block: Vec<u8>,
}

/// A sorted run of fingerprints (little-endian u64) in a file of its own.
struct Run {
    file: File,
    len: usize,
    /// The first fingerprint of each block.
    firsts: Vec<u64>,
    last: u64,
}

impl FingerprintSet {
    /// A set that holds [`MEM_KEYS`] fingerprints in memory and writes the rest under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        FingerprintSet::holding(MEM_KEYS, dir)
    }

    /// A set that holds `mem_keys` fingerprints in memory and writes the rest under `dir`.
    fn holding(mem_keys: usize, dir: PathBuf) -> Self {
        FingerprintSet {
            buckets: (0..1 << 16).map(|_| Vec::new()).collect(),
            in_memory: 0,
            mem_keys: mem_keys.max(1),
            dir,
            runs: Vec::new(),
            block: vec![0; BLOCK * 8],
        }
    }

    /// False when the fingerprint was there already. Fails only when a run cannot be read back.
    pub fn insert(&mut self, fp: u64) -> io::Result<bool> {
        let (bucket, low) = split(fp);
        let at = match self.buckets[bucket].binary_search(&low) {
            Ok(_) => return Ok(false),
            Err(at) => at,
        };
        for run in &self.runs {
            if run.contains(fp, &mut self.block)? {
                return Ok(false);
            }
        }
        let bucket = &mut self.buckets[bucket];
        if bucket.len() == bucket.capacity() {
            bucket.reserve_exact((bucket.len() / 4).max(4));
        }
        bucket.insert(at, low);
        self.in_memory += 1;
        if self.in_memory >= self.mem_keys {
            self.spill();
        }
        Ok(true)
    }

    /// Writes the in-memory fingerprints out as a run. Should the disk refuse, they stay in
    /// memory (correct, only no longer bounded) and the next spill is tried twice as late.
    fn spill(&mut self) {
        match self.write_run() {
            Ok(run) => {
                self.runs.push(run);
                self.buckets.iter_mut().for_each(Vec::clear);
                self.in_memory = 0;
                if let Err(e) = self.merge_runs() {
                    // The runs are intact, only more of them are read on each lookup.
                    tracing::warn!(error = %e, "duplicate detection could not merge its runs on disk");
                }
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    dir = %self.dir.display(),
                    "duplicate detection could not write fingerprints to disk; keeping them in memory"
                );
                self.mem_keys = self.mem_keys.saturating_mul(2);
            }
        }
    }

    fn write_run(&self) -> io::Result<Run> {
        let sorted = self
            .buckets
            .iter()
            .enumerate()
            .flat_map(|(index, bucket)| bucket.iter().map(move |low| join(index, low)));
        Run::write(&self.dir, sorted)
    }

    fn merge_runs(&mut self) -> io::Result<()> {
        while let [.., older, newer] = &self.runs[..] {
            if older.len > 2 * newer.len {
                break;
            }
            let mut merge = Merge {
                a: RunReader::new(older),
                b: RunReader::new(newer),
                failed: None,
            };
            let merged = Run::write(&self.dir, &mut merge)?;
            if let Some(e) = merge.failed {
                return Err(e);
            }
            self.runs.truncate(self.runs.len() - 2);
            self.runs.push(merged);
        }
        Ok(())
    }

    #[cfg(test)]
    fn run_lengths(&self) -> Vec<usize> {
        self.runs.iter().map(|r| r.len).collect()
    }
}

fn split(fp: u64) -> (usize, [u8; 6]) {
    let b = fp.to_be_bytes();
    (
        usize::from(u16::from_be_bytes([b[0], b[1]])),
        [b[2], b[3], b[4], b[5], b[6], b[7]],
    )
}

fn join(bucket: usize, low: &[u8; 6]) -> u64 {
    let [hi, lo] = (bucket as u16).to_be_bytes();
    u64::from_be_bytes([hi, lo, low[0], low[1], low[2], low[3], low[4], low[5]])
}

impl Run {
    /// Writes ascending fingerprints to a new unlinked file under `dir`.
    fn write(dir: &Path, sorted: impl Iterator<Item = u64>) -> io::Result<Run> {
        let file = unlinked_file(dir)?;
        let mut out = BufWriter::with_capacity(64 * 1024, &file);
        let (mut len, mut firsts, mut last) = (0usize, Vec::new(), 0u64);
        for fp in sorted {
            if len % BLOCK == 0 {
                firsts.push(fp);
            }
            out.write_all(&fp.to_le_bytes())?;
            len += 1;
            last = fp;
        }
        out.flush()?;
        drop(out);
        Ok(Run {
            file,
            len,
            firsts,
            last,
        })
    }

    fn contains(&self, fp: u64, buf: &mut [u8]) -> io::Result<bool> {
        let block = match self.firsts.partition_point(|&first| first <= fp) {
            0 => return Ok(false),
            _ if fp > self.last => return Ok(false),
            n => n - 1,
        };
        let count = BLOCK.min(self.len - block * BLOCK);
        let bytes = &mut buf[..count * 8];
        read_exact_at(&self.file, bytes, (block * BLOCK * 8) as u64)?;
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at = mid * 8;
            let value = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
            match value.cmp(&fp) {
                std::cmp::Ordering::Equal => return Ok(true),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(false)
    }
}

/// Reads a run front to back in 64 KiB pieces.
struct RunReader<'a> {
    run: &'a Run,
    buf: Vec<u8>,
    at: usize,
    next: usize,
}

impl<'a> RunReader<'a> {
    fn new(run: &'a Run) -> Self {
        RunReader {
            run,
            buf: Vec::new(),
            at: 0,
            next: 0,
        }
    }

    fn peek(&mut self) -> io::Result<Option<u64>> {
        if self.at == self.buf.len() {
            let count = (8 * 1024).min(self.run.len - self.next);
            if count == 0 {
                return Ok(None);
            }
            self.buf.resize(count * 8, 0);
            read_exact_at(&self.run.file, &mut self.buf, (self.next * 8) as u64)?;
            self.next += count;
            self.at = 0;
        }
        let at = self.at;
        Ok(Some(u64::from_le_bytes(
            self.buf[at..at + 8].try_into().unwrap_or([0; 8]),
        )))
    }
}

/// Two runs' fingerprints in ascending order (they never share one: a fingerprint is added
/// only when no run has it). A read failure ends the stream and is kept in `failed`.
struct Merge<'a> {
    a: RunReader<'a>,
    b: RunReader<'a>,
    failed: Option<io::Error>,
}

impl Iterator for Merge<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let heads = self.a.peek().and_then(|a| Ok((a, self.b.peek()?)));
        let (a, b) = match heads {
            Ok(heads) => heads,
            Err(e) => {
                self.failed = Some(e);
                return None;
            }
        };
        let take_a = match (a, b) {
            (Some(a), Some(b)) => a < b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let side = if take_a { &mut self.a } else { &mut self.b };
        side.at += 8;
        if take_a {
            a
        } else {
            b
        }
    }
}

/// A new file under `dir`, already unlinked: the kernel frees it when it is closed, even if
/// the process is killed.
fn unlinked_file(dir: &Path) -> io::Result<File> {
    let mut noise = [0u8; 8];
    getrandom::fill(&mut noise).map_err(io::Error::other)?;
    let path = dir.join(format!(
        ".keyshift-fingerprints-{}-{:016x}",
        std::process::id(),
        u64::from_le_bytes(noise)
    ));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differing_in_any_bit_are_distinct() {
        let mut set = FingerprintSet::new(std::env::temp_dir());
        let base = 0x0123_4567_89ab_cdefu64;
        assert!(set.insert(base).unwrap());
        assert!(
            !set.insert(base).unwrap(),
            "the same fingerprint twice is a duplicate"
        );
        // Same bucket (top 16 bits), other low bits; other bucket, same low 48 bits.
        for bit in 0..64 {
            assert!(
                set.insert(base ^ (1 << bit)).unwrap(),
                "bit {bit} flipped must be new"
            );
        }
        for bit in 0..64 {
            assert!(
                !set.insert(base ^ (1 << bit)).unwrap(),
                "bit {bit} flipped seen again"
            );
        }
        assert!(set.insert(0).unwrap() && set.insert(u64::MAX).unwrap());
        assert!(!set.insert(0).unwrap() && !set.insert(u64::MAX).unwrap());
    }

    #[test]
    fn buckets_stay_sorted_as_they_grow() {
        let mut set = FingerprintSet::new(std::env::temp_dir());
        // 300 fingerprints in one bucket, inserted out of order.
        let fps: Vec<u64> = (0..300u64)
            .map(|i| 0xbeef_0000_0000_0000 | (i * 7919 % 300) << 20)
            .collect();
        for &fp in &fps {
            assert!(set.insert(fp).unwrap());
        }
        let bucket = &set.buckets[0xbeef];
        assert_eq!(bucket.len(), 300);
        assert!(bucket.windows(2).all(|w| w[0] < w[1]));
        assert!(fps.iter().all(|&fp| !set.insert(fp).unwrap()));
    }

    /// A spread of fingerprints: odd multiples of a large odd constant (distinct, uniform).
    fn fp(i: u64) -> u64 {
        (2 * i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    #[test]
    fn fingerprints_written_to_disk_are_still_found() {
        let dir = std::env::temp_dir();
        let mut set = FingerprintSet::holding(1_000, dir);
        let n = 25_000;
        for i in 0..n {
            assert!(set.insert(fp(i)).unwrap(), "key {i} is new");
            if i % 7 == 0 {
                // A duplicate of an older key, wherever it lives now.
                assert!(!set.insert(fp(i / 2)).unwrap(), "key {} seen", i / 2);
            }
        }
        // Runs on disk hold all but what is in memory; merging keeps them few and sorted by age.
        let runs = set.run_lengths();
        assert_eq!(runs.iter().sum::<usize>() + set.in_memory, n as usize);
        assert!(set.in_memory < 1_000);
        assert!(runs.len() <= 6, "runs {runs:?}");
        assert!(runs.windows(2).all(|w| w[0] > 2 * w[1]), "runs {runs:?}");
        for i in 0..n {
            assert!(!set.insert(fp(i)).unwrap(), "key {i} seen");
        }
        // Neighbours of stored fingerprints (first and last of blocks included) are new.
        for i in (0..n).step_by(97) {
            for probe in [fp(i).wrapping_add(1), fp(i).wrapping_sub(1)] {
                assert!(set.insert(probe).unwrap(), "probe {probe:x} is new");
            }
        }
        assert!(set.insert(0).unwrap() && set.insert(u64::MAX).unwrap());
        assert!(!set.insert(0).unwrap() && !set.insert(u64::MAX).unwrap());
    }

    #[test]
    fn a_directory_that_cannot_be_written_keeps_fingerprints_in_memory() {
        let dir = std::env::temp_dir().join(format!("keyshift-no-such-dir-{}", std::process::id()));
        let mut set = FingerprintSet::holding(100, dir);
        for i in 0..1_000 {
            assert!(set.insert(fp(i)).unwrap());
        }
        assert!(set.run_lengths().is_empty());
        assert_eq!(set.in_memory, 1_000);
        assert!((0..1_000).all(|i| !set.insert(fp(i)).unwrap()));
    }
}
