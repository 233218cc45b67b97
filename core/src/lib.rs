//! keyshift-core: every public type and behaviour of keyshift. No binding types live here.
//!
//! Local functions (no network): [`hashing`], [`keyformat`], [`scope`], [`query`].
//! The wire contract shared by server and client: [`wire`].

mod setters;

pub mod backend;
pub mod client;
pub mod error;
pub mod hashing;
pub mod http;
pub mod keyformat;
pub mod migrate;
pub mod query;
pub mod retry;
pub mod runtime;
pub mod scope;
pub mod secret;
#[doc(hidden)]
pub mod testing;
pub mod wire;

pub use error::{Error, ErrorCode, FieldError, Result, RetryClass};
pub use secret::SecretKey;

pub use hashing::{
    hash_bcrypt, hash_key, hash_keys, hash_keys_into, hash_packed, verify_bcrypt, HashVariant,
    KeyHash, PackedBatch, PackedKeys,
};
pub use keyformat::{generate_key, looks_like_key, mask_key};
pub use query::{parse_permission_query, PermissionQuery};
pub use scope::{permissions_to_scopes, scopes_to_permissions, Scope};

pub use backend::{Backend, CallOptions, Reply};
pub use client::{
    Backfill, Client, ClientBuilder, CreateKey, CreatedKey, FallbackOptions, LegacyCheck, Page,
    Pager, Verification, VerificationSource, VerifyOptions,
};
pub use retry::RetryPolicy;
pub use wire::VerifyCode;

/// The future of a [`Client`] call (await it like any other). Boxed so that the call's body is
/// compiled once, in this crate: the body of an `async fn` is compiled again in every crate that
/// awaits it (each binding, the CLI, the benches), which made it most of their build time.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
