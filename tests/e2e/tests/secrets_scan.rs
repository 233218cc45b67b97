//! Secrets never leak (issue 14 #3, DESIGN.md §7). One full workload through the Rust client
//! against a real `keyshift serve` (in-process, loopback port, temp SQLite file, fault switch
//! on): create an api and keys, verify valid and invalid keys, reroll, update, delete, migrate a
//! few hundred plaintext keys with a checkpoint and a report (one bad record among them),
//! failing requests (bad input, unknown ids, an unknown root key, a fault that outlasts the
//! retries) and retries through faults. Tracing runs at TRACE for everything (server, client,
//! and `log` records of the HTTP stack); one subscriber captures the server too, as it runs in
//! this process. Then every log line, every error's `Display` and `Debug` (and the `Debug` of
//! the answers), the report and checkpoint files, the SQLite database, WAL and SHM files (WAL
//! scanned before and after a checkpoint) and `<db>.secret` are scanned for every plaintext key
//! and root key used, and for any 12-character piece of each key's secret part: zero hits. The
//! scanner is shown to find a key planted in a scratch file, and the plaintext input file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use keyshift_core::migrate::{self, MigrateOptions};
use keyshift_core::testing::SharedBuffer;
use keyshift_core::wire::{self, Op, UpdateKeyRequest};
use keyshift_core::{CallOptions, Client, CreateKey, SecretKey, VerifyCode, VerifyOptions};
use keyshift_e2e::{backfill_options, run_migration, verified, TestServer};
use serde_json::{json, Value};

/// `op` with the raw `body`, past the client's own checks: the error it must end in.
async fn refused(client: &Client, op: Op, body: Value) -> keyshift_core::Error {
    let options = CallOptions::default();
    let call = client.call::<_, Value>(op, &body, &options);
    call.await.unwrap_err()
}

/// The length of the pieces of a secret searched for.
const PIECE: usize = 12;

// ----- log capture ---------------------------------------------------------------------------

#[derive(Default)]
struct Capture(SharedBuffer);

impl Capture {
    /// Every event of this process at TRACE, twice: as JSON lines and in the default text
    /// format (which prints fields with `Debug`). `log` records are forwarded too.
    fn install() -> Capture {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let capture = Capture::default();
        let (a, b) = (capture.0.clone(), capture.0.clone());
        tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::TRACE)
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_span_list(true)
                    .with_writer(move || a.clone()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || b.clone()),
            )
            .init();
        capture
    }

    fn bytes(&self) -> Vec<u8> {
        self.0.bytes()
    }
}

// ----- the scanner ---------------------------------------------------------------------------

/// What must never appear: whole secrets, and every `PIECE`-byte piece of each secret part.
struct Scanner {
    pieces: HashSet<Vec<u8>>,
}

/// The random part of a key: what follows its last `_` (the prefix is not secret).
fn secret_part(key: &str) -> &str {
    key.rsplit_once('_').map_or(key, |(_, s)| s)
}

impl Scanner {
    fn new() -> Scanner {
        Scanner {
            pieces: HashSet::new(),
        }
    }

    fn add(&mut self, secret: &str) {
        let part = secret_part(secret);
        assert!(
            part.len() >= PIECE,
            "secret part of {} chars is too short to scan",
            part.len()
        );
        for w in part.as_bytes().windows(PIECE) {
            self.pieces.insert(w.to_vec());
        }
    }

    /// Hits in `haystack` (what was found, at which offset); empty when clean.
    fn hits(&self, haystack: &[u8]) -> Vec<(String, usize)> {
        let mut found = Vec::new();
        for (at, w) in haystack.windows(PIECE).enumerate() {
            if self.pieces.contains(w) {
                found.push((String::from_utf8_lossy(w).into_owned(), at));
                if found.len() > 10 {
                    break;
                }
            }
        }
        // Every whole secret holds at least one piece, so this finds whole secrets as well.
        found
    }

    /// Asserts `haystack` (named `what`) holds no secret.
    fn assert_clean(&self, what: &str, haystack: &[u8]) {
        let hits = self.hits(haystack);
        if let Some((piece, at)) = hits.first() {
            let from = at.saturating_sub(80);
            let to = (at + 120).min(haystack.len());
            panic!(
                "{what}: a secret ({} hits; first `{piece}` at byte {at}) in: {}",
                hits.len(),
                String::from_utf8_lossy(&haystack[from..to])
            );
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

// ----- the workload --------------------------------------------------------------------------

/// Everything the workload used and produced.
#[derive(Default)]
struct Outcome {
    /// Plaintext keys and root keys.
    secrets: Vec<String>,
    /// `Display` and `Debug` of every error, and `Debug` of answers that held a key.
    texts: Vec<String>,
}

impl Outcome {
    fn error(&mut self, what: &str, e: keyshift_core::Error) {
        self.texts.push(format!("{what}: {e}"));
        self.texts.push(format!("{what}: {e:?}"));
    }

    /// Records the error `call` must end in.
    async fn failed<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        call: impl std::future::Future<Output = keyshift_core::Result<T>>,
    ) {
        self.error(what, call.await.unwrap_err());
    }
}

async fn workload(server: &TestServer, dir: &Path) -> Outcome {
    let mut out = Outcome::default();
    out.secrets.push(server.root_key.expose().to_string());
    let client = server.client();

    // Api and keys, with the create retried through a lost answer (Idempotency-Key replay).
    let api_id = client.create_api("secrets").await.unwrap().api_id;
    let mut created = Vec::new();
    for i in 0..6 {
        let mut options = CreateKey::new(&api_id);
        options.prefix = Some("sk_live".into());
        options.name = Some(format!("key {i}"));
        options.credits = Some(100);
        options.permissions = vec!["profile.read".into()];
        let c = if i % 2 == 0 {
            client.create_api_key(&options).await.unwrap()
        } else {
            server
                .faulty("fail-first=1;after-dispatch-status=503")
                .create_api_key(&options)
                .await
                .unwrap()
        };
        out.secrets.push(c.key.expose().to_string());
        out.texts.push(format!("{c:?}"));
        out.texts.push(format!("{:?}", c.key));
        created.push(c);
    }
    let count = client
        .keys_pager(&api_id)
        .collect_all()
        .await
        .unwrap()
        .len();
    assert_eq!(count, 6, "retried creates minted one key each");
    let first = created[0].key.expose();

    // Verify: valid, valid through 503s and a dropped connection, invalid keys.
    for (i, c) in created.iter().enumerate() {
        let verifier = match i % 3 {
            0 => client.clone(),
            1 => server.faulty("fail-first=2;status=503"),
            _ => server.faulty("fail-first=1;drop"),
        };
        let v = verifier
            .verify(c.key.expose(), &VerifyOptions::permissions("profile.read"))
            .await
            .unwrap();
        assert_eq!(v.code, VerifyCode::Valid);
        out.texts.push(format!("{v:?}"));
    }
    let unknown = "sk_live_UnknownKey9aZ3xQ7mW2pL5vN8";
    out.secrets.push(unknown.into());
    let v = verified(&client, unknown).await;
    assert_eq!(v.code, VerifyCode::NotFound);
    out.texts.push(format!("{v:?}"));
    let v = client
        .verify(first, &VerifyOptions::permissions("admin.write"))
        .await
        .unwrap();
    assert_eq!(v.code, VerifyCode::InsufficientPermissions);
    match client.whoami(created[1].key.expose()).await {
        Ok(k) => out.texts.push(format!("{k:?}")),
        Err(e) => out.error("whoami", e),
    }

    // Reroll, update, delete.
    let rerolled = client.reroll_key(&created[2].key_id, 60_000).await.unwrap();
    out.secrets.push(rerolled.key.expose().to_string());
    out.texts.push(format!("{rerolled:?}"));
    let v = verified(&client, rerolled.key.expose()).await;
    assert_eq!(v.code, VerifyCode::Valid);
    client
        .update_key(&UpdateKeyRequest {
            key_id: created[3].key_id.clone(),
            enabled: Some(false),
            name: wire::Patch::Set("disabled".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let v = verified(&client, created[3].key.expose()).await;
    assert_eq!(v.code, VerifyCode::Disabled);
    client.delete_key(&created[4].key_id, false).await.unwrap();
    client.delete_key(&created[5].key_id, true).await.unwrap();
    for c in &created[4..] {
        let v = verified(&client, c.key.expose()).await;
        assert_eq!(v.code, VerifyCode::NotFound);
    }
    out.texts.push(format!(
        "{:?}",
        client.get_key(&created[0].key_id).await.unwrap()
    ));

    // Failing requests.
    let bad_query = client
        .verify(first, &VerifyOptions::permissions("a AND (b"))
        .await
        .unwrap_err();
    out.error("bad permission query", bad_query);
    // The same sent raw, past the client's local checks, so the server answers the 400s.
    for body in [
        json!({"key": first, "permissions": "a AND (b"}),
        json!({"key": first, "unknownField": created[1].key.expose()}),
        json!({"key": [first]}),
        json!({"key": first, "credits": {"cost": "one"}}),
    ] {
        out.error(
            "raw bad verify",
            refused(&client, Op::VerifyKey, body).await,
        );
    }
    let body = json!({"apiId": api_id, "prefix": first});
    out.error("bad prefix", refused(&client, Op::CreateKey, body).await);
    let e = client
        .call::<_, Value>(
            Op::MigrateKeys,
            &json!({"apiId": api_id, "migrationId": "m", "keys": [{"hash": first}]}),
            &CallOptions::default(),
        )
        .await;
    match e {
        Ok(v) => out.texts.push(v.to_string()),
        Err(e) => out.error("plaintext as hash", e),
    }
    let mut bad_create = CreateKey::new(&api_id);
    bad_create.prefix = Some(format!("{}!", first));
    out.failed("local bad prefix", client.create_api_key(&bad_create))
        .await;
    out.failed("unknown key id", client.get_key("key_doesnotexist"))
        .await;
    out.failed(
        "unknown api",
        client.create_api_key(&CreateKey::new("api_doesnotexist")),
    )
    .await;
    let wrong_root = "ks_root_WrongButSecret4Fh8Kp2Qw7Zx9";
    out.secrets.push(wrong_root.into());
    let stranger = Client::builder()
        .base_url(&server.base_url)
        .root_key(SecretKey::new(wrong_root))
        .build()
        .unwrap();
    out.texts.push(format!("{stranger:?}"));
    out.failed(
        "unknown root key (verify)",
        stranger.verify(first, &VerifyOptions::default()),
    )
    .await;
    out.failed(
        "unknown root key (create)",
        stranger.create_api_key(&CreateKey::new(&api_id)),
    )
    .await;
    out.failed(
        "503 past every retry",
        server
            .faulty("status=503")
            .verify(first, &VerifyOptions::default()),
    )
    .await;
    out.failed(
        "429 past every retry",
        server
            .faulty("status=429;retry-after-ms=5")
            .create_api_key(&CreateKey::new(&api_id)),
    )
    .await;
    out.failed(
        "dropped past every retry",
        server.faulty("drop").whoami(first),
    )
    .await;

    // Rollout with a legacy fallback and backfill (logs the key masked only).
    let legacy_key = "legacy_live_Lg7Hq2Wm9Zp4Xc8Vb3Nt";
    out.secrets.push(legacy_key.into());
    let legacy = |k: &str| k == legacy_key;
    let fallback = backfill_options(&api_id, "rollout", wire::MigrateKeyData::default());
    let v = client
        .verify_with_fallback(legacy_key, &legacy, &fallback)
        .await
        .unwrap();
    assert!(v.valid);
    out.texts.push(format!("{v:?}"));

    // Migration of a few hundred plaintext keys with a checkpoint and a report, through
    // faults; one record is bad (its key must not reach the report either).
    let n = 300u64;
    let mut lines = String::new();
    for i in 0..n {
        let r = migrate::sample::sample_record(i, i % 2 == 0).unwrap();
        out.secrets.push(r["key"].as_str().unwrap().to_string());
        lines.push_str(&format!("{r}\n"));
    }
    let bad_key = "sk_live_BadRecordKey5Tg8Yh2Uj6Ik";
    out.secrets.push(bad_key.into());
    lines.push_str(&format!(
        "{}\n",
        json!({"key": bad_key, "expires": "tomorrow", "credits": -3})
    ));
    let input = dir.join("keys.jsonl");
    std::fs::write(&input, lines).unwrap();
    let report_path = dir.join("report.jsonl");
    let checkpoint_path = dir.join("migration.ckpt");
    let import = || MigrateOptions::new(&api_id, "plaintext-import");
    let options = import().dry_run(true).report(dir.join("dry-report.jsonl"));
    let dry = run_migration(&server.client(), input.as_path(), options).await;
    assert_eq!(dry.invalid, 1, "{dry:?}");
    out.texts.push(format!("{dry:?}"));
    let options = import()
        .batch_size(50)
        .concurrency(3)
        .checkpoint(&checkpoint_path)
        .report(&report_path);
    let faulty = server.faulty("fail-first=1;after-dispatch-status=503");
    let report = run_migration(&faulty, input.as_path(), options).await;
    assert_eq!(report.migrated + report.already_present, n, "{report:?}");
    assert_eq!(report.invalid, 1, "{report:?}");
    out.texts.push(format!("{report:?}"));
    for e in &report.errors {
        out.texts.push(format!("{e}"));
        out.texts.push(format!("{e:?}"));
    }
    // A rerun resumes from the checkpoint: nothing sent twice.
    let options = import()
        .batch_size(50)
        .checkpoint(&checkpoint_path)
        .report(&report_path)
        .resume(true);
    let again = run_migration(
        &server.faulty("fail-first=1;drop"),
        input.as_path(),
        options,
    )
    .await;
    out.texts.push(format!("{again:?}"));
    // The migrated keys work, with retries through faults.
    let verifier = server.faulty("fail-first=2;status=500");
    for line in std::fs::read_to_string(&input).unwrap().lines().step_by(37) {
        let r: Value = serde_json::from_str(line).unwrap();
        let key = r["key"].as_str().unwrap();
        if key == bad_key {
            continue;
        }
        let v = verified(&verifier, key).await;
        assert_eq!(v.code, VerifyCode::Valid, "{key}");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_reaches_logs_errors_files_or_the_database() {
    let capture = Capture::install();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyshift.db");
    let server = TestServer::start_at(&db, |c| c.router.faults = true).await;
    let outcome = workload(&server, dir.path()).await;

    let mut scanner = Scanner::new();
    for s in &outcome.secrets {
        scanner.add(s);
    }
    assert!(outcome.secrets.len() > 300, "{}", outcome.secrets.len());

    // The scanner finds what it should: a key planted in a scratch file, the plaintext input.
    let scratch = dir.path().join("scratch.txt");
    let planted = &outcome.secrets[5];
    std::fs::write(&scratch, format!("noise {} noise", planted)).unwrap();
    assert!(
        !scanner.hits(&file_bytes(&scratch)).is_empty(),
        "scanner misses a planted key"
    );
    let piece = &secret_part(planted)[3..3 + PIECE];
    std::fs::write(&scratch, format!("noise{piece}noise")).unwrap();
    assert!(
        !scanner.hits(&file_bytes(&scratch)).is_empty(),
        "scanner misses a piece"
    );
    assert!(
        !scanner
            .hits(&file_bytes(&dir.path().join("keys.jsonl")))
            .is_empty(),
        "scanner misses the plaintext input"
    );
    let root = server.root_key.expose().to_string();
    assert!(!scanner.hits(format!("{root:?}").as_bytes()).is_empty());

    // Errors and Debug output.
    assert!(outcome.texts.len() > 20);
    for t in &outcome.texts {
        scanner.assert_clean("an error or Debug output", t.as_bytes());
    }
    // Report, dry-run report and checkpoint.
    for name in ["report.jsonl", "dry-report.jsonl", "migration.ckpt"] {
        let bytes = file_bytes(&dir.path().join(name));
        assert!(!bytes.is_empty(), "{name} was written");
        scanner.assert_clean(name, &bytes);
    }
    // The database, WAL and SHM while the server runs (nothing checkpointed on close yet).
    let wal = sidecar(&db, "-wal");
    let running_wal = file_bytes(&wal);
    assert!(
        !running_wal.is_empty(),
        "the WAL holds the workload's writes"
    );
    scanner.assert_clean("database file (running)", &file_bytes(&db));
    scanner.assert_clean("WAL file (un-checkpointed)", &running_wal);
    scanner.assert_clean("SHM file", &file_bytes(&sidecar(&db, "-shm")));
    scanner.assert_clean("server secret", &file_bytes(&sidecar(&db, ".secret")));

    server.stop().await;
    // Checkpoint whatever is left, then the database file once more.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let keys: i64 = conn
            .query_row("SELECT count(*) FROM keys", [], |r| r.get(0))
            .unwrap();
        assert!(keys >= 300, "{keys}");
        // Stored createKey/rerollKey answers (each holding a plaintext key, encrypted) were
        // part of what was scanned.
        let stored: i64 = conn
            .query_row(
                "SELECT count(*) FROM idempotency WHERE response IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(stored >= 7, "{stored}");
    }
    scanner.assert_clean("database file (checkpointed)", &file_bytes(&db));
    scanner.assert_clean("WAL file (after checkpoint)", &file_bytes(&wal));

    // Every log line, last: it includes the server's shutdown.
    let logs = capture.bytes();
    assert!(
        logs.len() > 10_000 && find(&logs, b"TRACE").is_some(),
        "TRACE logs were captured ({} bytes)",
        logs.len()
    );
    // Both sides were captured: the server's access events, the client's retries and rollout.
    for target in [
        "keyshift_server::access",
        "keyshift_core::http",
        "keyshift_core::client::rollout",
        "reqwest::",
    ] {
        assert!(
            find(&logs, target.as_bytes()).is_some(),
            "no {target} events captured"
        );
    }
    for line in logs.split(|b| *b == b'\n') {
        scanner.assert_clean("a log line", line);
    }
    scanner.assert_clean("the logs", &logs);
}
