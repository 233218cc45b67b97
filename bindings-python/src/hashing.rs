//! `keyshift_core::hashing`: hash_key, hash_keys (GIL released, parallel in core),
//! hash_keys_packed (one buffer in, one bytes out), verify_bcrypt, KeyHash.

use keyshift_core::hashing::{self, HashVariant};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use crate::convert::record;
use crate::error::to_py;

fn variant(name: &str) -> PyResult<HashVariant> {
    name.parse().map_err(to_py)
}

record! {
    /// A key's hash and its variant (`sha256_base64`, `sha256_hex` or `bcrypt`).
    KeyHash { value: String, variant: String }
    methods {
        /// Checks that `value` is a well-formed `variant` hash; returns it in canonical form.
        #[staticmethod]
        #[pyo3(signature = (value, variant = "sha256_base64"))]
        fn parse(value: &str, variant: &str) -> PyResult<KeyHash> {
            keyshift_core::KeyHash::parse(value, self::variant(variant)?).map(KeyHash::from).map_err(to_py)
        }
        /// Whether `plaintext` hashes to this value (constant time; bcrypt for bcrypt hashes).
        fn matches(&self, py: Python<'_>, plaintext: &str) -> PyResult<bool> {
            let hash = keyshift_core::KeyHash { value: self.value.clone(), variant: variant(&self.variant)? };
            py.detach(|| hash.matches(plaintext)).map_err(to_py)
        }
    }
}

impl From<keyshift_core::KeyHash> for KeyHash {
    fn from(h: keyshift_core::KeyHash) -> Self {
        KeyHash {
            value: h.value,
            variant: h.variant.as_str().to_string(),
        }
    }
}

/// The hash of one key.
#[pyfunction]
#[pyo3(signature = (plaintext, variant = "sha256_base64"))]
pub fn hash_key(py: Python<'_>, plaintext: &str, variant: &str) -> PyResult<KeyHash> {
    let variant = self::variant(variant)?;
    py.detach(|| keyshift_core::hash_key(plaintext, variant))
        .map(KeyHash::from)
        .map_err(to_py)
}

/// The hashes (values only, in input order) of many keys, computed in parallel without the GIL.
#[pyfunction]
#[pyo3(signature = (plaintexts, variant = "sha256_base64"))]
pub fn hash_keys<'py>(
    py: Python<'py>,
    plaintexts: &Bound<'py, PyAny>,
    variant: &str,
) -> PyResult<Bound<'py, PyList>> {
    let variant = self::variant(variant)?;
    // Hold a reference to every string (so none is freed while the GIL is released) and borrow
    // its UTF-8 form in place: no copy of a million keys before hashing them.
    let owned: Vec<Bound<'py, PyString>> = match plaintexts.cast::<PyList>() {
        Ok(list) => list
            .iter()
            .map(|item| Ok(item.cast_into::<PyString>()?))
            .collect::<PyResult<_>>()?,
        Err(_) => plaintexts
            .try_iter()?
            .map(|item| Ok(item?.cast_into::<PyString>()?))
            .collect::<PyResult<_>>()?,
    };
    let views = owned.iter().map(utf8).collect::<PyResult<Vec<&str>>>()?;
    let Some(width) = hashing::packed_width(variant) else {
        // bcrypt: variable cost per key, one String each.
        let hashes = py
            .detach(|| keyshift_core::hash_keys(&views, variant))
            .map_err(to_py)?;
        return PyList::new(py, hashes.iter().map(|h| PyString::new(py, &h.value)));
    };
    // sha256: every hash into one buffer (no per-key allocation in Rust), then one str each.
    let mut out = vec![0u8; views.len() * width];
    py.detach(|| hashing::hash_keys_into(&views, variant, &mut out))
        .map_err(to_py)?;
    PyList::new(
        py,
        out.chunks_exact(width)
            .map(|h| PyString::new(py, std::str::from_utf8(h).expect("hashes are ASCII"))),
    )
}

/// Many keys in one buffer (`bytes`, or `str` read in place as UTF-8), separated by the single
/// ASCII byte `sep`, hashed without the GIL into one `bytes` of fixed-width hashes: hash `i` is
/// `out[i * w:(i + 1) * w]`, `w` = 44 (sha256_base64) or 64 (sha256_hex). One trailing `sep` is
/// allowed. `count`, when given, must equal the number of keys found (so that a key containing
/// `sep` is an error, not two keys).
#[pyfunction]
#[pyo3(signature = (data, sep = b"\n".as_slice(), variant = "sha256_base64", count = None))]
pub fn hash_keys_packed<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    sep: &[u8],
    variant: &str,
    count: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let variant = self::variant(variant)?;
    let &[sep] = sep else {
        return Err(to_py(keyshift_core::Error::invalid_input(
            "sep",
            "the separator must be one ASCII byte",
        )));
    };
    // Both are immutable and kept alive by `data` for the whole call.
    let bytes: &[u8] = if let Ok(b) = data.cast::<PyBytes>() {
        b.as_bytes()
    } else if let Ok(s) = data.cast::<PyString>() {
        utf8(s)?.as_bytes()
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "data must be bytes or str, not {}",
            data.get_type().name()?
        )));
    };
    let width = hashing::packed_width(variant).ok_or_else(|| {
        to_py(keyshift_core::Error::invalid_input(
            "variant",
            "packed hashing supports sha256_base64 and sha256_hex (bcrypt is one key at a time)",
        ))
    })?;
    let batch = py
        .detach(|| {
            hashing::PackedBatch::new(hashing::PackedKeys::Separated { data: bytes, sep }, count)
        })
        .map_err(to_py)?;
    // Hash straight into the new bytes object's storage (not visible to Python until returned).
    PyBytes::new_with(py, batch.len() * width, |out| {
        py.detach(|| batch.hash_into(variant, out)).map_err(to_py)
    })
}

// In CPython's ABI since 3.3 (in the limited API from 3.10; pyo3-ffi declares it only there).
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::os::raw::c_char;
}

/// The UTF-8 form of `s`, cached inside the (immutable) string object: valid while it lives.
fn utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live str; the returned buffer belongs to it and lives as long as it does
    // (`'a`); CPython guarantees valid UTF-8 or returns NULL with an exception set.
    unsafe {
        let data = PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size);
        if data.is_null() {
            return Err(PyErr::fetch(s.py()));
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
        Ok(std::str::from_utf8_unchecked(bytes))
    }
}

/// Whether `plaintext` matches a bcrypt `hash` (`$2a$`, `$2b$`, `$2y$`).
#[pyfunction]
pub fn verify_bcrypt(py: Python<'_>, plaintext: &str, hash: &str) -> PyResult<bool> {
    py.detach(|| hashing::verify_bcrypt(plaintext, hash))
        .map_err(to_py)
}
