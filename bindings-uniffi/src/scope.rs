//! Scopes (core's `scope`) and permission queries (core's `query`).

use std::sync::Arc;

use keyshift_core::{query, scope as core};

use crate::error::KeyshiftError;

pub use keyshift_core::Scope;

// Core's own `Scope` crosses as a record: uniffi's remote form restates its fields (the item
// itself is core's), so no mirror type and no conversions.
/// A resource and the actions allowed on it: `profile` → `profile.read`, `profile.update`, …
#[uniffi::remote(Record)]
pub struct Scope {
    pub representation: String,
    #[uniffi(default = false)]
    pub read: bool,
    #[uniffi(default = false)]
    pub create: bool,
    #[uniffi(default = false)]
    pub update: bool,
    #[uniffi(default = false)]
    pub delete: bool,
}

/// The permissions one scope grants (`Scope::permissions`).
#[uniffi::export]
pub fn scope_permissions(scope: Scope) -> Vec<String> {
    scope.permissions()
}

/// Every permission the scopes grant, without duplicates.
#[uniffi::export]
pub fn scopes_to_permissions(scopes: Vec<Scope>) -> Vec<String> {
    core::scopes_to_permissions(&scopes)
}

/// Permissions folded back into scopes (`profile.read` → `profile: read`); others are ignored.
#[uniffi::export]
pub fn permissions_to_scopes(permissions: Vec<String>) -> Vec<Scope> {
    core::permissions_to_scopes(&permissions)
}

/// The CLI form `profile:read,update` (`*` = all four actions).
#[uniffi::export]
pub fn parse_scope(input: String) -> Result<Scope, KeyshiftError> {
    Ok(Scope::parse_cli(&input)?)
}

/// A parsed permission query (`a AND (b OR c)`); its `toString()` is the canonical form.
#[derive(Debug, uniffi::Object)]
#[uniffi::export(Display)]
pub struct PermissionQuery(query::PermissionQuery);

impl std::fmt::Display for PermissionQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[uniffi::export]
impl PermissionQuery {
    /// Whether the granted permissions satisfy the query (exact, case-sensitive names).
    pub fn evaluate(&self, granted: Vec<String>) -> bool {
        self.0.evaluate_set(&granted)
    }

    /// Every permission name the query mentions, in order of appearance.
    pub fn names(&self) -> Vec<String> {
        self.0.names().into_iter().map(str::to_string).collect()
    }
}

/// Parses a permission query; errors are `invalid_input` on field `permissions` with the
/// 0-based position in the message.
#[uniffi::export]
pub fn parse_permission_query(query: String) -> Result<Arc<PermissionQuery>, KeyshiftError> {
    Ok(Arc::new(PermissionQuery(query::parse_permission_query(
        &query,
    )?)))
}
