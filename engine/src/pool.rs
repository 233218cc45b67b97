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
use std::sync::Arc;
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

/// Group commit of writes that arrive while the writer is busy (`keys.migrateKeys` batches):
/// each caller queues its job, then waits for the writer; whoever gets it first runs every job
/// queued by then in ONE transaction, each inside its own savepoint, and commits once. A job
/// that fails is rolled back to its savepoint alone, so each job's answer and effects are
/// exactly what its own transaction would have given; only the commit (and its WAL writes of
/// the pages the jobs share) is shared. Callers whose job another caller ran find their
/// answer when they get the writer, and hand it straight back. Answers are handed out only
/// after the commit. A group takes queued jobs in arrival order up to [`GROUP_WEIGHT`] (their
/// request bytes; at least one job), so a caller waits for a bounded amount of others' work.
pub(crate) struct GroupCommit<J, R> {
    /// Jobs waiting, with their weight.
    queue: Mutex<std::collections::VecDeque<Waiting<J, R>>>,
}

type Waiting<J, R> = (Arc<Queued<J, R>>, usize);

/// Most request bytes one group commit takes (beyond its first job).
pub(crate) const GROUP_WEIGHT: usize = 1 << 20;

struct Queued<J, R> {
    job: Mutex<Option<J>>,
    answer: Mutex<Option<Result<R>>>,
}

impl<J, R> Default for GroupCommit<J, R> {
    fn default() -> Self {
        GroupCommit {
            queue: Mutex::new(std::collections::VecDeque::new()),
        }
    }
}

impl<J, R> GroupCommit<J, R> {
    /// Runs `job` (of `weight` request bytes) through `run` in a transaction of the writer
    /// that `writer` waits for, together with the jobs queued before and after it (in arrival
    /// order, up to [`GROUP_WEIGHT`]).
    pub(crate) fn submit<'w>(
        &self,
        job: J,
        weight: usize,
        writer: impl Fn() -> Writer<'w>,
        run: impl Fn(&Connection, J) -> Result<R>,
    ) -> Result<R> {
        let mine = Arc::new(Queued {
            job: Mutex::new(Some(job)),
            answer: Mutex::new(None),
        });
        self.queue.lock().push_back((mine.clone(), weight));
        loop {
            let mut w = writer();
            let answered = mine.answer.lock().take();
            if let Some(answer) = answered {
                return answer;
            }
            let group: Vec<Arc<Queued<J, R>>> = {
                let mut queue = self.queue.lock();
                let mut total = 0usize;
                let mut group = Vec::new();
                while let Some((_, w)) = queue.front() {
                    if !group.is_empty() && total + w > GROUP_WEIGHT {
                        break;
                    }
                    total += w;
                    group.extend(queue.pop_front().map(|(q, _)| q));
                }
                group
            };
            if group.is_empty() {
                // Not queued, not answered: its group failed without an answer (a panic).
                return Err(keyshift_core::Error::server(
                    "the write was lost with a failed group of writes",
                ));
            }
            let answers = Self::run_group(&mut w, &group, &run);
            for (queued, answer) in group.iter().zip(answers) {
                if let Some(answer) = answer {
                    *queued.answer.lock() = Some(answer);
                }
            }
        }
    }

    /// Every job of `group` still to run, in one transaction; an answer per job run (the
    /// transaction's own error for all of them when it cannot begin or commit).
    fn run_group(
        conn: &mut Connection,
        group: &[Arc<Queued<J, R>>],
        run: &impl Fn(&Connection, J) -> Result<R>,
    ) -> Vec<Option<Result<R>>> {
        use crate::util::Db;
        let jobs: Vec<Option<J>> = group.iter().map(|q| q.job.lock().take()).collect();
        let ran: Vec<bool> = jobs.iter().map(Option::is_some).collect();
        // The transaction's own failure: every job run gets it (nothing was committed).
        let fail_all = |e: keyshift_core::Error| {
            ran.iter()
                .map(|r| r.then(|| Err(e.clone())))
                .collect::<Vec<_>>()
        };
        let mut tx = match conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .db()
        {
            Ok(tx) => tx,
            Err(e) => return fail_all(e),
        };
        let mut answers: Vec<Option<Result<R>>> = Vec::with_capacity(jobs.len());
        for job in jobs {
            let Some(job) = job else {
                answers.push(None);
                continue;
            };
            let sp = match tx.savepoint().db() {
                Ok(sp) => sp,
                Err(e) => return fail_all(e),
            };
            let answer = run(&sp, job);
            // A failed job's writes go (rolled back to its savepoint); a kept one's stay.
            let ended = match &answer {
                Ok(_) => sp.commit().db(),
                Err(_) => sp.finish().db(),
            };
            if let Err(e) = ended {
                return fail_all(e);
            }
            answers.push(Some(answer));
        }
        if let Err(e) = tx.commit().db() {
            return fail_all(e);
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs queued while the writer is busy run together, by one caller, in one transaction;
    /// a failing job is rolled back alone and every caller gets its own answer.
    #[test]
    fn queued_jobs_commit_together_and_fail_alone() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        let writer = Mutex::new(conn);
        let group: GroupCommit<i64, i64> = GroupCommit::default();
        let ran_by: Mutex<Vec<(i64, std::thread::ThreadId)>> = Mutex::new(Vec::new());
        let run = |c: &Connection, n: i64| -> Result<i64> {
            ran_by.lock().push((n, std::thread::current().id()));
            c.execute("INSERT INTO t (n) VALUES (?1)", [n]).unwrap();
            if n == 1 {
                return Err(keyshift_core::Error::not_found("job 1 fails after writing"));
            }
            Ok(n * 10)
        };
        let held = writer.lock();
        let answers = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|n| {
                    let (group, writer, run) = (&group, &writer, &run);
                    s.spawn(move || {
                        group.submit(
                            n,
                            1,
                            || Writer {
                                conn: writer.lock(),
                                readers: None,
                            },
                            run,
                        )
                    })
                })
                .collect();
            // Every job queued behind the busy writer before it is free.
            while group.queue.lock().len() < 3 {
                std::thread::yield_now();
            }
            drop(held);
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(answers[0].as_ref().ok(), Some(&0));
        assert_eq!(answers[2].as_ref().ok(), Some(&20));
        assert_eq!(
            answers[1].as_ref().unwrap_err().code,
            keyshift_core::ErrorCode::NotFound
        );
        let ran_by = ran_by.into_inner();
        assert_eq!(ran_by.len(), 3, "each job ran once");
        assert!(
            ran_by.iter().all(|(_, t)| *t == ran_by[0].1),
            "one caller ran the whole group"
        );
        let conn = writer.lock();
        let stored: Vec<i64> = crate::util::column(&conn, "SELECT n FROM t ORDER BY n");
        assert_eq!(stored, vec![0, 2], "the failed job's write was rolled back");
        assert!(conn.is_autocommit(), "the group's transaction ended");
    }
}
