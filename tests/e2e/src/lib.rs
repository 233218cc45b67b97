//! Harness for end-to-end tests: a real `keyshift` server on a free loopback port with a
//! temporary SQLite file, and clients for it over HTTP and in-process.

use keyshift_core::{Client, ClientBuilder, CreateKey, CreatedKey, RetryPolicy, SecretKey};
use tokio::sync::oneshot;

/// A running server; stops when dropped.
pub struct TestServer {
    pub base_url: String,
    pub root_key: SecretKey,
    pub db_path: std::path::PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The temporary directory holding the database, when the harness made it.
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(false).await
    }

    /// With the test-only fault switch on (`X-Keyshift-Fault` headers honoured).
    pub async fn start_with_faults() -> TestServer {
        TestServer::start_with(true).await
    }

    async fn start_with(faults: bool) -> TestServer {
        TestServer::start_configured(|c| c.router.faults = faults).await
    }

    /// Like Unkey's server where it matters to a client: `Idempotency-Key` ignored
    /// (`--no-idempotency`), with the fault switch on.
    pub async fn start_unkey_like() -> TestServer {
        TestServer::start_configured(|c| {
            c.router.faults = true;
            c.router.idempotency = false;
        })
        .await
    }

    /// With any other server settings.
    pub async fn start_configured(
        configure: impl FnOnce(&mut keyshift_server::ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer::start_at(&dir.path().join("keyshift.db"), configure).await;
        server._dir = Some(dir);
        server
    }

    /// On the database `db_path`, which the caller owns: it stays after the server stops (so
    /// its files can be read then).
    pub async fn start_at(
        db_path: &std::path::Path,
        configure: impl FnOnce(&mut keyshift_server::ServerConfig),
    ) -> TestServer {
        let mut config = keyshift_server::ServerConfig::new(
            db_path.to_string_lossy().to_string(),
            "127.0.0.1:0".parse().unwrap(),
        );
        configure(&mut config);
        let bound = keyshift_server::bind(config).await.expect("server binds");
        let base_url = bound.base_url();
        let root_key = bound
            .root_key()
            .cloned()
            .expect("first start prints a root key");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            bound
                .run(async {
                    let _ = rx.await;
                })
                .await
                .expect("server runs");
        });
        TestServer {
            base_url,
            root_key,
            db_path: db_path.to_path_buf(),
            shutdown: Some(tx),
            task: Some(task),
            _dir: None,
        }
    }

    /// A builder pointed at this server with fast retries (tests wait less).
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .base_url(&self.base_url)
            .root_key(self.root_key.clone())
            .retry(
                RetryPolicy::default()
                    .with_base_delay(std::time::Duration::from_millis(20))
                    .with_max_delay(std::time::Duration::from_millis(200)),
            )
    }

    pub fn client(&self) -> Client {
        self.client_builder().build().expect("client builds")
    }

    /// [`TestServer::client_builder`] with the fault spec `spec` (`X-Keyshift-Fault`) on every
    /// request.
    pub fn faulty_builder(&self, spec: &str) -> ClientBuilder {
        self.client_builder().header("X-Keyshift-Fault", spec)
    }

    /// A client whose every request carries the fault spec `spec`.
    pub fn faulty(&self, spec: &str) -> Client {
        self.faulty_builder(spec).build().expect("client builds")
    }

    /// [`TestServer::faulty`] retrying after `base_ms` (doubling, at most `max_ms`) instead of
    /// the default delays, so a test of many faulted requests stays short.
    pub fn faulty_quick(&self, spec: &str, base_ms: u64, max_ms: u64) -> Client {
        let retry = RetryPolicy::default()
            .with_base_delay(std::time::Duration::from_millis(base_ms))
            .with_max_delay(std::time::Duration::from_millis(max_ms));
        let builder = self.faulty_builder(spec).retry(retry);
        builder.build().expect("client builds")
    }

    /// [`TestServer::client_with_api`] plus one new key in that api.
    pub async fn client_with_key(&self, name: &str) -> (Client, String, CreatedKey) {
        let (client, api_id) = self.client_with_api(name).await;
        let created = new_key(&client, &api_id).await;
        (client, api_id, created)
    }

    /// A client for this server and a new api named `name` created with it.
    pub async fn client_with_api(&self, name: &str) -> (Client, String) {
        let client = self.client();
        let api_id = client.create_api(name).await.expect("api created").api_id;
        (client, api_id)
    }

    /// Stops the server and waits until it has closed.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A client running the engine in-process on a temporary database (no HTTP).
pub struct LocalClient {
    pub client: Client,
    _dir: tempfile::TempDir,
}

pub fn local_client() -> LocalClient {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("local.db");
    LocalClient {
        client: keyshift_engine::local_client(&path.to_string_lossy()).expect("engine opens"),
        _dir: dir,
    }
}

/// A new key with default options in `api_id`.
pub async fn new_key(client: &Client, api_id: &str) -> CreatedKey {
    client
        .create_api_key(&CreateKey::new(api_id))
        .await
        .expect("key created")
}

/// A JSON object literal as the `meta` map the wire types take.
pub fn meta(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().expect("a JSON object").clone()
}

/// A new temp directory and the path of a file named `name` in it.
pub fn temp_file(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(name);
    (dir, file)
}

/// How many keys `api_id` lists, and how many distinct key ids among them.
pub async fn count_keys(client: &Client, api_id: &str) -> (usize, usize) {
    let keys = client
        .keys_pager(api_id)
        .collect_all()
        .await
        .expect("keys listed");
    let ids: std::collections::HashSet<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
    (keys.len(), ids.len())
}

/// Every line of a JSON-lines file (a migration report), parsed.
pub fn read_jsonl(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("file readable");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// `client`'s verification of `key` with the default options.
pub async fn verified(client: &Client, key: &str) -> keyshift_core::Verification {
    let options = keyshift_core::VerifyOptions::default();
    client.verify(key, &options).await.expect("verify answers")
}

/// The code `client` gets verifying `key` with `options`.
pub async fn verify_code(
    client: &Client,
    key: &str,
    options: &keyshift_core::VerifyOptions,
) -> keyshift_core::VerifyCode {
    client
        .verify(key, options)
        .await
        .expect("verify answers")
        .code
}

/// A new identity `external_id` with `meta` (a JSON object).
pub async fn new_identity(
    client: &Client,
    external_id: &str,
    meta_object: serde_json::Value,
) -> keyshift_core::wire::CreateIdentityResponseData {
    client
        .create_identity(&keyshift_core::wire::CreateIdentityRequest {
            external_id: external_id.into(),
            meta: Some(meta(meta_object)),
            ratelimits: None,
        })
        .await
        .expect("identity created")
}

/// `client`'s migration of `source` with `options` and no progress callback (panics on an
/// error).
pub async fn run_migration(
    client: &Client,
    source: impl Into<keyshift_core::migrate::MigrationSource>,
    options: keyshift_core::migrate::MigrateOptions,
) -> keyshift_core::migrate::MigrationReport {
    client
        .migrate_keys(source, options, None)
        .await
        .expect("migration ran")
}

/// Asserts a report's `(migrated, already_present, failed)`, showing its first error when
/// they differ.
#[track_caller]
pub fn assert_migrated(
    report: &keyshift_core::migrate::MigrationReport,
    expected: (u64, u64, u64),
) {
    assert_eq!(
        (report.migrated, report.already_present, report.failed),
        expected,
        "(migrated, already present, failed); first error: {:?}",
        report.errors.first()
    );
}

/// Writes `n` records of `migrate::sample` to `path` as JSON lines (record `i` with scopes
/// when `with_scopes(i)`) and returns them for the checks.
pub fn write_sample(
    path: &std::path::Path,
    n: u64,
    with_scopes: impl Fn(u64) -> bool,
) -> Vec<serde_json::Value> {
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| keyshift_core::migrate::sample::sample_record(i, with_scopes(i)).expect("sample"))
        .collect();
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).expect("sample written");
    records
}

/// Owned copies of `items` (the permission and role lists the client takes).
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Fallback options that backfill an accepted legacy key into `api_id` under
/// `migration_id`, with `template`'s permissions, roles, meta ….
pub fn backfill_options(
    api_id: &str,
    migration_id: &str,
    template: keyshift_core::wire::MigrateKeyData,
) -> keyshift_core::FallbackOptions {
    keyshift_core::FallbackOptions {
        backfill: Some(keyshift_core::Backfill {
            api_id: api_id.into(),
            migration_id: migration_id.into(),
            template,
        }),
        ..Default::default()
    }
}

impl TestServer {
    /// What a migration test starts from: a client of the server, a new api `name`, and a
    /// temp dir holding `keys.jsonl` with `n` sample records (see [`write_sample`]).
    pub async fn export(
        &self,
        name: &str,
        n: u64,
        with_scopes: impl Fn(u64) -> bool,
    ) -> (
        Client,
        String,
        tempfile::TempDir,
        std::path::PathBuf,
        Vec<serde_json::Value>,
    ) {
        let (client, api_id) = self.client_with_api(name).await;
        let (dir, file) = temp_file("keys.jsonl");
        let records = write_sample(&file, n, with_scopes);
        (client, api_id, dir, file, records)
    }
}
