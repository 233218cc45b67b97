//! The serving loop: binding, accepting connections, graceful shutdown, signals.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use keyshift_core::{BoxFuture, Error, SecretKey};
use keyshift_engine::Engine;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::{router, ServerConfig, HEADER_READ_TIMEOUT, SHUTDOWN_GRACE};

/// Marker extension on a response: close the connection instead of answering.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// A bound, not yet running server.
pub struct BoundServer {
    listener: TcpListener,
    addr: SocketAddr,
    root_key: Option<SecretKey>,
    engine: Engine,
    app: Router,
}

impl BoundServer {
    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The root key generated for the first workspace on first start; `None` when the database
    /// already had one or the key was seeded.
    pub fn root_key(&self) -> Option<&SecretKey> {
        self.root_key.as_ref()
    }

    /// The engine behind the server (e.g. to create more workspaces before running).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serve until `shutdown` completes, then stop accepting, let in-flight requests finish
    /// (up to [`SHUTDOWN_GRACE`]) and return.
    pub fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> BoxFuture<'static, keyshift_core::Result<()>> {
        self.run_boxed(Box::pin(shutdown))
    }

    /// [`BoundServer::run`] without its type parameter, so that the serving loop (hyper, h2,
    /// the router) is compiled once, in this crate.
    fn run_boxed(
        self,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, keyshift_core::Result<()>> {
        Box::pin(self.run_until(shutdown))
    }

    async fn run_until(self, shutdown: BoxFuture<'static, ()>) -> keyshift_core::Result<()> {
        let BoundServer { listener, app, .. } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // A client that opens a connection and never finishes its headers is cut off.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder.http2().timer(TokioTimer::new());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let app = app.clone();
                    async move {
                        let resp = match app.oneshot(req.map(Body::new)).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        };
                        if resp.extensions().get::<DropConnection>().is_some() {
                            Err(ConnectionDropped)
                        } else {
                            Ok(resp)
                        }
                    }
                });
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!("shutdown grace period over; closing remaining connections");
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for ConnectionDropped {}

/// Open the database, make sure a first workspace and root key exist, and bind the listener.
pub fn bind(config: ServerConfig) -> BoxFuture<'static, keyshift_core::Result<BoundServer>> {
    Box::pin(bind_listener(config))
}

async fn bind_listener(config: ServerConfig) -> keyshift_core::Result<BoundServer> {
    let ServerConfig {
        db,
        listen,
        seed_root_key,
        router: options,
        portal_code_ttl,
        portal_session_ttl,
    } = config;
    let (engine, root_key) = tokio::task::spawn_blocking(move || {
        let engine = Engine::open(&db)?;
        let root_key = engine.ensure_bootstrap(seed_root_key.as_ref().map(|k| k.expose()))?;
        engine.set_portal_lifetimes(portal_code_ttl, portal_session_ttl);
        Ok::<_, Error>((engine, root_key))
    })
    .await
    .map_err(|e| Error::server(format!("startup task failed: {e}")))??;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::io(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener.local_addr()?;
    let faults = options.faults;
    let app = router(engine.clone(), options);
    if faults {
        tracing::warn!(
            "fault injection is ENABLED (test-only): X-Keyshift-Fault headers are honoured"
        );
    }
    Ok(BoundServer {
        listener,
        addr,
        root_key,
        engine,
        app,
    })
}

/// [`bind`] then [`BoundServer::run`].
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> keyshift_core::Result<()> {
    bind(config).await?.run(shutdown).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this function is
/// called (not when the future is first polled), so a signal that arrives right after the call
/// is not lost and does not kill the process. Call it inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(int) => {}
                _ = wait(term) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await
            }
        }
    }
}
