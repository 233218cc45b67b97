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

/// The hashes (values only, in input order) of many keys. The GIL is held only to read the
/// keys and to make the result strings: for large batches a helper thread hashes chunks while
/// this thread turns the finished ones into `str`s (and hashes too, GIL released, whenever the
/// next chunk is not ready yet).
#[pyfunction]
#[pyo3(signature = (plaintexts, variant = "sha256_base64"))]
pub fn hash_keys<'py>(
    py: Python<'py>,
    plaintexts: &Bound<'py, PyAny>,
    variant: &str,
) -> PyResult<Bound<'py, PyList>> {
    let variant = self::variant(variant)?;
    // A list that only this call references holds every key alive (and unchanged) while the
    // GIL is released; the keys are read in place as UTF-8: no copy before hashing them.
    let keys = snapshot(plaintexts)?;
    let views = read_keys(&keys)?;
    let Some(width) = hashing::packed_width(variant) else {
        // bcrypt: variable cost per key, one String each.
        let hashes = py
            .detach(|| keyshift_core::hash_keys(&views, variant))
            .map_err(to_py)?;
        return PyList::new(py, hashes.iter().map(|h| PyString::new(py, &h.value)));
    };
    if views.len() >= hashing::PARALLEL_THRESHOLD {
        return overlapped(py, &views, variant, width);
    }
    let mut out = vec![0u8; views.len() * width];
    py.detach(|| hashing::hash_keys_into(&views, variant, &mut out))
        .map_err(to_py)?;
    let list = new_list(py, views.len())?;
    fill_ascii_strs(py, &list, 0, &out, width)?;
    Ok(list)
}

/// A new list of the keys that no one else references: a slice of a list (one C call that
/// takes a reference to each item), `list(iterable)` for anything else. Its items stay alive
/// and in place while it lives, even if the caller's list changes in another thread.
fn snapshot<'py>(plaintexts: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    match plaintexts.cast_exact::<PyList>() {
        Ok(list) => Ok(list.get_slice(0, list.len())),
        Err(_) => Ok(plaintexts
            .py()
            .get_type::<PyList>()
            .call1((plaintexts,))?
            .cast_into::<PyList>()?),
    }
}

/// The UTF-8 form of every item of `keys` (which must all be `str`), borrowed from the
/// strings themselves (for an ASCII str that is its own character data: nothing is copied).
fn read_keys<'a>(keys: &'a Bound<'_, PyList>) -> PyResult<Vec<&'a str>> {
    let n = keys.len();
    let mut views = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: `i < n` = the length of `keys`, a list no one else references (see
        // `snapshot`), so it cannot shrink; PyList_GetItem returns a borrowed reference, kept
        // alive by `keys` for `'a`.
        let item = unsafe { pyo3::ffi::PyList_GetItem(keys.as_ptr(), i as pyo3::ffi::Py_ssize_t) };
        // SAFETY: `item` is a live object (above).
        if item.is_null() || unsafe { pyo3::ffi::PyUnicode_Check(item) } == 0 {
            // Not a str: pyo3's own TypeError, as before.
            keys.get_item(i)?.cast_into::<PyString>()?;
        }
        // SAFETY: `item` is a live str kept alive by `keys` for `'a` (above).
        views.push(unsafe { utf8_ptr(keys.py(), item) }?);
    }
    Ok(views)
}

/// Keys per chunk of [`overlapped`].
const CHUNK: usize = 1024; // under core's PARALLEL_THRESHOLD: each chunk is hashed on one thread

/// sha256 with the two halves of the work on two threads at once: a helper thread hashes chunks
/// (without touching Python) while this thread, holding the GIL, turns finished chunks into
/// `str`s in order, and hashes a chunk itself (GIL released) whenever the next one to build is
/// not ready. On 2 cores this overlaps CPython's object work with the hashing instead of
/// running them one after the other.
fn overlapped<'py>(
    py: Python<'py>,
    views: &[&str],
    variant: HashVariant,
    width: usize,
) -> PyResult<Bound<'py, PyList>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;
    let n = views.len();
    let list = new_list(py, n)?;
    // SAFETY: `list` is a live list (a GC-tracked container). Untracked, `gc.get_objects()` in
    // another thread (which may run while this one hashes without the GIL) cannot hand out the
    // list while slots are still empty; tracked again below once every slot is set (dropping
    // it untracked on error is fine: its dealloc untracks again, which is allowed).
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(list.as_ptr().cast()) };
    let mut out = vec![0u8; n * width];
    let chunks: Vec<Mutex<&mut [u8]>> = out.chunks_mut(CHUNK * width).map(Mutex::new).collect();
    let ready: Vec<AtomicBool> = chunks.iter().map(|_| AtomicBool::new(false)).collect();
    let failed: Mutex<Option<keyshift_core::Error>> = Mutex::new(None);
    let next = AtomicUsize::new(0);
    // Hashes the next unclaimed chunk; false when none is left.
    let hash_one = || -> bool {
        let c = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = chunks.get(c) else {
            return false;
        };
        let first = c * CHUNK;
        let keys = &views[first..n.min(first + CHUNK)];
        let mut dst = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(mut e) = hashing::hash_keys_into(keys, variant, &mut dst) {
            e.record = e.record.map(|r| r + first as u32);
            let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
            if f.as_ref().is_none_or(|old| old.record > e.record) {
                *f = Some(e);
            }
        }
        ready[c].store(true, Ordering::Release);
        true
    };
    let built = std::thread::scope(|scope| -> PyResult<()> {
        scope.spawn(|| while hash_one() {});
        for (c, slot) in chunks.iter().enumerate() {
            if !ready[c].load(Ordering::Acquire) {
                // Not hashed yet: help (or wait for the helper's last chunks) without the GIL.
                py.detach(|| {
                    while !ready[c].load(Ordering::Acquire) {
                        if !hash_one() {
                            std::thread::yield_now();
                        }
                    }
                });
            }
            if failed.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                continue; // the error of the first bad key is returned below
            }
            let hashes = slot.lock().unwrap_or_else(|p| p.into_inner());
            fill_ascii_strs(py, &list, c * CHUNK, &hashes, width)?;
        }
        Ok(())
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(to_py(e));
    }
    built?;
    // SAFETY: every slot is set (`built` is Ok and no chunk failed); the list was untracked above.
    unsafe { pyo3::ffi::PyObject_GC_Track(list.as_ptr().cast()) };
    Ok(list)
}

/// A new list of `n` empty slots, to be filled by [`fill_ascii_strs`] before it is returned.
fn new_list(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyList>> {
    // SAFETY: PyList_New returns a new reference (or NULL with an exception set, turned into
    // Err); its `n` slots are NULL until set, and it is not visible to Python code before it is
    // returned. A list dropped with NULL slots (on error) is fine: list_dealloc skips them.
    unsafe {
        Ok(
            Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyList_New(n as pyo3::ffi::Py_ssize_t))?
                .cast_into_unchecked::<PyList>(),
        )
    }
}

/// Sets slots `first..` of `list` (from [`new_list`]) to one new `str` per `width` bytes of
/// `packed` (ASCII: fixed-width hashes): each made with `PyUnicode_New(width, 127)` (a compact
/// ASCII string) and filled with one copy, without the UTF-8 decoding of
/// `PyUnicode_FromStringAndSize`.
fn fill_ascii_strs(
    py: Python<'_>,
    list: &Bound<'_, PyList>,
    first: usize,
    packed: &[u8],
    width: usize,
) -> PyResult<()> {
    assert!(width > 0 && packed.len().is_multiple_of(width) && packed.is_ascii());
    assert!(first + packed.len() / width <= list.len());
    let mut data_at: Option<usize> = None;
    for (i, hash) in packed.chunks_exact(width).enumerate() {
        // SAFETY: a new reference to a new compact ASCII str of `width` characters (maxchar
        // 127), or NULL with an exception set.
        let s = unsafe { PyUnicode_New(width as pyo3::ffi::Py_ssize_t, 127) };
        if s.is_null() {
            return Err(PyErr::fetch(py));
        }
        // Where its characters live: a compact ASCII str keeps them right after its header and
        // that same buffer is its UTF-8 form, so PyUnicode_AsUTF8AndSize returns it without
        // reading or converting anything. The header size is the same for every compact ASCII
        // str of the process, so it is asked once per call (and checked in debug builds).
        let at = match data_at {
            Some(at) => at,
            None => {
                // SAFETY: `s` is a live str; a NULL answer has an exception set.
                let (data, len) = unsafe { utf8_raw(s) };
                if data.is_null() || len != width {
                    // SAFETY: releases our only reference to `s` (never shared).
                    unsafe { pyo3::ffi::Py_DecRef(s) };
                    return Err(PyErr::take(py).unwrap_or_else(|| {
                        pyo3::exceptions::PySystemError::new_err("unexpected str layout")
                    }));
                }
                *data_at.insert(data as usize - s as usize)
            }
        };
        // SAFETY (debug check only): `s` is a live str.
        debug_assert_eq!(
            unsafe { utf8_raw(s) },
            (s.cast::<u8>().cast_const().wrapping_add(at), width)
        );
        // SAFETY: `s` owns `width` writable bytes of character data at `s + at` (above), not
        // yet shared with anyone; `hash` is `width` ASCII bytes, so the str stays valid ASCII
        // (PyUnicode_New already wrote the terminating NUL after them).
        unsafe { std::ptr::copy_nonoverlapping(hash.as_ptr(), s.cast::<u8>().add(at), width) };
        // SAFETY: `first + i` < the list's length (asserted above); PyList_SetItem steals the
        // reference to `s` (the slot was NULL, so nothing is released).
        unsafe {
            pyo3::ffi::PyList_SetItem(list.as_ptr(), (first + i) as pyo3::ffi::Py_ssize_t, s)
        };
    }
    Ok(())
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

// In CPython's ABI since 3.3 (PyUnicode_AsUTF8AndSize is in the limited API from 3.10, so
// pyo3-ffi declares it only there; PyUnicode_New is outside the limited API, but an exported
// function of every CPython 3 since 3.3, which an abi3 module may still call).
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::os::raw::c_char;
    fn PyUnicode_New(
        size: pyo3::ffi::Py_ssize_t,
        maxchar: pyo3::ffi::Py_UCS4,
    ) -> *mut pyo3::ffi::PyObject;
}

/// PyUnicode_AsUTF8AndSize: the str's cached UTF-8 (NULL with an exception set on error).
///
/// # Safety
/// `s` must point to a live `str` object.
unsafe fn utf8_raw(s: *mut pyo3::ffi::PyObject) -> (*const u8, usize) {
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: the caller's contract.
    let data = unsafe { PyUnicode_AsUTF8AndSize(s, &mut size) };
    (data.cast::<u8>(), size as usize)
}

/// The UTF-8 form of the str `s`, cached inside the (immutable) string object.
///
/// # Safety
/// `s` must point to a live `str` object that stays alive (and so keeps its buffer) for `'a`.
unsafe fn utf8_ptr<'a>(py: Python<'_>, s: *mut pyo3::ffi::PyObject) -> PyResult<&'a str> {
    // SAFETY: the caller's contract; CPython returns valid UTF-8 or NULL with an exception set.
    unsafe {
        let (data, size) = utf8_raw(s);
        if data.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(std::str::from_utf8_unchecked(std::slice::from_raw_parts(
            data, size,
        )))
    }
}

/// The UTF-8 form of `s`, cached inside the (immutable) string object: valid while it lives.
fn utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    // SAFETY: `s` is a live str, borrowed for `'a`.
    unsafe { utf8_ptr(s.py(), s.as_ptr()) }
}

/// Whether `plaintext` matches a bcrypt `hash` (`$2a$`, `$2b$`, `$2y$`).
#[pyfunction]
pub fn verify_bcrypt(py: Python<'_>, plaintext: &str, hash: &str) -> PyResult<bool> {
    py.detach(|| hashing::verify_bcrypt(plaintext, hash))
        .map_err(to_py)
}
