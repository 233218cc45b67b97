//! keyshift-python: the `keyshift._native` extension module. Wiring only: every behaviour is in
//! keyshift-core; the files beside this one convert types (one per core module wrapped).

mod client;
mod convert;
mod error;
mod hashing;
mod keyformat;
mod migrate;
mod models;
mod runtime;
mod scope;

use pyo3::prelude::*;

#[pymodule]
mod _native {
    #[pymodule_export]
    use crate::client::{AsyncClient, AsyncKeyIterator, Clear, Client, KeyIterator};
    #[pymodule_export]
    use crate::error::{
        BadRequestError, ConflictError, ForbiddenError, InvalidInputError, IoError, KeyshiftError,
        NetworkError, NotFoundError, RateLimitedError, ServerError, TimeoutError,
        UnauthorizedError,
    };
    #[pymodule_export]
    use crate::hashing::{hash_key, hash_keys, hash_keys_packed, verify_bcrypt, KeyHash};
    #[pymodule_export]
    use crate::keyformat::{
        checksum, generate_key, key_prefix, key_start, looks_like_key, mask_key,
    };
    #[pymodule_export]
    use crate::migrate::{Backfill, MigrationReport, Progress, RecordError};
    #[pymodule_export]
    use crate::models::{
        Api, CreatedKey, Credits, Identity, Key, KeyPage, Permission, PortalSession, Ratelimit,
        RatelimitResult, Refill, Role, Verification,
    };
    #[pymodule_export]
    use crate::runtime::_drain;
    #[pymodule_export]
    use crate::scope::{
        parse_permission_query, permissions_to_scopes, scopes_to_permissions, PermissionQuery,
        Scope,
    };

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        // Every call, blocking or async, runs on core's one runtime (a reqwest pool belongs to
        // the runtime that opened its connections); start it with the module.
        keyshift_core::runtime::get();
        m.add("CLEAR", crate::client::Clear)?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}

#[allow(unused_imports)]
use _native as _;
