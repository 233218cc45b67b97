//! `permissions.*`: permissions and roles, listing, and the role's permissions.

use serde::{Deserialize, Serialize};

use super::limits::*;
use super::validate::check;
use super::{Identity, Validate};
use crate::FieldError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Role {
        pub id: String,
        pub name: String,
        maybe description: String,
        maybe permissions: Vec<Permission>,
    }
}

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct CreatePermissionRequest {
        pub name: String,
        pub slug: String,
        opt description: String,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePermissionResponseData {
    pub permission_id: String,
}

ref_request! {
    /// `permissions.getPermission` and `deletePermission` ([`DeletePermissionRequest`]):
    /// `permission` is an id or a slug.
    GetPermissionRequest,
    /// `permissions.deletePermission`: the same body and rules as `getPermission`.
    DeletePermissionRequest { permission }
    |c, permission| c.slug("permission", permission)
}

pub type GetPermissionResponseData = Permission;

wire_struct! {
    /// `permissions.listPermissions`, `permissions.listRoles`, `identities.listIdentities`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct ListRequest {
        opt cursor: String,
        opt limit: u32,
        opt search: String,
    }
}

pub type ListPermissionsRequest = ListRequest;
pub type ListRolesRequest = ListRequest;
pub type ListIdentitiesRequest = ListRequest;
pub type ListPermissionsResponseData = Vec<Permission>;
pub type ListRolesResponseData = Vec<Role>;
pub type ListIdentitiesResponseData = Vec<Identity>;

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct CreateRoleRequest {
        pub name: String,
        opt description: String,
        /// Permission slugs granted by the role (created when missing).
        opt permissions: Vec<String>,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoleResponseData {
    pub role_id: String,
}

ref_request! {
    /// `permissions.getRole` and `deleteRole` ([`DeleteRoleRequest`]): `role` is an id or a
    /// name.
    GetRoleRequest,
    /// `permissions.deleteRole`: the same body and rules as `getRole`.
    DeleteRoleRequest { role }
    |c, role| c.len("role", role, 1, ROLE_NAME_MAX_LEN)
}

pub type GetRoleResponseData = Role;

/// `permissions.setRolePermissions`: replaces the permissions assigned directly to the role
/// `roleId` (an id, not a name) with `permissions` (slugs; matched case-insensitively, missing
/// ones created; `[]` clears).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRolePermissionsRequest {
    pub role_id: String,
    pub permissions: Vec<String>,
}

/// The role's direct permissions afterwards, in the order of the sorted requested slugs.
pub type SetRolePermissionsResponseData = Vec<Permission>;

impl Validate for CreatePermissionRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.len("name", &self.name, 1, PERMISSION_NAME_MAX_LEN);
            c.slug("slug", &self.slug);
            c.some(self.description.as_ref(), |c, d| {
                c.len("description", d, 0, DESCRIPTION_MAX_LEN)
            });
        })
    }
}

impl Validate for ListRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| c.list(self.limit, self.cursor.as_deref(), self.search.as_deref()))
    }
}

impl Validate for CreateRoleRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.len("name", &self.name, 1, ROLE_NAME_MAX_LEN);
            c.some(self.description.as_ref(), |c, d| {
                c.len("description", d, 0, DESCRIPTION_MAX_LEN)
            });
            c.some(self.permissions.as_ref(), |c, perms| {
                c.slugs("permissions", perms, 0, PERMISSIONS_MAX)
            });
        })
    }
}

impl Validate for SetRolePermissionsRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.resource_id("roleId", &self.role_id);
            // Unkey: no limit on the number of slugs (only the body's).
            c.slugs("permissions", &self.permissions, 0, usize::MAX);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{locations, request, response};
    use crate::wire::*;
    use serde_json::json;

    #[test]
    fn permissions_and_identities_round_trip() {
        request::<CreatePermissionRequest>(
            json!({"name": "Read docs", "slug": "documents.read", "description": "d"}),
        );
        request::<GetPermissionRequest>(json!({"permission": "documents.read"}));
        request::<DeletePermissionRequest>(json!({"permission": "perm_123"}));
        request::<ListRequest>(json!({"cursor": "c", "limit": 10, "search": "doc"}));
        request::<ListRequest>(json!({}));
        request::<CreateRoleRequest>(
            json!({"name": "admin", "description": "d", "permissions": ["a", "b"]}),
        );
        request::<GetRoleRequest>(json!({"role": "admin"}));
        request::<DeleteRoleRequest>(json!({"role": "role_123"}));
        request::<CreateIdentityRequest>(json!({
            "externalId": "user_1", "meta": {"plan": "pro"},
            "ratelimits": [{"name": "requests", "limit": 5, "duration": 1000, "autoApply": true}]
        }));
        request::<GetIdentityRequest>(json!({"identity": "user_1"}));
        request::<DeleteIdentityRequest>(json!({"identity": "id_1"}));
        request::<UpdateIdentityRequest>(json!({
            "identity": "user_1", "meta": {"plan": "team"},
            "ratelimits": [{"name": "requests", "limit": 5, "duration": 1000, "autoApply": true}]
        }));
        request::<SetRolePermissionsRequest>(
            json!({"roleId": "role_123", "permissions": ["a.read", "b:*"]}),
        );
        let bad: UpdateIdentityRequest = serde_json::from_value(json!({
            "identity": "",
            "ratelimits": [{"name": "dup", "limit": 1, "duration": 1000, "autoApply": false},
                           {"name": "dup", "limit": 2, "duration": 1000, "autoApply": false}]
        }))
        .unwrap();
        assert_eq!(
            locations(&bad.validate()),
            vec!["body.identity", "body.ratelimits[1].name"]
        );
        let bad: SetRolePermissionsRequest =
            serde_json::from_value(json!({"roleId": "r.1", "permissions": ["ok", "not ok"]}))
                .unwrap();
        assert_eq!(
            locations(&bad.validate()),
            vec!["body.roleId", "body.permissions[1]"]
        );
        let bad: CreatePermissionRequest =
            serde_json::from_value(json!({"name": "", "slug": "has space"})).unwrap();
        assert_eq!(locations(&bad.validate()), vec!["body.name", "body.slug"]);
        let bad: ListRequest = serde_json::from_value(json!({"limit": 0})).unwrap();
        assert_eq!(locations(&bad.validate()), vec!["body.limit"]);
        response::<CreatePermissionResponseData>(json!({"permissionId": "perm_1"}));
        response::<CreateRoleResponseData>(json!({"roleId": "role_1"}));
        response::<CreateIdentityResponseData>(json!({"identityId": "id_1"}));
        response::<Identity>(json!({"id": "id_1", "externalId": "user_1", "meta": {"a": 1}}));
    }
}
