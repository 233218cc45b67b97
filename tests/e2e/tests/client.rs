//! The client against a real `keyshift serve` over loopback HTTP and, with the same assertions,
//! against the in-process engine (`LocalBackend`): one suite, two backends, same results.

use std::time::{Duration, Instant};

use keyshift_core::wire::{self, CreditsOperation, UpdateKeyRequest};
use keyshift_core::{
    CallOptions, Client, CreateKey, ErrorCode, FallbackOptions, RetryPolicy, Scope, SecretKey,
    VerificationSource, VerifyCode, VerifyOptions,
};
use keyshift_e2e::{
    backfill_options, local_client, meta, new_identity, new_key, strings, verified, verify_code,
    TestServer,
};

/// Runs one async test body against both backends.
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn over_http() {
                let server = TestServer::start().await;
                $body(server.client()).await;
                server.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_process() {
                let local = local_client();
                $body(local.client.clone()).await;
            }
        }
    };
}

async fn new_api(client: &Client) -> String {
    client.create_api("payments-api").await.unwrap().api_id
}

async fn api_lifecycle(client: Client) {
    let api_id = new_api(&client).await;
    let api = client.get_api(&api_id).await.unwrap();
    assert_eq!(api.id, api_id);
    assert_eq!(api.name, "payments-api");

    // More keys than one page holds, so the pager has to follow the cursor.
    let mut created = Vec::new();
    for i in 0..105 {
        let mut options = CreateKey::new(&api_id);
        options.name = Some(format!("key-{i}"));
        created.push(client.create_api_key(&options).await.unwrap().key_id);
    }
    let first = client
        .list_keys(&wire::ListKeysRequest {
            api_id: api_id.clone(),
            limit: Some(50),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 50);
    assert!(first.has_more);
    let all = client.keys_pager(&api_id).collect_all().await.unwrap();
    let mut listed: Vec<_> = all.iter().map(|k| k.key_id.clone()).collect();
    listed.sort();
    created.sort();
    assert_eq!(listed, created, "every key listed exactly once");

    client.delete_api(&api_id).await.unwrap();
    let err = client.get_api(&api_id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}
both_backends!(api_lifecycle_and_pagination, api_lifecycle);

async fn create_and_verify(client: Client) {
    let api_id = new_api(&client).await;
    let mut options = CreateKey::new(&api_id);
    options.name = Some("acme production".into());
    options.prefix = Some("sk_live".into());
    options.byte_length = Some(24);
    options.external_id = Some("customer_42".into());
    options.meta = Some(meta(serde_json::json!({"plan": "pro"})));
    options.scopes = vec![Scope::new("profile").with_read().with_update()];
    options.permissions = vec!["billing.read".into()];
    options.credits = Some(2);
    options.expires = Some(4_000_000_000_000);
    let created = client.create_api_key(&options).await.unwrap();
    assert!(created.key.expose().starts_with("sk_live_"));
    assert!(keyshift_core::looks_like_key(created.key.expose()));
    assert!(created.masked.starts_with("sk_live_…"));
    assert!(!created.masked.contains(&created.key.expose()[8..]));

    let v = client
        .verify(
            created.key.expose(),
            &VerifyOptions {
                scopes: vec![Scope::new("profile").with_read()],
                permissions: Some("billing.read OR admin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.code, VerifyCode::Valid);
    assert_eq!(v.key_id.as_deref(), Some(created.key_id.as_str()));
    assert_eq!(v.name.as_deref(), Some("acme production"));
    assert_eq!(v.external_id.as_deref(), Some("customer_42"));
    assert_eq!(v.meta.as_ref().unwrap()["plan"], "pro");
    assert_eq!(v.credits, Some(1), "one credit spent");
    for p in ["profile.read", "profile.update", "billing.read"] {
        assert!(v.has_permission(p), "{p} in {:?}", v.permissions);
    }
    let mut scopes = v.scopes();
    scopes.sort_by(|a, b| a.representation.cmp(&b.representation));
    assert_eq!(
        scopes,
        vec![
            Scope::new("billing").with_read(),
            Scope::new("profile").with_read().with_update()
        ]
    );
    assert_eq!(v.source, VerificationSource::KeyService);

    let denied = client
        .verify(
            created.key.expose(),
            &VerifyOptions {
                scopes: vec![Scope::new("profile").with_delete()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(denied.code, VerifyCode::InsufficientPermissions);
    assert!(!denied.valid);

    let last = verified(&client, created.key.expose()).await;
    assert_eq!(last.code, VerifyCode::Valid);
    assert_eq!(last.credits, Some(0));
    let spent = verified(&client, created.key.expose()).await;
    assert_eq!(spent.code, VerifyCode::UsageExceeded);

    let unknown = verified(&client, "sk_live_doesnotexist123456").await;
    assert_eq!(unknown.code, VerifyCode::NotFound);
    assert!(!unknown.valid);

    let key = client.get_key(&created.key_id).await.unwrap();
    assert_eq!(key.key_id, created.key_id);
    assert_eq!(key.name.as_deref(), Some("acme production"));
    assert!(key.start.starts_with("sk_live_"));
    assert_eq!(key.expires, Some(4_000_000_000_000));
    assert!(key.plaintext.is_none());

    let me = client.whoami(created.key.expose()).await.unwrap();
    assert_eq!(me.key_id, created.key_id);
}
both_backends!(create_verify_scopes_credits, create_and_verify);

async fn update_delete_reroll(client: Client) {
    let api_id = new_api(&client).await;
    let created = new_key(&client, &api_id).await;

    client
        .update_key(&UpdateKeyRequest {
            key_id: created.key_id.clone(),
            enabled: Some(false),
            name: wire::Patch::Set("renamed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        verify_code(&client, created.key.expose(), &VerifyOptions::default()).await,
        VerifyCode::Disabled
    );
    assert_eq!(
        client
            .get_key(&created.key_id)
            .await
            .unwrap()
            .name
            .as_deref(),
        Some("renamed")
    );
    client
        .update_key(&UpdateKeyRequest {
            key_id: created.key_id.clone(),
            enabled: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();

    let credits = client
        .update_credits(&created.key_id, CreditsOperation::Set, Some(5))
        .await
        .unwrap();
    assert_eq!(credits.remaining, Some(5));
    let credits = client
        .update_credits(&created.key_id, CreditsOperation::Decrement, Some(2))
        .await
        .unwrap();
    assert_eq!(credits.remaining, Some(3));

    // Reroll with an overlap: both keys work until the old one expires.
    let rerolled = client.reroll_key(&created.key_id, 60_000).await.unwrap();
    assert_ne!(rerolled.key_id, created.key_id);
    assert_ne!(rerolled.key.expose(), created.key.expose());
    let new_v = verified(&client, rerolled.key.expose()).await;
    assert_eq!(new_v.code, VerifyCode::Valid);
    let old_v = verified(&client, created.key.expose()).await;
    assert_eq!(old_v.code, VerifyCode::Valid);
    assert!(old_v.expires.is_some(), "old key now expires");

    // Reroll without overlap revokes at once.
    let third = client.reroll_key(&rerolled.key_id, 0).await.unwrap();
    let gone = verified(&client, rerolled.key.expose()).await;
    assert!(!gone.valid, "{gone:?}");
    assert!(matches!(
        gone.code,
        VerifyCode::Expired | VerifyCode::NotFound
    ));

    client.delete_key(&third.key_id, false).await.unwrap();
    let deleted = verified(&client, third.key.expose()).await;
    assert_eq!(deleted.code, VerifyCode::NotFound);
    client.delete_key(&created.key_id, true).await.unwrap();
    let err = client.get_key(&created.key_id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}
both_backends!(update_credits_reroll_delete, update_delete_reroll);

/// The slugs of `permissions`.
fn slugs(permissions: Vec<wire::Permission>) -> Vec<String> {
    permissions.into_iter().map(|p| p.slug).collect()
}

async fn permissions_and_roles(client: Client) {
    let api_id = new_api(&client).await;
    let perm = client
        .create_permission("documents.read", None, Some("read documents"))
        .await
        .unwrap();
    assert!(!perm.permission_id.is_empty());
    let fetched = client.get_permission("documents.read").await.unwrap();
    assert_eq!(fetched.id, perm.permission_id);
    let dup = client
        .create_permission("documents.read", None, None)
        .await
        .unwrap_err();
    assert_eq!(dup.code, ErrorCode::Conflict);

    let role = client
        .create_role(
            "editor",
            &strings(&["documents.write", "documents.read"]),
            None,
        )
        .await
        .unwrap();
    assert!(!role.role_id.is_empty());
    let editor = client.get_role("editor").await.unwrap();
    let granted = slugs(editor.permissions.unwrap_or_default());
    assert!(
        granted.contains(&"documents.write".to_string()),
        "{granted:?}"
    );
    let roles = client.list_roles().await.unwrap();
    assert!(roles.iter().any(|r| r.name == "editor"), "{roles:?}");
    let listed = slugs(client.list_permissions().await.unwrap());
    assert!(
        listed.contains(&"documents.write".to_string()),
        "role permissions created on the fly"
    );

    let key = new_key(&client, &api_id).await;
    let needs_write = VerifyOptions::permissions("documents.write");
    // The code of the key verified as needing documents.write.
    let write_code = || verify_code(&client, key.key.expose(), &needs_write);
    assert_eq!(write_code().await, VerifyCode::InsufficientPermissions);
    let roles = client
        .add_roles(&key.key_id, &strings(&["editor"]))
        .await
        .unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(write_code().await, VerifyCode::Valid);
    let missing = client
        .add_roles(&key.key_id, &strings(&["no-such-role"]))
        .await
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
    client.set_roles(&key.key_id, &[]).await.unwrap();
    assert_eq!(write_code().await, VerifyCode::InsufficientPermissions);

    let perms = client
        .add_permissions(&key.key_id, &strings(&["audit.read", "audit.write"]))
        .await
        .unwrap();
    assert_eq!(perms.len(), 2);
    let perms = client
        .remove_permissions(&key.key_id, &strings(&["audit.write"]))
        .await
        .unwrap();
    assert_eq!(slugs(perms), ["audit.read"]);
    let perms = client
        .set_permissions(&key.key_id, &strings(&["reports.read"]))
        .await
        .unwrap();
    assert_eq!(perms.len(), 1);
    assert_eq!(
        verify_code(
            &client,
            key.key.expose(),
            &VerifyOptions::permissions("reports.read AND NOT_A_PERM OR reports.read"),
        )
        .await,
        VerifyCode::Valid,
        "AND binds tighter than OR"
    );

    client.delete_role("editor").await.unwrap();
    assert_eq!(
        client.get_role("editor").await.unwrap_err().code,
        ErrorCode::NotFound
    );
    client.delete_permission("documents.read").await.unwrap();
    assert_eq!(
        client
            .get_permission("documents.read")
            .await
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
}
both_backends!(permissions_roles, permissions_and_roles);

async fn identities(client: Client) {
    let created = new_identity(&client, "user_7", serde_json::json!({"tier": "gold"})).await;
    let fetched = client.get_identity("user_7").await.unwrap();
    assert_eq!(fetched.id, created.identity_id);
    assert_eq!(fetched.meta.unwrap()["tier"], "gold");
    let identities = client.list_identities().await.unwrap();
    assert!(
        identities.iter().any(|i| i.external_id == "user_7"),
        "{identities:?}"
    );
    client.delete_identity("user_7").await.unwrap();
    assert_eq!(
        client.get_identity("user_7").await.unwrap_err().code,
        ErrorCode::NotFound
    );
}
both_backends!(identity_lifecycle, identities);

async fn bad_input_is_typed(client: Client) {
    let api_id = new_api(&client).await;
    let mut options = CreateKey::new(&api_id);
    options.prefix = Some("has space".into());
    let err = client.create_api_key(&options).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert_eq!(err.field.as_deref(), Some("prefix"));

    let err = client
        .verify(
            "sk_whatever_123456789012",
            &VerifyOptions::permissions("a AND (b"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert_eq!(err.field.as_deref(), Some("permissions"));
    assert!(!err.to_string().contains("sk_whatever_123456789012"));

    let err = client.get_key("key_doesnotexist").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = client
        .create_api_key(&CreateKey::new("api_doesnotexist"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}
both_backends!(bad_input_errors, bad_input_is_typed);

async fn fallback(client: Client) {
    let api_id = new_api(&client).await;
    let legacy_key = "legacy_live_9f8e7d6c5b4a39281706";
    let legacy = |k: &str| k == "legacy_live_9f8e7d6c5b4a39281706";

    let rejected = client
        .verify_with_fallback(
            "legacy_live_unknown_000000000",
            &legacy,
            &FallbackOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(rejected.code, VerifyCode::NotFound);
    assert_eq!(rejected.source, VerificationSource::KeyService);

    let template = wire::MigrateKeyData {
        permissions: Some(vec!["profile.read".into()]),
        ..Default::default()
    };
    let options = backfill_options(&api_id, "legacy-rollout", template);
    let accepted = client
        .verify_with_fallback(legacy_key, &legacy, &options)
        .await
        .unwrap();
    assert!(accepted.valid);
    assert_eq!(accepted.source, VerificationSource::Legacy);
    let key_id = accepted.key_id.clone().expect("backfill migrated the key");

    // Now the key service knows it: no legacy call needed, permissions from the template.
    let never = |_: &str| -> bool { panic!("legacy check must not run for a migrated key") };
    let v = client
        .verify_with_fallback(
            legacy_key,
            &never,
            &FallbackOptions {
                verify: VerifyOptions::permissions("profile.read"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v.code, VerifyCode::Valid);
    assert_eq!(v.source, VerificationSource::KeyService);
    assert_eq!(v.key_id.as_deref(), Some(key_id.as_str()));
}
both_backends!(verify_with_fallback_and_backfill, fallback);

// ----- HTTP only: auth, request ids, retries against the server's fault switch ----------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_root_key_is_unauthorized_with_request_id() {
    let server = TestServer::start().await;
    let client = Client::builder()
        .base_url(&server.base_url)
        .root_key("unkey_not_a_real_root_key_123")
        .build()
        .unwrap();
    let err = client.create_api("x-api").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);
    assert_eq!(err.status, Some(401));
    assert!(
        err.request_id.as_deref().unwrap_or("").starts_with("req_"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("unkey_not_a_real_root_key_123"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_from_server_names_the_field() {
    let server = TestServer::start().await;
    let client = server.client();
    // Bypass local validation with a raw call: the server must name the field itself.
    let body = serde_json::json!({"apiId": "api_x", "byteLength": 3, "bogus": true});
    let err = client
        .call::<_, serde_json::Value>(wire::Op::CreateKey, &body, &CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert_eq!(err.status, Some(400));
    assert!(err.request_id.is_some());
    assert!(!err.errors.is_empty(), "{err:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_503_then_succeeds() {
    let server = TestServer::start_with_faults().await;
    let api_id = server
        .client()
        .create_api("retry-api")
        .await
        .unwrap()
        .api_id;
    let client = server.faulty("fail-first=2;status=503");
    let api = client.get_api(&api_id).await.unwrap();
    assert_eq!(api.id, api_id);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let server = TestServer::start_with_faults().await;
    let client = server.faulty("fail-first=3;status=503");
    let err = client.get_api("api_whatever").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::ServerError);
    assert_eq!(err.status, Some(503));
    assert!(err.request_id.is_some());
    // The fourth request is healthy: exactly three attempts were made.
    let err = client.get_api("api_whatever").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{err:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honours_retry_after_on_429() {
    let server = TestServer::start_with_faults().await;
    let api_id = server.client().create_api("rl-api").await.unwrap().api_id;
    let client = server.faulty("fail-first=1;status=429;retry-after=1");
    let started = Instant::now();
    client.get_api(&api_id).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );

    let no_retry = server
        .faulty_builder("status=429;retry-after-ms=1500")
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let err = no_retry.get_api(&api_id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RateLimited);
    assert_eq!(err.retry_after, Some(1.5));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_retry_only_when_safe() {
    let server = TestServer::start_with_faults().await;
    let (_, api_id, created) = server.client_with_key("drop-api").await;

    // A read survives one dropped connection.
    let client = server.faulty("fail-first=1;drop");
    assert_eq!(client.get_api(&api_id).await.unwrap().id, api_id);

    // DESIGN.md §4: verifyKey is retried after a lost connection too. (Fault counters are
    // keyed by the header value, hence a spec spelled differently.)
    let client = server.faulty("drop;fail-first=1");
    assert_eq!(
        verify_code(&client, created.key.expose(), &VerifyOptions::default()).await,
        VerifyCode::Valid
    );

    // A create without an Idempotency-Key may have taken effect: not repeated.
    let client = server.faulty("fail-first=1;drop;delay-ms=1");
    let err = client.create_api("dropped-create").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Network, "{err:?}");
    assert!(!err.to_string().contains(created.key.expose()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_hit_the_timeout_and_the_deadline() {
    let server = TestServer::start_with_faults().await;
    let client = server
        .faulty_builder("delay-ms=2000")
        .timeout(Duration::from_millis(200))
        .deadline(Duration::from_millis(700))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.get_api("api_slow").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout, "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "deadline kept: {:?}",
        started.elapsed()
    );

    // Per-call options override the client's.
    let patient = server.faulty("delay-ms=300");
    let call = CallOptions::default()
        .with_timeout(Duration::from_millis(100))
        .with_retry(RetryPolicy::never());
    let err = patient
        .call::<_, serde_json::Value>(
            wire::Op::GetApi,
            &serde_json::json!({"apiId": "api_x"}),
            &call,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_create_mints_exactly_one_key() {
    let server = TestServer::start_with_faults().await;
    let (admin, api_id) = server.client_with_api("idem-api").await;
    // The first attempt creates the key and then loses the answer; the retry carries the same
    // Idempotency-Key and gets the first answer replayed.
    let client = server.faulty("fail-first=1;after-dispatch-status=503");
    let created = new_key(&client, &api_id).await;
    let keys = admin.keys_pager(&api_id).collect_all().await.unwrap();
    assert_eq!(keys.len(), 1, "exactly one key: {keys:?}");
    assert_eq!(keys[0].key_id, created.key_id);
    assert_eq!(
        verify_code(&admin, created.key.expose(), &VerifyOptions::default()).await,
        VerifyCode::Valid
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_never_in_debug_or_errors() {
    let server = TestServer::start().await;
    let client = server.client();
    let api_id = new_api(&client).await;
    let created = new_key(&client, &api_id).await;
    let plaintext = created.key.expose().to_string();
    let secret_part = plaintext.rsplit('_').next().unwrap().to_string();
    let verification = verified(&client, &plaintext).await;
    let request = wire::VerifyKeyRequest {
        key: SecretKey::new(plaintext.clone()),
        ..Default::default()
    };
    let whoami = wire::WhoamiRequest {
        key: SecretKey::new(plaintext.clone()),
    };
    let root = server.root_key.expose().to_string();
    for shown in [
        format!("{created:?}"),
        format!("{verification:?}"),
        format!("{request:?}"),
        format!("{whoami:?}"),
        format!("{client:?}"),
        format!("{:?}", server.root_key),
    ] {
        assert!(!shown.contains(&secret_part), "plaintext leaked: {shown}");
        assert!(!shown.contains(&root), "root key leaked: {shown}");
    }
    server.stop().await;
}
