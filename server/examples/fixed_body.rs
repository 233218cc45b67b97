//! The floor for the server benchmark (DESIGN.md §9): an axum endpoint on the same stack
//! (axum 0.8, tokio multi-thread, hyper) that answers `POST /v2/keys.verifyKey` with a fixed
//! verification body, doing no work. Compare `wrk` against it and against `keyshift serve`.
//!
//! ```text
//! cargo run --release -p keyshift-server --example fixed_body -- 127.0.0.1:7071
//! ```

use axum::http::header;
use axum::routing::post;
use axum::Router;

const BODY: &str = r#"{"meta":{"requestId":"req_000000000000000000000000"},"data":{"valid":true,"code":"VALID","keyId":"key_fixed","credits":null,"enabled":true,"permissions":[],"roles":[]}}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7071".to_string());
    let app = Router::new().route(
        "/v2/keys.verifyKey",
        post(|body: axum::body::Bytes| async move {
            // Read the body like the real server does, then answer the fixed JSON.
            let _ = body.len();
            ([(header::CONTENT_TYPE, "application/json")], BODY)
        }),
    );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "fixed-body server listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await
}
