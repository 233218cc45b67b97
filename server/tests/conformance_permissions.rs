//! Conformance of the `permissions.*` operations with Unkey's server: the scenarios of its route
//! tests (`svc/api/routes/v2_permissions_*/{400,401,404,409}_test.go`) and its v2 request
//! schemas, answered with the same status, problem `type` and title (server/CONFORMANCE.md).
//! `permissions.setRolePermissions` is served by another change and tested with it.

mod common;
mod conform;

use common::start;
use conform::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// permissions.createPermission
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_permission_schema_violations_are_400_naming_the_field() {
    let s = start().await;
    for (body, location) in [
        (json!({"slug": "test-slug"}), "body.name"),
        (json!({"name": "test.permission"}), "body.slug"),
        (json!({"name": "", "slug": "test-slug"}), "body.name"),
        (json!({"name": "test.permission", "slug": ""}), "body.slug"),
        (
            json!({"name": "test.permission", "slug": "test slug with spaces"}),
            "body.slug",
        ),
        (
            json!({"name": "test.permission", "slug": "test@slug#with$special%chars"}),
            "body.slug",
        ),
        (
            json!({"name": "test.permission", "slug": "a".repeat(129)}),
            "body.slug",
        ),
        (
            json!({"name": "n".repeat(513), "slug": "test-slug"}),
            "body.name",
        ),
        (
            json!({"name": "test.permission", "slug": "test-permission", "description": "d".repeat(513)}),
            "body.description",
        ),
        (json!({"name": null, "slug": "test-slug"}), "body.name"),
        (
            json!({"name": "test.permission", "slug": null}),
            "body.slug",
        ),
        (
            json!({"name": "test.permission", "slug": "test-permission", "description": null}),
            "body.description",
        ),
    ] {
        invalid(&s, "permissions.createPermission", body, location).await;
    }
    bad_body(
        &s,
        "permissions.createPermission",
        Some(br#"{"name": "test.permission", "invalid json": }"#),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_permission_valid_slug_patterns_are_200() {
    let s = start().await;
    for (i, slug) in [
        "simple",
        "with-dashes",
        "with_underscores",
        "with.periods",
        "Mixed123Case",
        "all-valid_chars.123",
        "colon:namespaced",
        "documents.*",
    ]
    .iter()
    .enumerate()
    {
        s.ok(
            "permissions.createPermission",
            json!({"name": format!("test.permission.{i}"), "slug": slug}),
        )
        .await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_permission_duplicate_slug_is_409_permission_already_exists() {
    let s = start().await;
    let first = json!({"name": "dup-1", "slug": "dup.permission"});
    let again = json!({"name": "dup-2", "slug": "dup.permission"});
    second_is_conflict(
        &s,
        "permissions.createPermission",
        first,
        again,
        PERMISSION_ALREADY_EXISTS,
    )
    .await;
    check_auth_cases(
        &s,
        "permissions.createPermission",
        &json!({"name": "auth.test.permission", "slug": "auth-test-permission"}),
    )
    .await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// permissions.getPermission, permissions.deletePermission
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_delete_permission_schema_violations_are_400() {
    let s = start().await;
    for op in ["permissions.getPermission", "permissions.deletePermission"] {
        for body in [
            json!({}),
            json!({"permission": ""}),
            json!({"permission": null}),
            json!({"permission": "has space"}),
            json!({"permission": "a".repeat(129)}),
        ] {
            invalid(&s, op, body, "body.permission").await;
        }
        bad_body(&s, op, Some(br#"{"permission": }"#)).await;
        check_auth_cases(&s, op, &json!({"permission": "perm_test123"})).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_delete_unknown_deleted_or_foreign_permission_is_404() {
    let s = start().await;
    let foreign = theirs(
        &s,
        "permissions.createPermission",
        json!({"name": "theirs", "slug": "their.permission"}),
        "permissionId",
    )
    .await;
    let gone = s
        .created_id(
            "permissions.createPermission",
            json!({"name": "test.permission.to.delete", "slug": "test-permission-to-delete"}),
            "permissionId",
        )
        .await;
    s.ok("permissions.deletePermission", json!({"permission": gone}))
        .await;
    for op in ["permissions.getPermission", "permissions.deletePermission"] {
        for id in [
            "perm_does_not_exist",
            "perm_2ZpXpBZ6d9uXhVgm5qE9Zm",
            gone.as_str(),
            "test-permission-to-delete",
            foreign.as_str(),
            "their.permission",
        ] {
            not_found(&s, op, json!({"permission": id}), PERMISSION_NOT_FOUND).await;
        }
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// permissions.createRole
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_role_schema_violations_are_400_naming_the_field() {
    let s = start().await;
    for (body, location) in [
        (json!({}), "body.name"),
        (json!({"name": ""}), "body.name"),
        (json!({"name": null}), "body.name"),
        (json!({"name": "r".repeat(129)}), "body.name"),
        (
            json!({"name": "test.role", "description": "d".repeat(513)}),
            "body.description",
        ),
        (
            json!({"name": "test.role", "description": null}),
            "body.description",
        ),
        (
            json!({"name": "test.role", "permissions": null}),
            "body.permissions",
        ),
        (
            json!({"name": "test.role", "permissions": [""]}),
            "body.permissions[0]",
        ),
        (
            json!({"name": "test.role", "permissions": ["has space"]}),
            "body.permissions[0]",
        ),
    ] {
        invalid(&s, "permissions.createRole", body, location).await;
    }
    bad_body(
        &s,
        "permissions.createRole",
        Some(br#"{"name": "test.role", "invalid json": }"#),
    )
    .await;
    check_auth_cases(
        &s,
        "permissions.createRole",
        &json!({"name": "auth.test.role"}),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_role_duplicate_name_is_409_role_already_exists() {
    let s = start().await;
    let body = json!({"name": "test.duplicate.role"});
    second_is_conflict(
        &s,
        "permissions.createRole",
        body.clone(),
        body,
        ROLE_ALREADY_EXISTS,
    )
    .await;
    // Role names are case-sensitive (Unkey's test accepts either answer).
    s.create_role("Test.Case.Sensitive.Role").await;
    let (status, v) = s
        .call(
            "permissions.createRole",
            json!({"name": "test.case.sensitive.role"}),
        )
        .await;
    assert!(status == 200 || status == 409, "{v}");
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// permissions.getRole, permissions.deleteRole
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_delete_role_schema_violations_are_400() {
    let s = start().await;
    for op in ["permissions.getRole", "permissions.deleteRole"] {
        for body in [
            json!({}),
            json!({"role": ""}),
            json!({"role": null}),
            json!({"role": "r".repeat(129)}),
        ] {
            invalid(&s, op, body, "body.role").await;
        }
        bad_body(&s, op, Some(br#"{"role": }"#)).await;
        check_auth_cases(&s, op, &json!({"role": "role_test123"})).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_delete_unknown_deleted_or_foreign_role_is_404() {
    let s = start().await;
    let foreign = theirs(
        &s,
        "permissions.createRole",
        json!({"name": "their.role", "description": "theirs"}),
        "roleId",
    )
    .await;
    let gone = s.create_role("gone.role").await;
    s.ok("permissions.deleteRole", json!({"role": gone})).await;
    for op in ["permissions.getRole", "permissions.deleteRole"] {
        for role in [
            "role_does_not_exist",
            "role_2ZpXpBZ6d9uXhVgm5qE9Zm",
            gone.as_str(),
            "gone.role",
            foreign.as_str(),
            "their.role",
        ] {
            not_found(&s, op, json!({"role": role}), ROLE_NOT_FOUND).await;
        }
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// permissions.listPermissions, permissions.listRoles
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_permissions_and_roles_schema_violations_are_400() {
    let s = start().await;
    for op in ["permissions.listPermissions", "permissions.listRoles"] {
        for (body, location) in [
            (json!({"invalid": "json structure"}), "body.invalid"),
            (json!({"search": "a".repeat(257)}), "body.search"),
            (json!({"cursor": "c".repeat(1025)}), "body.cursor"),
            (json!({"limit": 0}), "body.limit"),
            (json!({"limit": -1}), "body.limit"),
            (json!({"limit": 101}), "body.limit"),
            (json!({"limit": null}), "body.limit"),
            (json!({"cursor": null}), "body.cursor"),
            (json!({"search": null}), "body.search"),
        ] {
            invalid(&s, op, body, location).await;
        }
        check_auth_cases(&s, op, &json!({})).await;
        let (status, v) = s.call(op, json!({"limit": 100, "search": "x"})).await;
        assert_eq!(status, 200, "{op}: {v}");
    }
    s.stop().await;
}
