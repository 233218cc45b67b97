//! `keyshift`: the command line of keyshift (DESIGN.md §3).
//!
//! Layout for adding commands: put the command's code in its own module with a clap `Args`
//! struct (or `Subcommand` enum) and a function `fn(args, json: bool) -> keyshift_core::Result<()>`,
//! add a variant to [`Command`] and one arm to the `match` in [`run`]. Errors are printed and
//! mapped to exit codes in one place, [`exit_code`] (see [`EXIT_CODES_HELP`]): grep's
//! convention, 0 success, 1 a negative outcome, 2 usage or input error, 3 the key service
//! failed.

mod local;
mod migrate;
mod serve;
mod service;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keyshift_core::{Error, ErrorCode};

/// The exit codes, the same in every command (shown by `keyshift --help`).
const EXIT_CODES_HELP: &str = "\
Exit codes (the same in every command, as grep's):
  0  success; `keys verify`: the key is valid
  1  a negative outcome: `keys verify`: the key is not valid; `keys get` & co: no such key or
     api (404); `migrate`: the run finished but the key service refused some keys as already
     existing (see the report)
  2  usage or input error: bad flags or arguments, invalid input records, a request the key
     service rejected as invalid (400) or conflicting (409), `migrate` into an api or
     migration id that does not exist, an unreadable file
  3  the key service failed: unknown root key (401), root key lacks permission (403), rate
     limited (429), connection refused or lost, timeout, server error (5xx)";

/// A negative outcome (not an error): exit 1.
pub const EXIT_NEGATIVE: u8 = 1;
/// Usage or input error.
pub const EXIT_INPUT: u8 = 2;
/// The key service failed.
pub const EXIT_SERVICE: u8 = 3;

/// keyshift: issue, verify, scope and migrate API keys.
#[derive(Parser, Debug)]
#[command(
    name = "keyshift",
    version,
    about,
    propagate_version = true,
    after_help = EXIT_CODES_HELP
)]
struct Cli {
    /// Machine-readable output: one JSON object per line.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a new key `{prefix}_{base58 random}{checksum}` (printed once).
    Gen(local::GenArgs),
    /// Hash a key, or keys from stdin one per line, as the key service stores them.
    Hash(local::HashArgs),
    /// Print a key in masked form, safe for logs (`sk_live_…Xy9Z`).
    Mask(local::MaskArgs),
    /// Run the key service over HTTP (the wire API) on a SQLite database.
    Serve(serve::ServeArgs),
    /// Manage a server database: workspaces and root keys.
    Admin {
        #[command(subcommand)]
        command: serve::AdminCommand,
    },
    /// Create and inspect apis (keyspaces).
    Apis {
        #[command(subcommand)]
        command: service::ApisCommand,
        #[command(flatten)]
        connect: service::ConnectArgs,
    },
    /// Create, verify, inspect, update, reroll and delete keys.
    Keys {
        #[command(subcommand)]
        command: service::KeysCommand,
        #[command(flatten)]
        connect: service::ConnectArgs,
    },
    /// Create and list permissions.
    Permissions {
        #[command(subcommand)]
        command: service::PermissionsCommand,
        #[command(flatten)]
        connect: service::ConnectArgs,
    },
    /// Create and list roles.
    Roles {
        #[command(subcommand)]
        command: service::RolesCommand,
        #[command(flatten)]
        connect: service::ConnectArgs,
    },
    /// Move an export of existing keys (plaintext or hashed) into the key service.
    Migrate(migrate::MigrateArgs),
    /// Write a realistic test export of N keys (JSONL with plaintext `key`s).
    SampleKeys(migrate::SampleKeysArgs),
}

/// Runs one command. Every arm calls a module function returning `keyshift_core::Result<()>`
/// (or, for commands with a negative outcome, the outcome: `Ok(false)` exits 1).
fn run(cli: Cli) -> keyshift_core::Result<bool> {
    let json = cli.json;
    let done = match cli.command {
        Command::Gen(args) => local::gen(args, json),
        Command::Hash(args) => local::hash(args, json),
        Command::Mask(args) => local::mask(args, json),
        Command::Serve(args) => serve::serve(args, json),
        Command::Admin { command } => serve::admin(command, json),
        Command::Apis { command, connect } => service::run_apis(&command, &connect, json),
        // `keys verify` of an invalid key prints the outcome and exits 1 (not an error).
        Command::Keys { command, connect } => return service::run_keys(&command, &connect, json),
        Command::Permissions { command, connect } => {
            service::run_permissions(&command, &connect, json)
        }
        Command::Roles { command, connect } => service::run_roles(&command, &connect, json),
        Command::Migrate(args) => return migrate::migrate_cmd(args, json),
        Command::SampleKeys(args) => migrate::sample_keys_cmd(args, json),
    };
    done.map(|()| true)
}

/// Exit code of a failed command ([`EXIT_CODES_HELP`]).
pub fn exit_code(err: &Error) -> u8 {
    exit_code_of(err.code)
}

/// The exit code an error code maps to.
pub fn exit_code_of(code: ErrorCode) -> u8 {
    match code {
        // An answer from a working service about the thing asked for: it is not there.
        ErrorCode::NotFound => EXIT_NEGATIVE,
        ErrorCode::InvalidInput | ErrorCode::BadRequest | ErrorCode::Conflict | ErrorCode::Io => {
            EXIT_INPUT
        }
        ErrorCode::Unauthorized
        | ErrorCode::Forbidden
        | ErrorCode::RateLimited
        | ErrorCode::ServerError
        | ErrorCode::Network
        | ErrorCode::Timeout => EXIT_SERVICE,
        // A code added to core later: blame the service until it is mapped.
        _ => EXIT_SERVICE,
    }
}

/// `invalid_input: prefix must match [A-Za-z0-9_]{1,16} [field prefix]`, plus the record
/// (line) and request id when known. Messages never contain plaintext keys.
fn render(err: &Error) -> String {
    let mut out = format!("{}: {}", err.code(), err.message);
    if let Some(record) = err.record {
        out.push_str(&format!(" (line {record})"));
    }
    if let Some(field) = &err.field {
        out.push_str(&format!(" [field {field}]"));
    }
    if let Some(request_id) = &err.request_id {
        out.push_str(&format!(" [request {request_id}]"));
    }
    out
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_NEGATIVE),
        Err(err) => {
            eprintln!("error: {}", render(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}
