//! keyshift-core: every public type and behaviour of keyshift. No binding types live here.
//!
//! Local functions (no network): [`hashing`], [`keyformat`], [`scope`], [`query`].
//! The wire contract shared by server and client: [`wire`].

pub mod error;
pub mod hashing;
pub mod keyformat;
pub mod query;
pub mod scope;
pub mod secret;
pub mod wire;

pub use error::{Error, ErrorCode, FieldError, Result};
pub use secret::SecretKey;
