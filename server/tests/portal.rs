//! The self-service key portal (issue 16) over real loopback HTTP: root-key session creation
//! and its permission ceiling, the code exchange (single use, expiry), session auth by cookie
//! or bearer, CSRF and Origin checks, scopes enforced by the server, isolation between end
//! users, the page's security headers and CORS for configured origins.

mod common;

use std::time::Duration;

use common::{start, start_with_api, TestServer};
use keyshift_server::{bind, ServerConfig};
use serde_json::{json, Value};

/// Every scope a session may be granted.
const ALL_SCOPES: &[&str] = keyshift_core::wire::PORTAL_SCOPES;

/// GET `url` with a client that does not follow redirects (to see the 303 and its cookie).
async fn visit(url: impl reqwest::IntoUrl) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client.get(url).send().await.unwrap()
}

/// An end user's browser session: the access token (cookie value) and the CSRF token.
struct Session {
    token: String,
    csrf: String,
    data: Value,
}

/// `portal.createSession` with the server's root key; the session URL.
async fn session_url(s: &TestServer, portal: &str, external_id: &str, scopes: &[&str]) -> String {
    let data = s
        .ok(
            "portal.createSession",
            json!({"portal": portal, "externalId": external_id, "scopes": scopes}),
        )
        .await;
    assert!(data["id"].as_str().unwrap().starts_with("ps_"), "{data}");
    data["url"].as_str().unwrap().to_string()
}

/// A key of `api` owned by the end user `external_id`: (keyId, key).
async fn user_key(s: &TestServer, api: &str, external_id: &str) -> (String, String) {
    let body = json!({"apiId": api, "externalId": external_id});
    s.create_key(body).await
}

fn code_of(url: &str) -> String {
    url.split_once("code=").unwrap().1.to_string()
}

/// The cookie value set by a response, with the whole `Set-Cookie` line.
fn set_cookie(resp: &reqwest::Response) -> (String, String) {
    let line = resp
        .headers()
        .get("set-cookie")
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_string();
    let value = line
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("keyshift_portal=")
        .expect("the portal cookie")
        .to_string();
    (value, line)
}

/// Opens the session URL as a browser does (303 + cookie), then reads the session.
async fn open(s: &TestServer, url: &str) -> Session {
    let resp = visit(url).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/portal");
    let (token, _) = set_cookie(&resp);
    assert!(token.starts_with("pat_"), "{token}");
    let (status, v) = portal(s, &token, None, "portal.getSession", json!({})).await;
    assert_eq!(status, 200, "{v}");
    Session {
        csrf: v["data"]["csrfToken"].as_str().unwrap().to_string(),
        token,
        data: v["data"].clone(),
    }
}

/// A portal route with the session cookie (and the CSRF header when given).
async fn portal(
    s: &TestServer,
    token: &str,
    csrf: Option<&str>,
    route: &str,
    body: Value,
) -> (u16, Value) {
    let mut req = s
        .client
        .post(s.url(&format!("/v2/{route}")))
        .header("cookie", format!("keyshift_portal={token}"))
        .json(&body);
    if let Some(csrf) = csrf {
        req = req.header("x-keyshift-csrf", csrf);
    }
    answer(req).await
}

/// A portal route with `Authorization: Bearer <access token>` (no CSRF token needed).
async fn bearer(s: &TestServer, token: &str, route: &str, body: Value) -> (u16, Value) {
    let req = s
        .client
        .post(s.url(&format!("/v2/{route}")))
        .bearer_auth(token)
        .json(&body);
    answer(req).await
}

async fn answer(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

impl Session {
    async fn call(&self, s: &TestServer, route: &str, body: Value) -> (u16, Value) {
        portal(s, &self.token, Some(&self.csrf), route, body).await
    }

    async fn ok(&self, s: &TestServer, route: &str, body: Value) -> Value {
        let (status, v) = self.call(s, route, body).await;
        assert_eq!(status, 200, "{route}: {v}");
        v["data"].clone()
    }

    /// A route with the cookie, the CSRF header and `Origin: origin`.
    async fn call_from(
        &self,
        s: &TestServer,
        origin: &str,
        route: &str,
        body: Value,
    ) -> (u16, Value) {
        let req = s
            .client
            .post(s.url(&format!("/v2/{route}")))
            .header("cookie", format!("keyshift_portal={}", self.token))
            .header("x-keyshift-csrf", &self.csrf)
            .header("origin", origin)
            .json(&body);
        answer(req).await
    }

    /// `portal.rerollKey`: the new (keyId, key).
    async fn reroll(&self, s: &TestServer, key_id: &str, expiration: i64) -> (String, String) {
        let body = json!({"keyId": key_id, "expiration": expiration});
        let rolled = self.ok(s, "portal.rerollKey", body).await;
        let id = rolled["keyId"].as_str().unwrap().to_string();
        (id, rolled["key"].as_str().unwrap().to_string())
    }

    async fn key_ids(&self, s: &TestServer) -> Vec<String> {
        let data = self.ok(s, "portal.listKeys", json!({})).await;
        data.as_array()
            .unwrap()
            .iter()
            .map(|k| k["keyId"].as_str().unwrap().to_string())
            .collect()
    }
}

/// An error's detail with the key id it names (as written or masked) replaced by `ID`.
fn normalized(v: &Value, id: &str) -> String {
    let detail = v["error"]["detail"].as_str().unwrap_or_default();
    detail
        .replace(id, "ID")
        .replace(&keyshift_core::keyformat::shown_value(id), "ID")
}

fn error_type(v: &Value) -> String {
    v["error"]["type"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_portal_route_in_one_session() {
    let (s, api) = start_with_api("payments").await;
    let url = session_url(&s, &api, "user_a", ALL_SCOPES).await;
    assert!(
        url.starts_with(&format!("{}/portal?code=pst_", s.base)),
        "{url}"
    );

    // Opening the link: a 303 to /portal with the session cookie; Secure is dropped on
    // loopback only.
    let resp = visit(&url).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/portal");
    let (token, line) = set_cookie(&resp);
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86"] {
        assert!(line.contains(attr), "{attr} missing: {line}");
    }
    assert!(!line.contains("Secure"), "{line}");
    // The link works once.
    let again = visit(&url).await;
    assert_eq!(again.status(), 401);
    assert!(again.text().await.unwrap().contains("expired"));

    let (status, v) = portal(&s, &token, None, "portal.getSession", json!({})).await;
    assert_eq!(status, 200, "{v}");
    let me = &v["data"];
    assert_eq!(me["externalId"], "user_a");
    assert_eq!(me["portal"]["apiId"], api.as_str());
    assert_eq!(me["portal"]["name"], "payments");
    assert_eq!(me["scopes"].as_array().unwrap().len(), ALL_SCOPES.len());
    assert!(me["expiresAt"].as_i64().unwrap() > common::now_ms());
    let session = Session {
        csrf: me["csrfToken"].as_str().unwrap().to_string(),
        token: token.clone(),
        data: me.clone(),
    };
    assert!(!session.csrf.is_empty());

    // Create: the key belongs to user_a in the portal's api and verifies.
    let created = session
        .ok(&s, "portal.createKey", json!({"name": "ci"}))
        .await;
    let key_id = created["keyId"].as_str().unwrap().to_string();
    let plaintext = created["key"].as_str().unwrap().to_string();
    let got = s.ok("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(got["identity"]["externalId"], "user_a", "{got}");
    let v = s.verify(json!({"key": plaintext})).await;
    assert_eq!(v["valid"], true, "{v}");

    // List: the key, never its plaintext.
    let (status, listed) = session.call(&s, "portal.listKeys", json!({})).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"][0]["keyId"], key_id.as_str());
    assert_eq!(listed["data"][0]["name"], "ci");
    assert_eq!(listed["pagination"]["hasMore"], false, "{listed}");
    assert!(!listed.to_string().contains(&plaintext));

    // Rename.
    session
        .ok(
            &s,
            "portal.updateKey",
            json!({"keyId": key_id, "name": "renamed"}),
        )
        .await;
    let listed = session.ok(&s, "portal.listKeys", json!({})).await;
    assert_eq!(listed[0]["name"], "renamed");

    // Reroll with no grace period: the old key stops, the new one works, same owner.
    let (new_id, new_key) = session.reroll(&s, &key_id, 0).await;
    assert_ne!(new_id, key_id);
    let v = s.verify(json!({"key": new_key})).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["identity"]["externalId"], "user_a", "{v}");
    let v = s.verify(json!({"key": plaintext})).await;
    assert_eq!(v["valid"], false, "{v}");

    // Reroll with a grace period: the old key keeps working until then.
    let (graced_id, _) = session.reroll(&s, &new_id, 3_600_000).await;
    let v = s.verify(json!({"key": new_key})).await;
    assert_eq!(v["valid"], true, "old key within its grace period: {v}");

    // Delete.
    session
        .ok(&s, "portal.deleteKey", json!({"keyId": graced_id}))
        .await;
    let ids = session.key_ids(&s).await;
    assert!(!ids.contains(&graced_id), "{ids:?}");
    s.fails("keys.getKey", json!({"keyId": graced_id}), 404)
        .await;

    // Logout: the cookie is cleared and the token is dead.
    let resp = s
        .client
        .post(s.url("/v2/portal.logout"))
        .header("cookie", format!("keyshift_portal={token}"))
        .header("x-keyshift-csrf", &session.csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, line) = set_cookie(&resp);
    assert!(line.contains("Max-Age=0"), "{line}");
    let (status, v) = bearer(&s, &token, "portal.getSession", json!({})).await;
    assert_eq!(status, 401, "{v}");
    assert!(error_type(&v).ends_with("portal_session_not_found"), "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_user_never_sees_or_touches_another_identitys_keys() {
    let (s, api) = start_with_api("shared").await;
    let other_api = s.create_api("other").await;
    let (a_key, _) = s
        .create_key(json!({"apiId": api, "externalId": "user_a", "name": "a1"}))
        .await;
    let (b_key, b_plain) = s
        .create_key(json!({"apiId": api, "externalId": "user_b", "name": "b1"}))
        .await;
    let (ownerless, _) = s.create_key(json!({"apiId": api, "name": "nobody"})).await;
    // user_a's key in another api is not this portal's either.
    let (a_elsewhere, _) = user_key(&s, &other_api, "user_a").await;

    let a = open(&s, &session_url(&s, &api, "user_a", ALL_SCOPES).await).await;
    assert_eq!(a.key_ids(&s).await, vec![a_key.clone()]);

    let unknown = "key_doesNotExist12345";
    for target in [&b_key, &ownerless, &a_elsewhere] {
        for (route, body) in [
            ("portal.updateKey", json!({"keyId": target, "name": "x"})),
            (
                "portal.rerollKey",
                json!({"keyId": target, "expiration": 0}),
            ),
            ("portal.deleteKey", json!({"keyId": target})),
        ] {
            let (status, v) = a.call(&s, route, body.clone()).await;
            assert_eq!(status, 404, "{route} on another's key: {v}");
            assert!(!v.to_string().contains("user_b"), "{v}");
            // Exactly the answer for a key that does not exist (but for the id itself).
            let mut absent_body = body.clone();
            absent_body["keyId"] = json!(unknown);
            let (absent_status, absent) = a.call(&s, route, absent_body).await;
            assert_eq!(absent_status, 404);
            assert_eq!(error_type(&v), error_type(&absent));
            assert_eq!(
                normalized(&v, target),
                normalized(&absent, unknown),
                "{v} vs {absent}"
            );
        }
    }
    // Nothing happened to user_b's key.
    let b = s.ok("keys.getKey", json!({"keyId": b_key})).await;
    assert_eq!(b["name"], "b1");
    let v = s.verify(json!({"key": b_plain})).await;
    assert_eq!(v["valid"], true, "{v}");

    // user_b's own session sees only b's key; a key a creates is not b's.
    a.ok(&s, "portal.createKey", json!({"name": "a2"})).await;
    let b_session = open(&s, &session_url(&s, &api, "user_b", &["keys:read"]).await).await;
    assert_eq!(b_session.key_ids(&s).await, vec![b_key]);
    assert_eq!(a.key_ids(&s).await.len(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifications_are_the_end_users_own() {
    let (s, api) = start_with_api("charts").await;
    let (a_key, a_plain) = user_key(&s, &api, "user_a").await;
    let (b_key, b_plain) = user_key(&s, &api, "user_b").await;
    let start_ms = common::now_ms() - 60_000;
    for _ in 0..3 {
        assert_eq!(s.verify(json!({"key": a_plain})).await["valid"], true);
    }
    let v = s
        .verify(json!({"key": a_plain, "permissions": "missing.perm"}))
        .await;
    assert_eq!(v["code"], "INSUFFICIENT_PERMISSIONS", "{v}");
    for _ in 0..5 {
        s.verify(json!({"key": b_plain})).await;
    }
    let end_ms = common::now_ms() + 60_000;
    let a = open(
        &s,
        &session_url(&s, &api, "user_a", &["analytics:read"]).await,
    )
    .await;
    let window = json!({"startTime": start_ms, "endTime": end_ms});
    let buckets = a.ok(&s, "portal.getVerifications", window.clone()).await;
    let sum = |field: &str| -> u64 {
        buckets
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[field].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("total"), 4, "{buckets}");
    assert_eq!(sum("valid"), 3, "{buckets}");
    assert_eq!(sum("insufficientPermissions"), 1, "{buckets}");
    // Minute buckets for a two-minute window.
    let times: Vec<i64> = buckets
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["time"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == 60_000), "{times:?}");

    let mut one = window.clone();
    one["keyId"] = json!(a_key);
    let only = a.ok(&s, "portal.getVerifications", one).await;
    assert_eq!(only, buckets);
    // Another end user's key is not found.
    let mut other = window.clone();
    other["keyId"] = json!(b_key);
    let (status, v) = a.call(&s, "portal.getVerifications", other).await;
    assert_eq!(status, 404, "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_codes_are_single_use_and_expire() {
    let (s, api) = start_with_api("codes").await;
    let url = session_url(&s, &api, "user_a", &["keys:read"]).await;
    let code = code_of(&url);

    // The JSON exchange answers the token and sets the same cookie.
    let resp = s
        .client
        .post(s.url("/v2/portal.exchangeCode"))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (cookie, line) = set_cookie(&resp);
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict"));
    let v: Value = resp.json().await.unwrap();
    let token = v["data"]["accessToken"].as_str().unwrap();
    assert_eq!(cookie, token);
    assert!(v["data"]["expiresAt"].as_i64().unwrap() > common::now_ms());
    let (status, _) = bearer(&s, token, "portal.listKeys", json!({})).await;
    assert_eq!(status, 200);
    let (status, v) = bearer(&s, token, "portal.getSession", json!({})).await;
    assert_eq!(status, 200, "{v}");

    // Only hashes are stored: neither the code nor the token is in the database files.
    let token = token.to_string();
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        let mut path = s.db.clone().into_os_string();
        path.push(suffix);
        stored.extend(std::fs::read(&path).unwrap_or_default());
    }
    assert!(stored.len() > 4096, "the database files were read");
    for secret in [&code, &token] {
        let found = stored.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "a plaintext secret is stored");
    }

    // Reused, unknown and expired codes: the same 401.
    let exchange = |code: String| {
        let req = s
            .client
            .post(s.url("/v2/portal.exchangeCode"))
            .json(&json!({ "code": code }));
        answer(req)
    };
    let (status, reused) = exchange(code.clone()).await;
    assert_eq!(status, 401, "{reused}");
    let (status, unknown) = exchange("pst_notarealcode".into()).await;
    assert_eq!(status, 401, "{unknown}");
    assert_eq!(reused["error"]["detail"], unknown["error"]["detail"]);
    assert!(!reused.to_string().contains(&code));

    // A code older than the configured lifetime (zero here) is refused.
    s.engine
        .set_portal_lifetimes(Duration::ZERO, Duration::from_secs(3600));
    let stale = code_of(&session_url(&s, &api, "user_a", &["keys:read"]).await);
    let (status, expired) = exchange(stale.clone()).await;
    assert_eq!(status, 401, "{expired}");
    assert_eq!(expired["error"]["detail"], unknown["error"]["detail"]);
    // ... also through the page, which answers an HTML page.
    let resp = visit(s.url(&format!("/portal?code={stale}"))).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("set-cookie").is_none());
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    // Bad bodies are the schema's 400.
    let (status, v) = answer(
        s.client
            .post(s.url("/v2/portal.exchangeCode"))
            .json(&json!({"code": ""})),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_and_can_be_revoked() {
    let (s, api) = start_with_api("sessions").await;
    let a = open(&s, &session_url(&s, &api, "user_a", &["keys:read"]).await).await;
    let session_id = a.data["sessionId"].as_str().unwrap().to_string();
    let (status, _) = bearer(&s, &a.token, "portal.listKeys", json!({})).await;
    assert_eq!(status, 200);

    // Revoked by the operator: the token dies at once, cookie or bearer.
    s.ok("portal.revokeSession", json!({"sessionId": session_id}))
        .await;
    let (status, v) = bearer(&s, &a.token, "portal.listKeys", json!({})).await;
    assert_eq!(status, 401, "{v}");
    let (status, _) = portal(&s, &a.token, None, "portal.getSession", json!({})).await;
    assert_eq!(status, 401);
    s.fails(
        "portal.revokeSession",
        json!({"sessionId": "ps_doesNotExist"}),
        404,
    )
    .await;

    // A session whose lifetime is over (zero here) is refused.
    s.engine
        .set_portal_lifetimes(Duration::from_secs(900), Duration::ZERO);
    let url = session_url(&s, &api, "user_a", &["keys:read"]).await;
    let (status, v) = answer(
        s.client
            .post(s.url("/v2/portal.exchangeCode"))
            .json(&json!({"code": code_of(&url)})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let token = v["data"]["accessToken"].as_str().unwrap();
    let (status, v) = bearer(&s, token, "portal.getSession", json!({})).await;
    assert_eq!(status, 401, "{v}");

    // No credential, or a made-up one.
    let (status, v) = answer(s.client.post(s.url("/v2/portal.listKeys")).json(&json!({}))).await;
    assert_eq!(status, 401);
    assert!(error_type(&v).ends_with("portal_token_missing"), "{v}");
    let (status, _) = bearer(&s, "pat_madeUp", "portal.listKeys", json!({})).await;
    assert_eq!(status, 401);
    // A root key is no portal credential.
    let root = s.root_key.clone();
    let (status, _) = bearer(&s, &root, "portal.listKeys", json!({})).await;
    assert_eq!(status, 401);

    // Deleting the api ends its sessions.
    s.engine
        .set_portal_lifetimes(Duration::from_secs(900), Duration::from_secs(3600));
    let b = open(&s, &session_url(&s, &api, "user_b", &["keys:read"]).await).await;
    s.ok("apis.deleteApi", json!({"apiId": api})).await;
    let (status, _) = bearer(&s, &b.token, "portal.listKeys", json!({})).await;
    assert_eq!(status, 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_are_enforced_by_the_server() {
    let (s, api) = start_with_api("scoped").await;
    let (key_id, _) = user_key(&s, &api, "user_a").await;
    let reader = open(&s, &session_url(&s, &api, "user_a", &["keys:read"]).await).await;
    assert_eq!(reader.key_ids(&s).await, vec![key_id.clone()]);
    for (route, body, scope) in [
        ("portal.createKey", json!({"name": "x"}), "keys:create"),
        (
            "portal.updateKey",
            json!({"keyId": key_id, "name": "x"}),
            "keys:update",
        ),
        (
            "portal.rerollKey",
            json!({"keyId": key_id, "expiration": 0}),
            "keys:reroll",
        ),
        ("portal.deleteKey", json!({"keyId": key_id}), "keys:delete"),
        (
            "portal.getVerifications",
            json!({"startTime": 0, "endTime": 1}),
            "analytics:read",
        ),
    ] {
        let (status, v) = reader.call(&s, route, body).await;
        assert_eq!(status, 403, "{route}: {v}");
        assert!(
            v["error"]["detail"].as_str().unwrap().contains(scope),
            "{route}: {v}"
        );
    }
    // Nothing changed.
    let got = s.ok("keys.getKey", json!({"keyId": key_id})).await;
    assert!(got.get("name").is_none_or(Value::is_null), "{got}");

    // A session without any keys scope cannot list keys; one with keys:reroll can.
    let analyst = open(
        &s,
        &session_url(&s, &api, "user_a", &["analytics:read"]).await,
    )
    .await;
    let (status, v) = analyst.call(&s, "portal.listKeys", json!({})).await;
    assert_eq!(status, 403, "{v}");
    let roller = open(&s, &session_url(&s, &api, "user_a", &["keys:reroll"]).await).await;
    assert_eq!(roller.key_ids(&s).await, vec![key_id]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_token_and_origin_guard_cookie_requests() {
    let (s, api) = start_with_api("csrf").await;
    let a = open(&s, &session_url(&s, &api, "user_a", ALL_SCOPES).await).await;
    let count = |ids: Vec<String>| ids.len();

    let (status, v) = portal(&s, &a.token, None, "portal.createKey", json!({"name": "x"})).await;
    assert_eq!(status, 403, "missing CSRF header: {v}");
    assert!(error_type(&v).contains("forbidden"), "{v}");
    let (status, v) = portal(
        &s,
        &a.token,
        Some("not-the-token"),
        "portal.createKey",
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(status, 403, "wrong CSRF header: {v}");
    assert_eq!(count(a.key_ids(&s).await), 0);

    // The right token from a foreign page (Origin) is refused too.
    let evil = "https://evil.example";
    let (status, v) = a
        .call_from(&s, evil, "portal.createKey", json!({"name": "x"}))
        .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(count(a.key_ids(&s).await), 0);
    // From the server's own origin it works.
    let own = s.base.as_str();
    let (status, v) = a
        .call_from(&s, own, "portal.createKey", json!({"name": "x"}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(count(a.key_ids(&s).await), 1);

    // Reads need no CSRF token; bearer calls need none at all.
    let (status, _) = portal(&s, &a.token, None, "portal.listKeys", json!({})).await;
    assert_eq!(status, 200);
    let (status, v) = bearer(&s, &a.token, "portal.createKey", json!({"name": "api"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(count(a.key_ids(&s).await), 2);
    // Logout is a mutation too.
    let (status, _) = portal(&s, &a.token, None, "portal.logout", json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = portal(&s, &a.token, None, "portal.listKeys", json!({})).await;
    assert_eq!(status, 200, "a refused logout leaves the session alive");
    s.stop().await;
}

/// A root key of the server's workspace with exactly `permissions`.
fn restricted_root_key(s: &TestServer, permissions: &[&str]) -> String {
    let ws = s.engine.authenticate(&s.root_key).unwrap().workspace_id;
    s.engine
        .create_root_key_with_permissions(&ws, permissions)
        .unwrap()
        .expose()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_session_needs_the_matching_root_key_permissions() {
    let (s, api) = start_with_api("ceiling").await;
    let other = s.create_api("elsewhere").await;
    let body = |scopes: &[&str]| json!({"portal": api, "externalId": "user_a", "scopes": scopes});

    let reader = restricted_root_key(&s, &[&format!("api.{api}.read_key")]);
    s.ok_as(&reader, "portal.createSession", body(&["keys:read"]))
        .await;
    for scope in [
        "keys:create",
        "keys:update",
        "keys:reroll",
        "keys:delete",
        "analytics:read",
    ] {
        let (status, v) = s
            .call_as(&reader, "portal.createSession", body(&["keys:read", scope]))
            .await;
        assert_eq!(status, 403, "{scope}: {v}");
    }
    // The permission on another api does not count; the wildcard does.
    let elsewhere = restricted_root_key(&s, &[&format!("api.{other}.create_key")]);
    s.fails_as(
        &elsewhere,
        "portal.createSession",
        body(&["keys:create"]),
        403,
    )
    .await;
    let creator = restricted_root_key(&s, &["api.*.create_key"]);
    s.ok_as(
        &creator,
        "portal.createSession",
        body(&["keys:create", "keys:reroll"]),
    )
    .await;
    let nothing = restricted_root_key(&s, &["identity.*.read_identity"]);
    let (status, v) = s
        .call_as(&nothing, "portal.createSession", body(&["keys:read"]))
        .await;
    assert_eq!(status, 403, "{v}");

    // Schema: unknown scope named, no scope, missing externalId; unknown portal 404.
    let e = s
        .fails_at(
            "portal.createSession",
            body(&["keys:admin"]),
            "body.scopes[0]",
        )
        .await;
    assert!(e.to_string().contains("keys:admin"), "{e}");
    s.fails_at("portal.createSession", body(&[]), "body.scopes")
        .await;
    s.fails(
        "portal.createSession",
        json!({"portal": api, "scopes": ["keys:read"]}),
        400,
    )
    .await;
    let e = s
        .fails(
            "portal.createSession",
            json!({"portal": "api_doesNotExist", "externalId": "u", "scopes": ["keys:read"]}),
            404,
        )
        .await;
    assert!(
        e["type"]
            .as_str()
            .unwrap()
            .ends_with("unkey/data/portal_not_found"),
        "{e}"
    );
    // No root key at all.
    let (status, _) = answer(
        s.client
            .post(s.url("/v2/portal.createSession"))
            .json(&body(&["keys:read"])),
    )
    .await;
    assert!(status == 400 || status == 401, "{status}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_configuration_and_grantable_permissions() {
    let (s, api) = start_with_api("branding").await;
    // Created with defaults on first use, by api id.
    let p = s.ok("portal.getPortal", json!({"portal": api})).await;
    let portal_id = p["portalId"].as_str().unwrap().to_string();
    assert!(portal_id.starts_with("portal_"), "{p}");
    assert_eq!(p["apiId"], api.as_str());
    assert_eq!(p["name"], "branding");
    assert_eq!(p["grantableScopes"], json!([]));
    // The same portal by its own id.
    let same = s.ok("portal.getPortal", json!({"portal": portal_id})).await;
    assert_eq!(same, p);

    let updated = s
        .ok(
            "portal.updatePortal",
            json!({"portal": portal_id, "name": "Acme keys", "grantableScopes": ["profile.read"]}),
        )
        .await;
    assert_eq!(updated["name"], "Acme keys");
    assert_eq!(updated["grantableScopes"], json!(["profile.read"]));

    // A session by portal id; the end user may grant only what the portal allows.
    let a = open(&s, &session_url(&s, &portal_id, "user_a", ALL_SCOPES).await).await;
    assert_eq!(a.data["portal"]["name"], "Acme keys");
    let (status, v) = a
        .call(
            &s,
            "portal.createKey",
            json!({"name": "x", "permissions": ["admin.all"]}),
        )
        .await;
    assert_eq!(status, 403, "{v}");
    let created = a
        .ok(
            &s,
            "portal.createKey",
            json!({"name": "x", "permissions": ["profile.read"]}),
        )
        .await;
    let v = s
        .verify(json!({"key": created["key"], "permissions": "profile.read"}))
        .await;
    assert_eq!(v["valid"], true, "{v}");

    // Restricted root keys: read needs read_api, update needs update_api.
    let reader = restricted_root_key(&s, &["api.*.read_key"]);
    for (op, body) in [
        ("portal.getPortal", json!({"portal": api})),
        ("portal.updatePortal", json!({"portal": api, "name": "x"})),
    ] {
        s.fails_as(&reader, op, body, 403).await;
    }
    s.fails("portal.getPortal", json!({"portal": "portal_nope"}), 404)
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_carry_strict_headers() {
    let s = start().await;
    let resp = s.get_status("/portal", 200).await;
    let h = resp.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{part} missing: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let page = resp.text().await.unwrap();
    assert!(page.contains("/portal/assets/keyshift-keys.js"), "{page}");
    assert!(!page.contains(&s.root_key), "the root key reaches the page");

    for (path, kind) in [
        ("/portal/assets/keyshift-keys.js", "text/javascript"),
        ("/portal/assets/portal.css", "text/css"),
    ] {
        let resp = s.get_status(path, 200).await;
        let h = resp.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        assert!(h.contains_key("content-security-policy"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h["cache-control"].to_str().unwrap().contains("max-age"));
    }
    s.get_status("/portal/assets/other.js", 404).await;
    s.stop().await;
}

/// A server with portal settings (public URL, embedding origins).
async fn start_configured(
    public_url: Option<&str>,
    origins: &[&str],
) -> (
    String,
    String,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let mut config = ServerConfig::new(db.to_str().unwrap(), "127.0.0.1:0".parse().unwrap());
    config.router.public_url = public_url.map(str::to_string);
    config.router.portal_origins = origins.iter().map(|o| o.to_string()).collect();
    let bound = bind(config).await.unwrap();
    let base = bound.base_url();
    let root = bound.root_key().unwrap().expose().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bound.run(async move {
        let _ = rx.await;
    }));
    (base, root, tx, dir)
}

async fn root_call(base: &str, root: &str, op: &str, body: Value) -> Value {
    let (status, v) = answer(
        reqwest::Client::new()
            .post(format!("{base}/v2/{op}"))
            .bearer_auth(root)
            .json(&body),
    )
    .await;
    assert_eq!(status, 200, "{op}: {v}");
    v["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_configured_portal_origins() {
    let embedder = "http://127.0.0.1:9";
    let (base, root, stop, _dir) = start_configured(None, &[embedder]).await;
    let client = reqwest::Client::new();
    let api = root_call(&base, &root, "apis.createApi", json!({"name": "cors"})).await;
    let url = root_call(
        &base,
        &root,
        "portal.createSession",
        json!({"portal": api["apiId"], "externalId": "u", "scopes": ["keys:read", "keys:create"]}),
    )
    .await["url"]
        .as_str()
        .unwrap()
        .to_string();

    // Preflight: allowed for the configured origin only.
    let pre = |origin: &'static str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                format!("{base}/v2/portal.createKey"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, x-keyshift-csrf",
            )
            .send()
    };
    let ok = pre("http://127.0.0.1:9").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], embedder);
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-keyshift-csrf") && allowed.contains("content-type"));
    let refused = pre("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // The embedding page exchanges the code and calls a mutating route with the cookie.
    let resp = client
        .post(format!("{base}/v2/portal.exchangeCode"))
        .header("origin", embedder)
        .json(&json!({"code": code_of(&url)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], embedder);
    let (token, _) = set_cookie(&resp);
    let (_, me) = answer(
        client
            .post(format!("{base}/v2/portal.getSession"))
            .header("cookie", format!("keyshift_portal={token}"))
            .json(&json!({})),
    )
    .await;
    let csrf = me["data"]["csrfToken"].as_str().unwrap();
    let resp = client
        .post(format!("{base}/v2/portal.createKey"))
        .header("origin", embedder)
        .header("cookie", format!("keyshift_portal={token}"))
        .header("x-keyshift-csrf", csrf)
        .json(&json!({"name": "embedded"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], embedder);
    // Another origin gets no CORS grant on an answer.
    let resp = client
        .post(format!("{base}/v2/portal.getSession"))
        .header("origin", "https://evil.example")
        .header("cookie", format!("keyshift_portal={token}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // The configured origin may frame the page.
    let resp = client.get(format!("{base}/portal")).send().await.unwrap();
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("frame-ancestors 'self' {embedder}")),
        "{csp}"
    );
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_url_is_the_base_of_session_urls_and_makes_the_cookie_secure() {
    let (base, root, stop, _dir) = start_configured(Some("https://keys.example.com"), &[]).await;
    let api = root_call(&base, &root, "apis.createApi", json!({"name": "pub"})).await;
    let url = root_call(
        &base,
        &root,
        "portal.createSession",
        json!({"portal": api["apiId"], "externalId": "u", "scopes": ["keys:read"]}),
    )
    .await["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with("https://keys.example.com/portal?code=pst_"),
        "{url}"
    );
    let resp = visit(format!("{base}/portal?code={}", code_of(&url))).await;
    assert_eq!(resp.status(), 303);
    let (_, line) = set_cookie(&resp);
    assert!(line.contains("; Secure"), "{line}");
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_client_creates_configures_and_revokes_sessions() {
    use keyshift_core::wire::{CreatePortalSessionRequest, UpdatePortalRequest};
    let s = start().await;
    let client = keyshift_core::Client::builder()
        .base_url(&s.base)
        .root_key(s.root_key.as_str())
        .build()
        .unwrap();
    let api = client.create_api("client-portal").await.unwrap().api_id;

    let portal = client.get_portal(&api).await.unwrap();
    assert_eq!(portal.api_id, api);
    assert_eq!(portal.name, "client-portal");
    let updated = client
        .update_portal(&UpdatePortalRequest {
            portal: portal.portal_id.clone(),
            name: Some("Client keys".into()),
            grantable_scopes: Some(vec!["profile.read".into()]),
        })
        .await
        .unwrap();
    assert_eq!(updated.name, "Client keys");
    assert_eq!(updated.grantable_scopes, vec!["profile.read".to_string()]);

    let request = CreatePortalSessionRequest {
        portal: api.clone(),
        external_id: "user_a".into(),
        scopes: vec!["keys:read".into(), "keys:create".into()],
        return_url: Some("https://app.example.com/settings".into()),
        preview: None,
    };
    let session = client.create_portal_session(&request).await.unwrap();
    assert!(session.id.starts_with("ps_"));
    assert!(
        session
            .url
            .starts_with(&format!("{}/portal?code=pst_", s.base)),
        "{}",
        session.url
    );
    let code = code_of(&session.url);
    assert!(!format!("{session:?}").contains(&code));
    let a = open(&s, &session.url).await;
    assert_eq!(a.data["returnUrl"], "https://app.example.com/settings");
    assert_eq!(a.data["portal"]["name"], "Client keys");

    // Checked before the network: an unknown scope.
    let mut bad = request.clone();
    bad.scopes = vec!["keys:admin".into()];
    let err = client.create_portal_session(&bad).await.unwrap_err();
    assert_eq!(err.code, keyshift_core::ErrorCode::InvalidInput, "{err}");

    client.revoke_portal_session(&session.id).await.unwrap();
    let (status, _) = bearer(&s, &a.token, "portal.getSession", json!({})).await;
    assert_eq!(status, 401);
    let err = client
        .revoke_portal_session("ps_unknown")
        .await
        .unwrap_err();
    assert_eq!(err.code, keyshift_core::ErrorCode::NotFound, "{err}");

    // In process (no server): the URL is the path, to be put on the server's public base.
    let dir = tempfile::tempdir().unwrap();
    let local = keyshift_engine::local_client(dir.path().join("l.db").to_str().unwrap()).unwrap();
    let api = local.create_api("local").await.unwrap().api_id;
    let mut here = request.clone();
    here.portal = api;
    let session = local.create_portal_session(&here).await.unwrap();
    assert!(
        session.url.starts_with("/portal?code=pst_"),
        "{}",
        session.url
    );
    s.stop().await;
}
