//! The migration engine against a scripted in-memory key service (issue 9 #4, #7, #11):
//! retry classification of batches, lost answers from a server that ignores Idempotency-Key,
//! a strict checkpoint, a report with each key exactly once across crashes and resumes, and
//! the checkpoint and report made durable on an early error.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use keyshift_core::migrate::checkpoint::{self, Checkpoint, Header, State, VERSION};
use keyshift_core::migrate::{self, migrate_keys_with, MigrateOptions, MigrationBackend};
use keyshift_core::wire::{
    MigrateFailure, MigrateKeysRequest, MigrateKeysResponseData, MigratedKey,
};
use keyshift_core::{Error, ErrorCode, Result, RetryPolicy};
use serde_json::Value;

/// What the scripted service does with one attempt.
#[derive(Clone, Debug)]
enum Act {
    /// Store the keys and answer.
    Answer,
    /// Store the keys, then lose the answer with this error (a proxy's 500, a dropped
    /// connection after sending).
    LoseAnswer(Error),
    /// Answer this error without storing anything.
    Refuse(Error),
    /// The task panics (a bug somewhere): the run must still account for the others.
    Panic,
}

type Script = dyn Fn(u64, u32) -> Act + Send + Sync;

/// An in-memory key service that, like Unkey, ignores Idempotency-Key: a hash it already has
/// is answered in `failed`.
struct Fake {
    keys: Mutex<HashMap<String, String>>,
    attempts: Mutex<HashMap<u64, u32>>,
    calls: AtomicU32,
    /// (batch number from the first line, attempt number 1-based) → act.
    script: Box<Script>,
    delay: Duration,
    batch_size: u64,
    /// Every attempt: (first key's record index, keys, Idempotency-Key).
    log: Mutex<Vec<(u64, usize, String)>>,
}

impl Fake {
    fn new(batch_size: u64, script: impl Fn(u64, u32) -> Act + Send + Sync + 'static) -> Arc<Fake> {
        Arc::new(Fake {
            keys: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
            calls: AtomicU32::new(0),
            script: Box::new(script),
            delay: Duration::ZERO,
            batch_size,
            log: Mutex::new(Vec::new()),
        })
    }

    /// A service that does `act` on every attempt of batch `bad` and answers the others.
    fn one_bad_batch(
        batch_size: u64,
        bad: u64,
        act: impl Fn() -> Act + Send + Sync + 'static,
    ) -> Arc<Fake> {
        Fake::new(
            batch_size,
            move |batch, _| {
                if batch == bad {
                    act()
                } else {
                    Act::Answer
                }
            },
        )
    }

    fn attempts_of(&self, batch: u64) -> u32 {
        self.attempts
            .lock()
            .unwrap()
            .get(&batch)
            .copied()
            .unwrap_or(0)
    }

    fn store(&self, request: &MigrateKeysRequest) -> MigrateKeysResponseData {
        let mut keys = self.keys.lock().unwrap();
        let mut out = MigrateKeysResponseData::default();
        for k in &request.keys {
            if keys.contains_key(&k.hash) {
                out.failed.push(MigrateFailure {
                    hash: k.hash.clone(),
                    error: None,
                });
            } else {
                let id = format!("key_{}", keys.len());
                keys.insert(k.hash.clone(), id.clone());
                out.migrated.push(MigratedKey {
                    hash: k.hash.clone(),
                    key_id: id,
                });
            }
        }
        out
    }
}

#[async_trait::async_trait]
impl MigrationBackend for Fake {
    async fn migrate_batch(
        &self,
        request: &MigrateKeysRequest,
        idempotency_key: &str,
    ) -> Result<MigrateKeysResponseData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push((
            index()[&request.keys[0].hash],
            request.keys.len(),
            idempotency_key.to_string(),
        ));
        // One record per line and one variant: the batch is the first key's record index
        // divided by the batch size.
        let batch = index()
            .get(&request.keys[0].hash)
            .copied()
            .expect("a hash of the export")
            / self.batch_size;
        let attempt = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(batch).or_insert(0);
            *n += 1;
            *n
        };
        match (self.script)(batch, attempt) {
            Act::Answer => {
                if !self.delay.is_zero() {
                    tokio::time::sleep(self.delay).await;
                }
                Ok(self.store(request))
            }
            Act::LoseAnswer(e) => {
                self.store(request);
                Err(e)
            }
            Act::Refuse(e) => Err(e),
            Act::Panic => {
                // Once every batch of the test is in flight (bounded wait), so that the run
                // has other batches to account for when it meets the failure.
                for _ in 0..500 {
                    if self.calls.load(Ordering::SeqCst) >= 4 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                panic!("scripted panic in batch {batch}")
            }
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
            .with_base_delay(Duration::from_millis(1))
            .with_max_delay(Duration::from_millis(5))
    }
}

/// hash → 0-based record index, shared by every fake (hashes are random and unique).
fn index() -> MutexGuard<'static, HashMap<String, u64>> {
    static INDEX: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    INDEX
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap()
}

fn temp_dir() -> tempdir::Dir {
    tempdir::Dir::new()
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).unwrap();
            let p = std::env::temp_dir().join(format!("ks-resume-{}", hex::encode(b)));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes `n` records (plaintext keys) and registers their hashes' positions.
fn write_export(path: &Path, n: u64) -> Vec<String> {
    let mut text = String::new();
    let mut hashes = Vec::new();
    let mut index = index();
    for i in 0..n {
        let r = migrate::sample::sample_record(i, false).unwrap();
        let key = r["key"].as_str().unwrap();
        let hash = keyshift_core::hashing::sha256_base64(key);
        index.insert(hash.clone(), i);
        hashes.push(hash);
        text.push_str(&r.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
    hashes
}

/// A temp dir holding `keys.jsonl` of [`write_export`]'s `n` records, that file, and their
/// hashes.
fn temp_export(n: u64) -> (tempdir::Dir, PathBuf, Vec<String>) {
    let dir = temp_dir();
    let file = dir.path().join("keys.jsonl");
    let hashes = write_export(&file, n);
    (dir, file, hashes)
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every key row of the report, by line; panics when a line is reported twice.
fn key_rows(report: &Path) -> HashMap<u64, Value> {
    let mut rows = HashMap::new();
    for row in read_jsonl(report) {
        if let Some(line) = row.get("line").and_then(Value::as_u64) {
            if let Some(old) = rows.insert(line, row.clone()) {
                panic!("line {line} reported twice: {old} and {row}");
            }
        }
    }
    rows
}

/// [`migrate_keys_with`] against `fake`, without a progress callback.
async fn run(
    fake: &Arc<Fake>,
    file: &Path,
    options: MigrateOptions,
) -> Result<migrate::MigrationReport> {
    migrate_keys_with(fake.clone(), file, options, None).await
}

/// Resumes run `name` (batches of 100, checkpoint in `dir`) against `fake`.
async fn resume(fake: &Arc<Fake>, file: &Path, dir: &Path, name: &str) -> migrate::MigrationReport {
    run(fake, file, options(dir, name, 100).resume(true))
        .await
        .unwrap()
}

fn options(dir: &Path, name: &str, batch: usize) -> MigrateOptions {
    MigrateOptions::new("api_test", name)
        .batch_size(batch)
        .concurrency(4)
        .checkpoint(dir.join("ckpt"))
        .report(dir.join("report.jsonl"))
}

fn server_error(status: u16) -> Error {
    Error::new(ErrorCode::from_status(status), "injected").with_status(status)
}

/// #11: answers lost after the service acted, from a service that ignores Idempotency-Key:
/// the retries' "already exists" answers are this run's own keys (already present), not
/// conflicts, with or without a checkpoint.
#[tokio::test]
async fn lost_answers_count_as_already_present_not_conflicts() {
    for with_checkpoint in [false, true] {
        let (dir, file, hashes) = temp_export(500);
        let fake = Fake::new(50, |batch, attempt| match (batch % 3, attempt) {
            (0, 1) => Act::LoseAnswer(server_error(500)),
            (1, 1) => Act::LoseAnswer(Error::new(ErrorCode::Network, "connection reset")),
            (1, 2) => Act::LoseAnswer(Error::new(ErrorCode::Timeout, "timed out")),
            _ => Act::Answer,
        });
        let mut opts = options(dir.path(), "lost", 50);
        if !with_checkpoint {
            opts.checkpoint = None;
        }
        let report = migrate_keys_with(fake.clone(), file.clone(), opts, None)
            .await
            .unwrap();
        assert_eq!(report.failed, 0, "{:?}", report.errors.first());
        assert!(report.is_complete());
        assert_eq!(report.migrated + report.already_present, 500);
        assert!(report.already_present >= 300, "{report:?}");
        assert_eq!(fake.keys.lock().unwrap().len(), 500);
        let rows = key_rows(&dir.path().join("report.jsonl"));
        assert_eq!(rows.len(), 500);
        for (line, row) in &rows {
            assert_eq!(
                row["hash"],
                Value::String(hashes[*line as usize - 1].clone())
            );
            assert!(
                row.get("keyId").is_some() || row["alreadyPresent"] == Value::Bool(true),
                "{row}"
            );
        }
    }
}

/// #4: the engine retries batches under RetryPolicy with the one classification: 4xx and an
/// answer that took effect are not retried; 503, 429 and failures before sending are.
#[tokio::test]
async fn batches_are_retried_by_the_one_classification() {
    let (dir, file, _) = temp_export(300);
    let fake = Fake::new(50, |batch, attempt| match (batch, attempt) {
        (0, 1) => Act::Refuse(server_error(400)),
        (1, 1) => Act::LoseAnswer(Error::took_effect("keys.migrateKeys", 200, "bad json")),
        (2, 1..=3) => Act::Refuse(server_error(503)),
        (3, 1) => Act::Refuse(server_error(429).with_retry_after(1e30)),
        (4, 1) => Act::Refuse(Error::new(ErrorCode::Network, "refused").with_not_sent()),
        (5, 1) => Act::Refuse(server_error(501)),
        _ => Act::Answer,
    });
    let report = migrate_keys_with(
        fake.clone(),
        file,
        options(dir.path(), "classes", 50).retry(
            RetryPolicy::default()
                .with_max_attempts(5)
                .with_base_delay(Duration::from_millis(1))
                .with_max_delay(Duration::from_millis(2)),
        ),
        None,
    )
    .await
    .unwrap();
    assert_eq!(fake.attempts_of(0), 1, "a 400 is not retried");
    assert_eq!(
        fake.attempts_of(1),
        1,
        "a 2xx that took effect is never sent again"
    );
    assert_eq!(fake.attempts_of(2), 4, "503 is retried");
    assert_eq!(fake.attempts_of(4), 2, "a refused connection is retried");
    assert_eq!(fake.attempts_of(5), 1, "501 is not retried");
    assert_eq!(report.failed, 150, "batches 0, 1 and 5 failed");
    let took_effect = report
        .errors
        .iter()
        .find(|e| e.message.contains("took effect"))
        .expect("the took-effect error is reported");
    assert_eq!(took_effect.code, ErrorCode::ServerError);
}

/// A 429 asking for an absurd wait does not hang the run (the wait is bounded).
#[tokio::test]
async fn an_absurd_retry_after_does_not_hang_a_batch() {
    let (dir, file, _) = temp_export(10);
    let fake = Fake::new(10, |_, attempt| {
        if attempt == 1 {
            Act::Refuse(server_error(429).with_retry_after(f64::MAX))
        } else {
            Act::Answer
        }
    });
    let policy = RetryPolicy::default().with_max_attempts(1);
    let report = tokio::time::timeout(
        Duration::from_secs(5),
        run(
            &fake,
            &file,
            options(dir.path(), "absurd", 10).retry(policy),
        ),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert_eq!(report.failed, 10);
}

fn header(name: &str, batch_size: usize, source: &Path) -> Header {
    Header {
        checkpoint: VERSION,
        migration_id: name.into(),
        api_id: "api_test".into(),
        batch_size,
        variant: "sha256_base64".into(),
        source: source.display().to_string(),
    }
}

/// #7: a corrupt complete line fails loudly with its number; a torn last line is cut off.
#[test]
fn corrupt_checkpoint_lines_fail_loudly_torn_last_lines_do_not() {
    let dir = temp_dir();
    let path = dir.path().join("ckpt");
    let h = header("strict", 100, Path::new("keys.jsonl"));
    drop(Checkpoint::open(&path, &h, false).unwrap());
    let entry = |batch: u64, state: &str| {
        format!(
            r#"{{"batch":{batch},"firstLine":{},"lastLine":{},"count":100,"state":"{state}","idempotencyKey":"ksm-{batch}"}}"#,
            batch * 100 + 1,
            batch * 100 + 100
        )
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(f, "{}", entry(0, "sent")).unwrap();
    writeln!(f, "{}", entry(0, "done")).unwrap();
    writeln!(f, "{{\"batch\":1,\"firstLine\":101,\"lastLi").unwrap(); // complete, corrupt
    writeln!(f, "{}", entry(2, "sent")).unwrap();
    drop(f);
    let err = Checkpoint::open(&path, &h, true).err().expect("refused");
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("line 4"), "{err}");
    let err = checkpoint::read_entries(&path).expect_err("refused");
    assert!(err.message.contains("line 4"), "{err}");

    // A torn LAST line (no newline) is a crash mid-append: ignored, and cut off so that it
    // never becomes a complete corrupt line.
    let torn = dir.path().join("torn");
    drop(Checkpoint::open(&torn, &h, false).unwrap());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&torn)
        .unwrap();
    writeln!(f, "{}", entry(0, "sent")).unwrap();
    write!(f, "{{\"batch\":0,\"firstLine\":1,\"la").unwrap();
    drop(f);
    assert_eq!(checkpoint::read_entries(&torn).unwrap().1.len(), 1);
    {
        let (mut c, state) = Checkpoint::open(&torn, &h, true).unwrap();
        assert!(state.sent.contains_key(&0));
        let e: checkpoint::Entry = serde_json::from_str(&entry(0, "done")).unwrap();
        c.append(&e, true).unwrap();
    }
    let (_, state) = Checkpoint::open(&torn, &h, true).unwrap();
    assert!(state.done.contains_key(&0));
    let text = std::fs::read_to_string(&torn).unwrap();
    assert!(!text.contains("\"la\n"), "{text}");
}

/// Drops the last `n` `done` lines of a checkpoint: what a crash between the report flush and
/// the checkpoint sync leaves.
fn lose_last_done_entries(path: &Path, n: usize) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let mut dropped = 0;
    while dropped < n {
        let Some(i) = lines.iter().rposition(|l| l.contains("\"state\":\"done\"")) else {
            break;
        };
        lines.remove(i);
        dropped += 1;
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    dropped
}

/// #7: a crash after the report was flushed but before the checkpoint was synced, and a
/// batch that failed in the first run, end in a report with each key exactly once.
#[tokio::test]
async fn resumed_report_lists_each_key_exactly_once() {
    let (dir, file, _) = temp_export(600);
    // Two invalid records too: reported once, not once per run.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"name\":\"no key\"}\n{\"key\":\"\"}\n");
    std::fs::write(&file, text).unwrap();

    // Run 1: batch 3 is refused (400, not retried) and reported failed.
    let fake = Fake::one_bad_batch(100, 3, || Act::Refuse(server_error(400)));
    let report = run(&fake, &file, options(dir.path(), "exactly-once", 100))
        .await
        .unwrap();
    assert_eq!(
        (report.migrated, report.failed, report.invalid),
        (500, 100, 2)
    );
    // The crash: the last two `done` entries never reached the disk.
    assert_eq!(lose_last_done_entries(&dir.path().join("ckpt"), 2), 2);

    // Run 2 (resume) against the same service, which ignores Idempotency-Key.
    let fixed = Fake::new(100, |_, _| Act::Answer);
    *fixed.keys.lock().unwrap() = fake.keys.lock().unwrap().clone();
    let report = resume(&fixed, &file, dir.path(), "exactly-once").await;
    assert_eq!(report.failed, 0, "{:?}", report.errors.first());
    assert_eq!(report.invalid, 2);
    assert_eq!(report.skipped_resumed, 300);
    assert_eq!(report.migrated + report.already_present, 300);
    assert_eq!(fixed.keys.lock().unwrap().len(), 600);

    let rows = key_rows(&dir.path().join("report.jsonl"));
    assert_eq!(rows.len(), 602, "600 keys and 2 invalid records, each once");
    let errors: Vec<_> = rows.values().filter(|r| r.get("error").is_some()).collect();
    assert_eq!(errors.len(), 2, "only the invalid records: {errors:?}");
    let summaries = read_jsonl(&dir.path().join("report.jsonl"))
        .into_iter()
        .filter(|r| r.get("summary").is_some())
        .count();
    assert_eq!(summaries, 1);
}

/// #7: an error that stops the run (here a batch task that panics) still lets every batch
/// in flight finish and be recorded, syncs the checkpoint and flushes the report with a
/// summary naming the error.
#[tokio::test]
async fn an_early_error_still_records_batches_in_flight() {
    let (dir, file, _) = temp_export(400);
    let mut fake = Fake::one_bad_batch(100, 0, || Act::Panic);
    Arc::get_mut(&mut fake).unwrap().delay = Duration::from_millis(100);
    let err = run(&fake, &file, options(dir.path(), "early", 100))
        .await
        .unwrap_err();
    assert!(err.message.contains("batch task failed"), "{err}");
    let (_, entries) = checkpoint::read_entries(&dir.path().join("ckpt")).unwrap();
    let done: HashSet<u64> = entries
        .iter()
        .filter(|e| e.state == State::Done)
        .map(|e| e.batch)
        .collect();
    assert_eq!(
        done,
        HashSet::from([1, 2, 3]),
        "batches in flight were finished"
    );
    let report = read_jsonl(&dir.path().join("report.jsonl"));
    let keys = report.iter().filter(|r| r.get("keyId").is_some()).count();
    assert_eq!(keys, 300);
    let summary = report.last().unwrap();
    assert!(
        summary["summary"]["aborted"]
            .as_str()
            .unwrap_or("")
            .contains("batch task failed"),
        "{summary}"
    );
    // And the resume finishes batch 0 (sent once already: already present is fine).
    let fixed = Fake::new(100, |_, _| Act::Answer);
    let report = resume(&fixed, &file, dir.path(), "early").await;
    assert_eq!((report.skipped_resumed, report.migrated), (300, 100));
    assert_eq!(key_rows(&dir.path().join("report.jsonl")).len(), 400);
}

/// Checkpoint entries of batches sent and never recorded as done (nor split).
fn unfinished(path: &Path) -> Vec<checkpoint::Entry> {
    let (_, entries) = checkpoint::read_entries(path).unwrap();
    let settled: HashSet<u64> = entries
        .iter()
        .filter(|e| e.state != State::Sent)
        .map(|e| e.batch)
        .collect();
    entries
        .into_iter()
        .filter(|e| e.state == State::Sent && !settled.contains(&e.batch))
        .collect()
}

/// Adaptive batch sizes (the default): the checkpoint records each batch's boundaries, and a
/// run stopped mid-way, then crashed before its last `done` entries reached the disk, resumes
/// with another (explicit) batch size: the unfinished recorded batches go out again exactly
/// as they were (same keys, same Idempotency-Key), finished ones are skipped, and every key
/// ends up migrated once.
#[tokio::test]
async fn adaptive_batches_resume_by_their_recorded_boundaries_across_a_size_change() {
    let (dir, file, _) = temp_export(3000);
    let ckpt = dir.path().join("ckpt");
    let adaptive = || {
        MigrateOptions::new("api_test", "adaptive-resume")
            .checkpoint(&ckpt)
            .report(dir.path().join("report.jsonl"))
    };
    // Run 1: a fast service; from record 1500 on it refuses the root key (401), which stops
    // the run with what is in flight accounted for.
    let fake = Fake::new(1, |first, _| {
        if first >= 1500 {
            Act::Refuse(server_error(401))
        } else {
            Act::Answer
        }
    });
    let err = run(&fake, &file, adaptive()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);
    let (header, entries) = checkpoint::read_entries(&ckpt).unwrap();
    assert_eq!(header.checkpoint, checkpoint::VERSION_RECORDED);
    let biggest = entries.iter().map(|e| e.count).max().unwrap();
    assert!(biggest > 100, "batches grew past 100 keys: {biggest}");
    // The crash: the last two `done` entries never reached the disk.
    assert_eq!(lose_last_done_entries(&ckpt, 2), 2);
    let unfinished = unfinished(&ckpt);
    assert!(unfinished.len() >= 3, "{unfinished:?}");

    // Run 2: resumed with a fixed batch size of 37 against the same keys.
    let again = Fake::new(1, |_, _| Act::Answer);
    *again.keys.lock().unwrap() = fake.keys.lock().unwrap().clone();
    let report = run(
        &again,
        &file,
        adaptive().batch_size(37).concurrency(3).resume(true),
    )
    .await
    .unwrap();
    assert_eq!(report.failed, 0, "{:?}", report.errors.first());
    assert_eq!(
        report.migrated + report.already_present + report.skipped_resumed,
        3000
    );
    assert_eq!(again.keys.lock().unwrap().len(), 3000);
    let log = again.log.lock().unwrap().clone();
    for e in &unfinished {
        let first = e.first_line - 1;
        assert!(
            log.iter()
                .any(|(f, n, k)| *f == first && *n as u64 == e.count && *k == e.idempotency_key),
            "batch {} re-sent as recorded: {log:?}",
            e.batch
        );
    }
    let recorded_firsts: HashSet<u64> = unfinished.iter().map(|e| e.first_line - 1).collect();
    for (first, n, _) in &log {
        assert!(
            recorded_firsts.contains(first) || *n <= 37,
            "a new batch of {n} keys at {first}"
        );
    }
    // No key was sent twice in run 2: the batches it sent do not overlap.
    let sent: u64 = log.iter().map(|(_, n, _)| *n as u64).sum();
    assert_eq!(sent, report.migrated + report.already_present);
    let rows = key_rows(&dir.path().join("report.jsonl"));
    assert_eq!(rows.len(), 3000, "each key reported once");
}

/// A checkpoint with fixed batches (format 1, as every run before adaptive batches wrote it)
/// resumes under the default options with its own batch size.
#[tokio::test]
async fn fixed_batch_checkpoints_resume_under_the_default_options() {
    let (dir, file, _) = temp_export(1000);
    let ckpt = dir.path().join("ckpt");
    let fake = Fake::new(50, |batch, _| {
        if batch >= 10 {
            Act::Refuse(server_error(401))
        } else {
            Act::Answer
        }
    });
    run(&fake, &file, options(dir.path(), "fixed-then-default", 50))
        .await
        .unwrap_err();
    let (header, _) = checkpoint::read_entries(&ckpt).unwrap();
    assert_eq!((header.checkpoint, header.batch_size), (VERSION, 50));

    let again = Fake::new(50, |_, _| Act::Answer);
    *again.keys.lock().unwrap() = fake.keys.lock().unwrap().clone();
    let report = run(
        &again,
        &file,
        MigrateOptions::new("api_test", "fixed-then-default")
            .checkpoint(&ckpt)
            .resume(true),
    )
    .await
    .unwrap();
    assert_eq!(report.failed, 0, "{:?}", report.errors.first());
    assert_eq!(report.skipped_resumed, 500);
    assert_eq!(again.keys.lock().unwrap().len(), 1000);
    let log = again.log.lock().unwrap();
    assert!(
        log.iter().all(|(first, n, _)| *n == 50 && first % 50 == 0),
        "fixed batches of 50: {log:?}"
    );
}
