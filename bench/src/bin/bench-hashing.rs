//! Hashing benchmark (DESIGN.md §9): `hash_keys(…, sha256_base64)` on one thread and on the
//! default rayon pool, the packed batch functions (`hash_packed` over newline-separated bytes,
//! `hash_keys_into` from `&[String]` into one buffer), against a naive loop (`Sha256::digest` +
//! base64 encode per key, fresh allocations), all on the same keys in the same process. Prints
//! ns/key and the ratios, then `ROW {json}` lines (bench/run.sh's row contract) for issue 15's
//! hashing row: the packed fn and `hash_keys` against the naive loop.
//!
//! Run in release: `cargo run --release -p keyshift-bench --bin bench-hashing -- [--keys N] [--runs R]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keyshift_core::hashing::{hash_keys, hash_keys_into, hash_packed, HashVariant, PackedKeys};
use keyshift_core::testing::splitmix64;
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
    let mut next = || splitmix64(&mut state);
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

/// Minor page faults of this process so far (Linux `/proc/self/stat`; 0 elsewhere).
fn minor_faults() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    stat.rfind(')')
        .and_then(|i| stat[i + 2..].split(' ').nth(7))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One timed method: its label and a closure returning its (type-erased) output.
type Method<'a> = (
    &'static str,
    Box<dyn FnMut() -> Box<dyn std::any::Any> + 'a>,
);

/// Best wall time and the minor page faults of that best run, for each method over `runs` rounds.
/// Every round runs every method once, in an order rotated from round to round, after one
/// untimed warm-up round, so that allocator state favours no method. Outputs are dropped
/// outside the timed section.
fn best_of_interleaved(runs: usize, methods: &mut [Method]) -> Vec<(Duration, u64)> {
    let m = methods.len();
    let mut best = vec![(Duration::MAX, 0); m];
    for round in 0..=runs {
        for i in 0..m {
            let which = (i + round) % m;
            let faults = minor_faults();
            let start = Instant::now();
            let out = black_box((methods[which].1)());
            let elapsed = start.elapsed();
            let faults = minor_faults() - faults;
            drop(out);
            if round > 0 && elapsed < best[which].0 {
                best[which] = (elapsed, faults);
            }
        }
    }
    best
}

/// The naive loop: digest + encode per key, fresh allocations, output vector grown by push.
fn naive(keys: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for key in keys {
        let digest = Sha256::digest(key.as_bytes());
        out.push(STANDARD.encode(digest));
    }
    out
}

/// The same naive work collected into an exactly sized vector (one large fresh allocation,
/// as `hash_keys` makes for its result).
fn naive_collect(keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|key| STANDARD.encode(Sha256::digest(key.as_bytes())))
        .collect()
}

fn main() {
    let (n, runs) = parse_args();
    let keys = make_keys(n);
    let threads = rayon::current_num_threads();

    // Same answers first: the benchmark compares equal work.
    let sample = &keys[..n.min(10_000)];
    let check = hash_keys(sample, HashVariant::Sha256Base64).expect("hash_keys");
    assert!(check.iter().zip(naive(sample)).all(|(a, b)| a.value == b));

    // Single-threaded methods all run on the same 1-thread pool, so that they allocate from the
    // same malloc arena.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("1-thread pool");
    let joined = keys.join("\n");
    let packed = hash_packed(
        PackedKeys::Separated {
            data: joined.as_bytes(),
            sep: b'\n',
        },
        HashVariant::Sha256Base64,
        Some(n),
    )
    .expect("hash_packed");
    assert!(check
        .iter()
        .zip(packed.chunks_exact(44))
        .all(|(a, b)| a.value.as_bytes() == b));
    let mut methods: Vec<Method> = vec![
        (
            "naive loop (digest + encode, push), 1 thread",
            Box::new(|| Box::new(one.install(|| naive(&keys)))),
        ),
        (
            "naive collect (exact-size Vec), 1 thread",
            Box::new(|| Box::new(one.install(|| naive_collect(&keys)))),
        ),
        (
            "hash_keys, 1 thread",
            Box::new(|| {
                Box::new(
                    one.install(|| hash_keys(&keys, HashVariant::Sha256Base64).expect("hash_keys")),
                )
            }),
        ),
        (
            "hash_keys, default pool",
            Box::new(|| Box::new(hash_keys(&keys, HashVariant::Sha256Base64).expect("hash_keys"))),
        ),
        (
            "hash_packed (\\n-separated bytes), 1 thread",
            Box::new(|| Box::new(one.install(|| packed_sep(&joined, n)))),
        ),
        (
            "hash_packed (\\n-separated bytes), default pool",
            Box::new(|| Box::new(packed_sep(&joined, n))),
        ),
        (
            "hash_keys_into (&[String] -> one buffer), pool",
            Box::new(|| {
                let mut out = vec![0u8; n * 44];
                hash_keys_into(&keys, HashVariant::Sha256Base64, &mut out).expect("into");
                Box::new(out)
            }),
        ),
    ];
    let results = best_of_interleaved(runs, &mut methods);
    let ns: Vec<f64> = results
        .iter()
        .map(|(d, _)| d.as_nanos() as f64 / n as f64)
        .collect();

    println!(
        "bench-hashing: {n} keys of {KEY_LEN} chars, sha256_base64, {threads} threads in the \
         default pool, best of {runs} interleaved rounds"
    );
    for ((label, _), (ns, (_, faults))) in methods.iter().zip(ns.iter().zip(&results)) {
        println!("  {label:<46} {ns:8.1} ns/key   {faults:>7} page faults");
    }
    let (naive_ns, collect_ns, single_ns, multi_ns) = (ns[0], ns[1], ns[2], ns[3]);
    let (packed1_ns, packed_ns, into_ns) = (ns[4], ns[5], ns[6]);
    println!(
        "  ratio naive loop / hash_keys 1 thread       : {:.2}x",
        naive_ns / single_ns
    );
    println!(
        "  ratio naive collect / hash_keys 1 thread    : {:.2}x",
        collect_ns / single_ns
    );
    println!(
        "  ratio naive loop / hash_keys {threads} threads      : {:.2}x",
        naive_ns / multi_ns
    );
    println!(
        "  ratio hash_keys 1 thread / {threads} threads (scaling): {:.2}x",
        single_ns / multi_ns
    );
    println!(
        "  throughput hash_keys {threads} threads: {:.2} M keys/s",
        1e3 / multi_ns
    );
    println!(
        "  ratio naive loop / hash_packed 1 thread     : {:.2}x",
        naive_ns / packed1_ns
    );
    println!(
        "  ratio naive loop / hash_packed {threads} threads    : {:.2}x",
        naive_ns / packed_ns
    );
    println!(
        "  ratio naive loop / hash_keys_into {threads} threads : {:.2}x",
        naive_ns / into_ns
    );
    let row = |variant: &str, ours: f64, note: &str| {
        println!(
            "ROW {{\"row\": \"hash sha256_base64 ns/key ({keys} {KEY_LEN}-char keys)\", \
             \"variant\": \"{variant}\", \"ours\": {ours:.1}, \"baseline\": {naive_ns:.1}, \
             \"baseline_label\": \"sha2+base64 per-key loop (Rust, 1 thread)\", \
             \"unit\": \"ns/key\", \"better\": \"lower\", \"ratio\": {:.2}, \
             \"target\": null, \"met\": null, \"ratio_note\": \"{note}\"}}",
            naive_ns / ours,
            keys = human(n),
        )
    };
    row(
        "Rust hash_packed",
        packed_ns,
        &format!("newline-separated &[u8] in, 44-byte slots out; {threads} threads"),
    );
    row(
        "Rust hash_keys",
        multi_ns,
        &format!("&[String] in, Vec<KeyHash> out; {threads} threads"),
    );
}

/// `hash_packed` over `\n`-separated keys (the buffer is built once, outside the timing).
fn packed_sep(joined: &str, n: usize) -> Vec<u8> {
    hash_packed(
        PackedKeys::Separated {
            data: joined.as_bytes(),
            sep: b'\n',
        },
        HashVariant::Sha256Base64,
        Some(n),
    )
    .expect("hash_packed")
}

/// 1000000 → "1M", 200000 → "200k".
fn human(n: usize) -> String {
    match n {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}
