//! Engine-only cost of one `keys.verifyKey` (no HTTP): `Engine::start` in a loop on one thread.
//!
//! ```text
//! cargo run --release -p keyshift-engine --example verify_loop -- [iterations]
//! ```

use std::time::Instant;

use keyshift_core::SecretKey;
use keyshift_engine::Step;
use serde_json::json;

mod common;

fn main() {
    let n: usize = common::arg(1, 200_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, root, ctx) = common::bootstrapped(&dir.path().join("loop.db"));
    let call = |op: &str, body: serde_json::Value| {
        engine
            .dispatch(&ctx, op, body.to_string().as_bytes(), None)
            .expect(op)
            .data
    };
    let api = call("apis.createApi", json!({"name": "loop"}));
    let key = call(
        "keys.createKey",
        json!({"apiId": api["apiId"], "permissions": ["a.read", "b.write"],
               "externalId": "user1", "meta": {"plan": "pro"}}),
    )["key"]
        .as_str()
        .expect("key")
        .to_string();
    let body = json!({ "key": key }).to_string().into_bytes();
    let run = |label: &str, f: &dyn Fn()| {
        for _ in 0..1000 {
            f();
        }
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        let per = t.elapsed().as_nanos() as f64 / n as f64;
        println!("{label}: {:.2} us/verify", per / 1000.0);
    };
    run("start (inline)", &|| match engine.start(
        SecretKey::new(root.expose()),
        "keys.verifyKey",
        body.clone(),
        None,
    ) {
        Step::Done(r) => assert_eq!(r.expect("verify").data["valid"], true),
        Step::Blocking(_) => panic!("expected an inline verification"),
    });
    run("authenticate + dispatch", &|| {
        let ctx = engine.authenticate(root.expose()).expect("auth");
        let r = engine
            .dispatch(&ctx, "keys.verifyKey", &body, None)
            .expect("verify");
        assert_eq!(r.data["valid"], true);
    });
}
