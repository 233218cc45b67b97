//! A key's links to permissions and roles (`keys.add/remove/setPermissions`,
//! `keys.add/remove/setRoles`): one set of functions generic over the link table.

use keyshift_core::wire::{Permission, Role};
use keyshift_core::{Error, Result};
use rusqlite::{params, Connection};

use crate::keys::touch;
use crate::rows::{
    direct_permissions, ensure_permissions, find_id, key_roles, live_key, resolve_roles,
};
use crate::util::Db;

/// A table linking keys to things (permissions or roles).
pub(crate) trait LinkTable {
    /// What the operations answer: the key's linked things after the change.
    type Item;
    /// The link table and its column naming the linked thing.
    const TABLE: &'static str;
    const COLUMN: &'static str;
    /// Ids of the named things to link (permissions are created when missing; roles must
    /// exist, 404 otherwise).
    fn to_link(conn: &Connection, ws: &str, names: &[String]) -> Result<Vec<String>>;
    /// Ids of the named things to unlink; every one must exist (404 otherwise, as Unkey),
    /// checked before anything is removed.
    fn to_unlink(conn: &Connection, ws: &str, names: &[String]) -> Result<Vec<String>>;
    /// The key's linked things.
    fn linked(conn: &Connection, key_id: &str) -> Result<Vec<Self::Item>>;
}

/// `impl LinkTable` for a unit type: its item, table and column, and the lookups.
macro_rules! link_tables {
    ($(
        $(#[$doc:meta])*
        $ty:ident: $item:ty => $table:literal, $column:literal,
            link $to_link:path, unlink $to_unlink:path, linked $linked:path;
    )*) => {$(
        $(#[$doc])*
        pub(crate) struct $ty;

        impl LinkTable for $ty {
            type Item = $item;
            const TABLE: &'static str = $table;
            const COLUMN: &'static str = $column;

            fn to_link(conn: &Connection, ws: &str, names: &[String]) -> Result<Vec<String>> {
                $to_link(conn, ws, names)
            }

            fn to_unlink(conn: &Connection, ws: &str, names: &[String]) -> Result<Vec<String>> {
                $to_unlink(conn, ws, names)
            }

            fn linked(conn: &Connection, key_id: &str) -> Result<Vec<$item>> {
                $linked(conn, key_id)
            }
        }
    )*};
}

link_tables! {
    /// `key_permissions`: a key's direct permissions.
    PermissionLinks: Permission => "key_permissions", "permission_id",
        link ensure_permissions, unlink existing_permission_ids, linked direct_permissions;
    /// `key_roles`: a key's roles.
    RoleLinks: Role => "key_roles", "role_id",
        link resolve_roles, unlink resolve_roles, linked key_roles;
}

/// The ids of the permissions `slugs` (each a slug or an id) of `ws`; 404 for a missing one.
fn existing_permission_ids(conn: &Connection, ws: &str, slugs: &[String]) -> Result<Vec<String>> {
    slugs
        .iter()
        .map(|slug| {
            find_id(
                conn,
                "SELECT id FROM permissions WHERE workspace_id = ?1 \
                 AND (slug = ?2 OR id = ?2) ORDER BY slug = ?2 DESC LIMIT 1",
                ws,
                slug,
                || Error::not_found(format!("permission `{slug}` was not found")),
            )
        })
        .collect()
}

/// Links key `key_id` to the things with `ids` (already linked ones stay).
pub(crate) fn link<L: LinkTable>(conn: &Connection, key_id: &str, ids: &[String]) -> Result<()> {
    let sql = format!(
        "INSERT OR IGNORE INTO {} (key_id, {}) VALUES (?1, ?2)",
        L::TABLE,
        L::COLUMN
    );
    for id in ids {
        conn.prepare_cached(&sql)
            .db()?
            .execute(params![key_id, id])
            .db()?;
    }
    Ok(())
}

/// Gives key `to` the links key `from` has.
pub(crate) fn copy_links<L: LinkTable>(conn: &Connection, from: &str, to: &str) -> Result<()> {
    let (table, column) = (L::TABLE, L::COLUMN);
    conn.execute(
        &format!(
            "INSERT INTO {table} (key_id, {column}) SELECT ?1, {column} FROM {table} WHERE key_id = ?2"
        ),
        params![to, from],
    )
    .db()?;
    Ok(())
}

/// How a link operation changes a key's links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Add,
    Remove,
    /// Replace them all.
    Set,
}

/// Adds, removes or sets the links of live key `key_id` of `ws` to the things `names`, and
/// answers the key's links afterwards.
pub(crate) fn change<L: LinkTable>(
    conn: &Connection,
    ws: &str,
    key_id: &str,
    names: &[String],
    change: Change,
) -> Result<Vec<L::Item>> {
    let key = live_key(conn, ws, key_id)?;
    match change {
        Change::Add => link::<L>(conn, &key.id, &L::to_link(conn, ws, names)?)?,
        Change::Remove => {
            let sql = format!(
                "DELETE FROM {} WHERE key_id = ?1 AND {} = ?2",
                L::TABLE,
                L::COLUMN
            );
            for id in L::to_unlink(conn, ws, names)? {
                conn.execute(&sql, params![key.id, id]).db()?;
            }
        }
        Change::Set => {
            let ids = L::to_link(conn, ws, names)?;
            conn.execute(
                &format!("DELETE FROM {} WHERE key_id = ?1", L::TABLE),
                [&key.id],
            )
            .db()?;
            link::<L>(conn, &key.id, &ids)?;
        }
    }
    touch(conn, &key.id)?;
    L::linked(conn, &key.id)
}
