//! Scopes and permission queries (core `scope` and `query` modules).

use keyshift_core::{permissions_to_scopes, scopes_to_permissions, PermissionQuery as CoreQuery};
use napi::Env;
use napi_derive::napi;

use crate::error::js_error;

/// `{representation, read, create, update, delete}`.
#[napi(object)]
pub struct Scope {
    pub representation: String,
    pub read: Option<bool>,
    pub create: Option<bool>,
    pub update: Option<bool>,
    pub delete: Option<bool>,
}

impl From<Scope> for keyshift_core::Scope {
    fn from(s: Scope) -> Self {
        keyshift_core::Scope {
            representation: s.representation,
            read: s.read.unwrap_or(false),
            create: s.create.unwrap_or(false),
            update: s.update.unwrap_or(false),
            delete: s.delete.unwrap_or(false),
        }
    }
}

impl From<keyshift_core::Scope> for Scope {
    fn from(s: keyshift_core::Scope) -> Self {
        Scope {
            representation: s.representation,
            read: Some(s.read),
            create: Some(s.create),
            update: Some(s.update),
            delete: Some(s.delete),
        }
    }
}

/// The permission strings of `scopes` (`profile.read`, …), without duplicates.
#[napi]
pub fn scopes_to_permissions_js(scopes: Vec<Scope>) -> Vec<String> {
    let scopes: Vec<keyshift_core::Scope> = scopes.into_iter().map(Into::into).collect();
    scopes_to_permissions(&scopes)
}

/// Folds `*.read|create|update|delete` permissions back into scopes.
#[napi]
pub fn permissions_to_scopes_js(permissions: Vec<String>) -> Vec<Scope> {
    permissions_to_scopes(&permissions)
        .into_iter()
        .map(Into::into)
        .collect()
}

/// The CLI form `profile:read,update` (`*` = all four).
#[napi]
pub fn parse_scope(env: Env, input: String) -> napi::Result<Scope> {
    keyshift_core::Scope::parse_cli(&input)
        .map(Into::into)
        .map_err(|e| js_error(&env, &e))
}

/// A parsed permission query (`a AND (b OR c)`).
#[napi]
pub struct PermissionQuery {
    inner: CoreQuery,
}

#[napi]
impl PermissionQuery {
    /// Whether `granted` satisfies the query (exact names).
    #[napi]
    pub fn evaluate(&self, granted: Vec<String>) -> bool {
        self.inner.evaluate_set(&granted)
    }
    /// Every permission the query names, in order of appearance.
    #[napi]
    pub fn names(&self) -> Vec<String> {
        self.inner.names().into_iter().map(str::to_string).collect()
    }
    /// The canonical form (`a AND (b OR c)`).
    #[napi(js_name = "toString")]
    pub fn to_js_string(&self) -> String {
        self.inner.to_string()
    }
}

#[napi]
pub fn parse_permission_query(env: Env, query: String) -> napi::Result<PermissionQuery> {
    keyshift_core::parse_permission_query(&query)
        .map(|inner| PermissionQuery { inner })
        .map_err(|e| js_error(&env, &e))
}
