//! keyshift-uniffi: Kotlin (`dev.keyshift`) and Swift (`Keyshift`) bindings of keyshift-core
//! through uniffi proc-macros. Type conversion, error mapping and runtime hops only; every
//! behaviour lives in core. One file per wrapped core module.

uniffi::setup_scaffolding!();

pub mod client;
mod convert;
pub mod error;
pub mod hashing;
pub mod keyformat;
pub mod migrate;
pub mod scope;

pub use client::Client;
pub use error::{ErrorDetail, KeyshiftError};
