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
//! Routes: `POST /v2/{op}` for every [`keyshift_core::wire::Op`],
//! `GET /v2/liveness`, `GET /openapi.json`, and the self-service key portal (`portal`): `GET
//! /portal`, `GET /portal/assets/{file}`, `POST /v2/portal.exchangeCode` and `POST
//! /v2/portal.<route>` for every [`keyshift_engine::PortalRoute`] (session auth, not root keys). Every answer carries `X-Request-Id` (also
//! `X-Unkey-Request-Id`), the same id as `meta.requestId` in the body. The test-only fault switch
//! is described in [`faults`].
//!
//! Layout: this file has the configuration and the router; `serve` the serving loop
//! ([`bind`], [`BoundServer::run`]); `routes` the handlers; `headers` what is read from request
//! headers (auth, content type, idempotency key, shown paths); `request_id` request ids and the
//! access log; `faults` the test-only fault switch; `problem` the answer envelopes.

pub mod faults;
mod headers;
mod portal;
mod problem;
mod request_id;
mod routes;
mod serve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use keyshift_core::wire::Op;
use keyshift_core::SecretKey;
use keyshift_engine::{Engine, PortalRoute};

pub use faults::{FaultSpec, FAULT_HEADER};
pub use portal::{CSRF_HEADER, PORTAL_COOKIE};
pub use problem::{Problem, RequestId, ERROR_CONTENT_TYPE, KEYSHIFT_ERRORS, UNKEY_ERRORS};
pub use serve::{bind, serve, shutdown_signal, BoundServer, DropConnection};

/// Unkey's request body limit, ours too (the engine's [`keyshift_core::wire::limits::BODY_MAX_BYTES`]).
pub const DEFAULT_BODY_LIMIT: usize = keyshift_core::wire::limits::BODY_MAX_BYTES;

/// The OpenAPI 3.1 document served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// How long in-flight requests get to finish after the shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client may take to send a request's body once its headers are in (408 after).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// SQLite file, or `:memory:`.
    pub db: String,
    /// Address to listen on; port 0 picks a free port (see [`BoundServer::local_addr`]).
    pub listen: SocketAddr,
    /// Root key to seed the first workspace with (instead of generating one).
    pub seed_root_key: Option<SecretKey>,
    /// What the served router does: body limit and timeout, the fault switch, idempotency,
    /// the portal's public URL and origins.
    pub router: RouterOptions,
    /// How long a portal exchange code stays valid (15 minutes).
    pub portal_code_ttl: Duration,
    /// How long a portal session lasts after its code is exchanged (24 hours).
    pub portal_session_ttl: Duration,
}

impl ServerConfig {
    pub fn new(db: impl Into<String>, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            db: db.into(),
            listen,
            seed_root_key: None,
            router: RouterOptions::default(),
            portal_code_ttl: keyshift_engine::DEFAULT_CODE_TTL,
            portal_session_ttl: keyshift_engine::DEFAULT_SESSION_TTL,
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
    body_timeout: Duration,
    faults: bool,
    fault_counters: faults::FaultCounters,
    idempotency: bool,
    portal: portal::PortalSettings,
}

/// Options of [`router`] (and [`ServerConfig::router`]).
#[derive(Clone, Debug)]
pub struct RouterOptions {
    /// Largest request body accepted, in bytes (413 above it).
    pub body_limit: usize,
    /// Longest wait for a request's body (408 after; a stalled upload cannot hold a
    /// connection forever).
    pub body_timeout: Duration,
    /// Test-only: honour the `X-Keyshift-Fault` header (see [`faults`]). Off by default.
    pub faults: bool,
    /// Replay the first answer for a repeated `Idempotency-Key` (DESIGN.md §4). On by
    /// default; off (`keyshift serve --no-idempotency`) the header is ignored, as Unkey's
    /// server does, for testing clients against that behaviour.
    pub idempotency: bool,
    /// The public base URL of the server (`https://keys.example.com`): the base of portal
    /// session URLs and the portal's own origin. `None`: the scheme and `Host` of each request.
    pub public_url: Option<String>,
    /// Other origins (`https://app.example.com`) that may embed the portal: answered CORS with
    /// credentials and allowed as `Origin` of mutating portal calls and in `frame-ancestors`.
    pub portal_origins: Vec<String>,
}

impl Default for RouterOptions {
    fn default() -> Self {
        RouterOptions {
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: BODY_READ_TIMEOUT,
            faults: false,
            idempotency: true,
            public_url: None,
            portal_origins: Vec::new(),
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
        body_timeout: options.body_timeout,
        faults: options.faults,
        fault_counters: faults::FaultCounters::default(),
        idempotency: options.idempotency,
        portal: portal::PortalSettings {
            public_url: options.public_url,
            origins: options.portal_origins,
        },
    });
    let mut app: Router<Arc<AppState>> = Router::new()
        .route("/v2/liveness", get(routes::liveness))
        .route("/openapi.json", get(routes::openapi))
        .route("/portal", get(portal::page))
        .route("/portal/assets/{file}", get(portal::asset))
        .route(
            "/v2/portal.exchangeCode",
            post(portal::exchange).options(portal::preflight),
        );
    for &route in PortalRoute::ALL {
        app = app.route(
            &format!("/v2/{}", route.name()),
            post(move |State(st): State<Arc<AppState>>, req: Request| {
                portal::handle(st, route, req)
            })
            .options(portal::preflight),
        );
    }
    // The operation name is parsed once, here: each route knows its `Op`.
    for &op in Op::ALL {
        app = app.route(
            &format!("/v2/{}", op.name()),
            post(move |State(st): State<Arc<AppState>>, req: Request| {
                routes::handle_op(st, op, req)
            }),
        );
    }
    app.method_not_allowed_fallback(routes::method_not_allowed)
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_id::observe,
        ))
        .with_state(state)
}
