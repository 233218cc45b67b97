//! SHA-256 of eight short keys at once, one per 32-bit lane of AVX2 registers, for CPUs without
//! the SHA extensions (Intel server parts before Ice Lake, still common in clouds). There, sha2's
//! block function is plain integer code, about 1,300 cycles a block; eight lanes cost little
//! more than one key, because every step of the algorithm is the same for all keys. With SHA-NI,
//! sha2's one-key path is as fast and stays the one used.
//!
//! Where the CPU has AVX-512VL, the same eight lanes use its one-instruction rotate and
//! three-input logic on the same 256-bit registers: about half the instructions a round, and no
//! 512-bit registers (which cost clock speed on these parts and measured no faster).
//!
//! Only keys that fit one block (at most 55 bytes, which covers every key format we issue and
//! the usual 32–48 character keys of other issuers) take this path; longer ones go one at a time.

use std::arch::x86_64::*;
use std::sync::OnceLock;

/// The longest key that fits one padded block (64 bytes minus the 0x80 byte and 8 length bytes).
pub(super) const MAX_KEY: usize = 55;

/// The digests of eight keys of at most [`MAX_KEY`] bytes. Unsafe: only for a CPU with the
/// instructions of the function (see [`chosen`]).
type Digests8 = unsafe fn([&[u8]; 8]) -> [[u8; 32]; 8];

/// The eight-lane function for this CPU, if this path is taken on it: AVX2 and no SHA-NI (with
/// SHA-NI, sha2 hashes one key at a time just as fast).
fn chosen() -> Option<Digests8> {
    static CHOSEN: OnceLock<Option<Digests8>> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        if std::is_x86_feature_detected!("sha") || !std::is_x86_feature_detected!("avx2") {
            None
        } else if has_avx512vl() {
            Some(digests_avx512vl as Digests8)
        } else {
            Some(digests_avx2 as Digests8)
        }
    })
}

/// AVX-512F and AVX-512VL: the rotate and three-input logic instructions on 256-bit registers.
fn has_avx512vl() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl")
}

/// Hashes the next eight keys as one group when this CPU, the number of keys left (`left`) and
/// their lengths allow. `key(i)` is the i-th next key; `each(i, key, digest)` gets every key
/// of the group, in order. Returns how many keys it hashed (0: go one at a time).
pub(super) fn hash_group<'k>(
    key: impl Fn(usize) -> &'k [u8],
    left: usize,
    mut each: impl FnMut(usize, &'k [u8], &[u8; 32]),
) -> usize {
    if left >= 8 {
        if let Some(digests) = chosen() {
            let keys: [&[u8]; 8] = std::array::from_fn(&key);
            if keys.iter().all(|k| k.len() <= MAX_KEY) {
                // SAFETY: `chosen` picked a function whose instructions this CPU has.
                let digests = unsafe { digests(keys) };
                for (i, (k, d)) in keys.iter().zip(&digests).enumerate() {
                    each(i, k, d);
                }
                return 8;
            }
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

/// Swaps the bytes of every 32-bit word (SHA-256's words are big-endian).
#[inline]
#[target_feature(enable = "avx2")]
fn bswap32(x: __m256i) -> __m256i {
    let order = _mm256_setr_epi8(
        3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, //
        3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
    );
    _mm256_shuffle_epi8(x, order)
}

/// Rows of eight 32-bit words become columns: word `j` of row `i` goes to word `i` of row `j`.
/// This turns eight keys' words into one register per word index (lane = key), and back.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    // Interleave 32-bit words of row pairs (0,1), (2,3), …, then 64-bit pairs of those, then
    // the 128-bit halves.
    let t: [__m256i; 8] = std::array::from_fn(|i| {
        let (x, y) = (r[i & !1], r[i | 1]);
        if i % 2 == 0 {
            _mm256_unpacklo_epi32(x, y)
        } else {
            _mm256_unpackhi_epi32(x, y)
        }
    });
    let u: [__m256i; 8] = std::array::from_fn(|i| {
        let (x, y) = (t[i & 4 | (i & 3) >> 1], t[i & 4 | (i & 3) >> 1 | 2]);
        if i % 2 == 0 {
            _mm256_unpacklo_epi64(x, y)
        } else {
            _mm256_unpackhi_epi64(x, y)
        }
    });
    std::array::from_fn(|j| {
        if j < 4 {
            _mm256_permute2x128_si256::<0x20>(u[j], u[j + 4])
        } else {
            _mm256_permute2x128_si256::<0x31>(u[j - 4], u[j])
        }
    })
}

/// The sixteen message words of the eight blocks, word `t` of every block in register `t`.
#[inline]
#[target_feature(enable = "avx2")]
fn message_words(blocks: &[[u8; 64]; 8]) -> [__m256i; 16] {
    let half = |h: usize| {
        transpose(std::array::from_fn(|lane| {
            let bytes: &[u8; 32] = blocks[lane][32 * h..32 * h + 32]
                .try_into()
                .expect("32 bytes");
            // SAFETY: an unaligned load of 32 readable bytes.
            bswap32(unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) })
        }))
    };
    let (low, high) = (half(0), half(1));
    std::array::from_fn(|t| if t < 8 { low[t] } else { high[t - 8] })
}

/// The eight digests of a final state, word `i` of every lane in register `i`.
#[inline]
#[target_feature(enable = "avx2")]
fn lane_digests(state: [__m256i; 8]) -> [[u8; 32]; 8] {
    let mut digests = [[0u8; 32]; 8];
    for (digest, row) in digests.iter_mut().zip(transpose(state)) {
        // SAFETY: an unaligned store of 32 bytes into a [u8; 32].
        unsafe { _mm256_storeu_si256(digest.as_mut_ptr().cast(), bswap32(row)) };
    }
    digests
}

/// SHA-256 (FIPS 180-4 §6.2.2) of eight padded one-block messages, written once for both
/// instruction sets: `$ror`, `$xor3`, `$ch` and `$maj` are the macros for rotate right, three-way
/// xor, choose and majority on eight lanes.
macro_rules! digests8 {
    ($keys:expr, $ror:ident, $xor3:ident, $ch:ident, $maj:ident) => {{
        let blocks = padded($keys);
        // The schedule in a ring of sixteen words: word t replaces word t - 16.
        let mut w = message_words(&blocks);
        let h0 = super::SHA256_H0.map(|h| _mm256_set1_epi32(h as i32));
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = h0;
        for (t, k) in K.iter().enumerate() {
            let wt = if t < 16 {
                w[t]
            } else {
                let x = w[(t - 15) % 16];
                let s0 = $xor3!($ror!(x, 7), $ror!(x, 18), _mm256_srli_epi32::<3>(x));
                let y = w[(t - 2) % 16];
                let s1 = $xor3!($ror!(y, 17), $ror!(y, 19), _mm256_srli_epi32::<10>(y));
                let sum = _mm256_add_epi32(
                    _mm256_add_epi32(w[t % 16], s0),
                    _mm256_add_epi32(w[(t - 7) % 16], s1),
                );
                w[t % 16] = sum;
                sum
            };
            let s1 = $xor3!($ror!(e, 6), $ror!(e, 11), $ror!(e, 25));
            let t1 = _mm256_add_epi32(
                _mm256_add_epi32(h, s1),
                _mm256_add_epi32(
                    $ch!(e, f, g),
                    _mm256_add_epi32(wt, _mm256_set1_epi32(*k as i32)),
                ),
            );
            let s0 = $xor3!($ror!(a, 2), $ror!(a, 13), $ror!(a, 22));
            let t2 = _mm256_add_epi32(s0, $maj!(a, b, c));
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
        lane_digests(std::array::from_fn(|i| _mm256_add_epi32(state[i], h0[i])))
    }};
}

macro_rules! ror_avx2 {
    ($x:expr, $n:literal) => {
        _mm256_or_si256(
            _mm256_srli_epi32::<$n>($x),
            _mm256_slli_epi32::<{ 32 - $n }>($x),
        )
    };
}
macro_rules! xor3_avx2 {
    ($a:expr, $b:expr, $c:expr) => {
        _mm256_xor_si256(_mm256_xor_si256($a, $b), $c)
    };
}
macro_rules! ch_avx2 {
    ($e:expr, $f:expr, $g:expr) => {
        _mm256_xor_si256(_mm256_and_si256($e, $f), _mm256_andnot_si256($e, $g))
    };
}
macro_rules! maj_avx2 {
    ($a:expr, $b:expr, $c:expr) => {
        _mm256_or_si256(
            _mm256_and_si256($a, $b),
            _mm256_and_si256($c, _mm256_or_si256($a, $b)),
        )
    };
}

// AVX-512VL: one rotate instruction, and one `vpternlogd` for any three-input bit function (its
// immediate is the function's truth table over the inputs' bits a, b, c, index a·4 + b·2 + c).
macro_rules! ror_avx512 {
    ($x:expr, $n:literal) => {
        _mm256_ror_epi32::<$n>($x)
    };
}
macro_rules! xor3_avx512 {
    ($a:expr, $b:expr, $c:expr) => {
        _mm256_ternarylogic_epi32::<0x96>($a, $b, $c)
    };
}
macro_rules! ch_avx512 {
    ($e:expr, $f:expr, $g:expr) => {
        _mm256_ternarylogic_epi32::<0xca>($e, $f, $g)
    };
}
macro_rules! maj_avx512 {
    ($a:expr, $b:expr, $c:expr) => {
        _mm256_ternarylogic_epi32::<0xe8>($a, $b, $c)
    };
}

/// The SHA-256 digests of eight keys of at most [`MAX_KEY`] bytes each, in order, with AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn digests_avx2(keys: [&[u8]; 8]) -> [[u8; 32]; 8] {
    digests8!(keys, ror_avx2, xor3_avx2, ch_avx2, maj_avx2)
}

/// As [`digests_avx2`], with AVX-512VL's rotate and three-input logic on the same registers.
///
/// # Safety
/// The CPU must have AVX2, AVX-512F and AVX-512VL.
#[target_feature(enable = "avx2,avx512f,avx512vl")]
unsafe fn digests_avx512vl(keys: [&[u8]; 8]) -> [[u8; 32]; 8] {
    digests8!(keys, ror_avx512, xor3_avx512, ch_avx512, maj_avx512)
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

    #[test]
    fn eight_lanes_match_sha2_for_every_one_block_length() {
        let mut variants: Vec<(&str, Digests8)> = Vec::new();
        if std::is_x86_feature_detected!("avx2") {
            variants.push(("avx2", digests_avx2));
        }
        if has_avx512vl() {
            variants.push(("avx512vl", digests_avx512vl));
        }
        if variants.is_empty() {
            eprintln!("no AVX2 on this CPU: the eight-lane path is never taken here");
        }
        for (name, digests) in variants {
            for group in keys().chunks_exact(8) {
                let refs: [&[u8]; 8] = std::array::from_fn(|i| group[i].as_slice());
                // SAFETY: the CPU has this variant's instructions (detected above).
                let got = unsafe { digests(refs) };
                for (k, d) in refs.iter().zip(&got) {
                    let want: [u8; 32] = Sha256::digest(k).into();
                    assert_eq!(d, &want, "{name}, a key of {} bytes", k.len());
                }
            }
        }
    }
}
