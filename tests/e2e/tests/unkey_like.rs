//! The client and the migration engine against a `keyshift serve` that behaves like Unkey's
//! server where it matters (issue 9 #10, #11): `Idempotency-Key` ignored (`--no-idempotency`)
//! and `"failed": null` when nothing failed (fault item `failed-null`). Migrations through
//! lost answers end with every key present exactly once, a report listing each key exactly
//! once (with its keyId, or as already present), and success.

use std::collections::HashMap;
use std::path::Path;

use keyshift_core::migrate::MigrateOptions;
use keyshift_core::{Client, CreateKey, RetryPolicy, VerifyCode, VerifyOptions};
use keyshift_e2e::{
    assert_migrated, count_keys, read_jsonl, run_migration, verify_code, write_sample, TestServer,
};
use serde_json::Value;

fn unkey_like_client(server: &TestServer, spec: &str) -> Client {
    server.faulty_quick(spec, 10, 50)
}

/// Each key row of the report by line (panics on a line reported twice), and the summary.
fn report_rows(path: &Path) -> (HashMap<u64, Value>, Value) {
    let mut rows = HashMap::new();
    let mut summary = Value::Null;
    for row in read_jsonl(path) {
        if let Some(line) = row.get("line").and_then(Value::as_u64) {
            if let Some(old) = rows.insert(line, row.clone()) {
                panic!("line {line} reported twice: {old} / {row}");
            }
        } else if row.get("summary").is_some() {
            summary = row;
        }
    }
    (rows, summary)
}

/// The server really ignores Idempotency-Key when switched off: a repeated create mints a
/// second key (which is why the client never repeats a create without a key it trusts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_idempotency_switch_ignores_the_header() {
    let server = TestServer::start_unkey_like().await;
    let (client, api_id) = server.client_with_api("no-idem").await;
    let call = keyshift_core::CallOptions::default().with_idempotency_key("idem_same");
    let a = client
        .create_api_key_with(&CreateKey::new(&api_id), &call)
        .await
        .unwrap();
    let b = client
        .create_api_key_with(&CreateKey::new(&api_id), &call)
        .await
        .unwrap();
    assert_ne!(a.key_id, b.key_id);
    assert_eq!(count_keys(&client, &api_id).await.0, 2);
    server.stop().await;
}

/// #10: `"failed": null` is read as "nothing failed": every key migrated with its keyId,
/// each batch sent once (a resent batch would show up as already present).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_null_is_nothing_failed_and_no_batch_is_sent_twice() {
    let server = TestServer::start_unkey_like().await;
    let (admin, api_id, dir, file, _) = server.export("failed-null", 1000, |i| i % 2 == 0).await;
    let report_path = dir.path().join("report.jsonl");
    let client = unkey_like_client(&server, "failed-null");
    let options = MigrateOptions::new(&api_id, "failed-null")
        .batch_size(100)
        .report(&report_path);
    assert_migrated(&run_migration(&client, file, options).await, (1000, 0, 0));
    let (rows, _) = report_rows(&report_path);
    assert_eq!(rows.len(), 1000);
    assert!(rows.values().all(|r| r["keyId"].is_string()));
    assert_eq!(count_keys(&admin, &api_id).await, (1000, 1000));
    server.stop().await;
}

/// #11: the answer to every batch is lost after the server acted (a proxy's 500/502/504, or
/// the same with `failed: null`), and the server ignores Idempotency-Key: the retries'
/// "already exists" answers are this run's keys. With and without a checkpoint the run
/// succeeds, every key is present exactly once, and the report lists each key exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_answers_without_idempotency_end_exactly_once_and_succeed() {
    let n = 1200u64;
    let server = TestServer::start_unkey_like().await;
    let admin = server.client();
    let dir = tempfile::tempdir().unwrap();
    let specs = [
        "fail-first=1;after-dispatch-status=500",
        "fail-first=1;after-dispatch-status=502;failed-null",
        "fail-first=2;after-dispatch-status=504",
        "fail-first=1;after-dispatch-status=503;failed-null",
    ];
    for (i, spec) in specs.iter().enumerate() {
        for with_checkpoint in [false, true] {
            let tag = format!("lost-{i}-{with_checkpoint}");
            let api_id = admin.create_api(&tag).await.unwrap().api_id;
            let file = dir.path().join(format!("{tag}.jsonl"));
            let records = write_sample(&file, n, |i| i % 2 == 0);
            let report_path = dir.path().join(format!("{tag}.report.jsonl"));
            let mut options = MigrateOptions::new(&api_id, &tag)
                .batch_size(100)
                .concurrency(4)
                .report(&report_path);
            if with_checkpoint {
                options = options.checkpoint(dir.path().join(format!("{tag}.ckpt")));
            }
            let report = unkey_like_client(&server, spec)
                .migrate_keys(file, options, None)
                .await
                .unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(report.failed, 0, "{spec}: {:?}", report.errors.first());
            assert!(report.is_complete(), "{spec}");
            assert_eq!(report.migrated + report.already_present, n, "{spec}");
            assert_eq!(
                report.already_present, n,
                "{spec}: every first answer was lost"
            );
            assert_eq!(count_keys(&admin, &api_id).await, (n as usize, n as usize));
            let (rows, summary) = report_rows(&report_path);
            assert_eq!(rows.len() as u64, n, "{spec}: each key exactly once");
            for row in rows.values() {
                assert!(
                    row["keyId"].is_string() || row["alreadyPresent"] == Value::Bool(true),
                    "{spec}: {row}"
                );
                assert!(row.get("error").is_none(), "{spec}: {row}");
            }
            assert_eq!(summary["summary"]["failed"], Value::from(0));
            // The keys work.
            for r in records.iter().step_by(97) {
                assert_eq!(
                    verify_code(
                        &admin,
                        r["key"].as_str().unwrap(),
                        &VerifyOptions::default()
                    )
                    .await,
                    VerifyCode::Valid,
                    "{spec}"
                );
            }
        }
    }
    server.stop().await;
}

/// #7 + #11: a run whose every answer was lost (no retries) leaves every batch unfinished;
/// resumed against the same idempotency-less server, every key counts as already present,
/// nothing fails, and the report (cut back to the checkpoint on resume) lists each key once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resumed_migration_against_an_unkey_like_server_is_exactly_once() {
    let n = 900u64;
    let server = TestServer::start_unkey_like().await;
    let (admin, api_id, dir, file, _) = server.export("resume-unkey-like", n, |i| i % 2 == 0).await;
    let report_path = dir.path().join("report.jsonl");
    let options = || {
        MigrateOptions::new(&api_id, "resume-unkey-like")
            .batch_size(100)
            .checkpoint(dir.path().join("ckpt"))
            .report(&report_path)
            .resume(true)
    };
    // Run 1: every answer lost after the server acted, and no retries at all: every batch
    // fails (stays unfinished in the checkpoint) though every key is stored.
    let report = unkey_like_client(&server, "after-dispatch-status=502;failed-null")
        .migrate_keys(file.clone(), options().retry(RetryPolicy::never()), None)
        .await
        .unwrap();
    assert_eq!(report.failed, n);
    assert_eq!(count_keys(&admin, &api_id).await.0, n as usize);
    // Run 2: resumed through a healthy connection to the same (idempotency-less) server.
    let report = run_migration(&unkey_like_client(&server, "failed-null"), file, options()).await;
    assert_eq!((report.failed, report.already_present), (0, n));
    assert!(report.is_complete());
    let (rows, _) = report_rows(&report_path);
    assert_eq!(rows.len() as u64, n, "each key exactly once in the report");
    assert!(rows
        .values()
        .all(|r| r["alreadyPresent"] == Value::Bool(true)));
    assert_eq!(count_keys(&admin, &api_id).await, (n as usize, n as usize));
    server.stop().await;
}
