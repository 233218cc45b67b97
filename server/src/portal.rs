//! The self-service key portal over HTTP (issue 16): the page and its assets, the code
//! exchange, and the end-user routes of a portal session.
//!
//! - `GET /portal` → the page (embedded `server/portal/index.html`); with `?code=pst_…` it
//!   exchanges the code, sets the session cookie and answers `303 See Other` to `/portal`
//!   (a bad code is a 401 page). `GET /portal/assets/keyshift-keys.js` and
//!   `/portal/assets/portal.css` → the embedded assets.
//! - `POST /v2/portal.exchangeCode {code}` → `{accessToken, expiresAt}` and the cookie.
//! - `POST /v2/portal.<route>` for every [`PortalRoute`], authenticated by the cookie
//!   `keyshift_portal` or `Authorization: Bearer pat_…`. With the cookie, mutating routes need
//!   `X-Keyshift-CSRF` equal to the session's CSRF token and, when `Origin` is sent, an origin
//!   that is the server's own or a configured portal origin (else 403).
//! - CORS (with credentials) only for the configured portal origins; preflights answer 204.
//! - Every portal answer carries a strict Content-Security-Policy, `nosniff` and
//!   `Referrer-Policy: no-referrer`; the HTML `Cache-Control: no-store`.
//!
//! No root key is involved in anything here.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyshift_core::{Error, ErrorCode, SecretKey};
use keyshift_engine::{PortalRoute, PortalSessionCtx};

use crate::headers::{body_timed_out, check_content_type, content_length, too_large};
use crate::request_id::request_id;
use crate::{problem, AppState, Problem, UNKEY_ERRORS};

/// The session cookie's name.
pub const PORTAL_COOKIE: &str = "keyshift_portal";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-keyshift-csrf";

const INDEX_HTML: &str = include_str!("../portal/index.html");
const KEYS_JS: &str = include_str!("../portal/keyshift-keys.js");
const PORTAL_CSS: &str = include_str!("../portal/portal.css");

/// The portal settings of a server.
#[derive(Clone, Debug, Default)]
pub(crate) struct PortalSettings {
    /// `https://keys.example.com`: the base of session URLs and the server's own origin.
    pub public_url: Option<String>,
    /// Other origins that may embed the portal and call its routes with credentials.
    pub origins: Vec<String>,
}

impl PortalSettings {
    /// The public base (`scheme://host[:port]`) of a request: the configured public URL, else
    /// `http://` + its `Host`.
    pub(crate) fn base_of(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    }

    /// The server's own origin as a request sees it.
    fn own_origin(&self, headers: &HeaderMap) -> String {
        origin_of(&self.base_of(headers))
    }

    fn allows_cors(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|o| o.trim_end_matches('/') == origin)
    }

    fn csp(&self) -> String {
        let mut ancestors = String::from("'self'");
        for o in &self.origins {
            ancestors.push(' ');
            ancestors.push_str(o.trim_end_matches('/'));
        }
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'"
        )
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    )
}

/// Whether a request reached the server by a loopback name over plain http (the only case the
/// cookie goes without `Secure`).
fn plain_loopback(settings: &PortalSettings, headers: &HeaderMap) -> bool {
    if settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        return false;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn set_cookie(settings: &PortalSettings, headers: &HeaderMap, value: &str, max_age: i64) -> String {
    let secure = if plain_loopback(settings, headers) {
        ""
    } else {
        "; Secure"
    };
    format!(
        "{PORTAL_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        max_age.max(0)
    )
}

/// The security headers of every portal answer.
fn secure_headers(settings: &PortalSettings, resp: &mut Response) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&settings.csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    set_static(resp, fixed);
}

/// Set each header `name` of `resp` to the fixed `value`.
fn set_static<const N: usize>(resp: &mut Response, headers: [(HeaderName, &'static str); N]) {
    let h = resp.headers_mut();
    for (name, value) in headers {
        h.insert(name, HeaderValue::from_static(value));
    }
}

/// CORS headers for an allowed `Origin`.
fn cors(settings: &PortalSettings, req_headers: &HeaderMap, resp: &mut Response) {
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = req_headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    else {
        return;
    };
    if !settings.allows_cors(origin) {
        return;
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// The 403 of a refused CSRF check.
fn csrf_refused(why: &str) -> Problem {
    Problem::new(
        403,
        format!("{UNKEY_ERRORS}unkey/authorization/forbidden"),
        format!("cross-site request refused: {why}"),
    )
}

fn html(status: StatusCode, body: &'static str) -> Response {
    let mut resp = (status, body).into_response();
    let fixed = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    set_static(&mut resp, fixed);
    resp
}

const EXPIRED_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Link expired</title><link rel=\"stylesheet\" href=\"/portal/assets/portal.css\"></head>\
<body><main><h1>This link has expired</h1><p>Portal links work once and only for a short \
time. Go back to the application and open the key portal again.</p></main></body></html>";

/// `GET /portal` (with or without `?code=`).
pub(crate) async fn page(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let settings = &st.portal;
    let code = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "code")
            .map(|(_, v)| SecretKey::new(v))
    });
    let mut resp = match code {
        None => html(StatusCode::OK, INDEX_HTML),
        Some(code) => {
            let engine = st.engine.clone();
            let exchanged =
                tokio::task::spawn_blocking(move || engine.portal_exchange(code.expose())).await;
            match exchanged {
                Ok(Ok(x)) => {
                    let mut resp = StatusCode::SEE_OTHER.into_response();
                    let max_age = (x.expires_at - now_ms()) / 1000;
                    let cookie =
                        set_cookie(settings, req.headers(), x.access_token.expose(), max_age);
                    let fixed = [
                        (header::LOCATION, "/portal"),
                        (header::CACHE_CONTROL, "no-store"),
                    ];
                    set_static(&mut resp, fixed);
                    if let Ok(v) = HeaderValue::from_str(&cookie) {
                        resp.headers_mut().insert(header::SET_COOKIE, v);
                    }
                    resp
                }
                Ok(Err(e)) if e.code == ErrorCode::Unauthorized => {
                    html(StatusCode::UNAUTHORIZED, EXPIRED_HTML)
                }
                _ => html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>The portal could not start.</p>",
                ),
            }
        }
    };
    secure_headers(settings, &mut resp);
    resp
}

/// `GET /portal/assets/<file>`.
pub(crate) async fn asset(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let (body, content_type) = match req.uri().path() {
        "/portal/assets/keyshift-keys.js" => (KEYS_JS, "text/javascript; charset=utf-8"),
        "/portal/assets/portal.css" => (PORTAL_CSS, "text/css; charset=utf-8"),
        _ => return crate::routes::not_found(req).await,
    };
    let mut resp = body.into_response();
    // Assets change with the binary; revalidated after 5 minutes.
    let fixed = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "public, max-age=300"),
    ];
    set_static(&mut resp, fixed);
    secure_headers(&st.portal, &mut resp);
    // The embeddable element may be loaded by a configured origin.
    cors(&st.portal, req.headers(), &mut resp);
    resp
}

/// `OPTIONS /v2/portal.*`: CORS preflight, for configured portal origins only.
pub(crate) async fn preflight(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let rid = request_id(&req);
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .unwrap_or("");
    if !st.portal.allows_cors(origin) {
        return Problem::new(
            403,
            format!("{UNKEY_ERRORS}unkey/authorization/forbidden"),
            "this origin may not call the portal routes",
        )
        .into_response(&rid);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    cors(&st.portal, req.headers(), &mut resp);
    let fixed = [
        (header::ACCESS_CONTROL_ALLOW_METHODS, "POST"),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "content-type, x-keyshift-csrf, authorization",
        ),
        (header::ACCESS_CONTROL_MAX_AGE, "600"),
    ];
    set_static(&mut resp, fixed);
    resp
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads a JSON body under the server's limits.
async fn read_body(
    st: &AppState,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Result<axum::body::Bytes, Problem> {
    if content_length(&parts.headers).is_some_and(|n| n > st.body_limit as u64) {
        return Err(too_large(st.body_limit));
    }
    check_content_type(&parts.headers)?;
    tokio::time::timeout(st.body_timeout, axum::body::to_bytes(body, st.body_limit))
        .await
        .map_err(|_| body_timed_out(st.body_timeout))?
        .map_err(|_| too_large(st.body_limit))
}

/// The session credential of a request: the bearer token (API use) or the cookie (browser).
enum Credential {
    Bearer(SecretKey),
    Cookie(SecretKey),
}

fn credential(headers: &HeaderMap) -> Option<Credential> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = v
            .trim()
            .strip_prefix("Bearer ")
            .map(str::trim)
            .unwrap_or("");
        return Some(Credential::Bearer(SecretKey::new(token)));
    }
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                if name == PORTAL_COOKIE && !value.is_empty() {
                    return Some(Credential::Cookie(SecretKey::new(value)));
                }
            }
        }
    }
    None
}

/// A portal error as a problem: 401s carry Unkey's portal codes (`portal_token_missing`
/// without a credential, `portal_session_not_found` for a bad code or token).
fn portal_problem(err: &Error, op: &str) -> Problem {
    let mut p = Problem::from_error(err, op);
    if err.code == ErrorCode::Unauthorized {
        p.kind = format!("{UNKEY_ERRORS}unkey/authentication/portal_session_not_found");
    }
    p
}

fn token_missing() -> Problem {
    let mut p = Problem::from_error(
        &Error::new(
            ErrorCode::Unauthorized,
            "no portal session: send the session cookie or `Authorization: Bearer pat_…`",
        ),
        "portal",
    );
    p.kind = format!("{UNKEY_ERRORS}unkey/authentication/portal_token_missing");
    p
}

fn spawn_failed(e: tokio::task::JoinError) -> Problem {
    Problem::new(
        500,
        format!("{UNKEY_ERRORS}unkey/application/unexpected_error"),
        format!("the operation did not complete: {e}"),
    )
}

/// `POST /v2/portal.exchangeCode`.
pub(crate) async fn exchange(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let rid = request_id(&req);
    let (parts, body) = req.into_parts();
    let result = async {
        let body = read_body(&st, &parts, body).await?;
        let engine = st.engine.clone();
        tokio::task::spawn_blocking(move || engine.portal_exchange_body(&body))
            .await
            .map_err(spawn_failed)?
            .map_err(|e| portal_problem(&e, "portal.exchangeCode"))
    }
    .await;
    let mut resp = match result {
        Ok(x) => {
            let data = keyshift_core::wire::ExchangeCodeResponseData {
                access_token: x.access_token.clone(),
                expires_at: x.expires_at,
            };
            let mut resp = problem::success(&rid, &data, None::<&()>);
            let max_age = (x.expires_at - now_ms()) / 1000;
            let cookie = set_cookie(&st.portal, &parts.headers, x.access_token.expose(), max_age);
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(p) => p.into_response(&rid),
    };
    secure_headers(&st.portal, &mut resp);
    cors(&st.portal, &parts.headers, &mut resp);
    resp
}

/// `POST /v2/portal.<route>`: a session route.
pub(crate) async fn handle(st: Arc<AppState>, route: PortalRoute, req: Request) -> Response {
    let rid = request_id(&req);
    let (parts, body) = req.into_parts();
    let result = run(&st, route, &parts, body).await;
    let mut resp = match result {
        Ok(reply) => {
            let mut resp = problem::success(&rid, &reply.data, reply.pagination.as_ref());
            if route == PortalRoute::Logout {
                let cookie = set_cookie(&st.portal, &parts.headers, "", 0);
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    resp.headers_mut().insert(header::SET_COOKIE, v);
                }
            }
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(p) => {
            if p.status >= 500 {
                tracing::error!(request_id = %rid, op = route.name(), status = p.status, detail = %p.detail, "portal route failed");
            }
            p.into_response(&rid)
        }
    };
    secure_headers(&st.portal, &mut resp);
    cors(&st.portal, &parts.headers, &mut resp);
    resp
}

async fn run(
    st: &AppState,
    route: PortalRoute,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Result<keyshift_engine::Reply, Problem> {
    let body = read_body(st, parts, body).await?;
    let Some(cred) = credential(&parts.headers) else {
        return Err(token_missing());
    };
    let (token, by_cookie) = match cred {
        Credential::Bearer(t) => (t, false),
        Credential::Cookie(t) => (t, true),
    };
    let engine = st.engine.clone();
    let session: PortalSessionCtx =
        tokio::task::spawn_blocking(move || engine.portal_authenticate(token.expose()))
            .await
            .map_err(spawn_failed)?
            .map_err(|e| portal_problem(&e, route.name()))?;
    if by_cookie && route.is_mutating() {
        check_csrf(&st.portal, &parts.headers, &session)?;
    }
    let engine = st.engine.clone();
    tokio::task::spawn_blocking(move || engine.portal_call(&session, route, &body))
        .await
        .map_err(spawn_failed)?
        .map_err(|e| portal_problem(&e, route.name()))
}

/// The CSRF token header and, when sent, the `Origin`.
fn check_csrf(
    settings: &PortalSettings,
    headers: &HeaderMap,
    session: &PortalSessionCtx,
) -> Result<(), Problem> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let own = settings.own_origin(headers);
        if origin != own && !settings.allows_cors(origin) {
            return Err(csrf_refused("the Origin is not this portal's"));
        }
    }
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if presented.is_empty() {
        return Err(csrf_refused("the X-Keyshift-CSRF header is missing"));
    }
    if !session.csrf_matches(presented) {
        return Err(csrf_refused("the X-Keyshift-CSRF token is wrong"));
    }
    Ok(())
}

/// Rewrites the `url` of a `portal.createSession` answer (a path) into an absolute URL on the
/// public base of the request.
pub(crate) fn absolute_session_url(
    settings: &PortalSettings,
    headers: &HeaderMap,
    data: &mut serde_json::Value,
) {
    if let Some(url) = data.get_mut("url") {
        if let Some(path) = url.as_str().filter(|u| u.starts_with('/')) {
            *url = serde_json::Value::String(format!("{}{path}", settings.base_of(headers)));
        }
    }
}
