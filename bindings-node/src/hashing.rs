//! Local hashing (core `hashing` module): `hashKey`, `hashKeys`, `hashKeysAsync` (libuv
//! pool), the packed forms `hashKeysPacked` / `hashKeysPackedAsync` / `hashKeysOffsets` (one
//! buffer in, one `Buffer` of fixed-width hashes out), `verifyBcrypt`, `parseKeyHash`.

use keyshift_core::hashing::{self, HashVariant, KeyHash as CoreHash, PackedBatch, PackedKeys};
use napi::bindgen_prelude::{
    Array, AsyncTask, Buffer, FromNapiValue, JsValue, Uint32ArraySlice, Uint8Array, Uint8ArraySlice,
};
use napi::{check_status, sys, Env, JsString, Task};
use napi_derive::napi;

use crate::error::js_error;

/// A key's hash: `value` in the form `variant` names.
#[napi(object)]
pub struct KeyHash {
    pub value: String,
    #[napi(ts_type = "'sha256_base64' | 'sha256_hex' | 'bcrypt'")]
    pub variant: String,
}

impl From<CoreHash> for KeyHash {
    fn from(h: CoreHash) -> Self {
        KeyHash {
            value: h.value,
            variant: h.variant.as_str().to_string(),
        }
    }
}

fn variant(v: Option<String>) -> keyshift_core::Result<HashVariant> {
    match v {
        None => Ok(HashVariant::default()),
        Some(v) => v.parse(),
    }
}

#[napi(
    ts_args_type = "key: string, variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null"
)]
pub fn hash_key(env: Env, key: String, variant: Option<String>) -> napi::Result<KeyHash> {
    self::variant(variant)
        .and_then(|v| keyshift_core::hash_key(&key, v))
        .map(KeyHash::from)
        .map_err(|e| js_error(&env, &e))
}

/// `hashKeys` over JSON text: `keys` is a JSON array of strings, the answer the JSON array
/// of their hash values. index.js sends batches this way because one string crosses N-API far
/// faster than a million small ones (each element of a JS array costs several N-API calls).
fn hash_json(keys: &str, variant: Option<String>) -> keyshift_core::Result<String> {
    let keys: Vec<String> = serde_json::from_str(keys)
        .map_err(|e| keyshift_core::Error::invalid_input("keys", format!("keys: {e}")))?;
    let hashes = keyshift_core::hash_keys(&keys, self::variant(variant)?)?;
    let values: Vec<&str> = hashes.iter().map(|h| h.value.as_str()).collect();
    serde_json::to_string(&values).map_err(|e| keyshift_core::Error::io(e.to_string()))
}

/// Hashes on the calling thread (parallel inside core for large batches).
#[napi(
    ts_args_type = "keysJson: string, variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null"
)]
pub fn hash_keys_json(
    env: Env,
    keys_json: String,
    variant: Option<String>,
) -> napi::Result<String> {
    hash_json(&keys_json, variant).map_err(|e| js_error(&env, &e))
}

pub struct HashKeysTask {
    keys_json: String,
    variant: Option<String>,
}

impl Task for HashKeysTask {
    type Output = keyshift_core::Result<String>;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(hash_json(
            &std::mem::take(&mut self.keys_json),
            self.variant.take(),
        ))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map_err(|e| js_error(&env, &e))
    }
}

/// `hashKeysJson` off the event loop (libuv thread pool): parsing, hashing and writing the
/// answer all happen there.
#[napi(
    ts_args_type = "keysJson: string, variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null",
    ts_return_type = "Promise<string>"
)]
pub fn hash_keys_json_async(keys_json: String, variant: Option<String>) -> AsyncTask<HashKeysTask> {
    AsyncTask::new(HashKeysTask { keys_json, variant })
}

/// Keys per Node-API handle scope in [`hash_keys_array`]: bounds the handles alive at once.
const SCOPE: usize = 4096;

/// Runs `f` inside a new Node-API handle scope, closed afterwards (handles made inside die).
fn in_handle_scope<T>(env: sys::napi_env, f: impl FnOnce() -> napi::Result<T>) -> napi::Result<T> {
    let mut scope = std::ptr::null_mut();
    // SAFETY: called on the JS thread (from a #[napi] function) with its live `env`.
    check_status!(unsafe { sys::napi_open_handle_scope(env, &mut scope) })?;
    let out = f();
    // SAFETY: `scope` was opened just above, on this thread, and every scope opened inside `f`
    // has been closed by then (scopes nest).
    check_status!(unsafe { sys::napi_close_handle_scope(env, scope) })?;
    out
}

/// The UTF-8 of every element of `keys`, back to back in one buffer, and the offsets of each
/// (one more than there are keys), read with one `napi_get_element` and one
/// `napi_get_value_string_utf8` per key straight into the buffer (no String per key). `None`
/// when an element is not a string.
fn read_utf8_keys(js: &Env, keys: &Array<'_>) -> napi::Result<Option<(Vec<u8>, Vec<u32>)>> {
    let env = js.raw();
    let n = keys.len() as usize;
    let arr = keys.raw();
    let mut data: Vec<u8> = Vec::with_capacity(n * 48 + 4096);
    let mut offsets: Vec<u32> = Vec::with_capacity(n + 1);
    offsets.push(0);
    for first in (0..n).step_by(SCOPE) {
        let done = in_handle_scope(env, || {
            for i in first..n.min(first + SCOPE) {
                let mut v = std::ptr::null_mut();
                // SAFETY: `arr` is a live array handle of the caller's scope; `i` < its length
                // (a hole or a getter that removed it reads as `undefined`, refused below).
                check_status!(unsafe { sys::napi_get_element(env, arr, i as u32, &mut v) })?;
                loop {
                    if data.capacity() - data.len() < 4096 {
                        data.reserve(data.len().max(4096));
                    }
                    let spare = data.spare_capacity_mut();
                    let mut written = 0usize;
                    // SAFETY: writes at most `spare.len()` bytes (including its NUL) into the
                    // vector's unused capacity and says how many (without the NUL) in
                    // `written`; `v` is a live handle.
                    let status = unsafe {
                        sys::napi_get_value_string_utf8(
                            env,
                            v,
                            spare.as_mut_ptr().cast(),
                            spare.len(),
                            &mut written,
                        )
                    };
                    if status == sys::Status::napi_string_expected {
                        return Ok(false);
                    }
                    check_status!(status)?;
                    // A string is cut short only at a character boundary within the last 4
                    // bytes of the space (4 = the longest UTF-8 character, plus the NUL), so
                    // anything shorter is the whole key.
                    if written + 4 < spare.len() {
                        // SAFETY: the first `written` bytes of the spare capacity were just
                        // initialised by Node.
                        unsafe { data.set_len(data.len() + written) };
                        break;
                    }
                    let mut full = 0usize;
                    // SAFETY: a NULL buffer only asks for the UTF-8 length.
                    check_status!(unsafe {
                        sys::napi_get_value_string_utf8(env, v, std::ptr::null_mut(), 0, &mut full)
                    })?;
                    data.reserve(full + 4096);
                }
                let end = u32::try_from(data.len()).map_err(|_| {
                    js_error(
                        js,
                        &keyshift_core::Error::invalid_input(
                            "keys",
                            "the keys of one batch must be under 4 GiB in total",
                        ),
                    )
                })?;
                offsets.push(end);
            }
            Ok(true)
        })?;
        if !done {
            return Ok(None);
        }
    }
    Ok(Some((data, offsets)))
}

/// All the hashes as one JS string made with `napi_create_string_latin1` (a one-byte V8
/// string): index.js cuts it into one string per hash with `slice`, which V8 does far faster
/// (a sliced string points into this one) than Node-API can make a million separate strings.
fn latin1_string<'e>(env: &'e Env, packed: &[u8]) -> napi::Result<JsString<'e>> {
    assert!(packed.is_ascii());
    let raw = env.raw();
    let mut s = std::ptr::null_mut();
    // SAFETY: `packed` is readable for its length (ASCII, so Latin-1 means the same); V8 copies
    // it into a new string, a handle of the caller's scope.
    check_status!(unsafe {
        sys::napi_create_string_latin1(raw, packed.as_ptr().cast(), packed.len() as isize, &mut s)
    })?;
    // SAFETY: `s` is a live string handle of this env.
    unsafe { JsString::from_napi_value(raw, s) }
}

/// `hashKeys` for an array of strings (sha256 variants): every key is read as UTF-8 into one
/// buffer, hashed by core's batch loop, and the hashes come back back to back in one one-byte
/// JS string (44 or 64 characters each; index.js splits it). `null` when this form cannot take
/// the call (bcrypt, or an element that is not a string): index.js then uses the general form,
/// which reports the bad element.
#[napi(
    ts_args_type = "keys: string[], variant?: 'sha256_base64' | 'sha256_hex' | 'bcrypt' | undefined | null",
    ts_return_type = "string | null"
)]
pub fn hash_keys_array<'e>(
    env: &'e Env,
    keys: Array<'e>,
    variant: Option<String>,
) -> napi::Result<Option<JsString<'e>>> {
    let variant = self::variant(variant).map_err(|e| js_error(env, &e))?;
    let Some(width) = hashing::packed_width(variant) else {
        return Ok(None);
    };
    let Some((data, offsets)) = read_utf8_keys(env, &keys)? else {
        return Ok(None);
    };
    let mut out = vec![0u8; (offsets.len() - 1) * width];
    PackedBatch::new(
        PackedKeys::Offsets {
            data: &data,
            offsets: &offsets,
        },
        None,
    )
    .and_then(|batch| batch.hash_into(variant, &mut out))
    .map_err(|e| js_error(env, &e))?;
    latin1_string(env, &out).map(Some)
}

#[napi]
pub fn verify_bcrypt(env: Env, key: String, hash: String) -> napi::Result<bool> {
    keyshift_core::verify_bcrypt(&key, &hash).map_err(|e| js_error(&env, &e))
}

/// Checks a stored hash's form; sha256_hex comes back lowercase.
#[napi(ts_args_type = "value: string, variant: 'sha256_base64' | 'sha256_hex' | 'bcrypt'")]
pub fn parse_key_hash(env: Env, value: String, variant: String) -> napi::Result<KeyHash> {
    self::variant(Some(variant))
        .and_then(|v| CoreHash::parse(&value, v))
        .map(KeyHash::from)
        .map_err(|e| js_error(&env, &e))
}

/// Core's packed batch over `keys`, into a new buffer (`Buffer::from` hands the Vec to JS
/// without a copy).
fn hash_packed(
    keys: PackedKeys<'_>,
    variant: Option<String>,
    count: Option<u32>,
) -> keyshift_core::Result<Vec<u8>> {
    let variant = self::variant(variant)?;
    let batch = PackedBatch::new(keys, count.map(|c| c as usize))?;
    let width = hashing::packed_width(variant).unwrap_or(0);
    let mut out = vec![0u8; batch.len() * width];
    batch.hash_into(variant, &mut out)?;
    Ok(out)
}

fn separator(sep: u32) -> keyshift_core::Result<u8> {
    u8::try_from(sep).ok().filter(u8::is_ascii).ok_or_else(|| {
        keyshift_core::Error::invalid_input("sep", "the separator must be one ASCII byte")
    })
}

/// Keys separated by the byte `sep` (one trailing `sep` allowed), hashed on the calling thread
/// (in parallel inside core for large batches) into one buffer: hash `i` is bytes
/// `[i * w, (i + 1) * w)`, `w` = 44 (sha256_base64) or 64 (sha256_hex).
#[napi(
    ts_args_type = "data: Uint8Array, sep: number, variant?: 'sha256_base64' | 'sha256_hex' | undefined | null, count?: number | undefined | null"
)]
pub fn hash_keys_packed(
    env: Env,
    data: Uint8ArraySlice<'_>,
    sep: u32,
    variant: Option<String>,
    count: Option<u32>,
) -> napi::Result<Buffer> {
    separator(sep)
        .and_then(|sep| hash_packed(PackedKeys::Separated { data: &data, sep }, variant, count))
        .map(Buffer::from)
        .map_err(|e| js_error(&env, &e))
}

/// Keys back to back in `data`, key `i` at bytes `[offsets[i], offsets[i + 1])` (`offsets` has
/// one more entry than there are keys, starts at 0 and ends at `data.length`).
#[napi(
    ts_args_type = "data: Uint8Array, offsets: Uint32Array, variant?: 'sha256_base64' | 'sha256_hex' | undefined | null"
)]
pub fn hash_keys_offsets(
    env: Env,
    data: Uint8ArraySlice<'_>,
    offsets: Uint32ArraySlice<'_>,
    variant: Option<String>,
) -> napi::Result<Buffer> {
    hash_packed(
        PackedKeys::Offsets {
            data: &data,
            offsets: &offsets,
        },
        variant,
        None,
    )
    .map(Buffer::from)
    .map_err(|e| js_error(&env, &e))
}

pub struct HashPackedTask {
    data: Uint8Array,
    sep: u32,
    variant: Option<String>,
    count: Option<u32>,
}

impl Task for HashPackedTask {
    type Output = keyshift_core::Result<Vec<u8>>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(separator(self.sep).and_then(|sep| {
            hash_packed(
                PackedKeys::Separated {
                    data: &self.data,
                    sep,
                },
                self.variant.take(),
                self.count,
            )
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map(Buffer::from).map_err(|e| js_error(&env, &e))
    }
}

/// `hashKeysPacked` off the event loop (libuv thread pool). `data` must not be changed until
/// the promise settles.
#[napi(
    ts_args_type = "data: Uint8Array, sep: number, variant?: 'sha256_base64' | 'sha256_hex' | undefined | null, count?: number | undefined | null",
    ts_return_type = "Promise<Buffer>"
)]
pub fn hash_keys_packed_async(
    data: Uint8Array,
    sep: u32,
    variant: Option<String>,
    count: Option<u32>,
) -> AsyncTask<HashPackedTask> {
    AsyncTask::new(HashPackedTask {
        data,
        sep,
        variant,
        count,
    })
}
