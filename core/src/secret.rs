//! A plaintext API key held in memory. Its `Debug` prints only the masked form so that a key
//! inside any struct can be logged or printed without leaking; there is no `Display`.
//!
//! `SecretKey` does not implement `Serialize`: a struct holding one cannot be turned into JSON
//! (a log line, a report, a cache) by accident. The few wire fields that must carry the
//! plaintext (`keys.verifyKey`'s `key`, the `key` answered by createKey and rerollKey, …) name
//! that on purpose with `#[serde(serialize_with = "crate::secret::serialize_exposed")]`.
//! Comparison is constant time, and the plaintext is zeroed when the value is dropped.

use serde::{Deserialize, Serialize, Serializer};
use zeroize::Zeroize;

/// `impl Debug` for a struct that holds credentials: lists its fields in order, each shown
/// as is or through a masking function (`field => mask`, called with `&self.field`); a final
/// `..` leaves the rest out (`finish_non_exhaustive`).
///
/// ```
/// struct Session { id: String, token: String }
/// keyshift_core::redacted_debug!(Session { id, token => keyshift_core::secret::redacted });
/// let s = Session { id: "s_1".into(), token: "pat_secret".into() };
/// assert_eq!(format!("{s:?}"), r#"Session { id: "s_1", token: "…" }"#);
///
/// struct Login { user: String, password: String }
/// keyshift_core::redacted_debug!(Login { user, .. });
/// let l = Login { user: "ada".into(), password: "hunter2".into() };
/// assert_eq!(format!("{l:?}"), r#"Login { user: "ada", .. }"#);
/// ```
#[macro_export]
macro_rules! redacted_debug {
    (@show $value:expr) => { &$value };
    (@show $value:expr, $mask:path) => { &$mask(&$value) };
    (@impl $ty:ident $finish:ident { $($field:ident $(=> $mask:path)?),* }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), $crate::redacted_debug!(@show self.$field $(, $mask)?)))*
                    .$finish()
            }
        }
    };
    ($ty:ident { $($field:ident $(=> $mask:path)?),* $(,)? }) => {
        $crate::redacted_debug!(@impl $ty finish { $($field $(=> $mask)?),* });
    };
    ($ty:ident { $($field:ident $(=> $mask:path)?,)* .. }) => {
        $crate::redacted_debug!(@impl $ty finish_non_exhaustive { $($field $(=> $mask)?),* });
    };
}

/// What [`redacted_debug!`] shows for a credential it must not show at all: `"…"`.
pub fn redacted<T: ?Sized>(_: &T) -> &'static str {
    "…"
}

/// A plaintext key or root key. Read it with [`SecretKey::expose`]; everything else masks it.
#[derive(Clone, Deserialize, Default)]
#[serde(transparent)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(plaintext: impl Into<String>) -> Self {
        SecretKey(plaintext.into())
    }

    /// The plaintext. Call sites of this method are the only places a secret leaves its box.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The plaintext as a `String` (the caller now owns it and its erasure).
    pub fn into_inner(mut self) -> String {
        std::mem::take(&mut self.0)
    }

    /// `sk_live_…Xy9Z`, safe to log.
    pub fn masked(&self) -> String {
        crate::keyformat::mask_key(&self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison with another plaintext.
    pub fn ct_eq(&self, other: &str) -> bool {
        crate::hashing::constant_time_eq(self.0.as_bytes(), other.as_bytes())
    }
}

/// Constant time in the contents (only the lengths may show).
impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(&other.0)
    }
}

impl Eq for SecretKey {}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for SecretKey {}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.masked())
    }
}

impl From<String> for SecretKey {
    fn from(value: String) -> Self {
        SecretKey(value)
    }
}

impl From<&str> for SecretKey {
    fn from(value: &str) -> Self {
        SecretKey(value.to_string())
    }
}

/// Serializes the PLAINTEXT of a key, for a wire field that must carry it:
/// `#[serde(serialize_with = "crate::secret::serialize_exposed")]`.
pub fn serialize_exposed<S: Serializer>(key: &SecretKey, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(key.expose())
}

/// [`serialize_exposed`] for an optional key.
pub fn serialize_exposed_opt<S: Serializer>(
    key: &Option<SecretKey>,
    s: S,
) -> Result<S::Ok, S::Error> {
    key.as_ref().map(SecretKey::expose).serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_compares_contents_in_constant_time_and_debug_masks() {
        let a = SecretKey::new("sk_live_abcdefghijklmnop");
        assert_eq!(a, SecretKey::new("sk_live_abcdefghijklmnop"));
        assert_ne!(a, SecretKey::new("sk_live_abcdefghijklmnoq"));
        assert_ne!(a, SecretKey::new("sk_live_abc"));
        assert!(!format!("{a:?}").contains("abcdefghijklmnop"));
    }

    /// Issue 9 #9: a struct holding a key cannot be serialized without naming the exposure.
    #[test]
    fn only_an_explicit_path_serializes_the_plaintext() {
        // `SecretKey: Serialize` would make this a different function (see the compile-time
        // check below); the wire's explicit path writes the plaintext.
        #[derive(Serialize)]
        struct Wire {
            #[serde(serialize_with = "serialize_exposed")]
            key: SecretKey,
            #[serde(serialize_with = "serialize_exposed_opt")]
            maybe: Option<SecretKey>,
        }
        let json = serde_json::to_string(&Wire {
            key: SecretKey::new("sk_1"),
            maybe: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"key":"sk_1","maybe":null}"#);
        // Deserializing stays transparent.
        let k: SecretKey = serde_json::from_str(r#""sk_2""#).unwrap();
        assert_eq!(k.expose(), "sk_2");
    }

    /// Compile-time: `SecretKey` implements no `Serialize` (the probe picks the fallback).
    #[test]
    fn secret_key_is_not_serialize() {
        trait NotSerialize {
            const SERIALIZE: bool = false;
        }
        impl<T: ?Sized> NotSerialize for T {}
        struct Probe<T: ?Sized>(std::marker::PhantomData<T>);
        #[allow(dead_code)]
        impl<T: ?Sized + Serialize> Probe<T> {
            const SERIALIZE: bool = true;
        }
        const { assert!(!Probe::<SecretKey>::SERIALIZE) };
        const { assert!(Probe::<String>::SERIALIZE) };
    }

    #[test]
    fn zeroized_on_drop() {
        use zeroize::ZeroizeOnDrop;
        fn assert_zod<T: ZeroizeOnDrop>() {}
        assert_zod::<SecretKey>();
        // (Reading freed memory to watch the zeros would be undefined behaviour; the Drop impl
        // is `self.0.zeroize()`, zeroize's volatile wipe of the whole buffer.)
        let k = SecretKey::new("sk_live_into_inner");
        assert_eq!(k.into_inner(), "sk_live_into_inner");
    }
}
