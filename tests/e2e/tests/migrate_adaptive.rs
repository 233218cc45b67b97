//! Adaptive batches (the default options) against a real `keyshift` server: on a fast server
//! the batches grow past 100 keys (fewer requests reach the server than 100-key batches would
//! need: counted in the server's own idempotency table, one row per `keys.migrateKeys`
//! request), an explicit batch size stays fixed, and a server whose body limit a batch
//! outgrows answers 413: that batch is split and sent again, later batches stay smaller, and
//! every key is migrated exactly once.

use std::path::Path;

use keyshift_core::migrate::{checkpoint, MigrateOptions};
use keyshift_e2e::{assert_migrated, count_keys, run_migration, temp_file, TestServer};

/// `migrateKeys` requests the server has answered (each carried an Idempotency-Key, whose
/// first answer the server stores).
fn migrate_requests(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT count(*) FROM idempotency WHERE op = 'keys.migrateKeys'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn write_export(path: &Path, n: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    keyshift_core::migrate::sample::write_sample_jsonl(&mut out, n, false).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_batches_grow_past_100_and_explicit_ones_stay_fixed() {
    let server = TestServer::start().await;
    let (client, api_id) = server.client_with_api("adaptive").await;
    let (dir, file) = temp_file("keys.jsonl");
    write_export(&file, 5000);

    // One request in flight: each answer's time is then one batch's work, not a queue behind
    // the others at the single writer, so a loaded test machine does not keep batches at 100.
    let one_in_flight = MigrateOptions::new(&api_id, "adaptive-1").concurrency(1);
    let options = one_in_flight.checkpoint(dir.path().join("ckpt1"));
    let report = run_migration(&client, file.clone(), options).await;
    assert_eq!((report.migrated, report.failed), (5000, 0));
    let requests = migrate_requests(&server.db_path);
    assert!(
        requests < 50,
        "5000 keys in {requests} requests: fewer than 100-key batches need"
    );
    let (header, entries) = checkpoint::read_entries(&dir.path().join("ckpt1")).unwrap();
    assert_eq!(header.checkpoint, checkpoint::VERSION_RECORDED);
    assert!(entries.iter().any(|e| e.count > 100), "{entries:?}");
    assert!(entries.iter().all(|e| e.count <= 1000));

    // An explicit batch size: exactly 50 requests of 100 keys.
    let (_, api_2) = server.client_with_api("fixed").await;
    let (_dir2, file2) = temp_file("other.jsonl");
    write_export(&file2, 5000);
    let options = MigrateOptions::new(&api_2, "fixed-1")
        .batch_size(100)
        .checkpoint(dir.path().join("ckpt2"));
    let report = run_migration(&client, file2, options).await;
    assert_eq!((report.migrated, report.failed), (5000, 0));
    assert_eq!(migrate_requests(&server.db_path), requests + 50);
    let (header, entries) = checkpoint::read_entries(&dir.path().join("ckpt2")).unwrap();
    assert_eq!(
        (header.checkpoint, header.batch_size),
        (checkpoint::VERSION, 100)
    );
    assert!(entries.iter().all(|e| e.count == 100));
    assert_eq!(count_keys(&client, &api_id).await, (5000, 5000));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_413_splits_the_batch_and_later_batches_shrink() {
    // Room for about 60 of these records per request, not 100: the first batches are
    // refused.
    let server = TestServer::start_configured(|c| c.router.body_limit = 12 * 1024).await;
    let (client, api_id) = server.client_with_api("too-large").await;
    let (dir, file) = temp_file("keys.jsonl");
    write_export(&file, 4000);
    let ckpt = dir.path().join("ckpt");
    let options = MigrateOptions::new(&api_id, "split-1")
        .checkpoint(&ckpt)
        .report(dir.path().join("report.jsonl"));
    assert_migrated(
        &run_migration(&client, file.clone(), options).await,
        (4000, 0, 0),
    );
    assert_eq!(count_keys(&client, &api_id).await, (4000, 4000));

    let (_, entries) = checkpoint::read_entries(&ckpt).unwrap();
    let split_at = entries
        .iter()
        .position(|e| e.state == checkpoint::State::Split)
        .expect("a batch was refused as too large and split");
    let refused = entries[split_at].count;
    assert_eq!(refused, 100, "the first batches (100 keys) are too large");
    // Every batch the server took is at most half a refused one.
    let taken: Vec<u64> = entries
        .iter()
        .filter(|e| e.state == checkpoint::State::Done)
        .map(|e| e.count)
        .collect();
    assert!(taken.iter().all(|n| *n <= 50), "{taken:?}");
    // The server stored nothing of the refused batch: every key is in exactly one done batch.
    let done: u64 = entries
        .iter()
        .filter(|e| e.state == checkpoint::State::Done)
        .map(|e| e.count)
        .sum();
    assert_eq!(done, 4000);
    server.stop().await;
}
