//! `Client::update_identity` and `Client::set_role_permissions` (issue 9) over HTTP against a
//! real server and in-process, with the same results; and a root key that lacks the permission
//! gets a `forbidden` error.

use keyshift_core::wire::{self, RatelimitRequest, UpdateIdentityRequest};
use keyshift_core::{Client, ErrorCode, VerifyCode, VerifyOptions};
use keyshift_e2e::{local_client, meta, new_identity, strings, verify_code, TestServer};

async fn update_identity_and_set_role_permissions(client: Client) {
    let created = new_identity(&client, "cust_42", serde_json::json!({"plan": "free"})).await;

    let updated = client
        .update_identity(&UpdateIdentityRequest {
            identity: "cust_42".into(),
            meta: Some(meta(serde_json::json!({"plan": "pro"}))),
            ratelimits: Some(vec![RatelimitRequest {
                name: "requests".into(),
                limit: 10,
                duration: 60_000,
                auto_apply: true,
            }]),
        })
        .await
        .unwrap();
    assert_eq!(updated.id, created.identity_id);
    assert_eq!(updated.external_id, "cust_42");
    assert_eq!(updated.meta.as_ref().unwrap()["plan"], "pro");
    let limits = updated.ratelimits.clone().unwrap();
    assert_eq!(limits.len(), 1);
    assert_eq!((limits[0].name.as_str(), limits[0].limit), ("requests", 10));
    assert_eq!(client.get_identity("cust_42").await.unwrap(), updated);

    // Local validation: nothing is sent for a request Unkey would refuse.
    let err = client
        .update_identity(&UpdateIdentityRequest {
            identity: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert_eq!(err.field.as_deref(), Some("identity"));
    let err = client
        .update_identity(&UpdateIdentityRequest {
            identity: "cust_unknown".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);

    let role = client
        .create_role("analyst", &strings(&["reports.read"]), None)
        .await
        .unwrap();
    let api = client.create_api("reports").await.unwrap().api_id;
    let mut options = keyshift_core::CreateKey::new(&api);
    options.roles = vec!["analyst".into()];
    let key = client.create_api_key(&options).await.unwrap().key;

    let set = client
        .set_role_permissions(&role.role_id, &strings(&["reports.write", "reports.read"]))
        .await
        .unwrap();
    let slugs: Vec<&str> = set.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(slugs, vec!["reports.read", "reports.write"]);
    let may_write = VerifyOptions::permissions("reports.write");
    assert_eq!(
        verify_code(&client, key.expose(), &may_write).await,
        VerifyCode::Valid
    );

    let cleared = client
        .set_role_permissions(&role.role_id, &[])
        .await
        .unwrap();
    assert!(cleared.is_empty());
    let may_read = VerifyOptions::permissions("reports.read");
    assert_eq!(
        verify_code(&client, key.expose(), &may_read).await,
        VerifyCode::InsufficientPermissions
    );

    let err = client
        .set_role_permissions("analyst", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "a role is named by its id");
    let err = client
        .set_role_permissions(&role.role_id, &strings(&["not a slug"]))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http() {
    let server = TestServer::start().await;
    update_identity_and_set_role_permissions(server.client()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process() {
    let local = local_client();
    update_identity_and_set_role_permissions(local.client.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_key_without_the_permission_is_forbidden() {
    let server = TestServer::start().await;
    let engine = keyshift_engine::Engine::open(&server.db_path.to_string_lossy()).unwrap();
    let ws = engine
        .authenticate(server.root_key.expose())
        .unwrap()
        .workspace_id;
    let limited = engine
        .create_root_key_with_permissions(&ws, &["identity.*.read_identity"])
        .unwrap();
    let admin = server.client();
    admin
        .create_identity(&wire::CreateIdentityRequest {
            external_id: "cust_7".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let client = server.client_builder().root_key(limited).build().unwrap();
    client.get_identity("cust_7").await.unwrap();
    let err = client
        .update_identity(&UpdateIdentityRequest {
            identity: "cust_7".into(),
            meta: Some(Default::default()),
            ratelimits: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
    assert_eq!(err.status, Some(403));
    assert!(err.message.contains("identity.*.update_identity"), "{err}");
    let role = admin.create_role("r1", &[], None).await.unwrap();
    let err = client
        .set_role_permissions(&role.role_id, &[])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
    server.stop().await;
}
