//! `LocalBackend`: the engine in-process behind core's [`Backend`] trait, so
//! `Client::with_backend(LocalBackend::open(path)?)` has every method of the HTTP client with the
//! same bodies, validation and results, and no server.

use async_trait::async_trait;
use keyshift_core::backend::{Backend, CallOptions, Reply};
use keyshift_core::wire::Op;
use keyshift_core::{Client, Error, Result};
use std::sync::Arc;

use crate::WorkspaceCtx;
use crate::{Engine, Step};

/// The engine as a client backend, confined to the database's first workspace.
pub struct LocalBackend {
    engine: Engine,
    ctx: WorkspaceCtx,
    path: String,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("path", &self.path)
            .finish()
    }
}

impl LocalBackend {
    /// Opens (creating if needed) the database at `path` (`":memory:"` for a throwaway store).
    pub fn open(path: &str) -> Result<LocalBackend> {
        let engine = Engine::open(path)?;
        LocalBackend::with_engine(engine, path)
    }

    /// Wraps an engine that is already open (e.g. one a server also serves).
    pub fn with_engine(engine: Engine, path: &str) -> Result<LocalBackend> {
        let ctx = engine.local_workspace()?;
        Ok(LocalBackend {
            engine,
            ctx,
            path: path.to_string(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The workspace this backend works in (the database's oldest).
    pub fn workspace(&self) -> &WorkspaceCtx {
        &self.ctx
    }
}

/// `Client::local(path)` of DESIGN.md §3: a [`Client`] with every method of the HTTP client,
/// running this engine in-process on the database at `path` (core cannot name the engine, so
/// the constructor lives here).
pub fn local_client(path: &str) -> Result<Client> {
    Ok(Client::with_backend(Arc::new(LocalBackend::open(path)?)))
}

impl Engine {
    /// The database's oldest workspace (created on first use) with every permission, for
    /// in-process callers that hold no root key: whoever can open the file already has
    /// everything in it.
    pub fn local_workspace(&self) -> Result<WorkspaceCtx> {
        let workspace_id = self.write(super::oldest_or_new_workspace)?;
        Ok(WorkspaceCtx {
            workspace_id,
            root_key_id: "local".to_string(),
            grants: Arc::new(crate::Grants::all()),
        })
    }
}

/// Runs engine work that may block (SQLite writer, bcrypt) off the async workers, as the server
/// does.
async fn off_the_workers(work: impl FnOnce() -> Result<Reply> + Send + 'static) -> Result<Reply> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::server(format!("engine task failed: {e}")))?
}

#[async_trait]
impl Backend for LocalBackend {
    async fn call(&self, op: Op, body: Vec<u8>, options: &CallOptions) -> Result<Reply> {
        // Verification reads inline, like the server's: no thread hop on the hot path.
        if op == Op::VerifyKey {
            return match self.engine.start_verify(&self.ctx, &body) {
                Step::Done(reply) => reply,
                Step::Blocking(rest) => off_the_workers(move || rest.run()).await,
            };
        }
        let (engine, ctx) = (self.engine.clone(), self.ctx.clone());
        let idempotency_key = options.idempotency_key.clone();
        off_the_workers(move || engine.dispatch(&ctx, op.name(), &body, idempotency_key.as_deref()))
            .await
    }

    fn describe(&self) -> String {
        format!("local:{}", self.path)
    }
}
