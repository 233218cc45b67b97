//! Shared by the benchmarks: a `keyshift serve` in this process on a free loopback port with a
//! fresh database (the e2e harness's), and `--flag value` arguments.

/// The value after `name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A whole-number argument, or `default`.
pub fn num(name: &str, default: usize) -> usize {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The e2e harness's in-process server: [`BenchServer::start_at`] on a fresh database, `client()`,
/// `stop()`.
pub use keyshift_e2e::TestServer as BenchServer;
