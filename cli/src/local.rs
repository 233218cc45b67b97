//! Local commands (no key service involved): `gen`, `hash`, `mask`.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

use clap::Args;
use keyshift_core::hashing::{hash_key, HashVariant};
use keyshift_core::keyformat::{generate_key, mask_key, DEFAULT_BYTE_LENGTH};
use keyshift_core::{Error, Result};
use serde_json::json;

/// Arguments of `keyshift gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Key prefix, 1–16 characters of [A-Za-z0-9_] (the key then starts with `PREFIX_`).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Number of random bytes, 16–255.
    #[arg(long, default_value_t = DEFAULT_BYTE_LENGTH)]
    pub bytes: usize,
}

/// Arguments of `keyshift hash`.
#[derive(Args, Debug)]
pub struct HashArgs {
    /// Hash variant: sha256_base64 (default), sha256_hex or bcrypt.
    #[arg(long, default_value = "sha256_base64")]
    pub variant: String,
    /// The key to hash. Without it, or with `-`, keys are read from stdin, one per line, and one
    /// hash per line is written (prefer stdin: arguments are visible to other local users).
    pub key: Option<String>,
}

/// Arguments of `keyshift mask`.
#[derive(Args, Debug)]
pub struct MaskArgs {
    /// The key to mask.
    pub key: String,
}

/// A write to stdout; a closed pipe (`keyshift hash < keys | head`) ends the command quietly.
enum Written {
    Ok,
    PipeClosed,
}

fn write_line(out: &mut impl Write, line: &str) -> Result<Written> {
    match writeln!(out, "{line}") {
        Ok(()) => Ok(Written::Ok),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Written::PipeClosed),
        Err(e) => Err(Error::io(format!("cannot write to stdout: {e}"))),
    }
}

fn flush(out: &mut impl Write) -> Result<Written> {
    match out.flush() {
        Ok(()) => Ok(Written::Ok),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Written::PipeClosed),
        Err(e) => Err(Error::io(format!("cannot write to stdout: {e}"))),
    }
}

/// `keyshift gen`: prints a new key (JSON: `{"key","masked"}`).
pub fn gen(args: GenArgs, json: bool) -> Result<()> {
    let key = generate_key(args.prefix.as_deref(), args.bytes)?;
    let line = if json {
        json!({"key": key.expose(), "masked": key.masked()}).to_string()
    } else {
        key.expose().to_string()
    };
    let mut out = io::stdout().lock();
    write_line(&mut out, &line)?;
    flush(&mut out)?;
    Ok(())
}

/// `keyshift mask KEY`: prints the masked key (JSON: `{"masked"}`).
pub fn mask(args: MaskArgs, json: bool) -> Result<()> {
    let masked = mask_key(&args.key);
    let line = if json {
        json!({ "masked": masked }).to_string()
    } else {
        masked
    };
    let mut out = io::stdout().lock();
    write_line(&mut out, &line)?;
    flush(&mut out)?;
    Ok(())
}

fn hash_line(key: &str, variant: HashVariant, json: bool) -> Result<String> {
    let hash = hash_key(key, variant)?;
    Ok(if json {
        json!({"hash": hash.value, "variant": hash.variant}).to_string()
    } else {
        hash.value
    })
}

/// `keyshift hash [--variant V] [KEY|-]`: one hash per key (JSON: `{"hash","variant"}` per
/// line). From stdin, keys are read one per line (`\n` or `\r\n` endings removed, nothing else
/// trimmed) and hashes are written as they come: output is flushed whenever the command would
/// wait for more input. A bad line stops the command with its line number.
pub fn hash(args: HashArgs, json: bool) -> Result<()> {
    let variant: HashVariant = args.variant.parse()?;
    match args.key.as_deref() {
        Some(key) if key != "-" => {
            let line = hash_line(key, variant, json)?;
            let mut out = io::stdout().lock();
            write_line(&mut out, &line)?;
            flush(&mut out)?;
            Ok(())
        }
        _ => hash_stream(
            BufReader::with_capacity(64 * 1024, io::stdin().lock()),
            BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            variant,
            json,
        ),
    }
}

fn hash_stream<R: Read>(
    mut input: BufReader<R>,
    mut out: impl Write,
    variant: HashVariant,
    json: bool,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    loop {
        // Flush before a read that may block, so interactive use sees each hash at once while
        // piped input is written in large chunks.
        if input.buffer().is_empty() {
            if let Written::PipeClosed = flush(&mut out)? {
                return Ok(());
            }
        }
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(format!("cannot read stdin: {e}")))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let key = std::str::from_utf8(&buf).map_err(|_| {
            Error::invalid_input("key", "line is not valid UTF-8").with_record(line_no)
        })?;
        let line = hash_line(key, variant, json).map_err(|e| e.with_record(line_no))?;
        if let Written::PipeClosed = write_line(&mut out, &line)? {
            return Ok(());
        }
    }
    flush(&mut out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], variant: HashVariant, json: bool) -> (Result<()>, String) {
        let mut out = Vec::new();
        let res = hash_stream(BufReader::new(input), &mut out, variant, json);
        (res, String::from_utf8(out).unwrap())
    }

    #[test]
    fn stream_hashes_each_line() {
        let (res, out) = run(b"abc\r\nabc\nabc", HashVariant::Sha256Hex, false);
        res.unwrap();
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(out, format!("{want}\n{want}\n{want}\n"));
        let (res, out) = run(b"", HashVariant::Sha256Hex, false);
        res.unwrap();
        assert_eq!(out, "");
    }

    #[test]
    fn stream_reports_bad_line_number() {
        let (res, out) = run(b"abc\n\nabc\n", HashVariant::Sha256Base64, false);
        let err = res.unwrap_err();
        assert_eq!(err.record, Some(2));
        assert_eq!(err.field.as_deref(), Some("key"));
        assert_eq!(out.lines().count(), 1);
        let (res, _) = run(b"abc\n\xff\xfe\n", HashVariant::Sha256Base64, true);
        assert_eq!(res.unwrap_err().record, Some(2));
    }
}
