//! The wire models of DESIGN.md §4: the JSON request and response bodies of every operation of
//! the Unkey-v2-compatible API, shared by our server (engine) and our HTTP client.
//!
//! Field names, optionality and limits follow Unkey's published v2 OpenAPI reference.
//! Conventions:
//! - every **request** struct has `deny_unknown_fields` (the server answers 400 for an unknown
//!   field) and implements [`Validate`], which checks the documented limits ([`limits`]) and
//!   returns every bad field with its location (`body.byteLength`, `body.keys[3].hash`, …);
//! - **response** structs tolerate unknown fields (a newer hosted Unkey may add some) and skip
//!   absent optional fields when serialized;
//! - fields that carry a plaintext key are [`SecretKey`](crate::SecretKey), whose `Debug` masks;
//! - nullable fields of `keys.updateKey` are [`Patch`]es: absent (left as is), `null` (cleared)
//!   or a value (set).
//!
//! Layout: [`Op`] (`op`), the envelopes (`envelope`), [`limits`], validation and serde helpers
//! (`validate`), then one file per operation group: `apis`, `keys` (with `verify` and
//! `migrate`), `permissions`, `identities`, `portal`. Everything is re-exported here: `wire::X` is the path.

/// Declares a wire struct. Its fields are written
/// - `pub name: T` — as written;
/// - `opt name: T` — `pub name: Option<T>`: may be absent (skipped when `None`), but not `null`
///   (Unkey's validator refuses it; see `validate::present`);
/// - `maybe name: T` — `pub name: Option<T>`, skipped when `None`, `null` read as `None`
///   (response fields);
/// - `patch name: T` — `pub name: Patch<T>`: absent, `null` or a value;
/// - `key_settings!` — the settings of a key, shared by createKey and migrateKeys.
macro_rules! wire_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        wire_struct!(@munch [$(#[$m])* pub struct $name] [] $($body)*);
    };
    (@munch $head:tt [$($done:tt)*] $(#[$fm:meta])* opt $f:ident : $t:ty $(, $($rest:tt)*)?) => {
        wire_struct!(@munch $head [$($done)* $(#[$fm])*
            #[serde(default, deserialize_with = "crate::wire::validate::present")]
            #[serde(skip_serializing_if = "Option::is_none")]
            pub $f: Option<$t>,] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] $(#[$fm:meta])* maybe $f:ident : $t:ty $(, $($rest:tt)*)?) => {
        wire_struct!(@munch $head [$($done)* $(#[$fm])*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub $f: Option<$t>,] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] $(#[$fm:meta])* patch $f:ident : $t:ty $(, $($rest:tt)*)?) => {
        wire_struct!(@munch $head [$($done)* $(#[$fm])*
            #[serde(default, skip_serializing_if = "crate::wire::Patch::is_leave")]
            pub $f: crate::wire::Patch<$t>,] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] $(#[$fm:meta])* pub $f:ident : $t:ty $(, $($rest:tt)*)?) => {
        wire_struct!(@munch $head [$($done)* $(#[$fm])* pub $f: $t,] $($($rest)*)?);
    };
    // The settings a key is created or migrated with (createKey, migrateKeys' key data):
    // declared once, in this order.
    (@munch $head:tt [$($done:tt)*] key_settings! $(, $($rest:tt)*)?) => {
        wire_struct!(@munch $head [$($done)*]
            opt name: String,
            /// The owner of the key (created when it does not exist).
            opt external_id: String,
            opt meta: crate::wire::Metadata,
            /// Role names (they must exist).
            opt roles: Vec<String>,
            /// Permission slugs (missing ones are created).
            opt permissions: Vec<String>,
            /// Unix ms when the key expires.
            opt expires: i64,
            opt enabled: bool,
            opt credits: crate::wire::CreditsRequest,
            opt ratelimits: Vec<crate::wire::RatelimitRequest>
            $(, $($rest)*)?);
    };
    (@munch [$($head:tt)*] [$($done:tt)*]) => {
        $($head)* { $($done)* }
    };
}

/// A request naming one resource by a single field, shared by the get and the delete of its
/// group (`GetRoleRequest` = `DeleteRoleRequest`): the struct, the delete alias, and the
/// validation `|c, value| check` of the field.
macro_rules! ref_request {
    (
        $(#[$doc:meta])* $get:ident,
        $(#[$ddoc:meta])* $delete:ident { $field:ident }
        |$c:ident, $v:ident| $check:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $get {
            pub $field: String,
        }

        $(#[$ddoc])*
        pub type $delete = $get;

        impl Validate for $get {
            fn validate(&self) -> Vec<FieldError> {
                let $v = self.$field.as_str();
                super::validate::check(|$c| {
                    $check;
                })
            }
        }
    };
}

mod analytics;
mod apis;
mod envelope;
mod identities;
mod keys;
pub mod limits;
mod migrate;
mod op;
mod permissions;
mod portal;
mod validate;
mod verify;

#[cfg(test)]
mod testing;

pub use analytics::*;
pub use apis::*;
pub use envelope::*;
pub use identities::*;
pub use keys::*;
pub use migrate::*;
pub use op::*;
pub use permissions::*;
pub use portal::*;
pub use validate::{
    is_id_char, is_permission_query_char, is_permission_slug_char, Patch, Validate,
    PERMISSION_SLUG_CHARS,
};
pub use verify::*;

/// Free-form JSON metadata (`meta`).
pub type Metadata = serde_json::Map<String, serde_json::Value>;
