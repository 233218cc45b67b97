//! Hashing benchmark (DESIGN.md §9): `hash_keys(…, sha256_base64)` on one thread and on the
//! default rayon pool, against a naive loop (`Sha256::digest` + base64 encode per key, fresh
//! allocations), all on the same keys in the same process. Prints ns/key and the ratios.
//!
//! Run in release: `cargo run --release -p keyshift-bench --bin bench-hashing -- [--keys N] [--runs R]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keyshift_core::hashing::{hash_keys, HashVariant};
use sha2::{Digest, Sha256};

const KEY_LEN: usize = 48;

fn usage() -> ! {
    eprintln!("usage: bench-hashing [--keys N] [--runs R]");
    std::process::exit(2);
}

fn parse_args() -> (usize, usize) {
    let mut keys = 1_000_000;
    let mut runs = 7;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = |args: &mut dyn Iterator<Item = String>| -> usize {
            args.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .filter(|&n: &usize| n > 0)
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "--keys" => keys = value(&mut args),
            "--runs" => runs = value(&mut args),
            _ => usage(),
        }
    }
    (keys, runs)
}

/// `n` distinct 48-character keys `sk_` + 45 base62 characters, from a fixed-seed splitmix64.
fn make_keys(n: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|_| {
            let mut key = String::with_capacity(KEY_LEN);
            key.push_str("sk_");
            while key.len() < KEY_LEN {
                key.push(ALPHABET[(next() % 62) as usize] as char);
            }
            key
        })
        .collect()
}

/// Best wall time of each method over `runs` rounds. Every round runs every method once, in
/// an order rotated from round to round, after one untimed warm-up round: allocator state
/// (how fragmented the heap is after freeing a million strings) then favours no method. The
/// output of each run is dropped outside the timed section.
fn best_of_interleaved(
    runs: usize,
    methods: &mut [&mut dyn FnMut() -> Box<dyn std::any::Any>],
) -> Vec<Duration> {
    let m = methods.len();
    let mut best = vec![Duration::MAX; m];
    for round in 0..=runs {
        for i in 0..m {
            let which = (i + round) % m;
            let start = Instant::now();
            let out = black_box(methods[which]());
            let elapsed = start.elapsed();
            drop(out);
            if round > 0 {
                best[which] = best[which].min(elapsed);
            }
        }
    }
    best
}

fn naive(keys: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for key in keys {
        let digest = Sha256::digest(key.as_bytes());
        out.push(STANDARD.encode(digest));
    }
    out
}

fn main() {
    let (n, runs) = parse_args();
    let keys = make_keys(n);
    let threads = rayon::current_num_threads();

    // Same answers first: the benchmark compares equal work.
    let check = hash_keys(&keys[..n.min(10_000)], HashVariant::Sha256Base64).expect("hash_keys");
    let baseline = naive(&keys[..n.min(10_000)]);
    assert!(check.iter().zip(&baseline).all(|(a, b)| a.value == *b));

    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("1-thread pool");
    // The baseline runs on the same 1-thread pool as `hash_keys, 1 thread`: both then allocate
    // from the same malloc arena, which otherwise skews single-thread figures by ±15%.
    let mut run_naive = || -> Box<dyn std::any::Any> { Box::new(one.install(|| naive(&keys))) };
    let mut run_single = || -> Box<dyn std::any::Any> {
        Box::new(one.install(|| hash_keys(&keys, HashVariant::Sha256Base64).expect("hash_keys")))
    };
    let mut run_multi = || -> Box<dyn std::any::Any> {
        Box::new(hash_keys(&keys, HashVariant::Sha256Base64).expect("hash_keys"))
    };
    let times = best_of_interleaved(runs, &mut [&mut run_naive, &mut run_single, &mut run_multi]);
    let (t_naive, t_single, t_multi) = (times[0], times[1], times[2]);

    let per_key = |d: Duration| d.as_nanos() as f64 / n as f64;
    let (naive_ns, single_ns, multi_ns) = (per_key(t_naive), per_key(t_single), per_key(t_multi));
    println!("bench-hashing: {n} keys of {KEY_LEN} chars, sha256_base64, best of {runs} interleaved rounds");
    println!("  naive loop, 1 thread (digest + encode, fresh allocs): {naive_ns:8.1} ns/key");
    println!("  hash_keys, 1 thread                                : {single_ns:8.1} ns/key");
    println!("  hash_keys, default pool ({threads} threads)             : {multi_ns:8.1} ns/key");
    println!(
        "  ratio naive / hash_keys 1 thread   : {:.2}x",
        naive_ns / single_ns
    );
    println!(
        "  ratio naive / hash_keys {threads} threads  : {:.2}x",
        naive_ns / multi_ns
    );
    println!(
        "  ratio 1 thread / {threads} threads (scaling): {:.2}x",
        single_ns / multi_ns
    );
    println!(
        "  throughput hash_keys {threads} threads: {:.2} M keys/s",
        1e3 / multi_ns
    );
}
