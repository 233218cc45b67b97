//! The operations of the wire API ([`Op`]) and their names as string lists.

/// One operation of the wire API (DESIGN.md §4): its name (`group.op`, routed as
/// `POST /v2/<name>`) and what the retry rules and the server need to know about it. Adding an
/// operation is one arm here plus its request type and handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Op {
    CreateApi,
    GetApi,
    ListKeys,
    DeleteApi,
    CreateKey,
    VerifyKey,
    GetKey,
    UpdateKey,
    DeleteKey,
    RerollKey,
    MigrateKeys,
    AddPermissions,
    RemovePermissions,
    SetPermissions,
    AddRoles,
    RemoveRoles,
    SetRoles,
    UpdateCredits,
    Whoami,
    CreatePermission,
    GetPermission,
    ListPermissions,
    DeletePermission,
    CreateRole,
    GetRole,
    ListRoles,
    DeleteRole,
    SetRolePermissions,
    CreateIdentity,
    GetIdentity,
    ListIdentities,
    DeleteIdentity,
    UpdateIdentity,
    CreatePortalSession,
    GetPortal,
    UpdatePortal,
    RevokePortalSession,
    GetVerifications,
}

/// What an operation does, for the retry rules and the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Reads one thing; changes nothing.
    Read,
    /// Reads a page of a list (answered with `pagination`).
    List,
    /// `keys.verifyKey`: may spend a credit or a rate-limit token, yet DESIGN.md §4 retries it.
    Verify,
    /// Mints keys (createKey, rerollKey, migrateKeys): the client always sends an
    /// `Idempotency-Key`, so a repeat is answered from the first attempt.
    Mint,
    /// Every other write: never repeated once it may have reached the server, unless the caller
    /// gives it an `Idempotency-Key`.
    Write,
}

impl Op {
    /// Every operation, in the order of DESIGN.md §4.
    pub const ALL: &'static [Op] = &[
        Op::CreateApi,
        Op::GetApi,
        Op::ListKeys,
        Op::DeleteApi,
        Op::CreateKey,
        Op::VerifyKey,
        Op::GetKey,
        Op::UpdateKey,
        Op::DeleteKey,
        Op::RerollKey,
        Op::MigrateKeys,
        Op::AddPermissions,
        Op::RemovePermissions,
        Op::SetPermissions,
        Op::AddRoles,
        Op::RemoveRoles,
        Op::SetRoles,
        Op::UpdateCredits,
        Op::Whoami,
        Op::CreatePermission,
        Op::GetPermission,
        Op::ListPermissions,
        Op::DeletePermission,
        Op::CreateRole,
        Op::GetRole,
        Op::ListRoles,
        Op::DeleteRole,
        Op::SetRolePermissions,
        Op::CreateIdentity,
        Op::GetIdentity,
        Op::ListIdentities,
        Op::DeleteIdentity,
        Op::UpdateIdentity,
        Op::CreatePortalSession,
        Op::GetPortal,
        Op::UpdatePortal,
        Op::RevokePortalSession,
        Op::GetVerifications,
    ];

    /// The wire name, `group.op`.
    pub const fn name(self) -> &'static str {
        match self {
            Op::CreateApi => "apis.createApi",
            Op::GetApi => "apis.getApi",
            Op::ListKeys => "apis.listKeys",
            Op::DeleteApi => "apis.deleteApi",
            Op::CreateKey => "keys.createKey",
            Op::VerifyKey => "keys.verifyKey",
            Op::GetKey => "keys.getKey",
            Op::UpdateKey => "keys.updateKey",
            Op::DeleteKey => "keys.deleteKey",
            Op::RerollKey => "keys.rerollKey",
            Op::MigrateKeys => "keys.migrateKeys",
            Op::AddPermissions => "keys.addPermissions",
            Op::RemovePermissions => "keys.removePermissions",
            Op::SetPermissions => "keys.setPermissions",
            Op::AddRoles => "keys.addRoles",
            Op::RemoveRoles => "keys.removeRoles",
            Op::SetRoles => "keys.setRoles",
            Op::UpdateCredits => "keys.updateCredits",
            Op::Whoami => "keys.whoami",
            Op::CreatePermission => "permissions.createPermission",
            Op::GetPermission => "permissions.getPermission",
            Op::ListPermissions => "permissions.listPermissions",
            Op::DeletePermission => "permissions.deletePermission",
            Op::CreateRole => "permissions.createRole",
            Op::GetRole => "permissions.getRole",
            Op::ListRoles => "permissions.listRoles",
            Op::DeleteRole => "permissions.deleteRole",
            Op::SetRolePermissions => "permissions.setRolePermissions",
            Op::CreateIdentity => "identities.createIdentity",
            Op::GetIdentity => "identities.getIdentity",
            Op::ListIdentities => "identities.listIdentities",
            Op::DeleteIdentity => "identities.deleteIdentity",
            Op::UpdateIdentity => "identities.updateIdentity",
            Op::CreatePortalSession => "portal.createSession",
            Op::GetPortal => "portal.getPortal",
            Op::UpdatePortal => "portal.updatePortal",
            Op::RevokePortalSession => "portal.revokeSession",
            Op::GetVerifications => "analytics.getVerifications",
        }
    }

    /// The operation named `name` (`keys.createKey`), if it is one.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|op| op.name() == name)
    }

    pub const fn kind(self) -> OpKind {
        match self {
            Op::CreateApi => OpKind::Write,
            Op::GetApi => OpKind::Read,
            Op::ListKeys => OpKind::List,
            Op::DeleteApi => OpKind::Write,
            Op::CreateKey => OpKind::Mint,
            Op::VerifyKey => OpKind::Verify,
            Op::GetKey => OpKind::Read,
            Op::UpdateKey => OpKind::Write,
            Op::DeleteKey => OpKind::Write,
            Op::RerollKey => OpKind::Mint,
            Op::MigrateKeys => OpKind::Mint,
            Op::AddPermissions => OpKind::Write,
            Op::RemovePermissions => OpKind::Write,
            Op::SetPermissions => OpKind::Write,
            Op::AddRoles => OpKind::Write,
            Op::RemoveRoles => OpKind::Write,
            Op::SetRoles => OpKind::Write,
            Op::UpdateCredits => OpKind::Write,
            Op::Whoami => OpKind::Read,
            Op::CreatePermission => OpKind::Write,
            Op::GetPermission => OpKind::Read,
            Op::ListPermissions => OpKind::List,
            Op::DeletePermission => OpKind::Write,
            Op::CreateRole => OpKind::Write,
            Op::GetRole => OpKind::Read,
            Op::ListRoles => OpKind::List,
            Op::DeleteRole => OpKind::Write,
            Op::SetRolePermissions => OpKind::Write,
            Op::CreateIdentity => OpKind::Write,
            Op::GetIdentity => OpKind::Read,
            Op::ListIdentities => OpKind::List,
            Op::DeleteIdentity => OpKind::Write,
            Op::UpdateIdentity => OpKind::Write,
            // A session is a new credential each time: never repeated without a key.
            Op::CreatePortalSession => OpKind::Write,
            Op::GetPortal => OpKind::Read,
            Op::UpdatePortal => OpKind::Write,
            Op::RevokePortalSession => OpKind::Write,
            Op::GetVerifications => OpKind::Read,
        }
    }

    /// Changes nothing on the server (reads and lists).
    pub const fn is_read(self) -> bool {
        matches!(self.kind(), OpKind::Read | OpKind::List)
    }

    /// Answered with a list and `pagination`.
    pub const fn is_list(self) -> bool {
        matches!(self.kind(), OpKind::List)
    }

    /// The client sends an `Idempotency-Key` with every call of it.
    pub const fn sends_idempotency_key(self) -> bool {
        matches!(self.kind(), OpKind::Mint)
    }

    /// May be sent again after a failure that may have reached the server (a 500/502/504, a
    /// timeout or a connection lost after sending): reads, `verifyKey`, and any call carrying an
    /// `Idempotency-Key` (DESIGN.md §4).
    pub const fn retry_safe_after_send(self, has_idempotency_key: bool) -> bool {
        has_idempotency_key || matches!(self.kind(), OpKind::Read | OpKind::List | OpKind::Verify)
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Op {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Op> {
        Op::from_name(s).ok_or_else(|| {
            crate::Error::not_found(format!(
                "unknown operation `{}`",
                crate::keyformat::shown_value(s)
            ))
        })
    }
}

/// Every operation of §4 as `group.op`; the server routes `POST /v2/<op>`. (The names of
/// [`Op::ALL`], kept for callers that match on strings.)
pub const OPERATIONS: &[&str] = &names_of::<{ Op::ALL.len() }>(None);

/// Operations answered with a list and `pagination` ([`Op::is_list`]).
pub const LIST_OPERATIONS: &[&str] = &names_of::<{ count_of(OpKind::List) }>(Some(OpKind::List));

/// Operations for which the client sends an `Idempotency-Key` header
/// ([`Op::sends_idempotency_key`]).
pub const IDEMPOTENT_OPERATIONS: &[&str] =
    &names_of::<{ count_of(OpKind::Mint) }>(Some(OpKind::Mint));

/// How many operations are of `kind`.
const fn count_of(kind: OpKind) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < Op::ALL.len() {
        if Op::ALL[i].kind() as u8 == kind as u8 {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The names of the operations of `kind` (all with `None`), in the order of [`Op::ALL`]; `N`
/// is their number.
const fn names_of<const N: usize>(kind: Option<OpKind>) -> [&'static str; N] {
    let mut names = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < Op::ALL.len() {
        let op = Op::ALL[i];
        let picked = match kind {
            None => true,
            Some(kind) => op.kind() as u8 == kind as u8,
        };
        if picked {
            names[n] = op.name();
            n += 1;
        }
        i += 1;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_unique_and_cover_lists() {
        let mut ops = OPERATIONS.to_vec();
        ops.sort();
        ops.dedup();
        assert_eq!(ops.len(), OPERATIONS.len());
        assert_eq!(OPERATIONS.len(), 38);
        for op in LIST_OPERATIONS.iter().chain(IDEMPOTENT_OPERATIONS) {
            assert!(OPERATIONS.contains(op));
        }
    }

    #[test]
    fn op_names_kinds_and_string_lists_agree() {
        assert_eq!(Op::ALL.len(), OPERATIONS.len());
        for (op, name) in Op::ALL.iter().zip(OPERATIONS) {
            assert_eq!(op.name(), *name);
            assert_eq!(Op::from_name(name), Some(*op));
            assert_eq!(name.parse::<Op>().unwrap(), *op);
            assert_eq!(op.is_list(), LIST_OPERATIONS.contains(name), "{name}");
            assert_eq!(
                op.sends_idempotency_key(),
                IDEMPOTENT_OPERATIONS.contains(name)
            );
        }
        assert!(Op::from_name("keys.nope").is_none());
        assert_eq!(
            "keys.nope".parse::<Op>().unwrap_err().code,
            crate::ErrorCode::NotFound
        );
    }

    #[test]
    fn operations_are_classified_for_retries() {
        let op = |name: &str| Op::from_name(name).unwrap();
        assert_eq!(op("keys.createKey").kind(), OpKind::Mint);
        assert_eq!(op("keys.migrateKeys").kind(), OpKind::Mint);
        assert_eq!(op("keys.verifyKey").kind(), OpKind::Verify);
        assert_eq!(op("keys.updateCredits").kind(), OpKind::Write);
        for name in [
            "apis.createApi",
            "permissions.createRole",
            "permissions.createPermission",
            "identities.createIdentity",
        ] {
            assert_eq!(op(name).kind(), OpKind::Write, "{name}");
            assert!(!op(name).retry_safe_after_send(false), "{name}");
            assert!(op(name).retry_safe_after_send(true), "{name}");
        }
        assert_eq!(op("keys.getKey").kind(), OpKind::Read);
        assert_eq!(op("apis.listKeys").kind(), OpKind::List);
        assert_eq!(op("keys.setRoles").kind(), OpKind::Write);
        assert_eq!(op("keys.whoami").kind(), OpKind::Read);
        assert!(op("keys.verifyKey").retry_safe_after_send(false));
        assert!(op("keys.getKey").retry_safe_after_send(false));
        assert!(op("apis.listKeys").retry_safe_after_send(false));
        assert!(!op("keys.setRoles").retry_safe_after_send(false));
        assert!(!op("keys.createKey").retry_safe_after_send(false));
        assert!(op("keys.createKey").retry_safe_after_send(true));
    }
}
