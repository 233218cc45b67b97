//! Read-only connections beside the single writer.
//!
//! SQLite in WAL mode lets readers run while the writer writes: each read transaction sees the
//! database as of its start (every write the engine answered has committed by then). The
//! verification path reads through [`Readers`] so it does not queue behind the writer mutex;
//! every write (credit spend, refill, lazy re-hash, all admin operations) stays on the writer.
//!
//! `:memory:` databases are private to their connection, so they get no readers: reads then go
//! through the writer connection, as before.
//!
//! Checkpoints: SQLite's automatic checkpoint (after a commit once the WAL holds 1000 pages)
//! gives up at once when a reader is busy, and under a steady stream of verifications some
//! reader always is: the WAL then grows without bound. So after each use of the writer
//! ([`Writer`]'s drop), once the WAL file passes [`WAL_CHECKPOINT_BYTES`], the writer briefly
//! shuts this process's readers out (the `gate`, which every pooled read holds shared) and
//! checkpoints the whole WAL, truncating it. It does not wait for other processes' readers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use rusqlite::Connection;

use keyshift_core::Result;

use crate::schema;

/// At most this many reader connections are open at once (more callers wait for one).
pub(crate) fn default_max_readers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 16)
        * 2
}

/// WAL size above which the writer checkpoints with this process's readers held off (twice
/// SQLite's automatic checkpoint size of 1000 4-KiB pages, so it only acts when that fails).
pub(crate) const WAL_CHECKPOINT_BYTES: u64 = 8 * 1024 * 1024;

/// A bounded pool of read-only connections to one database file, opened on demand.
pub(crate) struct Readers {
    path: String,
    wal_path: String,
    max: usize,
    state: Mutex<PoolState>,
    available: Condvar,
    /// Held shared by every pooled read, exclusively by the writer's checkpoint.
    gate: RwLock<()>,
    /// WAL size at which the next checkpoint is tried.
    checkpoint_at: AtomicU64,
}

struct PoolState {
    idle: Vec<Reader>,
    open: usize,
}

impl Readers {
    pub(crate) fn new(path: &str, max: usize) -> Readers {
        Readers {
            path: path.to_string(),
            wal_path: format!("{path}-wal"),
            max: max.max(1),
            gate: RwLock::new(()),
            checkpoint_at: AtomicU64::new(WAL_CHECKPOINT_BYTES),
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            available: Condvar::new(),
        }
    }

    /// An idle reader, a new one if fewer than `max` are open, else waits for one.
    pub(crate) fn get(&self) -> Result<PooledReader<'_>> {
        let gate = self.gate.read();
        let mut state = self.state.lock();
        loop {
            if let Some(reader) = state.idle.pop() {
                return Ok(PooledReader {
                    pool: self,
                    conn: Some(reader),
                    _gate: gate,
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match schema::open_reader(&self.path) {
                    Ok(conn) => Ok(PooledReader {
                        pool: self,
                        conn: Some(Reader {
                            conn,
                            seen_version: None,
                        }),
                        _gate: gate,
                    }),
                    Err(e) => {
                        self.state.lock().open -= 1;
                        self.available.notify_one();
                        Err(e)
                    }
                };
            }
            self.available.wait(&mut state);
        }
    }

    /// An idle reader, or `None` without waiting (nor opening one).
    pub(crate) fn try_get(&self) -> Option<PooledReader<'_>> {
        let gate = self.gate.try_read()?;
        let reader = self.state.try_lock()?.idle.pop()?;
        Some(PooledReader {
            pool: self,
            conn: Some(reader),
            _gate: gate,
        })
    }

    /// Checkpoints the WAL through `writer` (the writer connection, outside any transaction)
    /// if it has grown past the threshold, holding this process's readers off meanwhile. Never
    /// waits for other processes: if one of them is reading, the next try is after the WAL has
    /// grown by another [`WAL_CHECKPOINT_BYTES`].
    pub(crate) fn checkpoint_if_large(&self, writer: &Connection) {
        let len = match std::fs::metadata(&self.wal_path) {
            Ok(m) => m.len(),
            Err(_) => return,
        };
        if len < self.checkpoint_at.load(Ordering::Relaxed) || !writer.is_autocommit() {
            return;
        }
        let done = {
            let _gate = self.gate.write();
            let _ = writer.busy_timeout(Duration::ZERO);
            let busy = writer
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap_or(1);
            let _ = writer.busy_timeout(schema::BUSY_TIMEOUT);
            busy == 0
        };
        let next = if done {
            WAL_CHECKPOINT_BYTES
        } else {
            len.saturating_add(WAL_CHECKPOINT_BYTES)
        };
        self.checkpoint_at.store(next, Ordering::Relaxed);
    }

    fn put(&self, reader: Reader) {
        self.state.lock().idle.push(reader);
        self.available.notify_one();
    }
}

/// A pooled read-only connection and the `PRAGMA data_version` it last saw.
pub(crate) struct Reader {
    conn: Connection,
    seen_version: Option<i64>,
}

/// A reader on loan from [`Readers`]; goes back to the pool when dropped.
pub(crate) struct PooledReader<'a> {
    pool: &'a Readers,
    conn: Option<Reader>,
    /// Released after `conn` is back (fields drop after `Drop::drop`).
    _gate: RwLockReadGuard<'a, ()>,
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let Some(reader) = self.conn.take() {
            if reader.conn.is_autocommit() {
                self.pool.put(reader);
            } else {
                // A transaction left open (should not happen): close the connection rather
                // than hand out a stale snapshot.
                drop(reader);
                self.pool.state.lock().open -= 1;
                self.pool.available.notify_one();
            }
        }
    }
}

/// A connection to read from: a pooled reader, or the writer for `:memory:` databases.
// Built on the stack once per read and never moved around; rusqlite's `hooks` feature (used by
// `analytics`) makes a pooled reader larger than a guard.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ReadConn<'a> {
    Pooled(PooledReader<'a>),
    Writer(MutexGuard<'a, Connection>),
}

impl std::ops::Deref for ReadConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            ReadConn::Pooled(p) => &p.conn.as_ref().expect("reader present until dropped").conn,
            ReadConn::Writer(w) => w,
        }
    }
}

impl ReadConn<'_> {
    /// Whether any other connection (this process's writer included) committed since this
    /// connection last asked, by `PRAGMA data_version`; `true` on a connection's first ask
    /// and always for the writer (`:memory:`, which has no cache to protect).
    pub(crate) fn commits_since_last_look(&mut self) -> rusqlite::Result<bool> {
        match self {
            ReadConn::Writer(_) => Ok(true),
            ReadConn::Pooled(p) => {
                let reader = p.conn.as_mut().expect("reader present until dropped");
                let version: i64 = reader
                    .conn
                    .prepare_cached("PRAGMA data_version")?
                    .query_row([], |r| r.get(0))?;
                let changed = reader.seen_version != Some(version);
                reader.seen_version = Some(version);
                Ok(changed)
            }
        }
    }
}

/// A read transaction on `conn` (one snapshot for every statement inside), ended when dropped.
/// `BEGIN` / `COMMIT` come from the statement cache instead of being parsed per transaction.
pub(crate) struct ReadTx<'c> {
    conn: &'c Connection,
}

impl<'c> ReadTx<'c> {
    pub(crate) fn begin(conn: &'c Connection) -> rusqlite::Result<ReadTx<'c>> {
        conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(ReadTx { conn })
    }
}

impl std::ops::Deref for ReadTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        // Reads only, so COMMIT just ends the snapshot. Should it fail, try ROLLBACK; should
        // that fail too, a pooled reader is closed instead of reused (see `PooledReader`).
        let ended = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]));
        if ended.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The writer connection, locked. When dropped it first checkpoints an oversized WAL (see the
/// module docs), still holding the lock.
pub(crate) struct Writer<'a> {
    pub(crate) conn: MutexGuard<'a, Connection>,
    pub(crate) readers: Option<&'a Readers>,
}

impl std::ops::Deref for Writer<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if let Some(readers) = self.readers {
            readers.checkpoint_if_large(&self.conn);
        }
    }
}
