//! Helpers shared by the workspace's tests and benchmarks (hidden from the docs; not part of
//! the API).

/// One SplitMix64 step: advances `state` and returns the next value of a seeded, reproducible
/// stream. For test and benchmark inputs only, never for secrets.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
