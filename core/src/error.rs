//! The one error type of keyshift. Every binding maps [`Error`] to its language's error class
//! using [`Error::code`], so the code strings here are part of the public contract (DESIGN.md §5).

use std::fmt;

crate::setters::str_enum! {
    /// Which kind of failure an [`Error`] is. The string form ([`ErrorCode::as_str`]) is
    /// identical in every language.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum ErrorCode {
        InvalidInput = "invalid_input",
        BadRequest = "bad_request",
        Unauthorized = "unauthorized",
        Forbidden = "forbidden",
        NotFound = "not_found",
        Conflict = "conflict",
        RateLimited = "rate_limited",
        ServerError = "server_error",
        Network = "network",
        Timeout = "timeout",
        Io = "io",
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = Error;

    /// Parses a §5 code string (exactly as [`ErrorCode::as_str`] writes it). Error:
    /// `invalid_input` on field `code`.
    fn from_str(s: &str) -> Result<Self> {
        ErrorCode::from_wire(s)
            .ok_or_else(|| Error::invalid_input("code", format!("unknown error code `{s}`")))
    }
}

impl ErrorCode {
    /// The code an HTTP status maps to (problem+json responses of the wire API).
    pub fn from_status(status: u16) -> ErrorCode {
        match status {
            400 | 412 | 413 | 415 | 422 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            409 => ErrorCode::Conflict,
            429 => ErrorCode::RateLimited,
            _ => ErrorCode::ServerError,
        }
    }

    /// The HTTP status the server answers for this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidInput | ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::Timeout => 504,
            ErrorCode::ServerError | ErrorCode::Network | ErrorCode::Io => 500,
        }
    }
}

/// How DESIGN.md §4 lets a failed call be sent again. The one classification of retries,
/// used by the HTTP client and the migration engine alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// The request never reached the server (the connection failed before it was sent), or
    /// the server asks to come back later (429, 503): any call may be sent again.
    Always,
    /// The request may have been acted on (500, 502, 504, a timeout or a connection lost
    /// after sending): sent again only for reads, `verifyKey` and calls carrying an
    /// `Idempotency-Key`.
    IfRepeatable,
    /// Everything else: other 4xx and 5xx answers, any 2xx answer (the call took effect),
    /// local errors.
    Never,
}

impl ErrorCode {
    /// The retry class of a failure with this code, its HTTP `status` when it has one, and
    /// whether the request may have been `sent` (false only when it certainly was not).
    pub fn retry_class(self, status: Option<u16>, sent: bool) -> RetryClass {
        match self {
            ErrorCode::RateLimited => RetryClass::Always,
            ErrorCode::Network | ErrorCode::Timeout if !sent => RetryClass::Always,
            ErrorCode::Network | ErrorCode::Timeout => RetryClass::IfRepeatable,
            ErrorCode::ServerError => match status {
                Some(503) => RetryClass::Always,
                Some(500 | 502 | 504) | None => RetryClass::IfRepeatable,
                Some(_) => RetryClass::Never,
            },
            _ => RetryClass::Never,
        }
    }
}

/// One bad field of a request, as the server's 400 `errors[]` lists them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// Where the bad value is, e.g. `body.byteLength` or `keys[3].hash`.
    pub location: String,
    pub message: String,
}

/// A keyshift error. Messages never contain a plaintext key or root key: callers build them
/// from field names and masked keys only. Kept under clippy's large-error size (128 bytes), so
/// `Result<T, Error>` stays cheap on the hot path.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", self.render())]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// HTTP status when the error came from (or is answered by) the server.
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// The input field at fault (`invalid_input`, `bad_request`).
    pub field: Option<String>,
    /// 1-based record or line number, for migration input.
    pub record: Option<u32>,
    /// Seconds to wait before retrying (`rate_limited`).
    pub retry_after: Option<f32>,
    /// Every bad field the server listed for a 400.
    pub errors: Vec<FieldError>,
    /// True when the request certainly never reached the server (the connection failed
    /// before it was sent), so sending it again cannot do anything twice.
    pub not_sent: bool,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            status: None,
            request_id: None,
            field: None,
            record: None,
            retry_after: None,
            errors: Vec::new(),
            not_sent: false,
        }
    }

    /// An answer with a 2xx `status` that could not be read: the call took effect on the
    /// server, so it must never be sent again (DESIGN.md §4); the message says so.
    pub fn took_effect(op: &str, status: u16, why: impl fmt::Display) -> Self {
        Error::new(
            ErrorCode::ServerError,
            format!(
                "{op} reached the key service and took effect (HTTP {status}), but its answer \
                 could not be read: {why}; it was not sent again: check its result before \
                 repeating it"
            ),
        )
        .with_status(status)
    }

    /// Marks the error as one whose request never reached the server.
    pub fn with_not_sent(mut self) -> Self {
        self.not_sent = true;
        self
    }

    /// [`ErrorCode::retry_class`] of this error.
    pub fn retry_class(&self) -> RetryClass {
        self.code.retry_class(self.status, !self.not_sent)
    }

    /// Whether DESIGN.md §4 allows sending the call again after this error; `repeatable` is
    /// true for reads, `verifyKey` and calls carrying an `Idempotency-Key`.
    pub fn is_retryable(&self, repeatable: bool) -> bool {
        match self.retry_class() {
            RetryClass::Always => true,
            RetryClass::IfRepeatable => repeatable,
            RetryClass::Never => false,
        }
    }

    /// Local validation failure naming the field at fault.
    pub fn invalid_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Error::new(ErrorCode::InvalidInput, message).with_field(field)
    }

    /// `Ok` when `value` lies in `range`, otherwise `invalid_input` on `field` with `message`.
    pub(crate) fn check_range<T: PartialOrd>(
        field: &str,
        value: T,
        range: std::ops::RangeInclusive<T>,
        message: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        if range.contains(&value) {
            Ok(())
        } else {
            Err(Error::invalid_input(field, message()))
        }
    }

    crate::setters::setters! {
        with_field(field: impl Into<String>) => field = Some(field.into());
        with_status(status: u16) => status = Some(status);
        with_request_id(request_id: impl Into<String>) => request_id = Some(request_id.into());
        with_record(record: u64) => record = Some(u32::try_from(record).unwrap_or(u32::MAX));
        with_retry_after(seconds: f64) => retry_after = Some(seconds as f32);
        with_errors(errors: Vec<FieldError>) => errors = errors;
    }

    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Conflict, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::BadRequest, message)
    }

    pub fn server(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::ServerError, message)
    }

    pub fn io(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Io, message)
    }

    fn render(&self) -> String {
        let mut out = format!("{}: {}", self.code.as_str(), self.message);
        if let Some(record) = self.record {
            out.push_str(&format!(" (record {record})"));
        }
        if let Some(field) = &self.field {
            if !self.message.contains(field.as_str()) {
                out.push_str(&format!(" [field {field}]"));
            }
        }
        if let Some(request_id) = &self.request_id {
            out.push_str(&format!(" [request {request_id}]"));
        }
        out
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::io(err.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_strings() {
        let names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "invalid_input",
                "bad_request",
                "unauthorized",
                "forbidden",
                "not_found",
                "conflict",
                "rate_limited",
                "server_error",
                "network",
                "timeout",
                "io"
            ]
        );
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert_eq!(code.to_string(), code.as_str());
        }
        let err = "NOT_FOUND".parse::<ErrorCode>().unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::InvalidInput, Some("code"))
        );
        for code in ErrorCode::ALL {
            if code != ErrorCode::InvalidInput && code.status() < 500 {
                assert_eq!(ErrorCode::from_status(code.status()), code);
            }
        }
    }

    #[test]
    fn display_names_field_record_and_request() {
        let err = Error::invalid_input("prefix", "prefix is too long")
            .with_record(7)
            .with_request_id("req_9");
        assert_eq!(
            err.to_string(),
            "invalid_input: prefix is too long (record 7) [request req_9]"
        );
        let err = Error::invalid_input("byteLength", "too small");
        assert_eq!(
            err.to_string(),
            "invalid_input: too small [field byteLength]"
        );
    }

    #[test]
    fn retry_classification_follows_the_design() {
        use RetryClass::*;
        let class =
            |code: ErrorCode, status: Option<u16>, sent: bool| code.retry_class(status, sent);
        // Always: before sending, 429, 503.
        assert_eq!(class(ErrorCode::Network, None, false), Always);
        assert_eq!(class(ErrorCode::Timeout, None, false), Always);
        assert_eq!(class(ErrorCode::RateLimited, Some(429), true), Always);
        assert_eq!(class(ErrorCode::ServerError, Some(503), true), Always);
        // Only for repeatable calls: 500, 502, 504, after-send failures.
        for status in [500, 502, 504] {
            assert_eq!(
                class(ErrorCode::ServerError, Some(status), true),
                IfRepeatable
            );
        }
        assert_eq!(class(ErrorCode::Network, None, true), IfRepeatable);
        assert_eq!(class(ErrorCode::Timeout, None, true), IfRepeatable);
        // Never: 4xx, other 5xx, any 2xx (the call took effect), local errors.
        for status in [200, 201, 204, 501, 505, 507] {
            assert_eq!(class(ErrorCode::ServerError, Some(status), true), Never);
        }
        // Every 4xx but 429, and local I/O failures.
        let never = ErrorCode::ALL.into_iter().filter(|c| {
            let status = c.status();
            *c == ErrorCode::Io || (400..500).contains(&status) && status != 429
        });
        for code in never {
            assert_eq!(class(code, Some(code.status()), true), Never, "{code}");
        }
        let e = Error::new(ErrorCode::ServerError, "x").with_status(502);
        assert!(e.is_retryable(true) && !e.is_retryable(false));
        let refused = Error::new(ErrorCode::Network, "refused").with_not_sent();
        assert!(refused.is_retryable(false));
        let odd = Error::took_effect("keys.migrateKeys", 200, "bad json");
        assert!(!odd.is_retryable(true));
        assert!(odd.message.contains("took effect"), "{odd}");
    }

    #[test]
    fn error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 128,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
