#![allow(dead_code)]

use keyshift_core::{Error, ErrorCode, Result};
use keyshift_engine::{Engine, Reply, WorkspaceCtx};
use serde_json::{json, Value};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub path: String,
    pub engine: Engine,
    pub ctx: WorkspaceCtx,
    pub root_key: String,
    pub api_id: String,
}

/// A fresh file database with a workspace, a root key and one api.
pub fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db").to_str().unwrap().to_string();
    let engine = Engine::open(&path).unwrap();
    let root = engine
        .ensure_bootstrap(None)
        .unwrap()
        .expect("new root key");
    let ctx = engine.authenticate(root.expose()).unwrap();
    let api_id = call(&engine, &ctx, "apis.createApi", json!({"name": "payments"}))["apiId"]
        .as_str()
        .unwrap()
        .to_string();
    Env {
        dir,
        path,
        engine,
        ctx,
        root_key: root.expose().to_string(),
        api_id,
    }
}

pub fn try_call(engine: &Engine, ctx: &WorkspaceCtx, op: &str, body: Value) -> Result<Reply> {
    engine.dispatch(ctx, op, body.to_string().as_bytes(), None)
}

pub fn call(engine: &Engine, ctx: &WorkspaceCtx, op: &str, body: Value) -> Value {
    match try_call(engine, ctx, op, body) {
        Ok(r) => r.data,
        Err(e) => panic!("{op} failed: {e}"),
    }
}

pub fn call_err(engine: &Engine, ctx: &WorkspaceCtx, op: &str, body: Value) -> Error {
    match try_call(engine, ctx, op, body) {
        Ok(r) => panic!("{op} unexpectedly succeeded: {}", r.data),
        Err(e) => e,
    }
}

impl Env {
    /// `op` sent twice with the same body and idempotency key: the first answer is replayed.
    pub fn replayed(&self, op: &str, body: &[u8], idempotency_key: &str) -> Reply {
        let first = self.dispatch(op, body, Some(idempotency_key)).unwrap();
        let again = self.dispatch(op, body, Some(idempotency_key)).unwrap();
        assert_eq!(first, again, "the first answer is replayed");
        first
    }

    /// [`Engine::dispatch`] in this env's workspace, with raw `body` bytes.
    pub fn dispatch(&self, op: &str, body: &[u8], idempotency_key: Option<&str>) -> Result<Reply> {
        self.engine.dispatch(&self.ctx, op, body, idempotency_key)
    }

    pub fn call(&self, op: &str, body: Value) -> Value {
        call(&self.engine, &self.ctx, op, body)
    }

    pub fn err(&self, op: &str, body: Value) -> Error {
        call_err(&self.engine, &self.ctx, op, body)
    }

    /// The code of the error `op` must fail with.
    pub fn err_code(&self, op: &str, body: Value) -> ErrorCode {
        self.err(op, body).code
    }

    /// Creates a key with `extra` fields merged into `{apiId}`; returns (keyId, key).
    pub fn create_key(&self, extra: Value) -> (String, String) {
        let mut body = json!({"apiId": self.api_id});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let data = self.call("keys.createKey", body);
        (
            data["keyId"].as_str().unwrap().to_string(),
            data["key"].as_str().unwrap().to_string(),
        )
    }

    pub fn verify(&self, key: &str, extra: Value) -> Value {
        let mut body = json!({"key": key});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.call("keys.verifyKey", body)
    }

    pub fn code(&self, key: &str, extra: Value) -> String {
        self.verify(key, extra)["code"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The verification code of `key` asked for the permission query `query`.
    pub fn code_for(&self, key: &str, query: &str) -> String {
        self.code(key, json!({ "permissions": query }))
    }

    /// Reads one column of a key row straight from the database file.
    pub fn key_column(&self, key_id: &str, column: &str) -> Option<String> {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        conn.query_row(
            &format!("SELECT CAST({column} AS TEXT) FROM keys WHERE id = ?1"),
            [key_id],
            |r| r.get(0),
        )
        .unwrap()
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
