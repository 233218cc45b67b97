//! Scopes (DESIGN.md §3): `{representation, read, create, update, delete}`, a compact way to
//! write the permissions `profile.read`, `profile.create`, … . A key's scopes and its
//! permissions are the same thing seen two ways: [`scopes_to_permissions`] expands,
//! [`permissions_to_scopes`] folds back.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::wire::{self, limits::PERMISSION_SLUG_MAX_LEN};

/// The four actions of a scope, in the order permissions are listed.
pub const ACTIONS: [&str; 4] = ["read", "create", "update", "delete"];

/// Longest permission a scope can grant: a permission slug's limit
/// ([`PERMISSION_SLUG_MAX_LEN`], what `keys.createKey` accepts); a representation leaves room
/// for `.delete`.
pub const MAX_PERMISSION_LEN: usize = PERMISSION_SLUG_MAX_LEN;

/// Longest representation: room is left for the longest action, `.delete`.
pub const MAX_REPRESENTATION_LEN: usize = MAX_PERMISSION_LEN - ".delete".len();

/// A resource and the actions allowed on it. Serialized in camelCase; missing actions are false.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// The resource, e.g. `profile` (may itself contain dots: `org.billing`).
    pub representation: String,
    /// Grants `{representation}.read`.
    #[serde(default)]
    pub read: bool,
    /// Grants `{representation}.create`.
    #[serde(default)]
    pub create: bool,
    /// Grants `{representation}.update`.
    #[serde(default)]
    pub update: bool,
    /// Grants `{representation}.delete`.
    #[serde(default)]
    pub delete: bool,
}

/// Whether `c` may appear in a permission name of a permission query
/// ([`wire::is_permission_query_char`]). A scope's representation takes the slug alphabet
/// ([`wire::is_permission_slug_char`]), which has no `/`.
pub fn is_permission_char(c: char) -> bool {
    wire::is_permission_query_char(c)
}

/// The builder methods `with_<action>`: the same scope, also allowing the action.
macro_rules! with_action {
    ($($(#[$doc:meta])* $method:ident: $action:ident,)*) => {$(
        $(#[$doc])*
        pub fn $method(mut self) -> Self {
            self.$action = true;
            self
        }
    )*};
}

impl Scope {
    /// A scope on `representation` with no action allowed yet.
    pub fn new(representation: impl Into<String>) -> Self {
        Scope {
            representation: representation.into(),
            ..Scope::default()
        }
    }

    with_action! {
        /// The same scope, also allowing `read`.
        with_read: read,
        /// The same scope, also allowing `create`.
        with_create: create,
        /// The same scope, also allowing `update`.
        with_update: update,
        /// The same scope, also allowing `delete`.
        with_delete: delete,
    }

    /// The same scope, allowing all four actions.
    pub fn with_all(self) -> Self {
        self.with_read().with_create().with_update().with_delete()
    }

    /// The permissions this scope grants, in the order read, create, update, delete
    /// (`profile.read`, …).
    pub fn permissions(&self) -> Vec<String> {
        [self.read, self.create, self.update, self.delete]
            .into_iter()
            .zip(ACTIONS)
            .filter(|(allowed, _)| *allowed)
            .map(|(_, action)| format!("{}.{action}", self.representation))
            .collect()
    }

    /// Whether the scope allows no action at all.
    pub fn is_empty(&self) -> bool {
        !(self.read || self.create || self.update || self.delete)
    }

    /// Checks the representation with the rule of permission slugs, the one `keys.createKey`
    /// applies to the permissions it grants: not empty, at most [`MAX_REPRESENTATION_LEN`]
    /// characters, only letters, digits and `_ : - . *` (`invalid_input`, field `scopes`).
    pub fn validate(&self) -> Result<()> {
        let r = &self.representation;
        if r.is_empty() {
            return Err(Error::invalid_input(
                "scopes",
                "scope representation must not be empty",
            ));
        }
        if r.chars().count() > MAX_REPRESENTATION_LEN {
            return Err(Error::invalid_input(
                "scopes",
                format!(
                    "scope representation is too long (at most {MAX_REPRESENTATION_LEN} characters)"
                ),
            ));
        }
        let bad = r
            .chars()
            .enumerate()
            .find(|(_, c)| !wire::is_permission_slug_char(*c));
        if let Some((i, c)) = bad {
            return Err(Error::invalid_input(
                "scopes",
                format!(
                    "invalid character {c:?} at position {i} of scope representation; \
                     allowed: {}",
                    wire::PERMISSION_SLUG_CHARS
                ),
            ));
        }
        Ok(())
    }

    /// Parses the CLI form `profile:read,update` (actions `read`, `create`, `update`, `delete`
    /// or `*` for all four, case-insensitive, comma-separated). The representation is what comes
    /// before the last `:`. Errors are `invalid_input` on field `scopes`.
    pub fn parse_cli(s: &str) -> Result<Scope> {
        let (representation, actions) = s.rsplit_once(':').ok_or_else(|| {
            Error::invalid_input(
                "scopes",
                "scope must be written REPRESENTATION:ACTIONS, e.g. profile:read,update",
            )
        })?;
        let mut scope = Scope::new(representation.trim());
        for action in actions.split(',').map(str::trim) {
            match action.to_ascii_lowercase().as_str() {
                "read" => scope.read = true,
                "create" => scope.create = true,
                "update" => scope.update = true,
                "delete" => scope.delete = true,
                "*" => scope = scope.with_all(),
                "" => return Err(Error::invalid_input(
                    "scopes",
                    "scope actions must not be empty; expected read, create, update, delete or *",
                )),
                _ => {
                    let shown: String = action.chars().take(32).collect();
                    return Err(Error::invalid_input(
                        "scopes",
                        format!(
                            "unknown scope action {shown:?}; expected read, create, update, delete or *"
                        ),
                    ));
                }
            }
        }
        scope.validate()?;
        Ok(scope)
    }
}

/// Every permission the scopes grant, without duplicates, in order of first appearance.
pub fn scopes_to_permissions(scopes: &[Scope]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for permission in scopes.iter().flat_map(Scope::permissions) {
        if seen.insert(permission.clone()) {
            out.push(permission);
        }
    }
    out
}

/// Folds permissions named `{x}.read|create|update|delete` back into scopes (split at the last
/// `.`; `x` must not be empty). Other permissions are ignored. Scopes are ordered by the first
/// appearance of their representation.
pub fn permissions_to_scopes<S: AsRef<str>>(permissions: &[S]) -> Vec<Scope> {
    let mut out: Vec<Scope> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for permission in permissions {
        let Some((representation, action)) = permission.as_ref().rsplit_once('.') else {
            continue;
        };
        if representation.is_empty() || !ACTIONS.contains(&action) {
            continue;
        }
        let i = *index.entry(representation.to_string()).or_insert_with(|| {
            out.push(Scope::new(representation));
            out.len() - 1
        });
        let scope = &mut out[i];
        match action {
            "read" => scope.read = true,
            "create" => scope.create = true,
            "update" => scope.update = true,
            _ => scope.delete = true,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_in_fixed_order() {
        let s = Scope::new("profile").with_delete().with_read();
        assert_eq!(s.permissions(), ["profile.read", "profile.delete"]);
        assert!(Scope::new("x").permissions().is_empty());
        assert!(Scope::new("x").is_empty());
        assert_eq!(
            Scope::new("a").with_all().permissions(),
            ["a.read", "a.create", "a.update", "a.delete"]
        );
    }

    #[test]
    fn serde_camel_case_with_defaults() {
        let s: Scope = serde_json::from_str(r#"{"representation":"profile","read":true}"#).unwrap();
        assert_eq!(s, Scope::new("profile").with_read());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["representation"], "profile");
        assert_eq!(json["delete"], false);
    }

    #[test]
    fn parse_cli_forms() {
        assert_eq!(
            Scope::parse_cli("profile:read,update").unwrap(),
            Scope::new("profile").with_read().with_update()
        );
        assert_eq!(
            Scope::parse_cli("org:billing: READ , Delete").unwrap(),
            Scope::new("org:billing").with_read().with_delete()
        );
        assert_eq!(Scope::parse_cli("a:*").unwrap(), Scope::new("a").with_all());
        for bad in [
            "profile",
            "profile:",
            "profile:write",
            ":read",
            "pro file:read",
            "é:read",
            "a:read,,update",
        ] {
            let err = Scope::parse_cli(bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("scopes"), "{bad}");
        }
    }

    #[test]
    fn validate_limits() {
        assert!(Scope::new("a.b-c_d*:e").validate().is_ok());
        assert!(Scope::new("").validate().is_err());
        assert!(Scope::new("x".repeat(121)).validate().is_ok());
        assert!(Scope::new("x".repeat(122)).validate().is_err());
        let err = Scope::new("a!b").validate().unwrap_err();
        assert!(err.message.contains("position 1"));
        // Issue 10: `/` is not in a permission slug, so `a/b` fails here, not at createKey.
        let err = Scope::new("a/b").validate().unwrap_err();
        assert!(err.message.contains("position 1"), "{}", err.message);
    }

    /// One rule: every permission of a valid scope is a slug `keys.createKey` accepts, and a
    /// scope whose permissions createKey would refuse is refused here.
    #[test]
    fn valid_scopes_grant_permissions_create_key_accepts() {
        use crate::wire::{CreateKeyRequest, Validate};
        let create_key = |scope: &Scope| CreateKeyRequest {
            api_id: "api_123".into(),
            permissions: Some(scope.permissions()),
            ..Default::default()
        };
        for representation in [
            "profile".to_string(),
            "org:billing.*".into(),
            "x".repeat(MAX_REPRESENTATION_LEN),
            "x".repeat(MAX_REPRESENTATION_LEN + 1),
            "a/b".into(),
            "a b".into(),
            "é".into(),
        ] {
            let scope = Scope::new(representation.as_str()).with_all();
            assert_eq!(
                scope.validate().is_ok(),
                create_key(&scope).validate().is_empty(),
                "{representation}"
            );
        }
    }

    #[test]
    fn expand_and_fold() {
        let scopes = vec![
            Scope::new("profile").with_read().with_update(),
            Scope::new("billing").with_delete(),
            Scope::new("profile").with_read(),
        ];
        let perms = scopes_to_permissions(&scopes);
        assert_eq!(perms, ["profile.read", "profile.update", "billing.delete"]);
        let folded = permissions_to_scopes(&perms);
        assert_eq!(
            folded,
            [
                Scope::new("profile").with_read().with_update(),
                Scope::new("billing").with_delete()
            ]
        );
        let mixed = [
            "admin",
            "a.b.read",
            ".read",
            "x.write",
            "a.b.delete",
            "read",
        ];
        assert_eq!(
            permissions_to_scopes(&mixed),
            [Scope::new("a.b").with_read().with_delete()]
        );
        let empty: [&str; 0] = [];
        assert!(permissions_to_scopes(&empty).is_empty());
    }
}
