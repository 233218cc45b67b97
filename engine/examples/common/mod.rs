//! Shared by the engine examples: command-line numbers and a bootstrapped engine.

use std::path::Path;
use std::str::FromStr;

use keyshift_core::SecretKey;
use keyshift_engine::{Engine, WorkspaceCtx};

/// The `i`-th command-line argument parsed as a number, or `default`.
pub fn arg<T: FromStr>(i: usize, default: T) -> T {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Opens the database at `path`, bootstraps it and authenticates with the new root key.
pub fn bootstrapped(path: &Path) -> (Engine, SecretKey, WorkspaceCtx) {
    let engine = Engine::open(path.to_str().expect("utf-8 path")).expect("open");
    let root = engine
        .ensure_bootstrap(None)
        .expect("bootstrap")
        .expect("root key");
    let ctx = engine.authenticate(root.expose()).expect("auth");
    (engine, root, ctx)
}
