//! Shared helpers of the HTTP tests: a real server on 127.0.0.1:0 over a temp SQLite file.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use keyshift_engine::Engine;
use keyshift_server::{bind, ServerConfig};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub base: String,
    pub root_key: String,
    pub client: reqwest::Client,
    pub engine: Engine,
    pub db: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<keyshift_core::Result<()>>>,
    dir: Option<tempfile::TempDir>,
}

#[derive(Default)]
pub struct Options {
    pub faults: bool,
    pub body_limit: Option<usize>,
    pub body_timeout: Option<std::time::Duration>,
    pub seed_root_key: Option<String>,
}

impl Options {
    /// The test-only fault switch on (`X-Keyshift-Fault`).
    pub fn with_faults() -> Options {
        let faults = true;
        Options {
            faults,
            ..Default::default()
        }
    }

    /// A body limit of `limit` bytes.
    pub fn with_body_limit(limit: usize) -> Options {
        let body_limit = Some(limit);
        Options {
            body_limit,
            ..Default::default()
        }
    }

    /// The root key the server seeds its database with.
    pub fn with_root_key(key: &str) -> Options {
        let seed_root_key = Some(key.to_string());
        Options {
            seed_root_key,
            ..Default::default()
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub async fn start() -> TestServer {
    start_with(Options::default()).await
}

/// A server with one api named `name`: (server, api id).
pub async fn start_with_api(name: &str) -> (TestServer, String) {
    let server = start().await;
    let api = server.create_api(name).await;
    (server, api)
}

pub async fn start_with(options: Options) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyshift.db");
    let mut server = start_on(&db, None, options).await;
    server.dir = Some(dir);
    server
}

/// Start a server on an existing database file; `root_key` is the key to use when the database
/// already has one (the server prints a key only on first start).
pub async fn start_on(
    db: &std::path::Path,
    root_key: Option<String>,
    options: Options,
) -> TestServer {
    let mut config = ServerConfig::new(db.to_str().unwrap(), "127.0.0.1:0".parse().unwrap());
    config.router.faults = options.faults;
    if let Some(limit) = options.body_limit {
        config.router.body_limit = limit;
    }
    if let Some(timeout) = options.body_timeout {
        config.router.body_timeout = timeout;
    }
    config.seed_root_key = options
        .seed_root_key
        .clone()
        .map(keyshift_core::SecretKey::new);
    let bound = bind(config).await.expect("server binds");
    let base = bound.base_url();
    let engine = bound.engine().clone();
    let root_key = match (bound.root_key(), root_key, options.seed_root_key) {
        (Some(k), _, _) => k.expose().to_string(),
        (None, Some(k), _) => k,
        (None, None, Some(k)) => k,
        (None, None, None) => panic!("no root key: pass the one from the first start"),
    };
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(bound.run(async move {
        let _ = rx.await;
    }));
    TestServer {
        base,
        root_key,
        client: reqwest::Client::new(),
        engine,
        db: db.to_path_buf(),
        shutdown: Some(tx),
        handle: Some(handle),
        dir: None,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET `path`; the raw response.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let request = self.client.get(self.url(path));
        request.send().await.expect("request reaches the server")
    }

    /// GET `path`, which must answer `status`; the raw response.
    pub async fn get_status(&self, path: &str, status: u16) -> reqwest::Response {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), status, "GET {path}");
        resp
    }

    /// POST `body` as JSON to `path` with the server's root key; the raw response.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        let request = self.client.post(self.url(path)).bearer_auth(&self.root_key);
        request
            .json(body)
            .send()
            .await
            .expect("request reaches the server")
    }

    /// POST /v2/{op} with the server's root key; returns (status, body).
    pub async fn call(&self, op: &str, body: Value) -> (u16, Value) {
        self.call_as(&self.root_key.clone(), op, body).await
    }

    pub async fn call_as(&self, root_key: &str, op: &str, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url(&format!("/v2/{op}")))
            .bearer_auth(root_key)
            .json(&body)
            .send()
            .await
            .expect("request reaches the server");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{op}: body is not JSON ({e}): {text}"));
        (status, value)
    }

    /// POST /v2/{op} through `client` with the server's root key and the extra `headers`
    /// (appended: a second `authorization` is a second header line).
    async fn send_op(
        &self,
        client: &reqwest::Client,
        op: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = client.post(self.url(&format!("/v2/{op}")));
        request = request.bearer_auth(&self.root_key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.json(&body).send().await.expect("an answer")
    }

    /// [`TestServer::call`] with extra `headers`; returns (status, body).
    pub async fn call_with_headers(
        &self,
        op: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let resp = self.send_op(&self.client, op, body, headers).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("a JSON body"))
    }

    /// [`TestServer::call_with_headers`] over HTTP/2 (prior knowledge); asserts the answer came
    /// over HTTP/2.
    pub async fn call_h2(&self, op: &str, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
        let h2 = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        let resp = self.send_op(&h2, op, body, headers).await;
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("a JSON body"))
    }

    /// POST and expect 200; returns `data` after checking the success envelope.
    pub async fn ok(&self, op: &str, body: Value) -> Value {
        self.ok_as(&self.root_key.clone(), op, body).await
    }

    /// [`TestServer::ok`] with another root key (another workspace's, a restricted one).
    pub async fn ok_as(&self, root_key: &str, op: &str, body: Value) -> Value {
        let (status, value) = self.call_as(root_key, op, body).await;
        assert_eq!(status, 200, "{op} answered {status}: {value}");
        assert_success_envelope(&value);
        value["data"].clone()
    }

    /// POST and expect an error status; returns the `error` object after checking its shape.
    pub async fn fails(&self, op: &str, body: Value, status: u16) -> Value {
        self.fails_as(&self.root_key.clone(), op, body, status)
            .await
    }

    /// [`TestServer::fails`] with another root key (another workspace's, a restricted one).
    pub async fn fails_as(&self, root_key: &str, op: &str, body: Value, status: u16) -> Value {
        let (got, value) = self.call_as(root_key, op, body).await;
        assert_eq!(got, status, "{op}: expected {status}, got {got}: {value}");
        assert_problem(&value, status);
        value["error"].clone()
    }

    /// `op` with `body` fails with a 400 naming a location that starts with `location`.
    pub async fn fails_at(&self, op: &str, body: Value, location: &str) -> Value {
        let e = self.fails(op, body.clone(), 400).await;
        let locations = names(&e["errors"], "location");
        assert!(
            locations.iter().any(|l| l.starts_with(location)),
            "{body}: {locations:?} {e}"
        );
        e
    }

    /// POST and expect 200; returns the string `data[field]` (the id a create answers).
    pub async fn created_id(&self, op: &str, body: Value, field: &str) -> String {
        self.created_id_as(&self.root_key.clone(), op, body, field)
            .await
    }

    /// [`TestServer::created_id`] with another root key.
    pub async fn created_id_as(&self, root: &str, op: &str, body: Value, field: &str) -> String {
        let data = self.ok_as(root, op, body).await;
        data[field]
            .as_str()
            .unwrap_or_else(|| panic!("{op}: no {field}: {data}"))
            .to_string()
    }

    /// A role with no permissions; returns its id.
    pub async fn create_role(&self, name: &str) -> String {
        self.create_role_as(&self.root_key.clone(), name).await
    }

    /// [`TestServer::create_role`] with another root key.
    pub async fn create_role_as(&self, root: &str, name: &str) -> String {
        let body = json!({ "name": name });
        self.created_id_as(root, "permissions.createRole", body, "roleId")
            .await
    }

    /// A permission whose name is its `slug`; returns its id.
    pub async fn create_permission(&self, slug: &str) -> String {
        let body = json!({ "name": slug, "slug": slug });
        let op = "permissions.createPermission";
        self.created_id_as(&self.root_key.clone(), op, body, "permissionId")
            .await
    }

    /// An identity with `externalId` only; returns its id.
    pub async fn create_identity(&self, external_id: &str) -> String {
        self.create_identity_as(&self.root_key.clone(), external_id)
            .await
    }

    /// [`TestServer::create_identity`] with another root key.
    pub async fn create_identity_as(&self, root: &str, external_id: &str) -> String {
        let body = json!({ "externalId": external_id });
        self.created_id_as(root, "identities.createIdentity", body, "identityId")
            .await
    }

    pub async fn create_api(&self, name: &str) -> String {
        let data = self.ok("apis.createApi", json!({"name": name})).await;
        data["apiId"].as_str().expect("apiId").to_string()
    }

    /// [`TestServer::create_api`] with another root key.
    pub async fn create_api_as(&self, root: &str, name: &str) -> String {
        let body = json!({ "name": name });
        self.created_id_as(root, "apis.createApi", body, "apiId")
            .await
    }

    /// Create a key; returns (keyId, key).
    pub async fn create_key(&self, body: Value) -> (String, String) {
        self.create_key_as(&self.root_key.clone(), body).await
    }

    /// [`TestServer::create_key`] with another root key.
    pub async fn create_key_as(&self, root: &str, body: Value) -> (String, String) {
        let data = self.ok_as(root, "keys.createKey", body).await;
        (
            data["keyId"].as_str().expect("keyId").to_string(),
            data["key"].as_str().expect("key").to_string(),
        )
    }

    /// How many keys `apis.listKeys` lists for `api`, over every page.
    pub async fn key_count(&self, api: &str) -> usize {
        let mut count = 0;
        let mut body = json!({"apiId": api, "limit": 100});
        loop {
            let (status, v) = self.call("apis.listKeys", body.clone()).await;
            assert_eq!(status, 200, "{v}");
            assert_success_envelope(&v);
            let page = v["data"].as_array().expect("listKeys data is an array");
            count += page.len();
            match v["pagination"]["cursor"].as_str() {
                // The next page starts after this one's cursor.
                Some(c) if v["pagination"]["hasMore"] == true => body["cursor"] = json!(c),
                _ => return count,
            }
        }
    }

    pub async fn verify(&self, body: Value) -> Value {
        self.ok("keys.verifyKey", body).await
    }

    /// Verify and assert the answer's `code`; returns `data`.
    pub async fn verify_code(&self, body: Value, code: &str) -> Value {
        let v = self.verify(body).await;
        assert_eq!(v["code"], code, "{v}");
        v
    }

    /// A root key with exactly `permissions`, in workspace `ws` (the server's own when `None`).
    pub async fn root_with<P: AsRef<str>>(&self, ws: Option<String>, permissions: &[P]) -> String {
        let engine = self.engine.clone();
        let root = self.root_key.clone();
        let permissions: Vec<String> = permissions.iter().map(|p| p.as_ref().to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let ws = ws.unwrap_or_else(|| engine.authenticate(&root).unwrap().workspace_id);
            engine
                .create_root_key_with_permissions(&ws, &permissions)
                .unwrap()
                .expose()
                .to_string()
        })
        .await
        .unwrap()
    }

    /// A second workspace with its own root key: (workspace id, root key).
    pub async fn second_workspace(&self, name: &str) -> (String, String) {
        let engine = self.engine.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || {
            let ws = engine.create_workspace(&name).unwrap();
            let key = engine.create_root_key(&ws).unwrap();
            (ws, key.expose().to_string())
        })
        .await
        .unwrap()
    }

    /// Stop the server gracefully and wait for it to return.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        self.shutdown_inner().await;
        self.dir.take()
    }

    async fn shutdown_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            let result = tokio::time::timeout(std::time::Duration::from_secs(15), handle)
                .await
                .expect("server stops within the grace period")
                .expect("server task did not panic");
            result.expect("server returned Ok");
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

/// The string `field` of every item of the array `list` (`slug`s, `hash`es, `location`s).
pub fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

/// Whether an item of the array `list` has `field` equal to `value`.
pub fn has_item(list: &Value, field: &str, value: &str) -> bool {
    let items = list.as_array();
    let items = items.unwrap_or_else(|| panic!("not an array: {list}"));
    items.iter().any(|v| v[field] == value)
}

/// `error.type` of a problem ends with `suffix` (`/unkey/data/api_not_found`).
pub fn assert_type_ends(e: &Value, suffix: &str) {
    let kind = e["type"].as_str().unwrap_or_else(|| panic!("type: {e}"));
    assert!(kind.ends_with(suffix), "{e}");
}

/// `error.detail` of a problem contains `text`.
pub fn assert_detail_has(e: &Value, text: &str) {
    let detail = e["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("detail: {e}"));
    assert!(detail.contains(text), "{e}");
}

pub fn assert_request_id(value: &Value) {
    let rid = value["meta"]["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("meta.requestId missing: {value}"));
    assert!(
        rid.starts_with("req_") && rid.len() > 8,
        "bad request id {rid}"
    );
}

pub fn assert_success_envelope(value: &Value) {
    assert_request_id(value);
    assert!(value.get("data").is_some(), "data missing: {value}");
    assert!(value.get("error").is_none(), "error in a success: {value}");
}

/// The documented problem shape: meta.requestId + error{title, detail, status, type[, errors]}.
pub fn assert_problem(value: &Value, status: u16) {
    assert_request_id(value);
    let error = &value["error"];
    assert!(
        error["title"].as_str().is_some_and(|s| !s.is_empty()),
        "title: {value}"
    );
    assert!(
        error["detail"].as_str().is_some_and(|s| !s.is_empty()),
        "detail: {value}"
    );
    assert_eq!(
        error["status"].as_u64(),
        Some(status as u64),
        "status: {value}"
    );
    let kind = error["type"]
        .as_str()
        .unwrap_or_else(|| panic!("type: {value}"));
    assert!(kind.starts_with("https://"), "type is a URL: {kind}");
    if status == 400 {
        let errors = error["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("400 without errors[]: {value}"));
        for e in errors {
            assert!(
                e["location"].as_str().is_some(),
                "errors[].location: {value}"
            );
            assert!(e["message"].as_str().is_some(), "errors[].message: {value}");
        }
    }
    // Round-trips through the shared wire model the client uses.
    let parsed: Result<keyshift_core::wire::ErrorEnvelope, _> =
        serde_json::from_value(value.clone());
    assert!(
        parsed.is_ok(),
        "not a wire::ErrorEnvelope: {value}: {:?}",
        parsed.err()
    );
}

/// Send a request built on [`TestServer::client`] and parse its JSON answer.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Send raw bytes on a fresh connection and read until the server closes it.
/// Returns (status if a response arrived, head, body). Handles `Content-Length` bodies.
pub async fn raw_http(base: &str, request: &[u8]) -> (Option<u16>, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before it has read everything we send.
    let _ = stream.write_all(request).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                if let Some(len) = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                {
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "server neither answered nor closed within 10 s"
    );
    let Some(end) = find(&buf, b"\r\n\r\n") else {
        return (None, String::new(), buf);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    (status, head, buf[end + 4..].to_vec())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Everything the process logs (JSON, every level), from [`LogCapture::install`] on. Once per
/// test binary: it installs the global subscriber.
#[derive(Default)]
pub struct LogCapture(keyshift_core::testing::SharedBuffer);

impl LogCapture {
    pub fn install() -> LogCapture {
        let capture = LogCapture::default();
        let writer = capture.0.clone();
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .init();
        capture
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.bytes()).unwrap()
    }
}
