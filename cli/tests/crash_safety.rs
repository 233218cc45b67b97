//! Crash safety (issue 14 #5): the real `keyshift serve` child is killed with SIGKILL
//! (`kill -9`) in the middle of work, restarted on the same database, and what it acknowledged
//! before dying must still be there:
//!
//! * during a migration of 20 000 plaintext keys: the run fails, the resumed run (same
//!   checkpoint) ends with every key present exactly once, each acknowledged hash kept its key id,
//!   and the report lists every key once;
//! * during 8 concurrent verifiers spending credits: remaining credits never go negative and the
//!   credits spent equal the VALID answers the clients received (plus at most the 8 requests in
//!   flight at the kill, which may have spent without being answered);
//! * during a createKey loop: every key listed afterwards is whole (name, meta, permissions,
//!   roles, identity as sent), every acknowledged key is listed and verifies.
//!
//! Kills are triggered by a count of acknowledged operations, not by wall-clock time.

mod common;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{spawn_serve, Served};
use keyshift_core::migrate::{self, MigrateOptions, MigrationBackend};
use keyshift_core::wire::{self, MigrateKeysRequest, MigrateKeysResponseData};
use keyshift_core::{
    hashing, Client, CreateKey, ErrorCode, RetryPolicy, VerifyCode, VerifyOptions,
};
use serde_json::{json, Value};

/// One crash test at a time: each runs a server and a busy client, and the kills are timed by
/// counts; running them side by side on a small machine only adds noise.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// SIGKILL to the server child (by its pid: the `Child` stays with the test, which reaps it).
fn kill9(pid: u32) {
    // SAFETY: kill(2) on a pid we spawned and have not reaped yet.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0, "kill -9 {pid}");
}

/// Reaps a killed server and checks it died of SIGKILL.
fn reap_killed(mut served: Served) {
    use std::os::unix::process::ExitStatusExt;
    let status = served.child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
}

/// A client of `served` making one attempt per call with short timeouts (a dead server is an
/// error at once, never a long retry).
fn client(served: &Served, root_key: &str) -> Client {
    Client::builder()
        .base_url(served.base_url.clone())
        .root_key(root_key.to_string())
        .timeout(Duration::from_secs(10))
        .deadline(Duration::from_secs(10))
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

/// A first server on a fresh database with one api, as every crash test starts.
struct Crash {
    /// Holds `db` (and whatever else a test writes there).
    dir: tempfile::TempDir,
    db: std::path::PathBuf,
    server: Guard,
    root_key: String,
    /// A client of that first server.
    first: Client,
    api_id: String,
}

impl Crash {
    async fn start(api_name: &str) -> Crash {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crash.db");
        let server = Guard(Some(start(&db)));
        let root_key = server.0.as_ref().unwrap().root_key.clone().unwrap();
        let first = client(server.0.as_ref().unwrap(), &root_key);
        let api_id = first.create_api(api_name).await.unwrap().api_id;
        Crash {
            dir,
            db,
            server,
            root_key,
            first,
            api_id,
        }
    }

    /// Starts the server again on the same database (after [`reap_killed`]); a client of it.
    fn restart(&mut self) -> Client {
        self.server = Guard(Some(start(&self.db)));
        client(self.server.0.as_ref().unwrap(), &self.root_key)
    }
}

/// Starts (or restarts) the server on `db`; the first start returns the printed root key.
fn start(db: &Path) -> Served {
    spawn_serve(db.to_str().unwrap(), &[], &[])
}

/// Kills `served` (a child that is still running) when dropped, so a failing test leaves no
/// server behind.
struct Guard(Option<Served>);

impl Guard {
    fn pid(&self) -> u32 {
        self.0.as_ref().unwrap().child.id()
    }
    fn take(&mut self) -> Served {
        self.0.take().unwrap()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(s) = &mut self.0 {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}

async fn all_keys(client: &Client, api_id: &str) -> Vec<wire::KeyResponseData> {
    client.keys_pager(api_id).collect_all().await.unwrap()
}

// ----- (a) during a migration ---------------------------------------------------------------

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The client as the migration backend, SIGKILLing the server right after the `kill_after`-th
/// batch was answered, and remembering every `{hash, keyId}` the server acknowledged.
struct KillAfter {
    client: Client,
    pid: u32,
    kill_after: u64,
    answered: AtomicU64,
    killed: AtomicBool,
    acked: Mutex<HashMap<String, String>>,
}

impl MigrationBackend for KillAfter {
    // What `#[async_trait]` expands to (the cli crate does not depend on async-trait).
    fn migrate_batch<'a, 'b, 'c, 'f>(
        &'a self,
        request: &'b MigrateKeysRequest,
        idempotency_key: &'c str,
    ) -> BoxFuture<'f, keyshift_core::Result<MigrateKeysResponseData>>
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            let out = MigrationBackend::migrate_batch(&self.client, request, idempotency_key).await;
            if let Ok(data) = &out {
                let mut acked = self.acked.lock().unwrap();
                for m in &data.migrated {
                    acked.insert(m.hash.clone(), m.key_id.clone());
                }
                drop(acked);
                let n = self.answered.fetch_add(1, Ordering::SeqCst) + 1;
                if n == self.kill_after {
                    // Flagged first: a failure seen once the flag is set may come from the kill.
                    self.killed.store(true, Ordering::SeqCst);
                    kill9(self.pid);
                }
            }
            out
        })
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.client.retry_policy()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_killed_during_a_migration_resumes_to_exactly_once() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let n: u64 = 20_000;
    let batch_size: u64 = 50;
    let kill_after: u64 = 100; // batches answered before the kill (of 400)
    let mut crash = Crash::start("crash-migrate").await;
    let (first, api_id) = (crash.first.clone(), crash.api_id.clone());

    let file = crash.dir.path().join("keys.jsonl");
    let mut text = String::new();
    let mut key_of_hash = HashMap::new();
    for i in 0..n {
        let r = migrate::sample::sample_record(i, false).unwrap();
        let key = r["key"].as_str().unwrap().to_string();
        key_of_hash.insert(hashing::sha256_base64(&key), key);
        text.push_str(&r.to_string());
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let ckpt = crash.dir.path().join("ckpt");
    let report_path = crash.dir.path().join("report.jsonl");
    let options = || {
        MigrateOptions::new(&api_id, "crash-1")
            .batch_size(batch_size as usize)
            .concurrency(4)
            .checkpoint(&ckpt)
            .report(&report_path)
            // Two quick attempts per batch: once the server is dead the run ends fast.
            .retry(RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(20),
                retry_rate_limited: true,
            })
    };

    // Two rounds: the first run is killed, then the resumed run is killed again.
    let mut acked: HashMap<String, String> = HashMap::new();
    let mut current = first;
    for round in 0..2 {
        let backend = Arc::new(KillAfter {
            client: current.clone(),
            pid: crash.server.pid(),
            kill_after,
            answered: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            acked: Mutex::new(HashMap::new()),
        });
        let run = migrate::migrate_keys_with(
            backend.clone(),
            file.clone(),
            options().resume(round > 0),
            None,
        )
        .await;
        assert!(
            backend.killed.load(Ordering::SeqCst),
            "round {round}: killed after {kill_after} batches"
        );
        reap_killed(crash.server.take());
        // The run fails: the batches after the kill could not be sent.
        match &run {
            Ok(report) => {
                assert!(report.failed > 0 && report.migrated < n, "{report:?}");
                assert!(
                    report
                        .errors
                        .iter()
                        .all(|e| matches!(e.code, ErrorCode::Network | ErrorCode::Timeout)),
                    "{:?}",
                    report.errors.first()
                );
            }
            Err(e) => assert!(
                matches!(e.code, ErrorCode::Network | ErrorCode::Timeout),
                "{e}"
            ),
        }
        let this_round = backend.acked.lock().unwrap().clone();
        eprintln!(
            "round {round}: killed after {} answered batches: {} keys acknowledged in this run, \
             run reported {} migrated / {} skipped / {} failed",
            backend.answered.load(Ordering::SeqCst),
            this_round.len(),
            run.as_ref().map(|r| r.migrated).unwrap_or(0),
            run.as_ref().map(|r| r.skipped_resumed).unwrap_or(0),
            run.as_ref().map(|r| r.failed).unwrap_or(0),
        );
        assert!(this_round.len() as u64 >= kill_after * batch_size);
        for (hash, id) in this_round {
            // A batch acknowledged twice (resent after a kill) names the same key.
            let before = acked.insert(hash, id.clone());
            assert!(before.is_none() || before.as_deref() == Some(id.as_str()));
        }
        assert!((acked.len() as u64) < n);

        // Restart on the same database (the stored root key still works): every acknowledged
        // key is there under the id it was acknowledged with.
        current = crash.restart();
        assert!(
            crash.server.0.as_ref().unwrap().root_key.is_none(),
            "the restarted database keeps its root key"
        );
        let listed: HashSet<String> = all_keys(&current, &api_id)
            .await
            .into_iter()
            .map(|k| k.key_id)
            .collect();
        let lost = acked.values().filter(|id| !listed.contains(*id)).count();
        assert_eq!(lost, 0, "round {round}: acknowledged keys lost");
        // Committed but unacknowledged: at most the batches in flight at the kill.
        assert!(listed.len() <= acked.len() + 4 * batch_size as usize);
        eprintln!(
            "round {round}: after restart {} keys listed, {} acknowledged so far",
            listed.len(),
            acked.len()
        );
        for (hash, key_id) in acked.iter().take(100) {
            let v = current
                .verify(&key_of_hash[hash], &VerifyOptions::default())
                .await
                .unwrap();
            assert_eq!(v.code, VerifyCode::Valid);
            assert_eq!(v.key_id.as_deref(), Some(key_id.as_str()));
        }
    }
    let second = current;

    // Resume with the same checkpoint: completes, nothing fails.
    let report = second
        .migrate_keys(file.clone(), options().resume(true), None)
        .await
        .unwrap();
    assert_eq!(report.total, n);
    assert_eq!(report.failed + report.invalid, 0, "{:?}", report.errors);
    assert_eq!(
        report.migrated + report.already_present + report.skipped_resumed,
        n,
        "{report:?}"
    );
    eprintln!(
        "resumed: {} skipped (finished before the kill), {} migrated, {} already present",
        report.skipped_resumed, report.migrated, report.already_present
    );

    // Every key exactly once; each acknowledged hash kept its key id.
    let keys = all_keys(&second, &api_id).await;
    let ids: HashSet<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!((keys.len(), ids.len()), (n as usize, n as usize));
    for id in acked.values() {
        assert!(ids.contains(id.as_str()));
    }

    // The report lists every line exactly once, with no error, and acknowledged hashes under
    // their acknowledged id.
    let mut lines = HashSet::new();
    let mut report_ids = HashSet::new();
    for l in std::fs::read_to_string(&report_path).unwrap().lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let Some(line) = v.get("line").and_then(Value::as_u64) else {
            continue;
        };
        assert!(v.get("error").is_none(), "no key failed: {v}");
        assert!(lines.insert(line), "line {line} reported twice");
        let hash = v["hash"].as_str().unwrap();
        if let Some(id) = v.get("keyId").and_then(Value::as_str) {
            assert!(report_ids.insert(id.to_string()), "key id {id} twice");
            if let Some(acked_id) = acked.get(hash) {
                assert_eq!(acked_id, id);
            }
        }
    }
    assert_eq!(lines.len() as u64, n, "every line reported exactly once");

    // A sample verifies.
    for key in key_of_hash.values().step_by(97) {
        let v = second.verify(key, &VerifyOptions::default()).await.unwrap();
        assert_eq!(v.code, VerifyCode::Valid);
    }
    eprintln!("done in {:.1}s", started.elapsed().as_secs_f64());
}

// ----- (b) during 8 concurrent verifiers spending credits -----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_killed_during_credit_spends_keeps_every_acknowledged_spend() {
    let _serial = SERIAL.lock().await;
    const CREDITS: i64 = 2_000;
    const VERIFIERS: usize = 8;
    const KILL_AT: u64 = 800; // VALID answers received before the kill
    let mut crash = Crash::start("crash-credits").await;
    let (first, api_id) = (crash.first.clone(), crash.api_id.clone());
    let created = first
        .create_api_key(&CreateKey {
            credits: Some(CREDITS),
            ..CreateKey::new(&api_id)
        })
        .await
        .unwrap();
    let key = created.key.expose().to_string();

    let valid = Arc::new(AtomicU64::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let pid = crash.server.pid();
    let mut tasks = Vec::new();
    for _ in 0..VERIFIERS {
        let (client, key, valid, killed) =
            (first.clone(), key.clone(), valid.clone(), killed.clone());
        tasks.push(tokio::spawn(async move {
            // (VALID answers, lowest credits seen in them, errors)
            let mut mine = 0u64;
            let mut lowest = i64::MAX;
            loop {
                match client.verify(&key, &VerifyOptions::default()).await {
                    Ok(v) => {
                        assert_eq!(
                            v.code,
                            VerifyCode::Valid,
                            "credits cannot run out before the kill"
                        );
                        let left = v.credits.expect("a key with credits reports them");
                        assert!(left >= 0);
                        lowest = lowest.min(left);
                        mine += 1;
                        if valid.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AT {
                            killed.store(true, Ordering::SeqCst);
                            kill9(pid);
                        }
                    }
                    Err(e) => {
                        assert!(
                            killed.load(Ordering::SeqCst),
                            "an error before the kill: {e}"
                        );
                        assert!(
                            matches!(e.code, ErrorCode::Network | ErrorCode::Timeout),
                            "{e}"
                        );
                        return (mine, lowest);
                    }
                }
            }
        }));
    }
    let mut acknowledged = 0u64;
    let mut lowest = i64::MAX;
    for t in tasks {
        let (mine, low) = t.await.unwrap();
        acknowledged += mine;
        lowest = lowest.min(low);
    }
    reap_killed(crash.server.take());
    assert_eq!(acknowledged, valid.load(Ordering::SeqCst));
    assert!(acknowledged >= KILL_AT);

    let second = crash.restart();
    let remaining = second
        .get_key(&created.key_id)
        .await
        .unwrap()
        .credits
        .and_then(|c| c.remaining)
        .expect("credits are limited");
    let spent = (CREDITS - remaining) as u64;
    eprintln!(
        "{acknowledged} VALID answers acknowledged, {spent} credits spent, {remaining} left \
         (lowest acknowledged remaining {lowest})"
    );
    assert!(remaining >= 0, "credits went negative: {remaining}");
    assert!(
        spent >= acknowledged,
        "{acknowledged} VALID answered but only {spent} credits spent: acknowledged spends lost"
    );
    assert!(
        spent - acknowledged <= VERIFIERS as u64,
        "{spent} spent for {acknowledged} VALID answers: more than the requests in flight"
    );
    assert!(remaining <= lowest);

    // After the restart the key keeps spending from where it was, down to exactly zero.
    let mut more = 0;
    loop {
        let v = second
            .verify(&key, &VerifyOptions::default())
            .await
            .unwrap();
        if v.code != VerifyCode::Valid {
            assert_eq!(v.code, VerifyCode::UsageExceeded);
            break;
        }
        more += 1;
    }
    assert_eq!(more, remaining);
    let after = second.get_key(&created.key_id).await.unwrap();
    assert_eq!(after.credits.and_then(|c| c.remaining), Some(0));
    drop(crash);
}

// ----- (b') no key is half-created -----------------------------------------------------------

/// What creator `i` sends.
fn spec(api_id: &str, i: u64) -> CreateKey {
    let mut meta = wire::Metadata::new();
    meta.insert("i".into(), json!(i));
    meta.insert(
        "plan".into(),
        json!(["free", "pro", "team"][(i % 3) as usize]),
    );
    meta.insert("nested".into(), json!({"n": i * 7, "tags": ["a", "b"]}));
    CreateKey {
        name: Some(format!("crash-{i}")),
        external_id: Some(format!("cust-{}", i % 5)),
        meta: Some(meta),
        permissions: vec![format!("doc{}.read", i % 7), "crash.all".to_string()],
        roles: vec!["crash-role".to_string()],
        credits: i.is_multiple_of(2).then_some(i as i64 + 10),
        ..CreateKey::new(api_id)
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_killed_during_create_key_leaves_no_half_created_key() {
    let _serial = SERIAL.lock().await;
    const CREATORS: usize = 4;
    const KILL_AT: u64 = 150; // createKey answers received before the kill
    let mut crash = Crash::start("crash-create").await;
    let (first, api_id) = (crash.first.clone(), crash.api_id.clone());
    first
        .create_role("crash-role", &[], Some("for the crash test"))
        .await
        .unwrap();

    let next = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let pid = crash.server.pid();
    let mut tasks = Vec::new();
    for _ in 0..CREATORS {
        let (client, api_id, next, answered, killed) = (
            first.clone(),
            api_id.clone(),
            next.clone(),
            answered.clone(),
            killed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                match client.create_api_key(&spec(&api_id, i)).await {
                    Ok(created) => {
                        acked.push((i, created.key_id, created.key.expose().to_string()));
                        if answered.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AT {
                            killed.store(true, Ordering::SeqCst);
                            kill9(pid);
                        }
                    }
                    Err(e) => {
                        assert!(killed.load(Ordering::SeqCst), "error before the kill: {e}");
                        return acked;
                    }
                }
            }
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    reap_killed(crash.server.take());
    let attempted = next.load(Ordering::SeqCst);

    let second = crash.restart();
    let listed = all_keys(&second, &api_id).await;
    eprintln!(
        "{} createKey acknowledged, {attempted} attempted, {} listed after the restart",
        acked.len(),
        listed.len()
    );
    // Every acknowledged key is there; unacknowledged ones only up to the requests in flight.
    let listed_ids: HashSet<&str> = listed.iter().map(|k| k.key_id.as_str()).collect();
    for (i, id, _) in &acked {
        assert!(
            listed_ids.contains(id.as_str()),
            "acknowledged key {i} lost"
        );
    }
    assert!(listed.len() <= acked.len() + CREATORS);
    // Every listed key is whole: getKey answers it with everything that was sent.
    let mut seen = HashSet::new();
    for k in &listed {
        let got = second.get_key(&k.key_id).await.unwrap();
        let name = got.name.clone().expect("a name");
        let i: u64 = name.strip_prefix("crash-").unwrap().parse().unwrap();
        assert!(seen.insert(i), "creator {i} made two keys");
        let want = spec(&api_id, i);
        assert_eq!(got.meta, want.meta, "{name}");
        assert_eq!(
            sorted(got.permissions.clone().unwrap_or_default()),
            sorted(want.permissions.clone()),
            "{name}"
        );
        assert_eq!(got.roles.clone().unwrap_or_default(), want.roles, "{name}");
        assert_eq!(
            got.identity.as_ref().map(|id| id.external_id.as_str()),
            want.external_id.as_deref(),
            "{name}"
        );
        assert_eq!(
            got.credits.as_ref().and_then(|c| c.remaining),
            want.credits,
            "{name}"
        );
        assert!(got.enabled);
    }
    // Acknowledged keys verify with their permissions.
    for (i, id, key) in acked.iter().step_by(7) {
        let v = second
            .verify(key, &VerifyOptions::permissions("crash.all"))
            .await
            .unwrap();
        assert_eq!(v.code, VerifyCode::Valid, "key {i}");
        assert_eq!(v.key_id.as_deref(), Some(id.as_str()));
    }
    drop(crash);
}

// ----- stored idempotent answers outlive the kill -------------------------------------------

/// The exactly-once path of a request whose answer the crash swallowed: the client sends it
/// again with the same `Idempotency-Key` after the restart, and gets the first answer back
/// (same key ids, same plaintext), never a second key nor a "hash exists" failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotent_answers_stored_before_the_kill_replay_after_restart() {
    let _serial = SERIAL.lock().await;
    let mut crash = Crash::start("crash-replay").await;
    let (first, api_id) = (crash.first.clone(), crash.api_id.clone());

    let keys: Vec<String> = (0..20)
        .map(|i| {
            migrate::sample::sample_record(i, false).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let request: MigrateKeysRequest = serde_json::from_value(json!({
        "migrationId": "crash-replay",
        "apiId": api_id,
        "keys": keys
            .iter()
            .enumerate()
            .map(|(i, k)| json!({"hash": hashing::sha256_base64(k), "name": format!("m{i}")}))
            .collect::<Vec<_>>(),
    }))
    .unwrap();
    let batch_key = "crash-replay-batch-0";
    let migrated = first.migrate_keys_batch(&request, batch_key).await.unwrap();
    assert_eq!((migrated.migrated.len(), migrated.failed.len()), (20, 0));
    let create = CreateKey {
        name: Some("replayed".into()),
        permissions: vec!["crash.replay".into()],
        ..CreateKey::new(&api_id)
    };
    let create_call = keyshift_core::CallOptions::default().with_idempotency_key("crash-create-0");
    let created = first
        .create_api_key_with(&create, &create_call)
        .await
        .unwrap();

    kill9(crash.server.pid());
    reap_killed(crash.server.take());
    let second = crash.restart();

    let again = second
        .migrate_keys_batch(&request, batch_key)
        .await
        .unwrap();
    assert_eq!(again, migrated, "the batch's first answer is replayed");
    let recreated = second
        .create_api_key_with(&create, &create_call)
        .await
        .unwrap();
    assert_eq!(recreated.key_id, created.key_id);
    assert_eq!(recreated.key.expose(), created.key.expose());
    assert_eq!(all_keys(&second, &api_id).await.len(), 21, "no second key");
    let v = second
        .verify(
            created.key.expose(),
            &VerifyOptions::permissions("crash.replay"),
        )
        .await
        .unwrap();
    assert_eq!(v.code, VerifyCode::Valid);
    let v = second
        .verify(&keys[7], &VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(v.code, VerifyCode::Valid);
    let hash7 = hashing::sha256_base64(&keys[7]);
    let id7 = migrated.migrated.iter().find(|m| m.hash == hash7).unwrap();
    assert_eq!(v.key_id.as_deref(), Some(id7.key_id.as_str()));
    drop(crash);
}
