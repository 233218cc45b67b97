//! Commands that talk to a key service: `apis`, `keys`, `permissions`, `roles`. The connection
//! flags (`--base-url/--root-key`, env, or `--local DB`) are shared with `migrate`.

use clap::{Args, Subcommand};
use keyshift_core::wire::{self, UpdateKeyRequest};
use keyshift_core::{Client, CreateKey, Error, Result, Scope, Verification, VerifyOptions};
use serde_json::{json, Value};

/// How to reach the key service.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Key service URL (a `keyshift serve` or Unkey).
    #[arg(long, env = "KEYSHIFT_BASE_URL", global = true)]
    pub base_url: Option<String>,
    /// Root key (prefer the environment variable: arguments are visible to other local users).
    #[arg(long, env = "KEYSHIFT_ROOT_KEY", hide_env_values = true, global = true)]
    pub root_key: Option<String>,
    /// Use the engine in-process on this SQLite file instead of HTTP.
    #[arg(long, global = true, conflicts_with_all = ["base_url", "root_key"])]
    pub local: Option<String>,
}

impl ConnectArgs {
    pub fn connect(&self) -> Result<Client> {
        if let Some(path) = &self.local {
            return keyshift_engine::local_client(path);
        }
        let root_key = keyshift_core::client::root_key_or_env(self.root_key.clone())
            .ok_or_else(|| {
                Error::invalid_input(
                    "root-key",
                    "give --root-key (or KEYSHIFT_ROOT_KEY), or --local DB for the in-process engine",
                )
            })?;
        let mut builder = Client::builder()
            .root_key(root_key)
            .user_agent("cli", env!("CARGO_PKG_VERSION"));
        if let Some(url) = &self.base_url {
            builder = builder.base_url(url);
        }
        builder.build()
    }
}

/// Runs an async command body on the process's one runtime ([`keyshift_core::runtime`]).
pub fn block_on<F, T>(future: F) -> Result<T>
where
    F: std::future::Future<Output = Result<T>> + Send,
    T: Send,
{
    keyshift_core::runtime::block_on(future)
}

#[derive(Subcommand, Debug)]
pub enum ApisCommand {
    /// Create an api (a keyspace) and print its id.
    Create { name: String },
    /// Show an api.
    Get { api_id: String },
    /// List every key of an api.
    ListKeys { api_id: String },
    /// Delete an api.
    Delete { api_id: String },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; its plaintext is printed once.
    Create(CreateArgs),
    /// Verify a key (`-` reads it from stdin). Exits 0 when valid, 1 when not, 3 when the key
    /// service failed (see `keyshift --help`).
    Verify(VerifyArgs),
    /// Show a key (never its plaintext).
    Get { key_id: String },
    /// Change a key's name, state, credits, expiry or metadata.
    Update(UpdateArgs),
    /// Delete a key (soft by default).
    Delete {
        key_id: String,
        /// Remove the key's record entirely instead of marking it deleted.
        #[arg(long)]
        permanent: bool,
    },
    /// Issue a new key with the same settings; the old one stays valid for --expiration ms.
    Reroll {
        key_id: String,
        /// Milliseconds the old key keeps working (0 = revoked now).
        #[arg(long, default_value_t = 0)]
        expiration: i64,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[arg(long)]
    pub api_id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// Key prefix, e.g. sk_live.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Random bytes in the key (16–255).
    #[arg(long)]
    pub bytes: Option<u32>,
    /// A permission (repeatable).
    #[arg(long = "permission")]
    pub permissions: Vec<String>,
    /// A scope as `representation:action,action` (repeatable), e.g. `profile:read,update`.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// A role (repeatable; must exist).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// The customer or user who owns the key.
    #[arg(long)]
    pub external_id: Option<String>,
    /// Metadata as a JSON object.
    #[arg(long)]
    pub meta: Option<String>,
    /// Expiry, unix ms.
    #[arg(long)]
    pub expires: Option<i64>,
    /// Remaining uses (unlimited when absent).
    #[arg(long)]
    pub credits: Option<i64>,
    /// Create the key disabled.
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The key, or `-` to read it from stdin (keeps it out of the process list).
    pub key: String,
    /// Permission query, e.g. `documents.read AND (billing.read OR admin)`.
    #[arg(long)]
    pub permissions: Option<String>,
    /// A scope the key must hold in full (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Credits this verification spends (default 1 on keys with credits).
    #[arg(long)]
    pub cost: Option<i64>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    pub key_id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub enabled: Option<bool>,
    /// Remaining credits (`none` = unlimited).
    #[arg(long)]
    pub credits: Option<String>,
    /// Expiry in unix ms (`none` = never).
    #[arg(long)]
    pub expires: Option<String>,
    /// Metadata as a JSON object (replaces the old one).
    #[arg(long)]
    pub meta: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum PermissionsCommand {
    /// Create a permission.
    Create {
        name: String,
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List every permission.
    List,
}

#[derive(Subcommand, Debug)]
pub enum RolesCommand {
    /// Create a role granting permissions (created when missing).
    Create {
        name: String,
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List every role.
    List,
}

fn print(json_output: bool, value: Value, human: impl FnOnce() -> String) {
    if json_output {
        println!("{value}");
    } else {
        println!("{}", human());
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn parse_meta(meta: &Option<String>) -> Result<Option<wire::Metadata>> {
    let Some(text) = meta else { return Ok(None) };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(Error::invalid_input("meta", "--meta must be a JSON object")),
        Err(e) => Err(Error::invalid_input(
            "meta",
            format!("--meta is not valid JSON: {e}"),
        )),
    }
}

fn parse_scopes(scopes: &[String]) -> Result<Vec<Scope>> {
    scopes.iter().map(|s| Scope::parse_cli(s)).collect()
}

/// `none` → `Some(None)` (clear), a number → `Some(Some(n))`.
fn parse_nullable(field: &str, value: &Option<String>) -> Result<Option<Option<i64>>> {
    match value.as_deref() {
        None => Ok(None),
        Some("none") | Some("null") => Ok(Some(None)),
        Some(text) => text.parse::<i64>().map(|n| Some(Some(n))).map_err(|_| {
            Error::invalid_input(field, format!("--{field} must be a whole number or `none`"))
        }),
    }
}

pub fn run_apis(command: &ApisCommand, connect: &ConnectArgs, json_output: bool) -> Result<()> {
    let client = connect.connect()?;
    block_on(async {
        match command {
            ApisCommand::Create { name } => {
                let api = client.create_api(name).await?;
                print(json_output, to_json(&api), || api.api_id.clone());
            }
            ApisCommand::Get { api_id } => {
                let api = client.get_api(api_id).await?;
                print(json_output, to_json(&api), || {
                    format!("{}\t{}", api.id, api.name)
                });
            }
            ApisCommand::ListKeys { api_id } => {
                let mut pager = client.keys_pager(api_id);
                while let Some(keys) = pager.next_page().await? {
                    for key in keys {
                        print(json_output, to_json(&key), || {
                            format!(
                                "{}\t{}…\t{}",
                                key.key_id,
                                key.start,
                                key.name.clone().unwrap_or_default()
                            )
                        });
                    }
                }
            }
            ApisCommand::Delete { api_id } => {
                client.delete_api(api_id).await?;
                print(json_output, json!({"deleted": api_id}), || {
                    format!("deleted {api_id}")
                });
            }
        }
        Ok(())
    })
}

/// Returns whether the command succeeded in the caller's sense (`keys verify` of an invalid
/// key is `false`, so the process can exit 1).
pub fn run_keys(command: &KeysCommand, connect: &ConnectArgs, json_output: bool) -> Result<bool> {
    // Parse everything local before connecting, so bad input never waits on the network.
    let create = match command {
        KeysCommand::Create(args) => Some(create_options(args)?),
        _ => None,
    };
    let client = connect.connect()?;
    block_on(async {
        match command {
            KeysCommand::Create(_) => {
                let created = client
                    .create_api_key(create.as_ref().expect("parsed above"))
                    .await?;
                print(
                    json_output,
                    json!({"keyId": created.key_id, "key": created.key.expose(), "masked": created.masked}),
                    || {
                        format!(
                            "key id: {}\nkey:    {}   (shown once: store it now)\nmasked: {}",
                            created.key_id,
                            created.key.expose(),
                            created.masked
                        )
                    },
                );
            }
            KeysCommand::Verify(args) => {
                let key = read_key(&args.key)?;
                let options = VerifyOptions {
                    permissions: args.permissions.clone(),
                    scopes: parse_scopes(&args.scopes)?,
                    credits_cost: args.cost,
                    ..VerifyOptions::default()
                };
                let v = client.verify(&key, &options).await?;
                print(json_output, verification_json(&v), || {
                    let mut line =
                        format!("{} {}", if v.valid { "valid" } else { "invalid" }, v.code);
                    if let Some(id) = &v.key_id {
                        line.push_str(&format!(" key_id={id}"));
                    }
                    if let Some(credits) = v.credits {
                        line.push_str(&format!(" credits={credits}"));
                    }
                    if !v.permissions.is_empty() {
                        line.push_str(&format!(" permissions={}", v.permissions.join(",")));
                    }
                    line
                });
                return Ok(v.valid);
            }
            KeysCommand::Get { key_id } => {
                let key = client.get_key(key_id).await?;
                print(json_output, to_json(&key), || {
                    serde_json::to_string_pretty(&key).unwrap_or_default()
                });
            }
            KeysCommand::Update(args) => {
                let patch = UpdateKeyRequest {
                    key_id: args.key_id.clone(),
                    name: args.name.clone().map(Some).into(),
                    enabled: args.enabled,
                    expires: parse_nullable("expires", &args.expires)?.into(),
                    meta: parse_meta(&args.meta)?.map(Some).into(),
                    credits: parse_nullable("credits", &args.credits)?
                        .map(|remaining| {
                            Some(wire::UpdateKeyCredits {
                                remaining: Some(remaining).into(),
                                refill: wire::Patch::Leave,
                            })
                        })
                        .into(),
                    ..UpdateKeyRequest::default()
                };
                client.update_key(&patch).await?;
                print(json_output, json!({"updated": args.key_id}), || {
                    format!("updated {}", args.key_id)
                });
            }
            KeysCommand::Delete { key_id, permanent } => {
                client.delete_key(key_id, *permanent).await?;
                print(
                    json_output,
                    json!({"deleted": key_id, "permanent": permanent}),
                    || {
                        format!(
                            "deleted {key_id}{}",
                            if *permanent { " (permanently)" } else { "" }
                        )
                    },
                );
            }
            KeysCommand::Reroll { key_id, expiration } => {
                let created = client.reroll_key(key_id, *expiration).await?;
                print(
                    json_output,
                    json!({"keyId": created.key_id, "key": created.key.expose(), "masked": created.masked}),
                    || {
                        format!(
                            "key id: {}\nkey:    {}   (shown once)",
                            created.key_id,
                            created.key.expose()
                        )
                    },
                );
            }
        }
        Ok(true)
    })
}

fn create_options(args: &CreateArgs) -> Result<CreateKey> {
    let mut options = CreateKey::new(&args.api_id);
    options.name = args.name.clone();
    options.prefix = args.prefix.clone();
    options.byte_length = args.bytes;
    options.permissions = args.permissions.clone();
    options.scopes = parse_scopes(&args.scopes)?;
    options.roles = args.roles.clone();
    options.external_id = args.external_id.clone();
    options.meta = parse_meta(&args.meta)?;
    options.expires = args.expires;
    options.credits = args.credits;
    options.enabled = args.disabled.then_some(false);
    options.to_request()?;
    Ok(options)
}

fn read_key(arg: &str) -> Result<String> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::io(format!("cannot read the key from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn verification_json(v: &Verification) -> Value {
    json!({
        "valid": v.valid,
        "code": v.code,
        "keyId": v.key_id,
        "name": v.name,
        "externalId": v.external_id,
        "meta": v.meta,
        "permissions": v.permissions,
        "roles": v.roles,
        "credits": v.credits,
        "expires": v.expires,
        "enabled": v.enabled,
        "requestId": v.request_id,
    })
}

pub fn run_permissions(
    command: &PermissionsCommand,
    connect: &ConnectArgs,
    json_output: bool,
) -> Result<()> {
    let client = connect.connect()?;
    block_on(async {
        match command {
            PermissionsCommand::Create {
                name,
                slug,
                description,
            } => {
                let created = client
                    .create_permission(name, slug.as_deref(), description.as_deref())
                    .await?;
                print(json_output, to_json(&created), || {
                    created.permission_id.clone()
                });
            }
            PermissionsCommand::List => {
                for p in client.list_permissions().await? {
                    print(json_output, to_json(&p), || format!("{}\t{}", p.id, p.slug));
                }
            }
        }
        Ok(())
    })
}

pub fn run_roles(command: &RolesCommand, connect: &ConnectArgs, json_output: bool) -> Result<()> {
    let client = connect.connect()?;
    block_on(async {
        match command {
            RolesCommand::Create {
                name,
                permissions,
                description,
            } => {
                let created = client
                    .create_role(name, permissions, description.as_deref())
                    .await?;
                print(json_output, to_json(&created), || created.role_id.clone());
            }
            RolesCommand::List => {
                for role in client.list_roles().await? {
                    print(json_output, to_json(&role), || {
                        let perms: Vec<_> = role
                            .permissions
                            .iter()
                            .flatten()
                            .map(|p| p.slug.as_str())
                            .collect();
                        format!("{}\t{}\t{}", role.id, role.name, perms.join(","))
                    });
                }
            }
        }
        Ok(())
    })
}
