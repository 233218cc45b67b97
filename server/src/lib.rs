//! keyshift-server: the HTTP front of [`keyshift_engine::Engine`], speaking the wire API of
//! DESIGN.md §4 (a Unkey v2 compatible subset).
//!
//! ```no_run
//! # async fn demo() -> keyshift_core::Result<()> {
//! use keyshift_server::{bind, ServerConfig};
//! let server = bind(ServerConfig::new(":memory:", "127.0.0.1:0".parse().unwrap())).await?;
//! println!("{} {:?}", server.base_url(), server.root_key());
//! server.run(keyshift_server::shutdown_signal()).await
//! # }
//! ```
//!
//! Routes: `POST /v2/{op}` for every op of [`keyshift_core::wire::OPERATIONS`],
//! `GET /v2/liveness`, `GET /openapi.json`. Every answer carries `X-Request-Id` (also
//! `X-Unkey-Request-Id`), the same id as `meta.requestId` in the body. The test-only fault switch
//! is described in [`faults`].

pub mod faults;
mod problem;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use keyshift_core::{Error, SecretKey};
use keyshift_engine::{Engine, Progress};
use tokio::net::TcpListener;
use tower::ServiceExt;

pub use faults::{FaultSpec, FAULT_HEADER};
pub use problem::{Problem, RequestId, ERROR_CONTENT_TYPE, KEYSHIFT_ERRORS, UNKEY_ERRORS};

/// Unkey's request body limit, ours too.
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// The OpenAPI 3.1 document served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// How long in-flight requests get to finish after the shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

const MAX_IDEMPOTENCY_KEY: usize = 255;

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// SQLite file, or `:memory:`.
    pub db: String,
    /// Address to listen on; port 0 picks a free port (see [`BoundServer::local_addr`]).
    pub listen: SocketAddr,
    /// Root key to seed the first workspace with (instead of generating one).
    pub seed_root_key: Option<SecretKey>,
    /// Largest request body accepted, in bytes (413 above it).
    pub body_limit: usize,
    /// Test-only: honour the `X-Keyshift-Fault` header (see [`faults`]). Off by default.
    pub faults: bool,
    /// Replay the first answer for a repeated `Idempotency-Key` (DESIGN.md §4). On by
    /// default; off (`keyshift serve --no-idempotency`) the header is ignored, as Unkey's
    /// server does, for testing clients against that behaviour.
    pub idempotency: bool,
}

impl ServerConfig {
    pub fn new(db: impl Into<String>, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            db: db.into(),
            listen,
            seed_root_key: None,
            body_limit: DEFAULT_BODY_LIMIT,
            faults: false,
            idempotency: true,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::new("keyshift.db", SocketAddr::from(([127, 0, 0, 1], 7070)))
    }
}

struct AppState {
    engine: Engine,
    body_limit: usize,
    faults: bool,
    fault_counters: faults::FaultCounters,
    idempotency: bool,
}

/// Options of [`router`].
#[derive(Clone, Debug)]
pub struct RouterOptions {
    pub body_limit: usize,
    pub faults: bool,
    /// See [`ServerConfig::idempotency`].
    pub idempotency: bool,
}

impl Default for RouterOptions {
    fn default() -> Self {
        RouterOptions {
            body_limit: DEFAULT_BODY_LIMIT,
            faults: false,
            idempotency: true,
        }
    }
}

/// The axum router of the wire API over `engine`, with request ids, access logs and (when
/// enabled) the fault switch. [`bind`] serves it; embed it yourself if you like (the `drop`
/// fault then needs [`DropConnection`] handling, see [`BoundServer::run`]).
pub fn router(engine: Engine, options: RouterOptions) -> Router {
    let state = Arc::new(AppState {
        engine,
        body_limit: options.body_limit,
        faults: options.faults,
        fault_counters: faults::FaultCounters::default(),
        idempotency: options.idempotency,
    });
    let mut app: Router<Arc<AppState>> = Router::new()
        .route("/v2/liveness", get(liveness))
        .route("/openapi.json", get(openapi));
    for &op in keyshift_core::wire::OPERATIONS.iter() {
        app = app.route(
            &format!("/v2/{op}"),
            post(move |State(st): State<Arc<AppState>>, req: Request| handle_op(st, op, req)),
        );
    }
    app.method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Marker extension on a response: close the connection instead of answering.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// A bound, not yet running server.
pub struct BoundServer {
    listener: TcpListener,
    addr: SocketAddr,
    root_key: Option<SecretKey>,
    engine: Engine,
    app: Router,
}

impl BoundServer {
    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The root key generated for the first workspace on first start; `None` when the database
    /// already had one or the key was seeded.
    pub fn root_key(&self) -> Option<&SecretKey> {
        self.root_key.as_ref()
    }

    /// The engine behind the server (e.g. to create more workspaces before running).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serve until `shutdown` completes, then stop accepting, let in-flight requests finish
    /// (up to [`SHUTDOWN_GRACE`]) and return.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> keyshift_core::Result<()> {
        let BoundServer { listener, app, .. } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // A client that opens a connection and never finishes its headers is cut off.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder.http2().timer(TokioTimer::new());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let app = app.clone();
                    async move {
                        let resp = match app.oneshot(req.map(Body::new)).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        };
                        if resp.extensions().get::<DropConnection>().is_some() {
                            Err(ConnectionDropped)
                        } else {
                            Ok(resp)
                        }
                    }
                });
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!("shutdown grace period over; closing remaining connections");
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for ConnectionDropped {}

/// Open the database, make sure a first workspace and root key exist, and bind the listener.
pub async fn bind(config: ServerConfig) -> keyshift_core::Result<BoundServer> {
    let ServerConfig {
        db,
        listen,
        seed_root_key,
        body_limit,
        faults,
        idempotency,
    } = config;
    let (engine, root_key) = tokio::task::spawn_blocking(move || {
        let engine = Engine::open(&db)?;
        let root_key = engine.ensure_bootstrap(seed_root_key.as_ref().map(|k| k.expose()))?;
        Ok::<_, Error>((engine, root_key))
    })
    .await
    .map_err(|e| Error::server(format!("startup task failed: {e}")))??;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::io(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener.local_addr()?;
    let app = router(
        engine.clone(),
        RouterOptions {
            body_limit,
            faults,
            idempotency,
        },
    );
    if faults {
        tracing::warn!(
            "fault injection is ENABLED (test-only): X-Keyshift-Fault headers are honoured"
        );
    }
    Ok(BoundServer {
        listener,
        addr,
        root_key,
        engine,
        app,
    })
}

/// [`bind`] then [`BoundServer::run`].
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> keyshift_core::Result<()> {
    bind(config).await?.run(shutdown).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this function is
/// called (not when the future is first polled), so a signal that arrives right after the call
/// is not lost and does not kill the process. Call it inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(int) => {}
                _ = wait(term) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await
            }
        }
    }
}

/// 12 random bytes per request id from a per-thread generator seeded once from the OS: request
/// ids are not secrets (never use this for keys), and a `getrandom` call per request costs a
/// syscall.
fn request_id_bytes() -> [u8; 12] {
    use std::cell::Cell;
    /// SplitMix64 step: a bijection of the counter, so ids from one thread never repeat
    /// within 2^64 draws; threads start at independent random points.
    fn splitmix(state: &Cell<u64>) -> u64 {
        let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn seed() -> [u64; 2] {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // Not a secret: fall back to time, a counter and the thread.
            use std::sync::atomic::{AtomicU64, Ordering};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            bytes[..8].copy_from_slice(&nanos.to_le_bytes());
            bytes[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        }
        let (a, b) = bytes.split_at(8);
        [
            u64::from_le_bytes(a.try_into().expect("8 bytes")),
            u64::from_le_bytes(b.try_into().expect("8 bytes")),
        ]
    }
    thread_local! {
        static STATE: [Cell<u64>; 2] = {
            let [a, b] = seed();
            [Cell::new(a), Cell::new(b)]
        };
    }
    STATE.with(|[a, b]| {
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&splitmix(a).to_le_bytes());
        bytes[8..].copy_from_slice(&splitmix(b).to_le_bytes()[..4]);
        bytes
    })
}

fn new_request_id() -> String {
    let bytes = request_id_bytes();
    let mut out = String::with_capacity(4 + 24);
    out.push_str("req_");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// Request id, fault switch and access log around every request.
async fn observe(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid = new_request_id();
    req.extensions_mut().insert(RequestId(rid.clone()));
    let method = req.method().clone();
    let path = shown_path(req.uri().path());

    let mut after_dispatch = None;
    let mut failed_null = false;
    let mut faulted = None;
    if st.faults {
        if let Some(value) = req.headers().get(FAULT_HEADER) {
            match fault_decision(&st, &rid, value, req.headers()).await {
                Ok(FaultAction::None) => {}
                Ok(FaultAction::AfterDispatch(status)) => after_dispatch = Some(status),
                Ok(FaultAction::FailedNull) => failed_null = true,
                Ok(FaultAction::Answer(resp)) => faulted = Some(resp),
                Err(p) => faulted = Some(p.into_response(&rid)),
            }
        }
    }

    let mut resp = match faulted {
        Some(resp) => resp,
        None => {
            let resp = next.run(req).await;
            match after_dispatch {
                Some(status) => {
                    tracing::info!(request_id = %rid, dispatched_status = resp.status().as_u16(), "fault: answer discarded after dispatch");
                    fault_problem(status, None, None).into_response(&rid)
                }
                None if failed_null => null_empty_failed(resp, st.body_limit).await,
                None => resp,
            }
        }
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-request-id", v.clone());
        resp.headers_mut().insert("x-unkey-request-id", v);
    }
    let dropped = resp.extensions().get::<DropConnection>().is_some();
    tracing::info!(
        target: "keyshift_server::access",
        request_id = %rid,
        method = %method,
        path = %path,
        op = path.strip_prefix("/v2/").unwrap_or(""),
        status = resp.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        dropped,
        "request"
    );
    resp
}

enum FaultAction {
    None,
    AfterDispatch(u16),
    FailedNull,
    Answer(Response),
}

/// The `failed-null` fault: a 200 answer whose `data.failed` is `[]` says `null` instead, as
/// Unkey's migrateKeys does when nothing failed.
async fn null_empty_failed(resp: Response, limit: usize) -> Response {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit.saturating_mul(2)).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let rewritten = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|mut v| {
            let failed = v.get_mut("data")?.get_mut("failed")?;
            if failed.as_array().is_some_and(|a| a.is_empty()) {
                *failed = serde_json::Value::Null;
            }
            serde_json::to_vec(&v).ok()
        });
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        Body::from(rewritten.unwrap_or_else(|| bytes.to_vec())),
    )
}

async fn fault_decision(
    st: &AppState,
    rid: &str,
    value: &HeaderValue,
    headers: &HeaderMap,
) -> Result<FaultAction, Problem> {
    let bad = |detail: String| {
        Problem::bad_request(
            "unkey/application/invalid_input",
            "header.X-Keyshift-Fault",
            detail,
        )
    };
    let raw = value
        .to_str()
        .map_err(|_| bad("X-Keyshift-Fault must be visible ASCII".into()))?;
    let spec = FaultSpec::parse(raw).map_err(bad)?;
    if let Some(n) = spec.fail_first {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(|k| format!("idem:{k}"))
            .unwrap_or_else(|| format!("spec:{raw}"));
        if st.fault_counters.next_attempt(&key) > n {
            return Ok(FaultAction::None);
        }
    }
    if let Some(ms) = spec.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if spec.drop {
        let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        resp.extensions_mut().insert(DropConnection);
        return Ok(FaultAction::Answer(resp));
    }
    if let Some(status) = spec.status {
        return Ok(FaultAction::Answer(
            fault_problem(status, spec.retry_after, spec.retry_after_ms).into_response(rid),
        ));
    }
    if let Some(status) = spec.after_dispatch_status {
        return Ok(FaultAction::AfterDispatch(status));
    }
    if spec.failed_null {
        return Ok(FaultAction::FailedNull);
    }
    Ok(FaultAction::None)
}

fn fault_problem(status: u16, retry_after: Option<u64>, retry_after_ms: Option<u64>) -> Problem {
    let mut p = Problem::keyshift(
        status,
        "fault_injected",
        format!("fault injected by X-Keyshift-Fault (status {status})"),
    );
    p.retry_after = retry_after;
    p.retry_after_ms = retry_after_ms;
    p
}

fn request_id(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(new_request_id)
}

async fn liveness(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let rid = request_id(&req);
    let engine = st.engine.clone();
    match tokio::task::spawn_blocking(move || engine.liveness()).await {
        Ok(Ok(())) => problem::success(
            &rid,
            &serde_json::json!({"message": "OK"}),
            None::<&serde_json::Value>,
        ),
        Ok(Err(e)) => {
            let mut p = Problem::from_error(&e, "liveness");
            p.status = 503;
            p.kind = format!("{UNKEY_ERRORS}unkey/application/service_unavailable");
            p.into_response(&rid)
        }
        Err(e) => Problem::new(
            500,
            format!("{UNKEY_ERRORS}unkey/application/unexpected_error"),
            format!("liveness check failed: {e}"),
        )
        .into_response(&rid),
    }
}

async fn openapi() -> Response {
    let mut resp = OPENAPI_JSON.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn not_found(req: Request) -> Response {
    let rid = request_id(&req);
    let path = shown_path(req.uri().path());
    Problem::keyshift(
        404,
        "route_not_found",
        format!(
            "no route {} {path}; operations are POST /v2/<group>.<op> (see GET /openapi.json)",
            req.method()
        ),
    )
    .into_response(&rid)
}

async fn method_not_allowed(req: Request) -> Response {
    let rid = request_id(&req);
    let path = req.uri().path();
    let allow = if path == "/v2/liveness" || path == "/openapi.json" {
        "GET"
    } else {
        "POST"
    };
    let mut resp = Problem::keyshift(
        405,
        "method_not_allowed",
        format!("{path} accepts {allow} only, not {}", req.method()),
    )
    .into_response(&rid);
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        413,
        format!("{UNKEY_ERRORS}user/bad_request/request_body_too_large"),
        format!("the request body exceeds the limit of {limit} bytes"),
    )
}

/// The 400 for a request without `Authorization`, as Unkey's request validator answers it
/// (`invalid_input`, before anything else is looked at).
fn missing_authorization() -> Problem {
    let mut p = Problem::new(
        400,
        format!("{UNKEY_ERRORS}unkey/application/invalid_input"),
        "Authorization header for 'bearer' scheme",
    );
    p.errors.push(keyshift_core::FieldError {
        location: "header.Authorization".into(),
        message: "the Authorization header is missing; send `Authorization: Bearer <root key>`"
            .into(),
    });
    p
}

/// `Authorization: Bearer <root key>` → the root key, or the 400 for a malformed header
/// (`authentication/malformed`). A missing header is [`missing_authorization`].
fn bearer(headers: &HeaderMap) -> Result<SecretKey, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(missing_authorization());
    };
    let malformed = || {
        Problem::bad_request(
            "unkey/authentication/malformed",
            "header.Authorization",
            "You must provide a valid root key in the Authorization header in the format \
             'Bearer ROOT_KEY': the header is malformed or its token is empty.",
        )
    };
    // As Unkey's parser: `Bearer ` exactly (case-sensitive), then the trimmed token. A token
    // that is no root key (e.g. one with a space inside) is simply unknown: 401.
    let value = value.to_str().map_err(|_| malformed())?;
    let token = value
        .trim()
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(malformed)?;
    if token.is_empty() {
        return Err(malformed());
    }
    Ok(SecretKey::new(token))
}

/// A Content-Type as error messages show it: its `type/subtype` when that is a media type
/// (a registered top-level type and a short token), else masked: header text could be a key.
fn shown_content_type(value: &str) -> String {
    const TOP_LEVEL: [&str; 10] = [
        "application",
        "audio",
        "example",
        "font",
        "image",
        "message",
        "model",
        "multipart",
        "text",
        "video",
    ];
    let essence = value.split(';').next().unwrap_or("").trim();
    let media_type = essence.split_once('/').is_some_and(|(top, sub)| {
        TOP_LEVEL.contains(&top.to_ascii_lowercase().as_str())
            && !sub.is_empty()
            && sub.len() <= 64
            && sub
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    });
    if media_type {
        essence.to_string()
    } else {
        keyshift_core::keyformat::shown_name(essence)
    }
}

/// A request path as answers and logs show it: `v2`, operation names (`keys.verifyKey`, or
/// anything of that shape made of plain words) and plain words as they are, every other
/// segment masked: a path could carry a key (`/v2/keys/sk_live_…`).
pub(crate) fn shown_path(path: &str) -> String {
    use keyshift_core::keyformat::shown_name;
    path.chars()
        .take(200)
        .collect::<String>()
        .split('/')
        .map(|segment| {
            let plain = |word: &str| shown_name(word) == word;
            let shown = segment.is_empty()
                || segment == "v2"
                || segment == "openapi.json"
                || plain(segment)
                || segment
                    .split_once('.')
                    .is_some_and(|(group, op)| plain(group) && plain(op));
            if shown {
                segment.to_string()
            } else {
                shown_name(segment)
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(()); // lenient: the body must still be JSON
    };
    let ok = value
        .to_str()
        .ok()
        .map(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        let shown = shown_content_type(&String::from_utf8_lossy(value.as_bytes()));
        Err(Problem::bad_request(
            "unkey/application/invalid_input",
            "header.Content-Type",
            format!(
                "the request body must be JSON (Content-Type: application/json), got `{shown}`"
            ),
        ))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = |detail: &str| {
        Problem::bad_request(
            "unkey/application/invalid_input",
            "header.Idempotency-Key",
            detail,
        )
    };
    let key = value
        .to_str()
        .map_err(|_| bad("Idempotency-Key must be visible ASCII"))?
        .trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(bad("Idempotency-Key must be 1 to 255 characters"));
    }
    Ok(Some(key.to_string()))
}

async fn handle_op(st: Arc<AppState>, op: &'static str, req: Request) -> Response {
    let rid = request_id(&req);
    match run_op(&st, op, req).await {
        Ok(resp) => resp(&rid),
        Err(p) => {
            if p.status >= 500 {
                tracing::error!(request_id = %rid, op, status = p.status, detail = %p.detail, "operation failed");
            }
            p.into_response(&rid)
        }
    }
}

type Answer = Box<dyn FnOnce(&str) -> Response + Send>;

async fn run_op(st: &AppState, op: &'static str, req: Request) -> Result<Answer, Problem> {
    let (parts, body) = req.into_parts();
    if content_length(&parts.headers).is_some_and(|n| n > st.body_limit as u64) {
        return Err(too_large(st.body_limit));
    }
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(missing_authorization());
    }
    check_content_type(&parts.headers)?;
    let idem = idempotency_key(&parts.headers)?.filter(|_| st.idempotency);
    let body = axum::body::to_bytes(body, st.body_limit)
        .await
        .map_err(|e| {
            let inner = e.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                too_large(st.body_limit)
            } else {
                Problem::bad_request(
                    "unkey/application/invalid_input",
                    "body",
                    format!("could not read the request body: {inner}"),
                )
            }
        })?;
    // Unkey validates the body before it authenticates: a malformed header or an unknown root
    // key with an invalid body is the body's 400. Checked only on those error paths.
    let body_first = |auth: Problem, body: &[u8]| match keyshift_engine::validate_request(op, body)
    {
        Err(e) => Problem::from_error(&e, op),
        Ok(()) => auth,
    };
    let root_key = match bearer(&parts.headers) {
        Ok(k) => k,
        Err(p) => return Err(body_first(p, &body)),
    };
    let kept = body.clone(); // a reference count, not a copy
                             // Verifications that only read finish right here; everything that may block (writes,
                             // bcrypt, a root key not seen yet) runs on the blocking pool.
    let result = match st.engine.start(root_key, op, body, idem) {
        Progress::Done(result) => result,
        Progress::Blocking(rest) => tokio::task::spawn_blocking(move || rest.run())
            .await
            .map_err(|e| {
                Problem::new(
                    500,
                    format!("{UNKEY_ERRORS}unkey/application/unexpected_error"),
                    format!("the operation did not complete: {e}"),
                )
            })?,
    };
    match result {
        Ok(reply) => Ok(Box::new(move |rid: &str| {
            problem::success(rid, &reply.data, reply.pagination.as_ref())
        })),
        Err(e) if e.code == keyshift_core::ErrorCode::Unauthorized => {
            Err(body_first(Problem::from_error(&e, op), &kept))
        }
        Err(e) => {
            let mut p = Problem::from_error(&e, op);
            if is_query_syntax_error(op, &e, &kept) {
                p.kind = format!("{UNKEY_ERRORS}user/bad_request/permissions_query_syntax_error");
                // The parser's own words, as Unkey's detail (not a schema failure).
                if let Some(first) = p.errors.first() {
                    p.detail = format!("invalid permissions query: {}", first.message);
                }
            }
            Err(p)
        }
    }
}

/// Whether `err` refuses the `permissions` query of a `keys.verifyKey` for its syntax (Unkey's
/// `permissions_query_syntax_error`), not for the schema (a wrong type or length).
fn is_query_syntax_error(op: &str, err: &Error, body: &[u8]) -> bool {
    if op != "keys.verifyKey"
        || err.code != keyshift_core::ErrorCode::BadRequest
        || err.field.as_deref() != Some("body.permissions")
    {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Query {
        permissions: String,
    }
    serde_json::from_slice::<Query>(body).is_ok_and(|q| {
        let n = q.permissions.chars().count();
        (1..=keyshift_core::wire::limits::PERMISSION_QUERY_MAX_LEN).contains(&n)
            && keyshift_core::query::parse_permission_query(&q.permissions).is_err()
    })
}

#[cfg(test)]
mod tests {
    use super::new_request_id;
    use std::collections::HashSet;

    #[test]
    fn request_ids_are_well_formed_and_unique_across_threads() {
        let per_thread: Vec<Vec<String>> = (0..4)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| new_request_id()).collect()))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let mut seen = HashSet::new();
        for id in per_thread.iter().flatten() {
            assert_eq!(id.len(), 28, "{id}");
            assert!(id.starts_with("req_"), "{id}");
            assert!(id[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(seen.insert(id.clone()), "duplicate request id {id}");
        }
        // two threads do not start from the same point
        assert_ne!(per_thread[0][0], per_thread[1][0]);
    }
}
