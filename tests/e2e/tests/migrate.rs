//! The migration engine against a real `keyshift` server over loopback HTTP: a large export
//! migrates and verifies, faults (drops, 5xx, 429, lost answers, slow answers) end with every
//! key present exactly once, a migration process killed with SIGKILL again and again resumes
//! to exactly once, and hex/bcrypt hashes verify.
//!
//! Sizes scale with `KEYSHIFT_E2E_MIGRATE_N` (default 20 000; the full size is 100 000).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyshift_core::migrate::{
    self, checkpoint, HashVariant, MigrateOptions, MigrationRecord, MigrationSource, Progress,
};
use keyshift_core::{hash_bcrypt, Client, VerifyCode, VerifyOptions};
use keyshift_e2e::{
    assert_migrated, count_keys, read_jsonl, run_migration, temp_file, verify_code, write_sample,
    TestServer,
};
use serde_json::{json, Value};

fn scale() -> u64 {
    std::env::var("KEYSHIFT_E2E_MIGRATE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// A small deterministic PRNG (xorshift64*), seeded from the clock; the seed is printed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("KEYSHIFT_E2E_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("rng seed {seed} (set KEYSHIFT_E2E_SEED to replay)");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn expected_permissions(record: &Value) -> Vec<String> {
    let (_, data) = MigrationRecord::from_value(record.clone())
        .unwrap()
        .to_key_data(HashVariant::Sha256Base64)
        .unwrap();
    let mut p = data.permissions.unwrap_or_default();
    p.sort();
    p
}

/// Verifies `sample` random records: VALID, with the record's permissions and owner.
async fn verify_sample(client: &Client, records: &[Value], sample: usize, rng: &mut Rng) {
    for _ in 0..sample.min(records.len()) {
        let r = &records[rng.below(records.len() as u64) as usize];
        let key = r["key"].as_str().unwrap();
        let v = client.verify(key, &VerifyOptions::default()).await.unwrap();
        assert_eq!(v.code, VerifyCode::Valid, "migrated key verifies");
        let mut got = v.permissions.clone();
        got.sort();
        assert_eq!(got, expected_permissions(r));
        let owner = r.get("externalId").or_else(|| r.get("customerId"));
        assert_eq!(v.external_id.as_deref(), owner.and_then(Value::as_str));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_export_migrates_and_every_key_verifies_with_its_permissions() {
    let n = scale();
    let server = TestServer::start().await;
    let (client, api_id, dir, file, records) = server.export("migrated", n, |_| true).await;
    let report_path = dir.path().join("report.jsonl");
    let calls = Arc::new(AtomicU64::new(0));
    let last = Arc::new(parking_progress::Last::default());
    let on_progress = {
        let calls = calls.clone();
        let last = last.clone();
        Arc::new(move |p: &Progress| {
            calls.fetch_add(1, Ordering::Relaxed);
            last.set(p.clone());
        }) as migrate::ProgressFn
    };

    let started = Instant::now();
    let report = client
        .migrate_keys(
            file.clone(),
            MigrateOptions::new(&api_id, "bulk-1")
                .checkpoint(dir.path().join("ckpt"))
                .report(&report_path),
            Some(on_progress),
        )
        .await
        .unwrap();
    eprintln!(
        "{n} keys in {:.2}s ({:.0} keys/s)",
        started.elapsed().as_secs_f64(),
        report.keys_per_sec()
    );
    assert_eq!(report.total, n);
    assert_eq!(report.migrated, n, "{:?}", report.errors.first());
    assert_eq!(report.failed + report.invalid + report.already_present, 0);
    // Adaptive batches: 100 keys at first, up to 1000 (fewer on a slow, loaded machine).
    assert!(
        (n.div_ceil(1000)..=n.div_ceil(migrate::MIN_ADAPTIVE_BATCH as u64))
            .contains(&report.batches),
        "{} batches",
        report.batches
    );
    let final_progress = last.get();
    assert!(final_progress.finished);
    assert_eq!(final_progress.migrated, n);
    assert!(calls.load(Ordering::Relaxed) >= 1);

    // The report names every line once, with its hash and key id, and ends with the summary.
    let lines = read_jsonl(&report_path);
    assert_eq!(lines.len() as u64, n + 1);
    let mut seen_lines = HashSet::new();
    let mut seen_ids = HashSet::new();
    for l in &lines[..n as usize] {
        assert!(seen_lines.insert(l["line"].as_u64().unwrap()));
        assert!(seen_ids.insert(l["keyId"].as_str().unwrap().to_string()));
        assert_eq!(l["hash"].as_str().unwrap().len(), 44);
    }
    assert_eq!(lines[n as usize]["summary"]["migrated"], json!(n));
    // Plaintext never reaches the report or the checkpoint.
    let report_text = std::fs::read_to_string(&report_path).unwrap();
    let ckpt_text = std::fs::read_to_string(dir.path().join("ckpt")).unwrap();
    for r in records.iter().step_by(97) {
        let key = r["key"].as_str().unwrap();
        assert!(!report_text.contains(key) && !ckpt_text.contains(key));
    }

    let mut rng = Rng::new();
    verify_sample(&client, &records, 500, &mut rng).await;
    assert_eq!(count_keys(&client, &api_id).await, (n as usize, n as usize));

    // Running the same migration again without --resume is refused (checkpoint exists) …
    let err = client
        .migrate_keys(
            file.clone(),
            MigrateOptions::new(&api_id, "bulk-1").checkpoint(dir.path().join("ckpt")),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, keyshift_core::ErrorCode::InvalidInput);
    // … and resuming a finished run sends nothing.
    let options = MigrateOptions::new(&api_id, "bulk-1")
        .checkpoint(dir.path().join("ckpt"))
        .resume(true);
    let again = run_migration(&client, file.clone(), options).await;
    assert_eq!((again.skipped_resumed, again.migrated), (n, 0));
    assert_eq!(count_keys(&client, &api_id).await.0, n as usize);
    server.stop().await;
}

/// Keeps the last progress snapshot (a tiny mutex wrapper).
mod parking_progress {
    use std::sync::Mutex;

    use keyshift_core::migrate::Progress;

    #[derive(Default)]
    pub struct Last(Mutex<Option<Progress>>);

    impl Last {
        pub fn set(&self, p: Progress) {
            *self.0.lock().unwrap() = Some(p);
        }
        pub fn get(&self) -> Progress {
            self.0.lock().unwrap().clone().unwrap()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_end_with_every_key_present_exactly_once() {
    let n = (scale() / 10).clamp(500, 5000);
    let server = TestServer::start_with_faults().await;
    let admin = server.client();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new();
    let specs = [
        "fail-first=1;drop",
        "fail-first=2;status=503",
        "fail-first=1;status=500",
        "fail-first=2;status=429;retry-after-ms=30",
        "fail-first=1;after-dispatch-status=503",
        "fail-first=2;after-dispatch-status=502",
        // More failures than the client's 3 attempts: the engine's own rounds take over.
        "fail-first=4;status=503",
        "fail-first=3;drop",
        "delay-ms=150",
    ];
    for (i, spec) in specs.iter().enumerate() {
        let api_id = admin
            .create_api(&format!("faults-{i}"))
            .await
            .unwrap()
            .api_id;
        let file = dir.path().join(format!("keys-{i}.jsonl"));
        let records = write_sample(&file, n, |_| i % 2 == 0);
        let client = server.faulty_quick(spec, 20, 100);
        let report = client
            .migrate_keys(
                file,
                MigrateOptions::new(&api_id, format!("faults-{i}"))
                    .batch_size(100)
                    .concurrency(8)
                    .checkpoint(dir.path().join(format!("ckpt-{i}"))),
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(
            report.migrated + report.already_present,
            n,
            "{spec}: {:?}",
            report.errors.first()
        );
        assert_eq!(report.failed, 0, "{spec}: {:?}", report.errors.first());
        assert_eq!(
            count_keys(&admin, &api_id).await,
            (n as usize, n as usize),
            "{spec}: every key exactly once"
        );
        verify_sample(&admin, &records, 50, &mut rng).await;
    }
    server.stop().await;
}

/// Child mode of the kill test: when `KEYSHIFT_E2E_MIGRATE_CHILD` is set this "test" runs one
/// (resumable) migration in this process, which the parent kills with SIGKILL.
#[test]
fn migrate_child_process() {
    let Ok(config) = std::env::var("KEYSHIFT_E2E_MIGRATE_CHILD") else {
        return;
    };
    let c: Value = serde_json::from_str(&config).unwrap();
    let s = |k: &str| c[k].as_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::builder()
            .base_url(s("baseUrl"))
            .root_key(s("rootKey"))
            .build()
            .unwrap();
        let report = client
            .migrate_keys(
                PathBuf::from(s("file")),
                MigrateOptions::new(s("apiId"), "killed-again-and-again")
                    .batch_size(50)
                    .concurrency(c["concurrency"].as_u64().unwrap() as usize)
                    .checkpoint(s("checkpoint"))
                    .report(s("report"))
                    .resume(true),
                None,
            )
            .await
            .unwrap();
        println!("CHILD-REPORT {}", serde_json::to_string(&report).unwrap());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_with_sigkill_and_resumed_ends_with_every_key_exactly_once() {
    let n = scale();
    let server = TestServer::start().await;
    let (client, api_id, dir, file, records) = server.export("killed", n, |_| false).await;
    let ckpt = dir.path().join("ckpt");
    let mut rng = Rng::new();
    let exe = std::env::current_exe().unwrap();
    let spawn = |concurrency: u64| {
        let config = json!({
            "baseUrl": server.base_url,
            "rootKey": server.root_key.expose(),
            "apiId": api_id,
            "file": file,
            "checkpoint": ckpt,
            "report": dir.path().join("report.jsonl"),
            "concurrency": concurrency,
        });
        Command::new(&exe)
            .args([
                "migrate_child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("KEYSHIFT_E2E_MIGRATE_CHILD", config.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    let mut kills = 0;
    let mut progress_at_kill = Vec::new();
    for round in 0..6 {
        let mut child = spawn(1 + round % 4);
        // Let it get some way in (process start + the reader), then kill it mid-flight.
        let wait = Duration::from_millis(150 + rng.below(600));
        let deadline = Instant::now() + wait;
        let mut finished = false;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if finished {
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let entries = checkpoint::read_entries(&ckpt)
            .map(|(_, e)| e)
            .unwrap_or_default();
        let done = entries
            .iter()
            .filter(|e| e.state == checkpoint::State::Done)
            .count();
        progress_at_kill.push(done);
    }
    eprintln!("killed {kills} times; done batches at each kill: {progress_at_kill:?}");
    assert!(
        kills >= 2,
        "the migration was killed mid-run at least twice"
    );

    // The last run completes.
    let out = spawn(4).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-REPORT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("child printed no report: {stdout}"));
    let last: Value = serde_json::from_str(line).unwrap();
    assert_eq!(last["failed"], json!(0));
    assert_eq!(last["invalid"], json!(0));

    // Every key present exactly once, each verifies.
    assert_eq!(count_keys(&client, &api_id).await, (n as usize, n as usize));
    verify_sample(&client, &records, 300, &mut rng).await;

    // Every batch is done in the checkpoint; the report accounts for every line.
    let (_, entries) = checkpoint::read_entries(&ckpt).unwrap();
    let done: HashSet<u64> = entries
        .iter()
        .filter(|e| e.state == checkpoint::State::Done)
        .map(|e| e.batch)
        .collect();
    assert_eq!(done.len() as u64, n.div_ceil(50));
    let mut covered = HashSet::new();
    for l in read_jsonl(&dir.path().join("report.jsonl")) {
        if let Some(line) = l.get("line").and_then(Value::as_u64) {
            assert!(l.get("error").is_none(), "no key failed: {l}");
            assert!(
                covered.insert(line),
                "line {line} reported twice (issue 9 #7)"
            );
        }
    }
    assert_eq!(covered.len() as u64, n, "every line reported exactly once");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hex_and_bcrypt_hashes_migrate_and_verify() {
    let server = TestServer::start().await;
    let (client, api_id) = server.client_with_api("legacy-hashes").await;
    let dir = tempfile::tempdir().unwrap();

    // sha256_hex via the file default, bcrypt via each record's `variant`, in one CSV file.
    let hex_keys: Vec<String> = (0..300)
        .map(|i| format!("legacy_hex_key_{i:04}_x9Yz"))
        .collect();
    let bcrypt_keys: Vec<String> = (0..20)
        .map(|i| format!("legacy_bcrypt_{i:03}_Q7w"))
        .collect();
    // bcrypt rows carry `start` (the key's clear leading part), by which verify finds them.
    let mut csv = String::from("hash,variant,externalId,permissions,start\n");
    for (i, k) in hex_keys.iter().enumerate() {
        csv.push_str(&format!(
            "{},,owner_{i},orders.read;orders.write,\n",
            keyshift_core::hashing::sha256_hex(k)
        ));
    }
    for (i, k) in bcrypt_keys.iter().enumerate() {
        csv.push_str(&format!(
            "{},bcrypt,bowner_{i},orders.read,legacy_bcrypt_{i:03}\n",
            hash_bcrypt(k, 4).unwrap()
        ));
    }
    let file = dir.path().join("legacy.csv");
    std::fs::write(&file, csv).unwrap();

    let report = migrate::migrate_keys(
        &client,
        MigrationSource::file(&file),
        MigrateOptions::new(&api_id, "legacy-1")
            .variant(HashVariant::Sha256Hex)
            .batch_size(64),
        None,
    )
    .await
    .unwrap();
    assert_eq!(report.migrated, 320, "{:?}", report.errors.first());
    assert_eq!(report.batches, 5 + 1, "one variant per request");

    for (i, k) in hex_keys.iter().enumerate().step_by(7) {
        let v = client
            .verify(
                k,
                &VerifyOptions::permissions("orders.read AND orders.write"),
            )
            .await
            .unwrap();
        assert_eq!(v.code, VerifyCode::Valid);
        assert_eq!(v.external_id, Some(format!("owner_{i}")));
    }
    for k in &bcrypt_keys {
        let v = client.verify(k, &VerifyOptions::default()).await.unwrap();
        assert_eq!(v.code, VerifyCode::Valid);
        assert_eq!(v.permissions, vec!["orders.read".to_string()]);
        // Lazily re-hashed: still valid the second time.
        let v = client.verify(k, &VerifyOptions::default()).await.unwrap();
        assert!(v.valid);
    }
    let wrong = client
        .verify("legacy_bcrypt_000_Q7x", &VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(wrong.code, VerifyCode::NotFound);

    // Records iterator source (what bindings pass), plaintext: hashed locally.
    let records: Vec<MigrationRecord> = (0..50)
        .map(|i| MigrationRecord {
            key: Some(format!("it_key_{i:03}_abcdef").into()),
            scopes: vec![keyshift_core::Scope::new("files").with_read()],
            ..Default::default()
        })
        .collect();
    let report = run_migration(&client, records, MigrateOptions::new(&api_id, "legacy-2")).await;
    assert_eq!(report.migrated, 50);
    assert_eq!(
        verify_code(
            &client,
            "it_key_007_abcdef",
            &VerifyOptions::permissions("files.read"),
        )
        .await,
        VerifyCode::Valid
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn existing_hashes_count_as_already_present_only_when_we_sent_them_before() {
    let server = TestServer::start().await;
    let (client, api_id, dir, file, records) = server.export("present", 150, |_| false).await;
    let wire_keys: Vec<_> = records
        .iter()
        .map(|r| {
            MigrationRecord::from_value(r.clone())
                .unwrap()
                .to_key_data(HashVariant::Sha256Base64)
                .unwrap()
                .1
        })
        .collect();

    // An earlier attempt of batch 0 reached the server and its answer was lost, and so was
    // the server's idempotency record (or the server does not keep them, like hosted Unkey):
    // lines 1–60 are in the key service already.
    let earlier = keyshift_core::wire::MigrateKeysRequest {
        migration_id: "resume-me".into(),
        api_id: api_id.clone(),
        keys: wire_keys[..60].to_vec(),
        hash_variant: None,
    };
    let done = client
        .migrate_keys_batch(&earlier, "some-lost-attempt")
        .await
        .unwrap();
    assert_eq!(done.migrated.len(), 60);

    // The checkpoint says batch 0 (lines 1–100) was sent and not finished.
    let batch0 = keyshift_core::wire::MigrateKeysRequest {
        keys: wire_keys[..100].to_vec(),
        ..earlier.clone()
    };
    let key = migrate::batch_idempotency_key("resume-me", 0, 1, &batch0).unwrap();
    let header = checkpoint::Header {
        checkpoint: checkpoint::VERSION,
        migration_id: "resume-me".into(),
        api_id: api_id.clone(),
        batch_size: 100,
        variant: "sha256_base64".into(),
        source: file.display().to_string(),
    };
    let sent = checkpoint::Entry {
        batch: 0,
        first_line: 1,
        last_line: 100,
        count: 100,
        state: checkpoint::State::Sent,
        idempotency_key: key,
        migrated: None,
        already_present: None,
        failed: None,
    };
    let ckpt = dir.path().join("ckpt");
    std::fs::write(
        &ckpt,
        format!(
            "{}\n{}\n",
            serde_json::to_string(&header).unwrap(),
            serde_json::to_string(&sent).unwrap()
        ),
    )
    .unwrap();
    let options = MigrateOptions::new(&api_id, "resume-me")
        .checkpoint(&ckpt)
        .resume(true);
    assert_migrated(
        &run_migration(&client, file.clone(), options).await,
        (90, 60, 0),
    );
    assert_eq!(count_keys(&client, &api_id).await, (150, 150));

    // A different migration of the same export never sent those keys: they are conflicts
    // (reported, not silently counted as migrated).
    let report = run_migration(&client, file, MigrateOptions::new(&api_id, "another-run")).await;
    assert_eq!((report.migrated, report.failed), (0, 150));
    assert_eq!(report.errors[0].code, keyshift_core::ErrorCode::Conflict);
    let lines: HashSet<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, (1..=150).collect::<HashSet<u64>>());
    assert!(!report.is_complete());
    assert_eq!(count_keys(&client, &api_id).await, (150, 150));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_batches_stay_unfinished_and_resume_sends_them() {
    let server = TestServer::start_with_faults().await;
    let (admin, api_id, dir, file, _) = server.export("refused", 700, |_| true).await;
    let ckpt = dir.path().join("ckpt");
    let options = || {
        MigrateOptions::new(&api_id, "refused-1")
            .checkpoint(&ckpt)
            .report(dir.path().join("report.jsonl"))
            .resume(true)
    };

    // Every request refused with a 400: each key reported failed, no batch finished.
    let report = run_migration(&server.faulty("status=400"), file.clone(), options()).await;
    assert_eq!((report.migrated, report.failed), (0, 700));
    assert_eq!(report.errors[0].code, keyshift_core::ErrorCode::BadRequest);
    let (_, entries) = checkpoint::read_entries(&ckpt).unwrap();
    assert!(entries.iter().all(|e| e.state == checkpoint::State::Sent));

    // A 401 stops the run with the error (nothing else could succeed).
    let err = server
        .faulty("status=401")
        .migrate_keys(file.clone(), options(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, keyshift_core::ErrorCode::Unauthorized);

    // Resumed with a working connection: everything lands, once.
    let report = run_migration(&admin, file, options()).await;
    assert_eq!(report.migrated + report.already_present, 700);
    assert_eq!(report.failed, 0);
    assert_eq!(count_keys(&admin, &api_id).await, (700, 700));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_records_split_batches_under_the_body_limit() {
    let server = TestServer::start().await;
    let (client, api_id) = server.client_with_api("big-meta").await;
    let (_dir, file) = temp_file("big.jsonl");
    let blob = "x".repeat(50_000);
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(
            &json!({"key": format!("sk_live_big_meta_{i:06}_abc"), "meta": {"notes": blob}})
                .to_string(),
        );
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    // 300 × ~50 KB would be a 15 MB body at batch size 1000: the engine splits it.
    let options = MigrateOptions::new(&api_id, "big-1").batch_size(1000);
    let report = run_migration(&client, file, options).await;
    assert_eq!(report.migrated, 300, "{:?}", report.errors.first());
    assert_eq!(report.batches, 2);
    let v = client
        .verify("sk_live_big_meta_000299_abc", &VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(v.meta.unwrap()["notes"].as_str().unwrap().len(), 50_000);
    server.stop().await;
}
