//! SHA-256 of eight short keys at once, one per 32-bit lane of AVX2 registers, for CPUs without
//! the SHA extensions (Intel server parts before Ice Lake, still common in clouds). There, sha2's
//! block function is plain integer code, about 1,300 cycles a block; eight lanes cost little
//! more than one key, because every step of the algorithm is the same for all keys. With SHA-NI,
//! sha2's one-key path is as fast and stays the one used. (Sixteen AVX-512 lanes, with its
//! rotate and three-input logic instructions, measured no faster end to end: once the hashing is
//! eight-wide, the per-key copying, base64 and UTF-8 checks are most of the time.)
//!
//! Only keys that fit one block (at most 55 bytes, which covers every key format we issue and
//! the usual 32–48 character keys of other issuers) take this path; longer ones go one at a time.

use std::arch::x86_64::*;
use std::sync::OnceLock;

/// The longest key that fits one padded block (64 bytes minus the 0x80 byte and 8 length bytes).
pub(super) const MAX_KEY: usize = 55;

/// Whether this path is taken on this CPU: AVX2 and no SHA-NI (with SHA-NI, sha2 hashes one
/// key at a time just as fast).
fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::is_x86_feature_detected!("avx2") && !std::is_x86_feature_detected!("sha")
    })
}

/// Hashes the next eight keys as one group when this CPU, the number of keys left (`left`) and
/// their lengths allow. `key(i)` is the i-th next key; `each` gets every key of the group
/// with its digest, in order. Returns how many keys it hashed (0: go one at a time).
pub(super) fn hash_group<'k>(
    key: impl Fn(usize) -> &'k [u8],
    left: usize,
    mut each: impl FnMut(&'k [u8], &[u8; 32]),
) -> usize {
    if left >= 8 && enabled() {
        let keys: [&[u8]; 8] = std::array::from_fn(&key);
        if keys.iter().all(|k| k.len() <= MAX_KEY) {
            // SAFETY: `enabled` found AVX2.
            let digests = unsafe { digests(keys) };
            keys.iter().zip(&digests).for_each(|(k, d)| each(k, d));
            return 8;
        }
    }
    0
}

/// FIPS 180-4 §4.2.2.
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Each key's one padded block.
fn padded(keys: [&[u8]; 8]) -> [[u8; 64]; 8] {
    let mut blocks = [[0u8; 64]; 8];
    for (block, key) in blocks.iter_mut().zip(keys) {
        assert!(key.len() <= MAX_KEY, "a key longer than one block");
        super::pad_tail(key, key.len(), block);
    }
    blocks
}

/// Message word `t` of every lane's block.
fn words(blocks: &[[u8; 64]; 8], t: usize) -> [i32; 8] {
    std::array::from_fn(|lane| {
        let b = &blocks[lane][4 * t..4 * t + 4];
        i32::from_be_bytes([b[0], b[1], b[2], b[3]])
    })
}

macro_rules! rotr {
    ($x:expr, $n:literal) => {
        _mm256_or_si256(
            _mm256_srli_epi32::<$n>($x),
            _mm256_slli_epi32::<{ 32 - $n }>($x),
        )
    };
}

/// The SHA-256 digests of eight keys of at most [`MAX_KEY`] bytes each, in order.
///
/// # Safety
/// The CPU must have AVX2 ([`enabled`] checks it).
#[target_feature(enable = "avx2")]
unsafe fn digests(keys: [&[u8]; 8]) -> [[u8; 32]; 8] {
    let blocks = padded(keys);
    let mut w = [_mm256_setzero_si256(); 64];
    for (t, slot) in w.iter_mut().enumerate().take(16) {
        let [w0, w1, w2, w3, w4, w5, w6, w7] = words(&blocks, t);
        *slot = _mm256_setr_epi32(w0, w1, w2, w3, w4, w5, w6, w7);
    }
    for t in 16..64 {
        let x = w[t - 15];
        let s0 = _mm256_xor_si256(
            _mm256_xor_si256(rotr!(x, 7), rotr!(x, 18)),
            _mm256_srli_epi32::<3>(x),
        );
        let y = w[t - 2];
        let s1 = _mm256_xor_si256(
            _mm256_xor_si256(rotr!(y, 17), rotr!(y, 19)),
            _mm256_srli_epi32::<10>(y),
        );
        w[t] = _mm256_add_epi32(
            _mm256_add_epi32(w[t - 16], s0),
            _mm256_add_epi32(w[t - 7], s1),
        );
    }

    let h0 = super::SHA256_H0.map(|h| _mm256_set1_epi32(h as i32));
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = h0;
    for (t, wt) in w.iter().enumerate() {
        let s1 = _mm256_xor_si256(_mm256_xor_si256(rotr!(e, 6), rotr!(e, 11)), rotr!(e, 25));
        let ch = _mm256_xor_si256(_mm256_and_si256(e, f), _mm256_andnot_si256(e, g));
        let t1 = _mm256_add_epi32(
            _mm256_add_epi32(h, s1),
            _mm256_add_epi32(ch, _mm256_add_epi32(*wt, _mm256_set1_epi32(K[t] as i32))),
        );
        let s0 = _mm256_xor_si256(_mm256_xor_si256(rotr!(a, 2), rotr!(a, 13)), rotr!(a, 22));
        let maj = _mm256_or_si256(
            _mm256_and_si256(a, b),
            _mm256_and_si256(c, _mm256_or_si256(a, b)),
        );
        let t2 = _mm256_add_epi32(s0, maj);
        h = g;
        g = f;
        f = e;
        e = _mm256_add_epi32(d, t1);
        d = c;
        c = b;
        b = a;
        a = _mm256_add_epi32(t1, t2);
    }

    let state = [a, b, c, d, e, f, g, h];
    // SAFETY: __m256i and [u32; 8] have the same size, and every bit pattern is a valid u32.
    let final_words: [[u32; 8]; 8] = std::array::from_fn(|i| unsafe {
        std::mem::transmute::<__m256i, [u32; 8]>(_mm256_add_epi32(state[i], h0[i]))
    });
    std::array::from_fn(|lane| super::state_digest(final_words.map(|word| word[lane])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// Every length 0..=55, and lengths mixed within each group, with bytes that differ per key.
    fn keys() -> Vec<Vec<u8>> {
        (0..(MAX_KEY + 1) * 32)
            .map(|i| {
                let len = (i * 37 + i / 8 * 5) % (MAX_KEY + 1);
                (0..len).map(|j| (i * 31 + j * 17 + 1) as u8).collect()
            })
            .collect()
    }

    fn check(key: &[u8], digest: &[u8; 32]) {
        let want: [u8; 32] = Sha256::digest(key).into();
        assert_eq!(digest, &want, "key of {} bytes", key.len());
    }

    #[test]
    fn eight_lanes_match_sha2_for_every_one_block_length() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: the eight-lane path is never taken here");
            return;
        }
        for group in keys().chunks_exact(8) {
            let refs: [&[u8]; 8] = std::array::from_fn(|i| group[i].as_slice());
            // SAFETY: AVX2 was detected above.
            let got = unsafe { digests(refs) };
            refs.iter().zip(&got).for_each(|(k, d)| check(k, d));
        }
    }
}
