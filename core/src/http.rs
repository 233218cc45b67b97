//! The HTTP backend: one pooled keep-alive reqwest client per [`crate::Client`], the retry
//! rules of DESIGN.md §4, and the mapping of problem+json answers to [`crate::Error`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};

use crate::backend::{Backend, CallOptions, Reply};
use crate::error::{Error, ErrorCode};
use crate::retry::{parse_retry_after, RetryPolicy};
use crate::wire::{ErrorEnvelope, Meta, Op, Pagination, Problem, SuccessEnvelope};
use crate::{Result, SecretKey};

/// Defaults of DESIGN.md §4: 5 s per attempt, 15 s in all, 3 attempts.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15);

/// Settings of an [`HttpBackend`]; built by [`crate::ClientBuilder`]. Its `Debug` masks the
/// root key and the values of the extra headers (they may be a proxy's credentials).
#[derive(Clone)]
pub struct HttpConfig {
    pub base_url: String,
    pub root_key: SecretKey,
    pub timeout: Duration,
    pub deadline: Duration,
    pub retry: RetryPolicy,
    pub user_agent: String,
    /// Extra headers sent on every request (tracing ids, a proxy's auth, test fault specs).
    pub headers: Vec<(String, String)>,
}

crate::redacted_debug!(HttpConfig {
    base_url,
    root_key,
    timeout,
    deadline,
    retry,
    user_agent,
    headers => MaskedHeaders,
});

/// Extra headers shown as `name: ***` (their values may be credentials).
struct MaskedHeaders<'a>(&'a [(String, String)]);

impl std::fmt::Debug for MaskedHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "***")))
            .finish()
    }
}

pub struct HttpBackend {
    http: reqwest::Client,
    config: HttpConfig,
    timers: AttemptTimers,
    /// `<base_url>/v2/<op>` of every operation, parsed once, in [`Op::ALL`] order (which is
    /// declaration order, so `op as usize` indexes it): formatting and parsing the URL on
    /// every call cost ~2 µs of client CPU (issue 15).
    urls: Vec<reqwest::Url>,
}

impl std::fmt::Debug for HttpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBackend")
            .field("base_url", &self.config.base_url)
            .field("root_key", &self.config.root_key)
            .finish()
    }
}

impl HttpBackend {
    pub fn new(config: HttpConfig) -> Result<Self> {
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid_input(
                "base_url",
                "base_url must start with http:// or https://",
            ));
        }
        if config.root_key.is_empty() {
            return Err(Error::invalid_input("root_key", "root_key is empty"));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.root_key.expose()))
            .map_err(|_| {
                Error::invalid_input(
                    "root_key",
                    "root_key has characters not allowed in a header",
                )
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let user_agent = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            Error::invalid_input("user_agent", "user agent is not a valid header value")
        })?;
        headers.insert(USER_AGENT, user_agent);
        for (name, value) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::invalid_input("headers", format!("`{name}` is not a valid header name"))
            })?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                Error::invalid_input(
                    "headers",
                    format!("value of `{name}` is not a valid header value"),
                )
            })?;
            // Kept out of reqwest's and hyper's own Debug output too.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| {
                Error::new(ErrorCode::Network, format!("cannot build HTTP client: {e}"))
            })?;
        let urls = Op::ALL
            .iter()
            .map(|op| {
                reqwest::Url::parse(&format!("{base}/v2/{op}")).map_err(|e| {
                    Error::invalid_input("base_url", format!("base_url is not a valid URL: {e}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let config = HttpConfig {
            base_url: base.to_string(),
            ..config
        };
        Ok(HttpBackend {
            http,
            config,
            timers: AttemptTimers::default(),
            urls,
        })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    async fn attempt(
        &self,
        op: &str,
        url: &reqwest::Url,
        body: &bytes::Bytes,
        options: &CallOptions,
        timeout: Duration,
    ) -> std::result::Result<Reply, Attempt> {
        let mut request = self.http.post(url.clone()).body(body.clone());
        if let Some(key) = &options.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        // The per-attempt timeout covers sending, the answer's head and its body.
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers();
            let header_request_id = header_str(headers, "x-request-id")
                .or_else(|| header_str(headers, "unkey-request-id"))
                .map(str::to_string);
            let hint = parse_retry_after(
                header_str(headers, "retry-after"),
                header_str(headers, "retry-after-ms"),
            );
            let bytes = response.bytes().await?;
            Ok((status, header_request_id, hint, bytes))
        };
        let (status, header_request_id, hint, bytes) =
            match self.timers.within(timeout, exchange).await {
                Some(Ok(answer)) => answer,
                Some(Err(err)) => return Err(Attempt::from_transport(err)),
                None => return Err(Attempt::timed_out(op, timeout)),
            };
        if (200..300).contains(&status) {
            // Whatever is wrong with a 2xx answer, the call took effect: never sent again.
            return parse_success(&bytes, header_request_id).map_err(|error| Attempt {
                error: Error {
                    message: Error::took_effect(op, status, &error.message).message,
                    status: Some(status),
                    ..error
                },
                hint: None,
            });
        }
        Err(Attempt {
            error: parse_problem(status, &bytes, header_request_id, hint),
            hint,
        })
    }
}

/// One failed attempt: the error (whose `not_sent` tells whether the request may have reached
/// the server) and the server's wait hint.
struct Attempt {
    error: Error,
    hint: Option<Duration>,
}

impl Attempt {
    /// The attempt's timeout passed: the request may have reached the server.
    fn timed_out(op: &str, timeout: Duration) -> Attempt {
        Attempt {
            error: Error::new(
                ErrorCode::Timeout,
                format!("{op}: no complete answer within the {timeout:?} attempt timeout"),
            ),
            hint: None,
        }
    }

    fn from_transport(err: reqwest::Error) -> Attempt {
        // reqwest's Display of an error includes the URL but never headers or bodies.
        // A connect error (refused, DNS, TLS, connect timeout) happened before the request
        // was written; anything else may have reached the server.
        let sent = !err.is_connect();
        let code = if err.is_timeout() {
            ErrorCode::Timeout
        } else {
            ErrorCode::Network
        };
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        let mut error = Error::new(code, message);
        error.not_sent = !sent;
        Attempt { error, hint: None }
    }

    /// Whether DESIGN.md §4 allows another attempt: the one classification on the error
    /// ([`Error::is_retryable`]), and the policy's switch for 429s.
    fn retryable(&self, repeatable: bool, policy: &RetryPolicy) -> bool {
        if self.error.code == ErrorCode::RateLimited && !policy.retry_rate_limited {
            return false;
        }
        self.error.is_retryable(repeatable)
    }
}

#[async_trait::async_trait]
impl Backend for HttpBackend {
    async fn call(&self, op: Op, body: Vec<u8>, options: &CallOptions) -> Result<Reply> {
        let url = &self.urls[op as usize];
        // Shared, not copied, by each attempt's request.
        let body = bytes::Bytes::from(body);
        let policy = options.retry.as_ref().unwrap_or(&self.config.retry);
        let timeout = options.timeout.unwrap_or(self.config.timeout);
        let deadline = options.deadline.unwrap_or(self.config.deadline);
        let repeatable = op.retry_safe_after_send(options.idempotency_key.is_some());
        let op = op.name();
        let started = Instant::now();
        let mut attempt = 1u32;
        loop {
            let remaining = deadline.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                return Err(Error::new(
                    ErrorCode::Timeout,
                    format!("{op}: deadline of {deadline:?} passed before attempt {attempt}"),
                ));
            }
            let failure = match self
                .attempt(op, url, &body, options, timeout.min(remaining))
                .await
            {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            let retry = attempt < policy.max_attempts && failure.retryable(repeatable, policy);
            if !retry {
                return Err(failure.error);
            }
            // The server's hint (clamped when parsed) or backoff, bounded by what is left of
            // the deadline: a wait that would pass it ends the call now with this failure.
            let remaining = deadline.saturating_sub(started.elapsed());
            let Some(wait) = policy.wait_within(attempt, failure.hint, remaining) else {
                return Err(failure.error);
            };
            tracing::debug!(
                op,
                attempt,
                wait_ms = wait.as_millis() as u64,
                code = failure.error.code(),
                "retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn describe(&self) -> String {
        self.config.base_url.clone()
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        Some(self.config.retry.clone())
    }
}

/// Per-attempt timers, kept for reuse. A new timer is the runtime's earliest one whenever no
/// other is pending (as between the calls of a sequential loop), and registering it wakes
/// tokio's time driver: about 10–20 µs a call on loopback (issue 15). Moving a pending timer
/// to a later deadline only updates the timer (tokio's `extend_expiration`), so a reused
/// timer costs nothing until its old deadline passes. Timers belong to the runtime that made
/// them, so each is kept with that runtime's id and only reused there.
#[derive(Default)]
struct AttemptTimers {
    idle: Mutex<Vec<(tokio::runtime::Id, Pin<Box<tokio::time::Sleep>>)>>,
}

/// Enough for every in-flight attempt of a busy client; more are made as needed.
const KEPT_TIMERS: usize = 64;

impl AttemptTimers {
    /// `work`'s output, or `None` when `timeout` passes first.
    async fn within<T>(&self, timeout: Duration, work: impl Future<Output = T>) -> Option<T> {
        let runtime = tokio::runtime::Handle::current().id();
        let deadline = tokio::time::Instant::now() + timeout;
        let kept = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.iter()
                .rposition(|(id, _)| *id == runtime)
                .map(|at| idle.swap_remove(at).1)
        };
        let mut timer = match kept {
            Some(mut timer) => {
                timer.as_mut().reset(deadline);
                timer
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        };
        let mut work = std::pin::pin!(work);
        let out = std::future::poll_fn(|cx| match work.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
        })
        .await;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= KEPT_TIMERS {
            // The oldest first: it may belong to a runtime that has ended.
            drop(idle.remove(0));
        }
        idle.push((runtime, timer));
        out
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_success(bytes: &[u8], header_request_id: Option<String>) -> Result<Reply> {
    // The one envelope of wire::envelope, read leniently: `meta` and `data` may be missing.
    type Lenient = SuccessEnvelope<Option<serde_json::Value>, Pagination, Option<Meta>>;
    let envelope: Lenient = serde_json::from_slice(bytes).map_err(|e| {
        undocumented(
            header_request_id.clone(),
            format!("response is not the documented envelope: {e}"),
        )
    })?;
    let has_meta = envelope.meta.is_some();
    let request_id = envelope
        .meta
        .as_ref()
        .and_then(Meta::request_id)
        .map(str::to_string)
        .or(header_request_id);
    // Unkey answers some deletes with `meta` alone; a caller expecting fields still gets a
    // server_error when it decodes the empty object.
    let data = match (envelope.data, has_meta) {
        (Some(data), _) => data,
        (None, true) => serde_json::Value::Object(Default::default()),
        (None, false) => {
            return Err(undocumented(
                request_id,
                "response has neither `data` nor `meta`".to_string(),
            ))
        }
    };
    Ok(Reply {
        request_id,
        data,
        pagination: envelope.pagination,
    })
}

fn undocumented(request_id: Option<String>, message: String) -> Error {
    let error = Error::server(message);
    match request_id {
        Some(id) => error.with_request_id(id),
        None => error,
    }
}

/// Maps a non-2xx answer (problem+json per DESIGN.md §4, or anything else) to an [`Error`].
pub fn parse_problem(
    status: u16,
    bytes: &[u8],
    header_request_id: Option<String>,
    hint: Option<Duration>,
) -> Error {
    // The one envelope of wire::envelope, read leniently: either part may be missing.
    let parsed: Option<ErrorEnvelope<Option<Meta>, Option<Problem>>> =
        serde_json::from_slice(bytes).ok();
    let request_id = parsed
        .as_ref()
        .and_then(|b| b.meta.as_ref())
        .and_then(Meta::request_id)
        .map(str::to_string)
        .or(header_request_id);
    let problem = parsed.and_then(|b| b.error);
    let message = match &problem {
        Some(p) => p
            .message()
            .map_or_else(|| format!("HTTP {status}"), str::to_string),
        None => format!("HTTP {status} with an undocumented body"),
    };
    let code = ErrorCode::from_status(status);
    let mut error = Error::new(code, message).with_status(status);
    if let Some(id) = request_id {
        error = error.with_request_id(id);
    }
    if let Some(errors) = problem.and_then(|p| p.errors) {
        if let Some(first) = errors.first() {
            error.field = Some(first.location.clone());
        }
        error = error.with_errors(errors);
    }
    if matches!(status, 429 | 503) {
        if let Some(hint) = hint {
            error = error.with_retry_after(hint.as_secs_f64());
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_json_maps_to_codes_and_fields() {
        let body = br#"{"meta":{"requestId":"req_1"},"error":{"title":"Bad Request","detail":"byteLength must be >= 16","status":400,"type":"x","errors":[{"location":"body.byteLength","message":"too small"}]}}"#;
        let err = parse_problem(400, body, None, None);
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert_eq!(err.status, Some(400));
        assert_eq!(err.request_id.as_deref(), Some("req_1"));
        assert_eq!(err.field.as_deref(), Some("body.byteLength"));
        assert_eq!(err.errors.len(), 1);
        assert_eq!(err.message, "byteLength must be >= 16");
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let err = parse_problem(
            429,
            b"{}",
            Some("req_2".into()),
            Some(Duration::from_millis(1500)),
        );
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert_eq!(err.retry_after, Some(1.5f32));
        assert_eq!(err.request_id.as_deref(), Some("req_2"));
    }

    #[test]
    fn garbage_bodies_become_server_errors_not_panics() {
        let err = parse_problem(502, b"<html>bad gateway</html>", None, None);
        assert_eq!(err.code, ErrorCode::ServerError);
        assert!(parse_success(b"not json", Some("req_3".into())).is_err());
        let err = parse_success(br#"{"pagination":null}"#, Some("req_4".into())).unwrap_err();
        assert_eq!(err.code, ErrorCode::ServerError);
        assert_eq!(err.request_id.as_deref(), Some("req_4"));
        let empty = parse_success(br#"{"meta":{"requestId":"req_5"}}"#, None).unwrap();
        assert_eq!(empty.data, serde_json::json!({}));
    }

    #[test]
    fn retry_rules_follow_the_design() {
        let policy = RetryPolicy::default();
        let status = |s: u16| Attempt {
            error: Error::new(ErrorCode::from_status(s), "x").with_status(s),
            hint: None,
        };
        // Always: 429 and 503, for any call.
        assert!(status(503).retryable(false, &policy));
        assert!(status(429).retryable(false, &policy));
        assert!(!status(429).retryable(
            true,
            &RetryPolicy {
                retry_rate_limited: false,
                ..RetryPolicy::default()
            }
        ));
        // 500/502/504 only for repeatable calls (issue 9 #4: 502/504 were retried for
        // createApi & co).
        for s in [500, 502, 504] {
            assert!(!status(s).retryable(false, &policy), "{s}");
            assert!(status(s).retryable(true, &policy), "{s}");
        }
        assert!(!status(400).retryable(true, &policy));
        assert!(!status(501).retryable(true, &policy));
        let lost = Attempt {
            error: Error::new(ErrorCode::Timeout, "t"),
            hint: None,
        };
        assert!(!lost.retryable(false, &policy));
        assert!(lost.retryable(true, &policy));
        let refused = Attempt {
            error: Error::new(ErrorCode::Network, "refused").with_not_sent(),
            hint: None,
        };
        assert!(refused.retryable(false, &policy));
    }

    /// Issue 9 #9: a proxy's credentials in an extra header never show in Debug output.
    #[test]
    fn debug_masks_header_values_and_the_root_key() {
        let config = HttpConfig {
            base_url: "http://127.0.0.1:1".into(),
            root_key: SecretKey::new("unkey_rootSECRETrootSECRET"),
            timeout: DEFAULT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            retry: RetryPolicy::default(),
            user_agent: "keyshift-rust/test".into(),
            headers: vec![
                (
                    "Proxy-Authorization".into(),
                    "Basic cHJveHk6aHVudGVyMg==".into(),
                ),
                ("X-Api-Token".into(), "tok_SECRETVALUE".into()),
            ],
        };
        let backend = HttpBackend::new(config.clone()).unwrap();
        for shown in [
            format!("{config:?}"),
            format!("{config:#?}"),
            format!("{backend:?}"),
        ] {
            for secret in ["cHJveHk6aHVudGVyMg", "SECRETVALUE", "rootSECRETroot"] {
                assert!(!shown.contains(secret), "{secret} leaked: {shown}");
            }
        }
        assert!(format!("{config:?}").contains("Proxy-Authorization"));
    }

    #[test]
    fn hostile_retry_after_on_503_is_clamped_not_a_panic() {
        let hint = parse_retry_after(Some("1e300"), None);
        let err = parse_problem(503, b"{}", None, hint);
        assert_eq!(
            err.retry_after,
            Some(crate::retry::MAX_SERVER_HINT.as_secs_f32())
        );
        assert!(err.is_retryable(false));
    }

    #[test]
    fn every_operation_url_is_parsed_once_and_a_bad_base_url_is_refused_up_front() {
        let config = |base_url: &str| HttpConfig {
            base_url: base_url.into(),
            root_key: SecretKey::new("unkey_rootSECRETrootSECRET"),
            timeout: DEFAULT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            retry: RetryPolicy::default(),
            user_agent: "keyshift-rust/test".into(),
            headers: vec![],
        };
        let backend = HttpBackend::new(config("http://127.0.0.1:7/base/")).unwrap();
        for (i, &op) in Op::ALL.iter().enumerate() {
            assert_eq!(
                op as usize, i,
                "Op::ALL must list the operations in declaration order"
            );
            let url = &backend.urls[op as usize];
            assert_eq!(url.as_str(), format!("http://127.0.0.1:7/base/v2/{op}"));
        }
        let err = HttpBackend::new(config("http://exa mple.com")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(err.field.as_deref(), Some("base_url"));
        assert!(err.message.contains("not a valid URL"), "{}", err.message);
    }
}
