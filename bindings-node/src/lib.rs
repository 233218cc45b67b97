//! keyshift-node: the Node/TypeScript binding of keyshift-core. Type conversion, error
//! mapping and runtime hops only; every behaviour lives in core. One file per core module:
//! `client` (with rollout), `migrate`, `hashing`, `keyformat`, `scope` (with `query`),
//! `error`. `index.js` wraps these into the public API.
#![deny(clippy::all)]

pub mod client;
pub mod error;
pub mod hashing;
pub mod keyformat;
pub mod migrate;
pub mod scope;
