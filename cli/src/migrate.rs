//! `keyshift migrate` (move an export of existing keys into the key service) and
//! `keyshift sample-keys` (write a realistic test export).

use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keyshift_core::migrate::{
    self, Format, HashVariant, MigrateOptions, MigrationReport, MigrationSource, Progress,
    ProgressFn,
};
use keyshift_core::{Error, ErrorCode, Result};

use crate::service::{block_on, ConnectArgs};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VariantArg {
    #[value(name = "sha256_base64")]
    Sha256Base64,
    #[value(name = "sha256_hex")]
    Sha256Hex,
    #[value(name = "bcrypt")]
    Bcrypt,
}

impl From<VariantArg> for HashVariant {
    fn from(v: VariantArg) -> Self {
        match v {
            VariantArg::Sha256Base64 => HashVariant::Sha256Base64,
            VariantArg::Sha256Hex => HashVariant::Sha256Hex,
            VariantArg::Bcrypt => HashVariant::Bcrypt,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Jsonl,
    Csv,
}

const MIGRATE_HELP: &str = "\
Field mapping: key (plaintext) → hashed here as sha256_base64, never sent; hash (+ variant) → hash;
hash: {value, variant} (Unkey's migration guide) is read too; a bcrypt hash needs start, the key's
clear leading part as the legacy system kept it (e.g. sk_live_ab12), by which verify finds it;
customerId → externalId; scopes [{representation, read, create, update, delete}] → permissions
representation.read, …; workspaceId → meta.workspaceId. CSV: scopes/permissions/roles are
;-separated (a scope is representation:read,update), meta/credits/ratelimits are JSON text.
Invalid records are reported with their line and skipped; --dry-run lists them all (exit 2).
A killed run continues with --resume: finished batches are skipped, unfinished ones re-sent
with the same Idempotency-Key, so no key is lost or duplicated.";

#[derive(Args, Debug)]
#[command(after_help = MIGRATE_HELP)]
pub struct MigrateArgs {
    /// The export: JSONL (`.jsonl`, `.ndjson`) or CSV with a header row (`.csv`); other names
    /// are sniffed. Records carry `key` (plaintext, hashed here) or `hash`, plus optional
    /// name, externalId/customerId, meta, roles, permissions, scopes, expires, enabled,
    /// credits, ratelimits, start (required with bcrypt hashes).
    pub file: PathBuf,
    /// Api (keyspace) the keys go into. Required unless --dry-run.
    #[arg(long)]
    pub api_id: Option<String>,
    /// Name of this migration; also seeds the per-batch idempotency keys. Required unless
    /// --dry-run.
    #[arg(long)]
    pub migration_id: Option<String>,
    /// Form of `hash` values in records without their own `variant`.
    #[arg(long, value_enum, default_value = "sha256_base64")]
    pub variant: VariantArg,
    /// Keys per request (1–1000). Default: adaptive, from 100 up to 1000 while the key
    /// service answers quickly.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Requests in flight (1–64). Default: adaptive, 2–16 (starting at 4), more only while
    /// answers are slow to come back.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Checkpoint file (default: FILE.checkpoint). Lets --resume continue a killed run.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// JSONL report: one line per key (`{line, hash, keyId}` or `{line, hash, error}`) and a
    /// summary.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Validate the whole file, print every problem, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue the run recorded in the checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Input format, when the file name does not tell.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

fn default_checkpoint(file: &std::path::Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".checkpoint");
    PathBuf::from(name)
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(bytes) if bytes > 0 => ProgressBar::new(bytes),
        _ => ProgressBar::no_length(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(8));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{wide_bar}] {percent:>3}% ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

fn bar_message(p: &Progress) -> String {
    format!(
        "{} migrated · {} already · {} failed · {} invalid · {:.0} keys/s",
        p.migrated + p.skipped_resumed,
        p.already_present,
        p.failed,
        p.invalid,
        p.keys_per_sec()
    )
}

/// `Ok(true)`: everything migrated (or a clean dry run). `Ok(false)`: the run finished but the
/// key service refused some keys (exit 1). Errors: invalid records (exit 2), a failing key
/// service (exit 3), and whatever stopped the run.
pub fn migrate_cmd(args: MigrateArgs, json: bool) -> Result<bool> {
    let mut options = MigrateOptions {
        api_id: args.api_id.clone().unwrap_or_default(),
        migration_id: args.migration_id.clone().unwrap_or_default(),
        variant: args.variant.into(),
        batch_size: args.batch_size,
        concurrency: args.concurrency,
        checkpoint: None,
        report: args.report.clone(),
        dry_run: args.dry_run,
        resume: args.resume,
        max_errors: migrate::DEFAULT_MAX_ERRORS,
        retry: None,
        cancel: None,
    };
    if args.dry_run {
        // Print every problem, not only the first thousand.
        options.max_errors = usize::MAX;
    } else {
        for (flag, v) in [
            ("api-id", &args.api_id),
            ("migration-id", &args.migration_id),
        ] {
            if v.as_deref().unwrap_or("").is_empty() {
                return Err(Error::invalid_input(
                    flag,
                    format!("--{flag} is required (unless --dry-run)"),
                ));
            }
        }
        options.checkpoint = Some(
            args.checkpoint
                .clone()
                .unwrap_or_else(|| default_checkpoint(&args.file)),
        );
    }
    options.validate()?;
    let source = MigrationSource::File {
        path: args.file.clone(),
        format: args.format.map(|f| match f {
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Csv => Format::Csv,
        }),
    };

    let show_bar = !json && !args.no_progress && std::io::stderr().is_terminal();
    let bar = show_bar.then(|| progress_bar(std::fs::metadata(&args.file).ok().map(|m| m.len())));
    let on_progress: Option<ProgressFn> = bar.clone().map(|bar| {
        Arc::new(move |p: &Progress| {
            bar.set_position(p.bytes_read);
            bar.set_message(bar_message(p));
        }) as ProgressFn
    });

    let result = if args.dry_run {
        migrate::validate_source(source, &options, on_progress)
    } else {
        let client = args.connect.connect()?;
        block_on(async move { migrate::migrate_keys(&client, source, options, on_progress).await })
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result?;
    print_report(&report, json, &args)?;
    if report.dry_run && report.invalid > 0 {
        return Err(Error::invalid_input(
            "file",
            format!("{} invalid records (listed above)", report.invalid),
        ));
    }
    if !report.dry_run && !report.is_complete() {
        let mut message = format!(
            "{} keys failed and {} records were invalid; see {}",
            report.failed,
            report.invalid,
            args.report
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the errors above (or pass --report FILE)".into())
        );
        if report.failed > 0 {
            message.push_str("; run again with --resume to retry keys that could not be sent");
        }
        // The key service failed for some keys (down, 5xx, 401/403, timeouts): exit 3.
        let service = report
            .errors
            .iter()
            .map(|e| e.code)
            .find(|c| crate::exit_code_of(*c) == crate::EXIT_SERVICE);
        if let Some(code) = service {
            return Err(Error::new(code, message));
        }
        // Invalid records, or batches refused as a whole for their input (400, or 404: no
        // such api or migration id): an input error, exit 2.
        let input = report.errors.iter().any(|e| {
            matches!(
                e.code,
                ErrorCode::InvalidInput | ErrorCode::BadRequest | ErrorCode::NotFound
            )
        });
        if report.invalid > 0 || input {
            return Err(Error::new(ErrorCode::InvalidInput, message));
        }
        // The run finished; the key service refused some keys (they already exist): exit 1.
        eprintln!("error: {message}");
        return Ok(false);
    }
    Ok(true)
}

fn print_report(report: &MigrationReport, json: bool, args: &MigrateArgs) -> Result<()> {
    if json {
        let text = serde_json::to_string(report).map_err(|e| Error::io(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let shown = if report.dry_run {
        report.errors.len()
    } else {
        20
    };
    for e in report.errors.iter().take(shown) {
        println!("{e}");
    }
    if report.errors.len() > shown {
        println!(
            "… {} more problems{}",
            report.invalid + report.failed - shown as u64,
            match &args.report {
                Some(p) => format!(" in {}", p.display()),
                None => " (pass --report FILE to keep them all)".into(),
            }
        );
    }
    print!("{}", report.summary());
    Ok(())
}

#[derive(Args, Debug)]
pub struct SampleKeysArgs {
    /// Number of records.
    pub n: u64,
    /// Output JSONL file.
    #[arg(long)]
    pub out: PathBuf,
    /// Oneloop-shaped records (`customerId`, `workspaceId`, `scopes`) instead of
    /// `externalId` + `permissions`.
    #[arg(long)]
    pub with_scopes: bool,
}

pub fn sample_keys_cmd(args: SampleKeysArgs, json: bool) -> Result<()> {
    let file = std::fs::File::create(&args.out)
        .map_err(|e| Error::io(format!("cannot create {}: {e}", args.out.display())))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    migrate::sample::write_sample_jsonl(&mut out, args.n, args.with_scopes)?;
    if json {
        println!(
            "{}",
            serde_json::json!({"records": args.n, "out": args.out.display().to_string()})
        );
    } else {
        println!(
            "wrote {} records with plaintext keys to {} (test data: keep it away from production)",
            args.n,
            args.out.display()
        );
    }
    Ok(())
}
