//! Validation of requests against [`super::limits`] ([`Validate`], and the `Checker` every
//! request's `validate` uses), the alphabets of ids, external ids and permission slugs, and the
//! serde helpers of the wire models: [`Patch`] and the present / nullable field readers.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::limits::*;
use super::{CreditsRequest, KeyCreditsRefill, Metadata, RatelimitRequest, RefillInterval};
use crate::FieldError;

/// Checks a request against the documented limits. Locations are `body.<camelCasePath>`.
pub trait Validate {
    fn validate(&self) -> Vec<FieldError>;
}

/// Characters of an id (`keyId`, `apiId`) and of a key prefix (`^[a-zA-Z0-9_]+$`).
pub fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_external_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Characters of Unkey's `ResourceIdentifier` (`^[a-zA-Z0-9_-]+$`).
fn is_resource_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Characters of a permission slug (`^[a-zA-Z0-9_:\-\.\*]+$`): of every permission a key, a
/// role or a [`crate::Scope`] can hold.
pub fn is_permission_slug_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.' | '*')
}

/// What [`is_permission_slug_char`] allows, in words (error messages).
pub const PERMISSION_SLUG_CHARS: &str = "letters, digits and '_', ':', '-', '.', '*'";

/// Characters of a permission name inside a permission query: a slug's, and `/`, which the query
/// grammar has always accepted (such a name matches no permission, as no slug contains it).
pub fn is_permission_query_char(c: char) -> bool {
    is_permission_slug_char(c) || c == '/'
}

const ID_CHARS: &str = "letters, digits and underscores";

/// Runs `check` on a fresh checker and returns what it found.
pub(crate) fn check(check: impl FnOnce(&mut Checker)) -> Vec<FieldError> {
    let mut c = Checker { errors: Vec::new() };
    check(&mut c);
    c.errors
}

/// Collects the field errors of one request.
pub(crate) struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    pub(crate) fn push(&mut self, location: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            location: format!("body.{location}"),
            message: message.into(),
        });
    }

    pub(crate) fn len(&mut self, location: &str, value: &str, min: usize, max: usize) -> bool {
        let n = value.chars().count();
        let (bound, limit) = match () {
            _ if n < min => ("least", min),
            _ if n > max => ("most", max),
            _ => return true,
        };
        self.push(
            location,
            format!("must be at {bound} {limit} characters long (got {n})"),
        );
        false
    }

    /// Runs `check` on the value of an optional field when it is there.
    pub(crate) fn some<T: ?Sized, R>(
        &mut self,
        value: Option<&T>,
        check: impl FnOnce(&mut Self, &T) -> R,
    ) {
        if let Some(value) = value {
            check(self, value);
        }
    }

    /// Runs `check` on every item with its location `location[i]`.
    pub(crate) fn each<T>(
        &mut self,
        location: &str,
        items: &[T],
        mut check: impl FnMut(&mut Self, &str, &T),
    ) {
        for (i, item) in items.iter().enumerate() {
            check(self, &format!("{location}[{i}]"), item);
        }
    }

    /// The name of a ratelimit at `location` (`….name`), 3 to `max` characters.
    pub(crate) fn ratelimit_name(&mut self, location: &str, name: &str, max: usize) {
        self.len(
            &format!("{location}.name"),
            name,
            RATELIMIT_NAME_MIN_LEN,
            max,
        );
    }

    /// At least one character (no maximum).
    pub(crate) fn non_empty(&mut self, location: &str, value: &str) {
        self.len(location, value, 1, usize::MAX);
    }

    /// Length in `min..=max`, then every character `ok`.
    fn text(
        &mut self,
        location: &str,
        value: &str,
        (min, max): (usize, usize),
        ok: fn(char) -> bool,
        what: &str,
    ) {
        if self.len(location, value, min, max) && !value.chars().all(ok) {
            self.push(location, format!("may only contain {what}"));
        }
    }

    pub(crate) fn id(&mut self, location: &str, value: &str) {
        self.text(
            location,
            value,
            (ID_MIN_LEN, ID_MAX_LEN),
            is_id_char,
            ID_CHARS,
        );
    }

    /// `apiId` of `apis.getApi` / `apis.deleteApi`: Unkey's schema asks at least 8 characters.
    pub(crate) fn api_id(&mut self, location: &str, value: &str) {
        self.text(
            location,
            value,
            (API_ID_MIN_LEN, ID_MAX_LEN),
            is_id_char,
            ID_CHARS,
        );
    }

    /// `roleId` of `permissions.setRolePermissions` (Unkey's `ResourceIdentifier`).
    pub(crate) fn resource_id(&mut self, location: &str, value: &str) {
        let what = "letters, digits, '_' and '-'";
        self.text(
            location,
            value,
            (ID_MIN_LEN, ID_MAX_LEN),
            is_resource_identifier_char,
            what,
        );
    }

    pub(crate) fn prefix(&mut self, location: &str, value: &str) {
        self.text(
            location,
            value,
            (PREFIX_MIN_LEN, PREFIX_MAX_LEN),
            is_id_char,
            ID_CHARS,
        );
    }

    pub(crate) fn external_id(&mut self, location: &str, value: &str) {
        let what = "letters, digits, '_', '.' and '-'";
        self.text(
            location,
            value,
            (1, EXTERNAL_ID_MAX_LEN),
            is_external_id_char,
            what,
        );
    }

    /// One permission slug: 1–[`PERMISSION_SLUG_MAX_LEN`] of [`is_permission_slug_char`].
    pub(crate) fn slug(&mut self, location: &str, value: &str) {
        let (ok, what) = (is_permission_slug_char, PERMISSION_SLUG_CHARS);
        self.text(location, value, (1, PERMISSION_SLUG_MAX_LEN), ok, what);
    }

    pub(crate) fn meta(&mut self, location: &str, meta: &Metadata) {
        if meta.len() > META_MAX_PROPERTIES {
            self.push(
                location,
                format!(
                    "may have at most {META_MAX_PROPERTIES} properties (got {})",
                    meta.len()
                ),
            );
        }
    }

    pub(crate) fn slugs(&mut self, location: &str, items: &[String], min: usize, max: usize) {
        self.count(location, items.len(), min, max);
        self.each(location, items, |c, at, slug| c.slug(at, slug));
    }

    pub(crate) fn role_names(&mut self, location: &str, items: &[String], min: usize, max: usize) {
        self.count(location, items.len(), min, max);
        self.each(location, items, |c, at, role| {
            c.len(at, role, 1, ROLE_NAME_MAX_LEN);
        });
    }

    pub(crate) fn count(&mut self, location: &str, n: usize, min: usize, max: usize) {
        if n < min {
            self.push(
                location,
                format!("must have at least {min} items (got {n})"),
            );
        } else if n > max {
            self.push(location, format!("must have at most {max} items (got {n})"));
        }
    }

    pub(crate) fn expires(&mut self, location: &str, value: i64) {
        if !(0..=EXPIRES_MAX_MS).contains(&value) {
            self.push(
                location,
                format!("must be a unix timestamp in milliseconds between 0 and {EXPIRES_MAX_MS}"),
            );
        }
    }

    pub(crate) fn refill(&mut self, location: &str, refill: &KeyCreditsRefill) {
        if refill.interval == RefillInterval::Unknown {
            self.push(
                &format!("{location}.interval"),
                "must be \"daily\" or \"monthly\"",
            );
        }
        if refill.amount < 1 {
            self.push(&format!("{location}.amount"), "must be at least 1");
        }
        if let Some(day) = refill.refill_day {
            if !(REFILL_DAY_MIN..=REFILL_DAY_MAX).contains(&day) {
                self.push(
                    &format!("{location}.refillDay"),
                    format!("must be between {REFILL_DAY_MIN} and {REFILL_DAY_MAX}"),
                );
            }
        } else if refill.interval == RefillInterval::Monthly {
            // Unkey's create, migrate and update handlers all refuse a monthly refill without
            // its day.
            self.push(
                &format!("{location}.refillDay"),
                "`refillDay` must be provided when the refill interval is `monthly`",
            );
        }
    }

    pub(crate) fn remaining(&mut self, location: &str, remaining: Option<i64>) {
        if matches!(remaining, Some(r) if r < 0) {
            self.push(location, "must not be negative");
        }
    }

    pub(crate) fn credits(&mut self, location: &str, credits: &CreditsRequest) {
        self.remaining(&format!("{location}.remaining"), credits.remaining);
        if let Some(refill) = &credits.refill {
            self.refill(&format!("{location}.refill"), refill);
        }
    }

    pub(crate) fn ratelimits(&mut self, location: &str, items: &[RatelimitRequest]) {
        self.count(location, items.len(), 0, RATELIMITS_MAX);
        self.each(location, items, |c, loc, rl| {
            c.ratelimit_name(loc, &rl.name, RATELIMIT_NAME_MAX_LEN);
            if rl.limit < RATELIMIT_LIMIT_MIN {
                c.push(
                    &format!("{loc}.limit"),
                    format!("must be at least {RATELIMIT_LIMIT_MIN}"),
                );
            }
            if !(RATELIMIT_DURATION_MIN_MS..=RATELIMIT_DURATION_MAX_MS).contains(&rl.duration) {
                c.push(
                    &format!("{loc}.duration"),
                    format!(
                        "must be between {RATELIMIT_DURATION_MIN_MS} and {RATELIMIT_DURATION_MAX_MS} milliseconds"
                    ),
                );
            }
        });
    }

    pub(crate) fn list(&mut self, limit: Option<u32>, cursor: Option<&str>, search: Option<&str>) {
        if let Some(limit) = limit {
            if !(LIST_LIMIT_MIN..=LIST_LIMIT_MAX).contains(&limit) {
                self.push(
                    "limit",
                    format!("must be between {LIST_LIMIT_MIN} and {LIST_LIMIT_MAX}"),
                );
            }
        }
        if let Some(cursor) = cursor {
            self.len("cursor", cursor, 0, CURSOR_MAX_LEN);
        }
        if let Some(search) = search {
            self.len("search", search, 0, SEARCH_MAX_LEN);
        }
    }
}

/// A field of a patch (`keys.updateKey`): left as it is, cleared, or set. On the wire: absent,
/// `null`, or the value — the three states bindings spell `leave` / `clear` / `set(v)`. Fields
/// of this type carry `#[serde(default, skip_serializing_if = "Patch::is_leave")]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Patch<T> {
    /// Absent: unchanged.
    Leave,
    /// `null`: cleared.
    Clear,
    /// A value: set to it.
    Set(T),
}

// By hand: `#[derive(Default)]` would ask `T: Default`.
#[allow(clippy::derivable_impls)]
impl<T> Default for Patch<T> {
    fn default() -> Self {
        Patch::Leave
    }
}

impl<T> Patch<T> {
    pub fn is_leave(&self) -> bool {
        matches!(self, Patch::Leave)
    }

    /// The value being set, if any.
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Patch::Set(v) => Some(v),
            _ => None,
        }
    }

    /// `None` = leave, `Some(None)` = clear, `Some(Some(v))` = set (borrowed).
    pub fn as_option(&self) -> Option<Option<&T>> {
        match self {
            Patch::Leave => None,
            Patch::Clear => Some(None),
            Patch::Set(v) => Some(Some(v)),
        }
    }

    /// `None` = leave, `Some(None)` = clear, `Some(Some(v))` = set.
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Patch::Leave => None,
            Patch::Clear => Some(None),
            Patch::Set(v) => Some(Some(v)),
        }
    }
}

impl<T> From<Option<Option<T>>> for Patch<T> {
    fn from(value: Option<Option<T>>) -> Self {
        match value {
            None => Patch::Leave,
            Some(None) => Patch::Clear,
            Some(Some(v)) => Patch::Set(v),
        }
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Set(v) => serializer.serialize_some(v),
            // `Leave` is skipped by the field's `skip_serializing_if`; written alone it is null.
            Patch::Leave | Patch::Clear => serializer.serialize_none(),
        }
    }
}

/// Reads `null` as [`Patch::Clear`] and a value as [`Patch::Set`]; an absent field is
/// [`Patch::Leave`] through `#[serde(default)]`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            None => Patch::Clear,
            Some(v) => Patch::Set(v),
        })
    }
}

pub(crate) fn default_true() -> bool {
    true
}

/// Deserializes an optional request field that Unkey's schema does not allow to be `null`:
/// absent → `None` (via `default`), a value → `Some`, `null` → "invalid type: null, expected …"
/// (a 400 naming the field, as Unkey's validator answers).
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Deserializes a field that must be present but may be `null` (`credits.remaining` on
/// create/migrate). Without `default`, serde reports it missing when absent.
pub(crate) fn required_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// A list that may arrive as `null` (Go's nil slice), read as empty.
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}
