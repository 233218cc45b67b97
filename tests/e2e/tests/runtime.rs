//! `keyshift_core::runtime` with real clients (HTTP and in-process): a `Client` made on one
//! thread works from others, blocking calls work from inside the runtime (a host callback on a
//! worker), and many threads and tasks at once finish in bounded time.

use std::time::Duration;

use keyshift_core::{runtime, Client, VerifyCode, VerifyOptions};
use keyshift_e2e::{local_client, TestServer};

/// A fresh api and key on `client`; returns the key's plaintext.
fn new_key(client: &Client) -> String {
    runtime::block_on(async {
        let api_id = client.create_api("runtime").await.unwrap().api_id;
        let key = keyshift_e2e::new_key(client, &api_id).await;
        key.key.expose().to_string()
    })
}

fn verify_blocking(client: &Client, key: &str) -> VerifyCode {
    runtime::block_on(client.verify(key, &VerifyOptions::default()))
        .unwrap()
        .code
}

/// Runs `check` against an HTTP client of a server on the shared runtime and a local client.
fn with_both_clients(check: impl Fn(Client)) {
    let server = runtime::block_on(TestServer::start());
    check(server.client());
    let local = local_client();
    check(local.client.clone());
    runtime::block_on(server.stop());
}

#[test]
fn a_client_made_on_one_thread_works_on_another() {
    with_both_clients(|client| {
        let key = new_key(&client);
        let code = std::thread::spawn(move || verify_blocking(&client, &key))
            .join()
            .unwrap();
        assert_eq!(code, VerifyCode::Valid);
    });
}

#[test]
fn blocking_calls_from_inside_a_runtime_task() {
    with_both_clients(|client| {
        let key = new_key(&client);
        // A host callback invoked on a worker that calls the blocking client.
        let task = runtime::spawn(async move { verify_blocking(&client, &key) });
        assert_eq!(runtime::block_on(task).unwrap(), VerifyCode::Valid);
    });
}

#[test]
fn many_threads_and_tasks_at_once_finish_in_bounded_time() {
    with_both_clients(|client| {
        let key = new_key(&client);
        let started = std::time::Instant::now();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (client, key) = (client.clone(), key.clone());
                std::thread::spawn(move || {
                    (0..25).all(|_| verify_blocking(&client, &key) == VerifyCode::Valid)
                })
            })
            .collect();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (client, key) = (client.clone(), key.clone());
                runtime::spawn(async move {
                    client
                        .verify(&key, &VerifyOptions::default())
                        .await
                        .unwrap()
                        .code
                })
            })
            .collect();
        let all_tasks = runtime::block_on(async {
            tokio::time::timeout(Duration::from_secs(60), async {
                let mut codes = Vec::new();
                for task in tasks {
                    codes.push(task.await.unwrap());
                }
                codes
            })
            .await
        })
        .expect("tasks finish within 60 s");
        assert!(all_tasks.iter().all(|c| *c == VerifyCode::Valid));
        for thread in threads {
            assert!(thread.join().unwrap());
        }
        assert!(started.elapsed() < Duration::from_secs(60));
    });
}
