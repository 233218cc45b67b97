//! `keyshift serve` (the embedded HTTP server) and `keyshift admin` (workspaces and root keys
//! of a server database).

use std::io::Write;
use std::net::SocketAddr;

use clap::{Args, Subcommand};
use keyshift_core::{Error, Result, SecretKey};
use keyshift_engine::Engine;
use keyshift_server::{ServerConfig, DEFAULT_BODY_LIMIT};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// SQLite database file (created on first start), or `:memory:`. Its server secret, which
    /// seals stored idempotent answers, is kept beside it in `<db>.secret` (mode 0600): back
    /// both up together.
    #[arg(long, default_value = "keyshift.db")]
    pub db: String,
    /// Address to listen on; port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Root key for the first workspace, instead of generating one (first start only).
    #[arg(
        long = "seed-root-key",
        env = "KEYSHIFT_ROOT_KEY",
        hide_env_values = true
    )]
    pub seed_root_key: Option<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// TEST ONLY: honour `X-Keyshift-Fault` request headers (injected 5xx/429, delays, dropped
    /// connections). Never enable this on a server anyone depends on.
    #[arg(long)]
    pub enable_faults: bool,
    /// TEST ONLY: ignore `Idempotency-Key` headers (no replay of a repeated request), as
    /// Unkey's server does, to test clients against that behaviour.
    #[arg(long)]
    pub no_idempotency: bool,
    /// Public base URL of this server (`https://keys.example.com`), used for portal session
    /// URLs and as the portal's own origin; default: the scheme and Host of each request.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// An origin (`https://app.example.com`) allowed to embed the self-service key portal and
    /// call its routes with the session cookie (CORS); repeat for more.
    #[arg(long = "portal-origin", value_name = "ORIGIN")]
    pub portal_origins: Vec<String>,
    /// How long a portal session lasts after its link is opened, in seconds (default one day).
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub portal_session_ttl: u64,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a workspace in a server database and print its id.
    CreateWorkspace {
        /// Name of the new workspace.
        name: String,
        /// SQLite database file of the server.
        #[arg(long)]
        db: String,
    },
    /// Create a root key for a workspace and print it (shown once).
    CreateRootKey {
        /// Workspace id (from `create-workspace`).
        #[arg(long)]
        workspace: String,
        /// SQLite database file of the server.
        #[arg(long)]
        db: String,
        /// What the key may do, with Unkey's permission names; repeat for more:
        /// `api.*.create_key`, `api.<apiId>.verify_key`, `rbac.*.create_role`,
        /// `identity.*.read_identity`, … or `*` for everything.
        #[arg(long = "permission", value_name = "P", required = true)]
        permissions: Vec<String>,
    },
    /// List root keys (id, workspace, start, permissions); never a key.
    ListRootKeys {
        /// SQLite database file of the server.
        #[arg(long)]
        db: String,
        /// Only the root keys of this workspace.
        #[arg(long)]
        workspace: Option<String>,
    },
}

fn init_logging(json: bool) {
    let filter = std::env::var("KEYSHIFT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    // `level` or `target=level,…` directives (tracing-subscriber's `Targets`: the env-filter
    // syntax without span and field filters, and without the regex engine they need).
    let filter: Targets = filter
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr);
    // Another subscriber may already be installed; keep it then.
    let _ = if json {
        builder.json().finish().with(filter).try_init()
    } else {
        builder.finish().with(filter).try_init()
    };
}

/// Run the server until SIGINT/SIGTERM. Prints the base URL (and the root key on first start)
/// to stdout; with `json`, exactly one line `{"baseUrl":…,"rootKey":…|null}`.
pub fn serve(args: ServeArgs, json: bool) -> Result<()> {
    init_logging(json);
    let mut config = ServerConfig::new(args.db.clone(), args.listen);
    config.seed_root_key = args
        .seed_root_key
        .filter(|k| !k.trim().is_empty())
        .map(SecretKey::new);
    config.router.body_limit = args.body_limit;
    config.router.faults = args.enable_faults;
    config.router.idempotency = !args.no_idempotency;
    config.router.public_url = args
        .public_url
        .as_deref()
        .map(|u| validated_origin("--public-url", u, true))
        .transpose()?;
    config.router.portal_origins = args
        .portal_origins
        .iter()
        .map(|o| validated_origin("--portal-origin", o, false))
        .collect::<Result<_>>()?;
    config.portal_session_ttl = std::time::Duration::from_secs(args.portal_session_ttl);
    // The main thread, outside any runtime: the future need not be `Send`.
    keyshift_core::runtime::get().block_on(async move {
        let server = keyshift_server::bind(config).await?;
        // Install the signal handlers before announcing the address: a harness may send
        // SIGTERM as soon as it has read the line.
        let shutdown = keyshift_server::shutdown_signal();
        let base_url = server.base_url();
        let root_key = server.root_key().cloned();
        let mut out = std::io::stdout().lock();
        let written = if json {
            let line = serde_json::json!({
                "baseUrl": base_url,
                "rootKey": root_key.as_ref().map(|k| k.expose()),
            });
            writeln!(out, "{line}")
        } else {
            let mut text = format!("keyshift listening on {base_url}\n");
            if let Some(key) = &root_key {
                text.push_str(&format!(
                    "root key (shown once, store it now): {}\n",
                    key.expose()
                ));
            }
            if args.enable_faults {
                text.push_str("fault injection ENABLED (test only)\n");
            }
            if args.no_idempotency {
                text.push_str("Idempotency-Key IGNORED (test only)\n");
            }
            out.write_all(text.as_bytes())
        };
        written
            .and_then(|_| out.flush())
            .map_err(|e| Error::io(format!("cannot write to stdout: {e}")))?;
        drop(out);
        tracing::info!(db = %args.db, url = %base_url, "keyshift server started");
        server.run(shutdown).await?;
        tracing::info!("keyshift server stopped");
        Ok(())
    })
}

/// `keyshift admin …`
pub fn admin(command: AdminCommand, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let written = match command {
        AdminCommand::CreateWorkspace { name, db } => {
            if name.trim().is_empty() {
                return Err(Error::invalid_input(
                    "name",
                    "workspace name must not be empty",
                ));
            }
            let engine = Engine::open(&db)?;
            let id = engine.create_workspace(&name)?;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"workspaceId": id, "name": name})
                )
            } else {
                writeln!(out, "{id}")
            }
        }
        AdminCommand::CreateRootKey {
            workspace,
            db,
            permissions,
        } => {
            // Check the names before touching the database.
            for p in &permissions {
                keyshift_engine::validate_root_key_permission(p)?;
            }
            let engine = Engine::open(&db)?;
            let key = engine.create_root_key_with_permissions(&workspace, &permissions)?;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"workspaceId": workspace, "rootKey": key.expose(),
                                       "permissions": permissions})
                )
            } else {
                writeln!(out, "{}", key.expose())
            }
        }
        AdminCommand::ListRootKeys { db, workspace } => {
            if !std::path::Path::new(&db).exists() {
                return Err(Error::invalid_input("db", format!("no database at {db}")));
            }
            let engine = Engine::open(&db)?;
            let keys = engine.list_root_keys(workspace.as_deref())?;
            let mut text = String::new();
            for k in &keys {
                if json {
                    let line = serde_json::to_string(k)
                        .map_err(|e| Error::io(format!("cannot encode a root key: {e}")))?;
                    text.push_str(&line);
                } else {
                    text.push_str(&format!(
                        "{}  {}  {}…  {}",
                        k.id,
                        k.workspace_id,
                        k.start,
                        k.permissions.join(",")
                    ));
                }
                text.push('\n');
            }
            out.write_all(text.as_bytes())
        }
    };
    written.map_err(|e| Error::io(format!("cannot write to stdout: {e}")))
}

/// Checks an `http(s)://host[:port]` given on the command line (`--public-url` may carry a
/// path prefix); answers it without a trailing `/`.
fn validated_origin(flag: &str, value: &str, path_ok: bool) -> Result<String> {
    let value = value.trim().trim_end_matches('/');
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let ok = rest.is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or("");
        !host.is_empty() && (path_ok || !rest.contains('/')) && !rest.contains(['?', '#', ' '])
    });
    if !ok {
        return Err(Error::invalid_input(
            flag.trim_start_matches('-'),
            format!("{flag} must be an http(s) origin such as https://keys.example.com"),
        ));
    }
    Ok(value.to_string())
}
