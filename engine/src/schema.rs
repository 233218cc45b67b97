//! Opening the database and its schema migrations, versioned with `PRAGMA user_version`.

use std::time::Duration;

use keyshift_core::{Error, Result};
use rusqlite::{Connection, TransactionBehavior};

use crate::util::Db;

/// Each entry moves the schema from version `i` to `i + 1`. Never edit a released entry: append.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema
    r#"
    CREATE TABLE workspaces (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE root_keys (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        hash          TEXT NOT NULL UNIQUE,
        start         TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE apis (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        deleted_at    INTEGER
    );
    CREATE INDEX apis_workspace ON apis(workspace_id, id);
    CREATE TABLE identities (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        external_id   TEXT NOT NULL,
        meta          TEXT,
        created_at    INTEGER NOT NULL,
        UNIQUE (workspace_id, external_id)
    );
    CREATE TABLE keys (
        id              TEXT PRIMARY KEY,
        workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        api_id          TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
        hash            TEXT NOT NULL,
        hash_variant    TEXT NOT NULL,
        start           TEXT NOT NULL DEFAULT '',
        name            TEXT,
        meta            TEXT,
        identity_id     TEXT REFERENCES identities(id) ON DELETE SET NULL,
        expires         INTEGER,
        enabled         INTEGER NOT NULL DEFAULT 1,
        remaining       INTEGER,
        refill_interval TEXT,
        refill_amount   INTEGER,
        refill_day      INTEGER,
        last_refill_at  INTEGER,
        migration_id    TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER,
        deleted_at      INTEGER,
        UNIQUE (workspace_id, hash)
    );
    CREATE INDEX keys_api ON keys(api_id, id);
    CREATE INDEX keys_identity ON keys(identity_id);
    CREATE INDEX keys_bcrypt ON keys(workspace_id, start) WHERE hash_variant = 'bcrypt';
    CREATE TABLE ratelimits (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        key_id        TEXT REFERENCES keys(id) ON DELETE CASCADE,
        identity_id   TEXT REFERENCES identities(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        lim           INTEGER NOT NULL,
        duration      INTEGER NOT NULL,
        auto_apply    INTEGER NOT NULL,
        CHECK ((key_id IS NULL) <> (identity_id IS NULL))
    );
    CREATE UNIQUE INDEX ratelimits_key ON ratelimits(key_id, name) WHERE key_id IS NOT NULL;
    CREATE UNIQUE INDEX ratelimits_identity ON ratelimits(identity_id, name)
        WHERE identity_id IS NOT NULL;
    CREATE TABLE permissions (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        slug          TEXT NOT NULL,
        description   TEXT,
        created_at    INTEGER NOT NULL,
        UNIQUE (workspace_id, slug)
    );
    CREATE TABLE roles (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        description   TEXT,
        created_at    INTEGER NOT NULL,
        UNIQUE (workspace_id, name)
    );
    CREATE TABLE role_permissions (
        role_id        TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
        permission_id  TEXT NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
        PRIMARY KEY (role_id, permission_id)
    ) WITHOUT ROWID;
    CREATE INDEX role_permissions_permission ON role_permissions(permission_id);
    CREATE TABLE key_permissions (
        key_id         TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        permission_id  TEXT NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
        PRIMARY KEY (key_id, permission_id)
    ) WITHOUT ROWID;
    CREATE INDEX key_permissions_permission ON key_permissions(permission_id);
    CREATE TABLE key_roles (
        key_id   TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        role_id  TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
        PRIMARY KEY (key_id, role_id)
    ) WITHOUT ROWID;
    CREATE INDEX key_roles_role ON key_roles(role_id);
    CREATE TABLE idempotency (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        op            TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        state         TEXT NOT NULL,
        nonce         BLOB,
        response      BLOB,
        created_at    INTEGER NOT NULL
    );
    CREATE INDEX idempotency_created ON idempotency(created_at);
    "#,
    // root-key permissions (Unkey's names, `*` = everything); root keys made before have `*`
    r#"
    CREATE TABLE root_key_permissions (
        root_key_id  TEXT NOT NULL REFERENCES root_keys(id) ON DELETE CASCADE,
        permission   TEXT NOT NULL,
        PRIMARY KEY (root_key_id, permission)
    ) WITHOUT ROWID;
    INSERT INTO root_key_permissions (root_key_id, permission) SELECT id, '*' FROM root_keys;
    "#,
    // the self-service key portal (issue 16): one portal per api, and its sessions (only hashes
    // of the exchange code and of the access token are stored)
    r#"
    CREATE TABLE portals (
        id                TEXT PRIMARY KEY,
        workspace_id      TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        api_id            TEXT NOT NULL UNIQUE REFERENCES apis(id) ON DELETE CASCADE,
        name              TEXT,
        grantable_scopes  TEXT NOT NULL DEFAULT '[]',
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER
    );
    CREATE TABLE portal_sessions (
        id            TEXT PRIMARY KEY,
        workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        portal_id     TEXT NOT NULL REFERENCES portals(id) ON DELETE CASCADE,
        external_id   TEXT NOT NULL,
        scopes        TEXT NOT NULL,
        return_url    TEXT,
        preview       INTEGER NOT NULL DEFAULT 0,
        code_hash     TEXT NOT NULL UNIQUE,
        exchanged_at  INTEGER,
        token_hash    TEXT UNIQUE,
        expires_at    INTEGER,
        revoked_at    INTEGER,
        created_at    INTEGER NOT NULL
    );
    CREATE INDEX portal_sessions_portal ON portal_sessions(portal_id);
    "#,
];

/// How long a connection waits for another one's lock.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating if needed) the database at `path` (`:memory:` for a private in-memory one),
/// sets WAL, `synchronous=NORMAL`, foreign keys and a busy timeout, and migrates the schema.
pub(crate) fn open(path: &str) -> Result<Connection> {
    let mut conn = if path == ":memory:" {
        Connection::open_in_memory()
    } else {
        Connection::open(path)
    }
    .map_err(|e| Error::io(format!("cannot open database {path}: {e}")))?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    if path != ":memory:" {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .db()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::io(format!(
                "cannot switch database {path} to WAL mode (got {mode})"
            )));
        }
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .db()?;
    // The writer's page cache (SQLite's default is 2 MiB): a migration's inserts touch index
    // pages all over the keys table, and with the small cache each miss was a read syscall
    // (6 % of the server's CPU in the migration profile, 2 % with this cache; bench/README.md).
    conn.execute_batch(WRITER_CACHE).db()?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    migrate(&mut conn)?;
    Ok(conn)
}

/// Page cache of the writer connection: up to 64 MiB (grows only as pages are used).
const WRITER_CACHE: &str = "PRAGMA cache_size = -65536;";

/// Prepared statements kept per connection (rusqlite's default of 16 is fewer than the
/// statements one busy server cycles through, so they were re-parsed).
const STATEMENT_CACHE: usize = 128;

/// Opens another connection to the (existing, already migrated, WAL) database file at `path`
/// for reading only: same busy timeout and pragmas as the writer, plus `query_only`.
pub(crate) fn open_reader(path: &str) -> Result<Connection> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::io(format!("cannot open database {path}: {e}")))?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA query_only = ON;",
    )
    .db()?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        // The version is read inside the write transaction, so two processes opening a fresh
        // file at once apply each migration exactly once.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).db()?;
        if version > SCHEMA_VERSION {
            return Err(Error::io(format!(
                "database schema version {version} is newer than this keyshift ({SCHEMA_VERSION}); upgrade keyshift"
            )));
        }
        if version == SCHEMA_VERSION {
            return tx.commit().db();
        }
        let next = version + 1;
        tx.execute_batch(MIGRATIONS[version as usize])
            .and_then(|_| tx.execute_batch(&format!("PRAGMA user_version = {next}")))
            .and_then(|_| tx.commit())
            .map_err(|e| Error::io(format!("database migration to version {next} failed: {e}")))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_schemas() {
        let (_dir, path) = crate::util::temp_file("s.db");
        let path = path.as_str();
        drop(open(path).unwrap());
        let conn = open(path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
            .unwrap();
        drop(conn);
        let err = open(path).unwrap_err();
        assert!(err.message.contains("newer"), "{err}");
    }

    #[test]
    fn root_keys_of_an_older_database_get_every_permission() {
        let (_dir, path) = crate::util::temp_file("v1.db");
        let path = path.as_str();
        // A database as the first release left it: schema 1 with a root key.
        {
            let conn = Connection::open(path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO workspaces (id, name, created_at) VALUES ('ws_1', 'default', 1);
                 INSERT INTO root_keys (id, workspace_id, hash, start, created_at)
                     VALUES ('rk_1', 'ws_1', 'hash-of-the-key', 'ks_root_abcd', 1);",
            )
            .unwrap();
        }
        let conn = open(path).unwrap();
        let permissions: Vec<String> = crate::util::column(
            &conn,
            "SELECT permission FROM root_key_permissions WHERE root_key_id = 'rk_1'",
        );
        assert_eq!(permissions, vec!["*"]);
    }
}
