//! Conformance of the `apis.*` operations with Unkey's server: the scenarios of its route tests
//! (`svc/api/routes/v2_apis_*/{400,401,404,412}_test.go`) and its v2 request schemas, answered
//! with the same status, problem `type` and title (server/CONFORMANCE.md).

mod common;
mod conform;

use common::{start, start_with_api};
use conform::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// apis.createApi
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_api_schema_violations_are_400_naming_body_name() {
    let s = start().await;
    // Each: the type, title and detail Unkey's test checks, and errors[] naming body.name.
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "ab"}),
        json!({"name": "a".repeat(257)}),
        json!({"name": null}),
        json!({"name": 42}),
    ] {
        invalid(&s, "apis.createApi", body, "body.name").await;
    }
    // unexpected fields: Unkey's test accepts 200 or 400; keyshift refuses unknown fields
    let e = expect(
        &s,
        "apis.createApi",
        json!({"name": "valid-api-name", "unexpectedField": true, "anotherField": 42}),
        400,
        INVALID_INPUT,
    )
    .await;
    assert!(
        e["errors"][0]["location"]
            .as_str()
            .is_some_and(|l| l == "body.unexpectedField" || l == "body.anotherField"),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_api_invalid_json_is_400_bad_request() {
    let s = start().await;
    for body in [
        &br#"{"name": "test-api", "invalid json": }"#[..],
        b"{",
        b"null",
        b"[]",
        b"\"name\"",
    ] {
        let e = bad_body(&s, "apis.createApi", Some(body)).await;
        assert!(!e["detail"].as_str().unwrap().is_empty(), "{e}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_api_auth_header_missing_malformed_unknown_are_400_400_401() {
    let s = start().await;
    check_auth_cases(&s, "apis.createApi", &json!({"name": "test-api"})).await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// apis.getApi
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_api_schema_violations_are_400_naming_body_api_id() {
    let s = start().await;
    for body in [
        json!({}),
        json!({"apiId": ""}),
        json!({"apiId": "api_123"}), // 7 characters: the schema asks 8
        json!({"apiId": "api-with-hyphen"}),
        json!({"apiId": null}),
    ] {
        invalid(&s, "apis.getApi", body, "body.apiId").await;
    }
    // Unkey's 400 test sends the root key without `Bearer `: the body's 400 comes first …
    let no_bearer = [
        ("content-type", "application/json"),
        ("authorization", s.root_key.as_str()),
    ];
    let bytes = serde_json::to_vec(&json!({"apiId": ""})).unwrap();
    let (got, v) = post_raw(&s, "apis.getApi", &no_bearer, Some(&bytes)).await;
    let e = check("apis.getApi", got, &v, 400, INVALID_INPUT);
    assert_names("apis.getApi", &e, "body.apiId");
    // … and with a valid body the header is the 400.
    let bytes = serde_json::to_vec(&json!({"apiId": "api_valid_test_id"})).unwrap();
    let (got, v) = post_raw(&s, "apis.getApi", &no_bearer, Some(&bytes)).await;
    check("apis.getApi", got, &v, 400, MALFORMED);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_api_unknown_foreign_or_deleted_api_is_404_api_not_found() {
    let s = start().await;
    let theirs = foreign_api(&s).await;
    let deleted = s.create_api("deleted").await;
    s.ok("apis.deleteApi", json!({"apiId": deleted})).await;
    for api in [
        "api_2ZpXpBZ6d9uXhVgm5qE9Zm",
        theirs.as_str(),
        deleted.as_str(),
    ] {
        not_found(&s, "apis.getApi", json!({"apiId": api}), API_NOT_FOUND).await;
    }
    check_auth_cases(&s, "apis.getApi", &json!({"apiId": "api_12345678"})).await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// apis.listKeys
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_keys_schema_violations_are_400_naming_the_field() {
    let (s, api) = start_with_api("list").await;
    for (body, location) in [
        (json!({}), "body.apiId"),
        (json!({"apiId": ""}), "body.apiId"),
        (json!({"apiId": null}), "body.apiId"),
        (json!({"apiId": api, "limit": -1}), "body.limit"),
        (json!({"apiId": api, "limit": 0}), "body.limit"),
        (json!({"apiId": api, "limit": 101}), "body.limit"),
        (json!({"apiId": api, "limit": 999999}), "body.limit"),
        (json!({"apiId": api, "limit": null}), "body.limit"),
        (json!({"apiId": api, "externalId": ""}), "body.externalId"),
        (json!({"apiId": api, "externalId": null}), "body.externalId"),
        (json!({"apiId": api, "cursor": null}), "body.cursor"),
        (json!({"apiId": api, "decrypt": null}), "body.decrypt"),
        (
            json!({"apiId": api, "revalidateKeysCache": null}),
            "body.revalidateKeysCache",
        ),
    ] {
        invalid(&s, "apis.listKeys", body, location).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_keys_unknown_or_odd_api_id_is_404_api_not_found() {
    let s = start().await;
    let theirs = foreign_api(&s).await;
    let deleted = s.create_api("deleted").await;
    s.ok("apis.deleteApi", json!({"apiId": deleted})).await;
    let very_long = format!("api_{}", "\u{0}".repeat(500));
    for api in [
        "api_does_not_exist_123",
        "invalid_format",
        "invalid_format_123",
        "api_definitely_does_not_exist",
        "api_special!@#$%^&*()",
        very_long.as_str(),
        theirs.as_str(),
        deleted.as_str(),
    ] {
        let e = not_found(&s, "apis.listKeys", json!({"apiId": api}), API_NOT_FOUND).await;
        assert!(!e["detail"].as_str().unwrap().is_empty(), "{e}");
    }
    // a cursor that was never issued, on an unknown api: 404 as well
    not_found(
        &s,
        "apis.listKeys",
        json!({"apiId": "api_1234567890", "cursor": "not_a_valid_cursor_format_!!!"}),
        API_NOT_FOUND,
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_keys_of_an_api_without_keys_is_200_empty() {
    let (s, api) = start_with_api("empty").await;
    let (status, v) = s.call("apis.listKeys", json!({"apiId": api})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"], json!([]), "{v}");
    assert_eq!(v["pagination"]["hasMore"], false, "{v}");
    for limit in [1, 50, 100] {
        let (status, v) = s
            .call(
                "apis.listKeys",
                json!({"apiId": api, "limit": limit, "decrypt": false}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }
    let bad_cursor = json!({"apiId": api, "cursor": "not_a_valid_cursor_format_!!!"});
    s.ok("apis.listKeys", bad_cursor).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_keys_decrypt_is_412_precondition_failed() {
    let (s, api) = start_with_api("decrypt").await;
    s.create_key(json!({"apiId": api})).await;
    expect(
        &s,
        "apis.listKeys",
        json!({"apiId": api, "decrypt": true}),
        412,
        PRECONDITION_FAILED,
    )
    .await;
    check_auth_cases(&s, "apis.listKeys", &json!({"apiId": api})).await;
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// apis.deleteApi
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_api_schema_violations_are_400_naming_body_api_id() {
    let s = start().await;
    for body in [
        json!({}),
        json!({"apiId": ""}),
        json!({"apiId": "api_123"}),
        json!({"apiId": null}),
    ] {
        invalid(&s, "apis.deleteApi", body, "body.apiId").await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_api_unknown_deleted_or_foreign_api_is_404_and_deleting_twice_is_404() {
    let s = start().await;
    let theirs = foreign_api(&s).await;
    let api = s.create_api("to-delete").await;
    s.ok("apis.deleteApi", json!({"apiId": api})).await;
    for id in [
        "api_does_not_exist",
        api.as_str(),
        api.as_str(),
        theirs.as_str(),
    ] {
        not_found(&s, "apis.deleteApi", json!({"apiId": id}), API_NOT_FOUND).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_api_auth_header_missing_malformed_unknown_are_400_400_401() {
    let s = start().await;
    let body = json!({"apiId": "api_1234"});
    // Unkey's 401 test sends `api_1234` (8 characters, valid by the schema)
    check_auth_cases(&s, "apis.deleteApi", &body).await;
    let (got, v) = s
        .call_as(
            "invalid_token_that_does_not_exist",
            "apis.deleteApi",
            body.clone(),
        )
        .await;
    let e = check("apis.deleteApi", got, &v, 401, KEY_NOT_FOUND_AUTH);
    assert_eq!(
        e["detail"], "The provided root key is invalid. We could not find the requested key.",
        "{e}"
    );
    let bytes = serde_json::to_vec(&body).unwrap();
    let (got, v) = post_raw(
        &s,
        "apis.deleteApi",
        &[("content-type", "application/json")],
        Some(&bytes),
    )
    .await;
    let e = check("apis.deleteApi", got, &v, 400, INVALID_INPUT);
    assert_eq!(
        e["detail"], "Authorization header for 'bearer' scheme",
        "{e}"
    );
    s.stop().await;
}

/// The list operations have only optional fields, but their body is required all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_operations_without_a_body_are_400() {
    let s = start().await;
    for op in [
        "apis.listKeys",
        "permissions.listPermissions",
        "permissions.listRoles",
        "identities.listIdentities",
    ] {
        for body in [None, Some(&b""[..])] {
            let e = bad_body(&s, op, body).await;
            assert_eq!(e["errors"][0]["location"], "body", "{op}: {e}");
        }
        bad_body(&s, op, Some(b"null")).await;
    }
    // `{}` is the empty request of the three whose fields are all optional
    for op in [
        "permissions.listPermissions",
        "permissions.listRoles",
        "identities.listIdentities",
    ] {
        let (status, v) = s.call(op, json!({})).await;
        assert_eq!(status, 200, "{op}: {v}");
    }
    s.stop().await;
}
