//! The one error type of keyshift. Every binding maps [`Error`] to its language's error class
//! using [`Error::code`], so the code strings here are part of the public contract (DESIGN.md §5).

use std::fmt;

/// Which kind of failure an [`Error`] is. The string form ([`ErrorCode::as_str`]) is identical
/// in every language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidInput,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    ServerError,
    Network,
    Timeout,
    Io,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidInput,
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::ServerError,
        ErrorCode::Network,
        ErrorCode::Timeout,
        ErrorCode::Io,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerError => "server_error",
            ErrorCode::Network => "network",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Io => "io",
        }
    }

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

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
        }
    }

    /// Local validation failure naming the field at fault.
    pub fn invalid_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Error::new(ErrorCode::InvalidInput, message).with_field(field)
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    pub fn with_record(mut self, record: u64) -> Self {
        self.record = Some(u32::try_from(record).unwrap_or(u32::MAX));
        self
    }

    pub fn with_retry_after(mut self, seconds: f64) -> Self {
        self.retry_after = Some(seconds as f32);
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
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
    fn error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 128,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
