//! Runs that stop early: a fallible source that fails, and a progress callback that cancels.
//! Either way nothing after the stop is sent (not even a partial batch), the checkpoint is
//! synced (resume finishes the run with every key exactly once) and the report says why.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use keyshift_core::migrate::{self, CancelToken, MigrateOptions, MigrationSource, Progress};
use keyshift_core::{Client, Error, Result};
use keyshift_e2e::{local_client, LocalClient};
use serde_json::Value;

fn record(i: u64) -> Value {
    serde_json::json!({"key": format!("sk_live_stop_{i:08}_abcdef")})
}

async fn keys_in(client: &Client, api_id: &str) -> usize {
    client.keys_pager(api_id).collect_all().await.unwrap().len()
}

/// An in-process client, a fresh api on it, and a directory for checkpoint and report.
async fn setup(api: &str) -> (LocalClient, String, tempfile::TempDir) {
    let local = local_client();
    let api_id = local.client.create_api(api).await.unwrap().api_id;
    (local, api_id, tempfile::tempdir().unwrap())
}

fn options(dir: &Path, api_id: &str) -> MigrateOptions {
    MigrateOptions::new(api_id, "stop-1")
        .batch_size(100)
        .concurrency(2)
        .checkpoint(dir.join("ckpt"))
        .report(dir.join("report.jsonl"))
}

fn last_report_line(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.jsonl")).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// Resumes with the whole input and checks every key is there exactly once.
async fn resume_finishes(client: &Client, dir: &Path, api_id: &str, total: u64, sent: u64) {
    let report = client
        .migrate_keys(
            MigrationSource::json((0..total).map(record)),
            options(dir, api_id).resume(true),
            None,
        )
        .await
        .unwrap();
    assert_eq!(report.skipped_resumed, sent);
    assert_eq!(report.migrated + report.already_present, total - sent);
    assert_eq!(keys_in(client, api_id).await, total as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_stops_the_run_without_its_partial_batch() {
    let (local, api_id, dir) = setup("stop-source").await;
    let client = &local.client;
    // 2 150 good records (the first chunk of 2 048 makes 20 full batches and leaves 48 in a
    // partial one; 102 more are read), then the host iterator raises: nothing after counts.
    let source = (0..2_300u64).map(|i| -> Result<Value> {
        if i == 2_150 {
            Err(Error::io("host iterator raised ValueError"))
        } else {
            Ok(record(i))
        }
    });
    let err = client
        .migrate_keys(
            MigrationSource::try_json(source),
            options(dir.path(), &api_id),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("host iterator raised"), "{err}");
    // Only whole batches of the chunk read before the failure went out.
    let sent = keys_in(client, &api_id).await;
    assert_eq!(
        sent, 2_000,
        "no partial batch is sent after the source fails"
    );
    let summary = last_report_line(dir.path());
    assert!(
        summary.to_string().contains("host iterator raised"),
        "{summary}"
    );
    resume_finishes(client, dir.path(), &api_id, 2_300, 2_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_callback_can_cancel_the_run() {
    let (local, api_id, dir) = setup("stop-cancel").await;
    let client = &local.client;
    let total = 20_000u64;
    let token = CancelToken::new();
    let seen_finished = Arc::new(AtomicBool::new(false));
    let on_progress: migrate::ProgressFn = {
        let (token, seen_finished) = (token.clone(), seen_finished.clone());
        Arc::new(move |p: &Progress| {
            seen_finished.fetch_or(p.finished, Ordering::SeqCst);
            if p.batches_done >= 3 {
                token.cancel();
            }
        })
    };
    // Slow the input down a little so the run is still going when the callback cancels.
    let source = (0..total).map(|i| {
        if i % 500 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        record(i)
    });
    let err = client
        .migrate_keys(
            MigrationSource::json(source),
            options(dir.path(), &api_id).cancel(token.clone()),
            Some(on_progress),
        )
        .await
        .unwrap_err();
    assert!(token.is_cancelled());
    assert_eq!(err.field.as_deref(), Some("cancel"), "{err}");
    assert!(!seen_finished.load(Ordering::SeqCst));
    let sent = keys_in(client, &api_id).await as u64;
    assert!(
        sent >= 300 && sent < total,
        "stopped early after ≥ 3 batches: {sent}"
    );
    assert_eq!(sent % 100, 0, "only whole batches: {sent}");
    assert!(last_report_line(dir.path())
        .to_string()
        .contains("cancelled"));
    resume_finishes(client, dir.path(), &api_id, total, sent).await;
}

#[test]
fn a_dry_run_stops_on_the_source_error_and_on_cancel() {
    let opts = MigrateOptions::new("api_x", "dry").dry_run(true);
    let failing = (0..10u64).map(|i| -> Result<Value> {
        if i == 5 {
            Err(Error::io("raised"))
        } else {
            Ok(record(i))
        }
    });
    let err =
        migrate::validate_source(MigrationSource::try_json(failing), &opts, None).unwrap_err();
    assert!(err.message.contains("raised"));
    let token = CancelToken::new();
    token.cancel();
    let err = migrate::validate_source(
        MigrationSource::json((0..10).map(record)),
        &opts.clone().cancel(token),
        None,
    )
    .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("cancel"));
}
