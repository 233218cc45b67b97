//! [`ClientBuilder`]: a [`Client`] over HTTP, from settings or the environment.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::http::{HttpBackend, HttpConfig, DEFAULT_DEADLINE, DEFAULT_TIMEOUT};
use crate::retry::RetryPolicy;
use crate::{Result, SecretKey};

use super::Client;
use crate::setters::setters;

/// Hosted Unkey, the default when only a root key is given.
pub const DEFAULT_BASE_URL: &str = "https://api.unkey.com";

/// Builds a [`Client`] that talks HTTP to a key service: the [`HttpConfig`] being assembled,
/// whose `Debug` masks the root key and the values of extra headers.
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    config: HttpConfig,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            config: HttpConfig {
                base_url: DEFAULT_BASE_URL.to_string(),
                // Empty until set: `build` refuses an empty root key.
                root_key: SecretKey::new(""),
                timeout: DEFAULT_TIMEOUT,
                deadline: DEFAULT_DEADLINE,
                retry: RetryPolicy::default(),
                user_agent: format!("keyshift-rust/{}", env!("CARGO_PKG_VERSION")),
                headers: Vec::new(),
            },
        }
    }
}

impl ClientBuilder {
    setters! {
        base_url(url: impl Into<String>) => config.base_url = url.into();
        root_key(key: impl Into<SecretKey>) => config.root_key = key.into();
        /// Per-attempt timeout (default 5 s).
        timeout(timeout: Duration) => config.timeout = timeout;
        /// Total time for a call's attempts and waits (default 15 s).
        deadline(deadline: Duration) => config.deadline = deadline;
        retry(retry: RetryPolicy) => config.retry = retry;
    }

    /// The bindings' optional limits: per-attempt timeout and total deadline in milliseconds,
    /// attempts in all; `None` keeps the default.
    pub fn limits_ms(
        mut self,
        timeout_ms: Option<u64>,
        deadline_ms: Option<u64>,
        max_attempts: Option<u32>,
    ) -> Self {
        if let Some(ms) = timeout_ms {
            self = self.timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = deadline_ms {
            self = self.deadline(Duration::from_millis(ms));
        }
        if let Some(n) = max_attempts {
            self = self.retry(RetryPolicy::default().with_max_attempts(n));
        }
        self
    }

    /// `User-Agent: keyshift-<language>/<version>`; bindings name their language here.
    pub fn user_agent(mut self, language: &str, version: &str) -> Self {
        self.config.user_agent = format!("keyshift-{language}/{version}");
        self
    }

    /// An extra header on every request (e.g. a proxy's auth or a tracing id).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.headers.push((name.into(), value.into()));
        self
    }

    pub fn build(self) -> Result<Client> {
        if self.config.root_key.is_empty() {
            return Err(Error::invalid_input("root_key", "a root key is required"));
        }
        let backend = HttpBackend::new(self.config)?;
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
