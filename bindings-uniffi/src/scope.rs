//! Scopes (core's `scope`) and permission queries (core's `query`).

use std::sync::Arc;

use keyshift_core::{query, scope as core};

use crate::error::KeyshiftError;

/// A resource and the actions allowed on it: `profile` → `profile.read`, `profile.update`, …
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
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

impl From<Scope> for core::Scope {
    fn from(s: Scope) -> Self {
        core::Scope {
            representation: s.representation,
            read: s.read,
            create: s.create,
            update: s.update,
            delete: s.delete,
        }
    }
}

impl From<core::Scope> for Scope {
    fn from(s: core::Scope) -> Self {
        Scope {
            representation: s.representation,
            read: s.read,
            create: s.create,
            update: s.update,
            delete: s.delete,
        }
    }
}

pub(crate) fn to_core(scopes: Vec<Scope>) -> Vec<core::Scope> {
    scopes.into_iter().map(Into::into).collect()
}

/// The permissions one scope grants (`Scope::permissions`).
#[uniffi::export]
pub fn scope_permissions(scope: Scope) -> Vec<String> {
    core::Scope::from(scope).permissions()
}

/// Every permission the scopes grant, without duplicates.
#[uniffi::export]
pub fn scopes_to_permissions(scopes: Vec<Scope>) -> Vec<String> {
    core::scopes_to_permissions(&to_core(scopes))
}

/// Permissions folded back into scopes (`profile.read` → `profile: read`); others are ignored.
#[uniffi::export]
pub fn permissions_to_scopes(permissions: Vec<String>) -> Vec<Scope> {
    core::permissions_to_scopes(&permissions)
        .into_iter()
        .map(Into::into)
        .collect()
}

/// The CLI form `profile:read,update` (`*` = all four actions).
#[uniffi::export]
pub fn parse_scope(input: String) -> Result<Scope, KeyshiftError> {
    Ok(core::Scope::parse_cli(&input)?.into())
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
