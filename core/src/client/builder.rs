//! [`ClientBuilder`]: a [`Client`] over HTTP, from settings or the environment.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::http::{HttpBackend, HttpConfig, DEFAULT_DEADLINE, DEFAULT_TIMEOUT};
use crate::retry::RetryPolicy;
use crate::{Result, SecretKey};

use super::Client;

/// Hosted Unkey, the default when only a root key is given.
pub const DEFAULT_BASE_URL: &str = "https://api.unkey.com";

/// Builds a [`Client`] that talks HTTP to a key service. Its `Debug` masks the root key and
/// the values of extra headers.
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    root_key: Option<SecretKey>,
    timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    user_agent: String,
    headers: Vec<(String, String)>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("root_key", &self.root_key)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field("headers", &crate::http::MaskedHeaders(&self.headers))
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_string(),
            root_key: None,
            timeout: DEFAULT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            retry: RetryPolicy::default(),
            user_agent: format!("keyshift-rust/{}", env!("CARGO_PKG_VERSION")),
            headers: Vec::new(),
        }
    }
}

/// Builder setters that store their (converted) argument in a field:
/// `name(arg: Type) => field = value;`.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $field:ident = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$field = $value;
                self
            }
        )*
    };
}

impl ClientBuilder {
    setters! {
        base_url(url: impl Into<String>) => base_url = url.into();
        root_key(key: impl Into<SecretKey>) => root_key = Some(key.into());
        /// Per-attempt timeout (default 5 s).
        timeout(timeout: Duration) => timeout = timeout;
        /// Total time for a call's attempts and waits (default 15 s).
        deadline(deadline: Duration) => deadline = deadline;
        retry(retry: RetryPolicy) => retry = retry;
    }

    /// `User-Agent: keyshift-<language>/<version>`; bindings name their language here.
    pub fn user_agent(mut self, language: &str, version: &str) -> Self {
        self.user_agent = format!("keyshift-{language}/{version}");
        self
    }

    /// An extra header on every request (e.g. a proxy's auth or a tracing id).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn build(self) -> Result<Client> {
        let root_key = self
            .root_key
            .ok_or_else(|| Error::invalid_input("root_key", "a root key is required"))?;
        let backend = HttpBackend::new(HttpConfig {
            base_url: self.base_url,
            root_key,
            timeout: self.timeout,
            deadline: self.deadline,
            retry: self.retry,
            user_agent: self.user_agent,
            headers: self.headers,
        })?;
        Ok(Client::with_backend(Arc::new(backend)))
    }
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// `KEYSHIFT_BASE_URL` (default hosted Unkey) and `KEYSHIFT_ROOT_KEY` (or `UNKEY_ROOT_KEY`).
    pub fn from_env() -> Result<Client> {
        Client::from_env_builder()?.build()
    }

    /// The builder [`Client::from_env`] uses, for adding settings before `build()`.
    pub fn from_env_builder() -> Result<ClientBuilder> {
        let mut builder = Client::builder();
        if let Some(url) = env_var("KEYSHIFT_BASE_URL") {
            builder = builder.base_url(url);
        }
        let root_key = root_key_or_env(None).ok_or_else(|| {
            Error::invalid_input(
                "root_key",
                "set KEYSHIFT_ROOT_KEY (or UNKEY_ROOT_KEY) to a root key",
            )
        })?;
        Ok(builder.root_key(root_key))
    }
}

/// The root key to use, the one rule of the client and the CLI: `given` (e.g. a `--root-key`
/// flag) unless blank, else `KEYSHIFT_ROOT_KEY`, else `UNKEY_ROOT_KEY` (Unkey's own name, so an
/// existing setup works as is). Blank values count as unset.
pub fn root_key_or_env(given: Option<String>) -> Option<SecretKey> {
    given
        .filter(|k| !k.trim().is_empty())
        .or_else(|| env_var("KEYSHIFT_ROOT_KEY"))
        .or_else(|| env_var("UNKEY_ROOT_KEY"))
        .map(SecretKey::new)
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9 #9: extra headers (a proxy's auth) and the root key never print in clear.
    #[test]
    fn builder_debug_masks_headers_and_root_key() {
        let builder = Client::builder()
            .root_key("unkey_rootSECRETrootSECRET")
            .header("Proxy-Authorization", "Bearer proxySECRETproxy")
            .header("X-Trace", "trace-visible?");
        let shown = format!("{builder:?} {builder:#?}");
        assert!(!shown.contains("proxySECRETproxy"), "{shown}");
        assert!(!shown.contains("rootSECRETroot"), "{shown}");
        assert!(!shown.contains("trace-visible"), "{shown}");
        assert!(shown.contains("Proxy-Authorization"), "{shown}");
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("proxySECRET"));
    }

    #[test]
    fn a_given_root_key_wins_unless_blank() {
        let got = root_key_or_env(Some("unkey_given".into())).unwrap();
        assert_eq!(got.expose(), "unkey_given");
        // A blank flag is unset: the environment decides (whatever it holds here).
        let from_env = root_key_or_env(None).map(|k| k.expose().to_string());
        let blank = root_key_or_env(Some("  ".into())).map(|k| k.expose().to_string());
        assert_eq!(blank, from_env);
    }

    #[test]
    fn builder_requires_a_root_key_and_a_url_scheme() {
        let err = Client::builder().build().unwrap_err();
        assert_eq!(err.field.as_deref(), Some("root_key"));
        let err = Client::builder()
            .root_key("unkey_x")
            .base_url("localhost:7070")
            .build()
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("base_url"));
    }
}
