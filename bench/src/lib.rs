//! Shared by the benchmarks: a `keyshift serve` in this process on a free loopback port with a
//! fresh database, and `--flag value` arguments.

use std::path::Path;

use keyshift_core::SecretKey;

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

/// A running server; call [`BenchServer::stop`] to shut it down and wait for it.
pub struct BenchServer {
    pub base_url: String,
    pub root_key: SecretKey,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<keyshift_core::Result<()>>,
}

impl BenchServer {
    /// Binds 127.0.0.1:0 on a new database at `db` and serves in the current runtime.
    pub async fn start(db: &Path) -> BenchServer {
        let config = keyshift_server::ServerConfig::new(
            db.to_string_lossy().to_string(),
            "127.0.0.1:0".parse().unwrap(),
        );
        let bound = keyshift_server::bind(config).await.expect("bind");
        let base_url = bound.base_url();
        let root_key = bound
            .root_key()
            .cloned()
            .expect("a fresh database prints a root key");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(bound.run(async {
            let _ = stopped.await;
        }));
        BenchServer {
            base_url,
            root_key,
            stop,
            task,
        }
    }

    /// A client of this server with default settings.
    pub fn client(&self) -> keyshift_core::Client {
        keyshift_core::Client::builder()
            .base_url(&self.base_url)
            .root_key(self.root_key.clone())
            .build()
            .unwrap()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
