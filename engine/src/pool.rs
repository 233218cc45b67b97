//! Read-only connections beside the single writer.
//!
//! SQLite in WAL mode lets readers run while the writer writes: each read transaction sees the
//! database as of its start (every write the engine answered has committed by then). The
//! verification path reads through [`Readers`] so it does not queue behind the writer mutex;
//! every write (credit spend, refill, lazy re-hash, all admin operations) stays on the writer.
//!
//! `:memory:` databases are private to their connection, so they get no readers: reads then go
//! through the writer connection, as before.

use parking_lot::{Condvar, Mutex, MutexGuard};
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

/// A bounded pool of read-only connections to one database file, opened on demand.
pub(crate) struct Readers {
    path: String,
    max: usize,
    state: Mutex<PoolState>,
    available: Condvar,
}

struct PoolState {
    idle: Vec<Connection>,
    open: usize,
}

impl Readers {
    pub(crate) fn new(path: &str, max: usize) -> Readers {
        Readers {
            path: path.to_string(),
            max: max.max(1),
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            available: Condvar::new(),
        }
    }

    /// An idle reader, a new one if fewer than `max` are open, else waits for one.
    pub(crate) fn get(&self) -> Result<PooledReader<'_>> {
        let mut state = self.state.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(PooledReader {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match schema::open_reader(&self.path) {
                    Ok(conn) => Ok(PooledReader {
                        pool: self,
                        conn: Some(conn),
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
        let conn = self.state.try_lock()?.idle.pop()?;
        Some(PooledReader {
            pool: self,
            conn: Some(conn),
        })
    }

    fn put(&self, conn: Connection) {
        self.state.lock().idle.push(conn);
        self.available.notify_one();
    }
}

/// A reader on loan from [`Readers`]; goes back to the pool when dropped.
pub(crate) struct PooledReader<'a> {
    pool: &'a Readers,
    conn: Option<Connection>,
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.is_autocommit() {
                self.pool.put(conn);
            } else {
                // A transaction left open (should not happen): close the connection rather
                // than hand out a stale snapshot.
                drop(conn);
                self.pool.state.lock().open -= 1;
                self.pool.available.notify_one();
            }
        }
    }
}

/// A connection to read from: a pooled reader, or the writer for `:memory:` databases.
pub(crate) enum ReadConn<'a> {
    Pooled(PooledReader<'a>),
    Writer(MutexGuard<'a, Connection>),
}

impl std::ops::Deref for ReadConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            ReadConn::Pooled(p) => p.conn.as_ref().expect("reader present until dropped"),
            ReadConn::Writer(w) => w,
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
