#!/usr/bin/env python3
"""Generates the shared test vectors of keyshift (tests/vectors/*.json).

Every expected value is computed here, in Python, independently of the Rust implementation:
SHA-256 with hashlib, base64 with the base64 module, CRC32 with zlib.crc32, base58 and base62
written out below, bcrypt with the `bcrypt` package (pip install bcrypt), and a separate
recursive-descent parser for permission queries. The output is deterministic (fixed seeds and
fixed bcrypt salts), so re-running this script must leave the committed files unchanged.

Usage: python3 tests/vectors/generate.py           (writes next to this file)
       python3 tests/vectors/generate.py --check   (writes nothing; exits 1 with a diff if a
                                                    committed file differs from a fresh run)
"""

import argparse
import base64
import difflib
import hashlib
import json
import os
import random
import sys
import zlib

import bcrypt  # pip install bcrypt

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------- helpers


def expecting(case, expected, field):
    """`case` with its `expected` result, or, when `expected` is None, with the invalid_input
    error naming `field`."""
    if expected is None:
        case.update({"error": "invalid_input", "field": field})
    else:
        case["expected"] = expected
    return case


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
STD64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
BCRYPT64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * zeros + out


def b58decode_len(text: str):
    """Number of bytes `text` decodes to, or None if it is not base58."""
    if any(c not in B58 for c in text):
        return None
    zeros = len(text) - len(text.lstrip("1"))
    n = 0
    for c in text:
        n = n * 58 + B58.index(c)
    return zeros + (n.bit_length() + 7) // 8


def checksum(body: str) -> str:
    n = zlib.crc32(body.encode("utf-8"))
    out = ""
    for _ in range(6):
        n, r = divmod(n, 62)
        out = B62[r] + out
    assert n == 0
    return out


def sha256_base64(key: str) -> str:
    return base64.b64encode(hashlib.sha256(key.encode("utf-8")).digest()).decode()


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_valid_prefix(p: str) -> bool:
    return 1 <= len(p) <= 16 and all(c.isascii() and (c.isalnum() or c == "_") for c in p)


def make_key(rng: random.Random, prefix, nbytes: int) -> str:
    body = (prefix + "_" if prefix else "") + b58encode(rng.randbytes(nbytes))
    return body + checksum(body)


def looks_like_key(key: str) -> bool:
    if "_" in key:
        prefix, rest = key.rsplit("_", 1)
        if not is_valid_prefix(prefix):
            return False
    else:
        rest = key
    if len(rest) < 16 + 6 or not rest.isascii():
        return False
    body = rest[:-6]
    if len(body) > 349:
        return False
    n = b58decode_len(body)
    if n is None or not 16 <= n <= 255:
        return False
    return checksum(key[:-6]) == key[-6:]


def split_shown(key: str):
    if "_" in key:
        prefix, secret = key.rsplit("_", 1)
        # Nothing after the last "_": no secret part to hide behind the prefix, so the whole
        # text counts as secret (a legacy key may end in "_").
        if secret and is_valid_prefix(prefix):
            return prefix + "_", secret
    return "", key


def mask(key: str) -> str:
    shown, secret = split_shown(key)
    if len(secret) < 12:  # Python len() counts code points, like Rust chars()
        return shown + "…"
    return shown + "…" + secret[-4:]


def key_start(key: str) -> str:
    shown, secret = split_shown(key)
    if len(secret) < 12:
        return shown
    return shown + secret[:4]


def key_prefix(key: str):
    if "_" not in key:
        return None
    prefix = key.rsplit("_", 1)[0]
    return prefix or None


def bcrypt_salt(rng: random.Random, cost: int, version: str = "2b") -> bytes:
    raw = base64.b64encode(rng.randbytes(16)).decode().rstrip("=")
    salt = raw.translate(str.maketrans(STD64, BCRYPT64))
    return f"${version}${cost:02d}${salt}".encode()


# name -> file text, filled by write(); main() writes these files or (--check) compares them.
OUTPUT = {}


def write(name: str, description: str, cases: list, extra=None):
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), f"duplicate case names in {name}"
    doc = {"description": description}
    if extra:
        doc.update(extra)
    doc["cases"] = cases
    OUTPUT[name] = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    print(f"{name}: {len(cases)} cases")
    return len(cases)


def check_files() -> int:
    """Compares the freshly generated text with the committed files; returns the exit code."""
    differing = 0
    for name, fresh in OUTPUT.items():
        path = os.path.join(HERE, name)
        try:
            with open(path, encoding="utf-8") as f:
                committed = f.read()
        except FileNotFoundError:
            committed = None
        if committed == fresh:
            continue
        differing += 1
        if committed is None:
            print(f"MISSING {name}: not committed (run generate.py to write it)", file=sys.stderr)
            continue
        diff = list(difflib.unified_diff(committed.splitlines(keepends=True),
                                         fresh.splitlines(keepends=True),
                                         f"committed/{name}", f"generated/{name}"))
        print(f"DIFFERS {name}: {len(diff)} diff lines", file=sys.stderr)
        sys.stderr.writelines(diff[:200])
        if len(diff) > 200:
            print(f"... {len(diff) - 200} more diff lines", file=sys.stderr)
    if differing:
        print(f"vectors check FAILED: {differing} of {len(OUTPUT)} files differ from a fresh "
              "run of tests/vectors/generate.py", file=sys.stderr)
        return 1
    print(f"vectors check ok: {len(OUTPUT)} files identical to a fresh run")
    return 0


# --------------------------------------------------------------------------- hashing.json


def urlsafe_digest() -> str:
    """URL-safe base64 of the first SHA-256 (of "0", "1", …) whose standard form has + or /."""
    i = 0
    while not any(c in sha256_base64(str(i)) for c in "+/"):
        i += 1
    return base64.urlsafe_b64encode(hashlib.sha256(str(i).encode()).digest()).decode()


def hashing_cases():
    keys = [
        ("ascii_abc", "abc"),
        ("ascii_prefixed", "sk_live_3ZxH8qLp2VbN7mRt"),
        ("ascii_punctuation", "key-with.punct:uation/+=!@#$%^&*()"),
        ("inner_space", "two words"),
        ("leading_trailing_space_not_trimmed", "  padded key  "),
        ("trailing_newline_not_trimmed", "sk_line\n"),
        ("tab_inside", "a\tb"),
        ("latin1_accents", "clé_ünïcødé"),
        ("emoji", "🔑🗝️ key"),
        ("emoji_zwj_sequence", "sk_👩‍💻_secret"),
        ("cjk", "日本語のキー"),
        ("korean_hangul", "비밀키_테스트"),
        ("arabic_rtl", "مفتاح_سري"),
        ("combining_vs_precomposed_e_acute_nfc", "caf\u00e9"),
        ("combining_vs_precomposed_e_acute_nfd", "cafe\u0301"),
        ("long_ascii_1024", "k" * 1024),
        ("long_mixed_1500_chars", ("sk_" + "abc123XYZ" * 166)[:1500]),
        ("long_unicode_1200_chars", "é🔑日" * 400),
        ("single_char", "x"),
        ("max_generated_like", "sk_" + b58encode(bytes(range(255)))),
    ]
    cases = []
    for name, key in keys:
        cases.append({"name": f"{name}_sha256_base64", "kind": "hash", "key": key,
                      "variant": "sha256_base64", "expected": sha256_base64(key)})
        cases.append({"name": f"{name}_sha256_hex", "kind": "hash", "key": key,
                      "variant": "sha256_hex", "expected": sha256_hex(key)})
    blanks = [("empty", ""), ("space", " "), ("spaces", "   "), ("tab_newline", "\t\n\r"),
              ("nbsp", "\u00a0"), ("ideographic_space", "\u3000")]
    for name, key in blanks:
        assert key.strip() == ""
        for variant in ("sha256_base64", "sha256_hex", "bcrypt"):
            cases.append({"name": f"reject_{name}_{variant}", "kind": "hash", "key": key,
                          "variant": variant, "error": "invalid_input", "field": "key"})
    # KeyHash::parse: shape checks of stored hashes.
    abc_b64, abc_hex = sha256_base64("abc"), sha256_hex("abc")
    parse = [
        ("parse_base64_ok", abc_b64, "sha256_base64", abc_b64),
        ("parse_hex_ok", abc_hex, "sha256_hex", abc_hex),
        ("parse_hex_uppercase_lowercased", abc_hex.upper(), "sha256_hex", abc_hex),
        ("parse_bcrypt_ok", "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie",
         "bcrypt", "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie"),
        ("parse_base64_unpadded", abc_b64.rstrip("="), "sha256_base64", None),
        ("parse_base64_urlsafe", urlsafe_digest(), "sha256_base64", None),
        ("parse_base64_wrong_length", base64.b64encode(b"x" * 31).decode(), "sha256_base64", None),
        ("parse_hex_63", abc_hex[:63], "sha256_hex", None),
        ("parse_hex_non_hex", "g" + abc_hex[1:], "sha256_hex", None),
        ("parse_hex_as_base64", abc_hex, "sha256_base64", None),
        ("parse_bcrypt_bad_prefix", "$2x$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie",
         "bcrypt", None),
        ("parse_empty", "", "sha256_base64", None),
    ]
    for name, value, variant, expected in parse:
        case = {"name": name, "kind": "parse", "value": value, "variant": variant}
        cases.append(expecting(case, expected, "hash"))
    return cases


# --------------------------------------------------------------------------- bcrypt.json


def bcrypt_cases():
    rng = random.Random(20261129)
    cases = []
    plain = [
        ("ascii", "sk_live_3ZxH8qLp2VbN7mRt"),
        ("unicode", "clé_🔑_日本語"),
        ("short", "a"),
        ("with_spaces", "  spaced key  "),
    ]
    for version in ("2a", "2b", "2y"):
        for name, key in plain:
            salt = bcrypt_salt(rng, 4, "2b")
            h = bcrypt.hashpw(key.encode(), salt).decode()
            # $2a$, $2b$ and $2y$ compute the same hash for keys shorter than 255 bytes.
            h = f"${version}$" + h[4:]
            assert bcrypt.checkpw(key.encode(), h.encode())
            cases.append({"name": f"{version}_{name}_match", "key": key, "hash": h,
                          "expected": True})
            wrong = key[:-1] + ("x" if key[-1] != "x" else "y")
            assert not bcrypt.checkpw(wrong.encode(), h.encode())
            cases.append({"name": f"{version}_{name}_wrong_key", "key": wrong, "hash": h,
                          "expected": False})
    # Other costs.
    for cost in (5, 6):
        key = f"cost_{cost}_key"
        h = bcrypt.hashpw(key.encode(), bcrypt_salt(rng, cost)).decode()
        cases.append({"name": f"cost_{cost}_match", "key": key, "hash": h, "expected": True})
    # Case and whitespace matter.
    key = "CaseSensitiveKey"
    h = bcrypt.hashpw(key.encode(), bcrypt_salt(rng, 4)).decode()
    cases.append({"name": "case_differs", "key": key.lower(), "hash": h, "expected": False})
    cases.append({"name": "trailing_space_differs", "key": key + " ", "hash": h, "expected": False})
    # bcrypt only reads the first 72 bytes: longer keys match the hash of their first 72 bytes.
    long_key = "L" * 72 + "tail that bcrypt ignores"
    h = bcrypt.hashpw(long_key.encode()[:72], bcrypt_salt(rng, 4)).decode()
    cases.append({"name": "over_72_bytes_truncated_match", "key": long_key, "hash": h,
                  "expected": True})
    cases.append({"name": "over_72_bytes_prefix_differs", "key": "M" + long_key[1:], "hash": h,
                  "expected": False})
    good = cases[0]["hash"]
    malformed = [
        ("malformed_empty", ""),
        ("malformed_sha_hex", sha256_hex("x")),
        ("malformed_prefix_2x", "$2x$" + good[4:]),
        ("malformed_prefix_2c", "$2c$" + good[4:]),
        ("malformed_one_digit_cost", good[:4] + "4" + good[6:]),
        ("malformed_cost_too_low", good[:4] + "03" + good[6:]),
        ("malformed_cost_too_high", good[:4] + "32" + good[6:]),
        ("malformed_truncated", good[:-1]),
        ("malformed_too_long", good + "a"),
        ("malformed_bad_char", good[:20] + "!" + good[21:]),
        ("malformed_no_dollar", good.replace("$", "", 1)),
    ]
    for name, h in malformed:
        cases.append({"name": name, "key": "anything", "hash": h, "error": "invalid_input",
                      "field": "hash"})
    return cases


# --------------------------------------------------------------------------- keyformat.json


def keyformat_cases():
    rng = random.Random(42)
    cases = []
    # checksum
    bodies = ["", "a", "abc", "sk_live_", "sk_live_3ZxH8qLp2VbN7mRt", "clé🔑", "x" * 400,
              "123456789", "The quick brown fox jumps over the lazy dog"]
    for i, body in enumerate(bodies):
        cases.append({"name": f"checksum_{i}", "kind": "checksum", "body": body,
                      "expected": checksum(body)})
    # looks_like_key: valid generated keys
    valid = [
        ("valid_prefixed_16", make_key(rng, "sk_live", 16)),
        ("valid_prefixed_32", make_key(rng, "sk", 32)),
        ("valid_no_prefix_16", make_key(rng, None, 16)),
        ("valid_prefix_16_chars", make_key(rng, "ABCDEFGHIJKLMNOP", 16)),
        ("valid_255_bytes", make_key(rng, "big", 255)),
        ("valid_all_zero_bytes", (lambda b: b + checksum(b))("zk_" + b58encode(bytes(16)))),
    ]
    for name, key in valid:
        assert looks_like_key(key), key
        cases.append({"name": f"looks_{name}", "kind": "looks_like_key", "key": key,
                      "expected": True})
    base = valid[0][1]
    # one-character typos everywhere: substitution in prefix, body and checksum; deletion;
    # insertion; transposition; case flip.
    def sub(s, i, c):
        return s[:i] + c + s[i + 1:]
    start = len("sk_live_")
    # First body position whose neighbour differs (for the transposition) and first letter whose
    # other case is also base58 (for the case flip).
    body_i = next(i for i in range(start, len(base) - 7) if base[i] != base[i + 1])
    flip_i = next(i for i in range(start, len(base) - 6)
                  if base[i].isalpha() and base[i].swapcase() in B58)
    typos = [
        ("typo_prefix_substitution", sub(base, 1, "x")),
        ("typo_body_substitution", sub(base, body_i, "2" if base[body_i] != "2" else "3")),
        ("typo_checksum_substitution",
         sub(base, len(base) - 1, "0" if base[-1] != "0" else "1")),
        ("typo_deletion", base[:body_i] + base[body_i + 1:]),
        ("typo_insertion", base[:body_i] + "z" + base[body_i:]),
        ("typo_transposition",
         base[:body_i] + base[body_i + 1] + base[body_i] + base[body_i + 2:]),
        ("typo_case_flip", sub(base, flip_i, base[flip_i].swapcase())),
        ("typo_missing_last_char", base[:-1]),
        ("typo_extra_trailing_char", base + "a"),
    ]
    for name, key in typos:
        assert key != base and not looks_like_key(key), (name, key)
        cases.append({"name": f"looks_{name}", "kind": "looks_like_key", "key": key,
                      "expected": False})
    def with_sum(body):
        return body + checksum(body)
    invalid = [
        ("migrated_no_checksum", "sk_live_" + b58encode(rng.randbytes(24))),
        ("bad_prefix_dash", with_sum("sk-live_" + b58encode(rng.randbytes(16)))),
        ("prefix_17_chars", with_sum("ABCDEFGHIJKLMNOPQ_" + b58encode(rng.randbytes(16)))),
        ("empty_prefix", with_sum("_" + b58encode(rng.randbytes(16)))),
        ("body_15_bytes", with_sum("sk_" + b58encode(rng.randbytes(15)))),
        ("body_256_bytes", with_sum("sk_" + b58encode(b"\xff" + rng.randbytes(255)))),
        ("non_base58_zero", with_sum("sk_0" + b58encode(rng.randbytes(16)))),
        ("non_base58_capital_o", with_sum("sk_O" + b58encode(rng.randbytes(16)))),
        ("non_base58_capital_i", with_sum("sk_I" + b58encode(rng.randbytes(16)))),
        ("non_base58_lower_l", with_sum("sk_l" + b58encode(rng.randbytes(16)))),
        ("unicode_body", with_sum("sk_" + "é" * 30)),
        ("empty", ""),
        ("only_prefix", "sk_"),
        ("checksum_only", checksum("")),
        ("garbage", "not a key at all"),
    ]
    for name, key in invalid:
        assert not looks_like_key(key), (name, key)
        cases.append({"name": f"looks_{name}", "kind": "looks_like_key", "key": key,
                      "expected": False})
    # mask / key_start / key_prefix
    masks = [
        ("typical", "sk_live_abcdefghijklXy9Z"),
        ("generated", base),
        ("no_prefix_long", "abcdefghijkl"),
        ("no_prefix_11", "abcdefghijk"),
        ("secret_12_chars", "sk_123456789012"),
        ("secret_11_chars", "sk_12345678901"),
        ("short", "sk_short"),
        ("empty", ""),
        ("underscore_only", "_"),
        ("trailing_underscore", "sk_"),
        ("legacy_trailing_underscore", "Zx81kq2PLm4nB7Rt_"),
        ("fuzz_nested_prefix_no_secret", "sk_lLo7hQ_live_"),
        ("unicode_secret", "sk_日本語のキー日本語のキー🔑"),
        ("emoji_secret_short", "sk_🔑🔑🔑🔑"),
        ("multi_underscore_prefix", "sk_test_live_ABCDEFGHJKLMNPQRST"),
        ("invalid_prefix_hidden", "legacy-secret_part_abcdefgh1234"),
        ("prefix_17_hidden", "ABCDEFGHIJKLMNOPQ_abcdefghijklmnop"),
        ("unicode_before_underscore", "clé_abcdefghijklmnop"),
    ]
    for name, key in masks:
        cases.append({"name": f"mask_{name}", "kind": "mask", "key": key, "expected": mask(key)})
        cases.append({"name": f"start_{name}", "kind": "key_start", "key": key,
                      "expected": key_start(key)})
        cases.append({"name": f"prefix_{name}", "kind": "key_prefix", "key": key,
                      "expected": key_prefix(key)})
    # generate_key argument errors (and accepted edge values)
    gens = [
        ("prefix_empty", "", 16, "prefix"),
        ("prefix_dash", "sk-live", 16, "prefix"),
        ("prefix_space", "sk live", 16, "prefix"),
        ("prefix_17", "ABCDEFGHIJKLMNOPQ", 16, "prefix"),
        ("prefix_unicode", "clé", 16, "prefix"),
        ("bytes_15", "sk", 15, "byteLength"),
        ("bytes_0", None, 0, "byteLength"),
        ("bytes_256", "sk", 256, "byteLength"),
        ("ok_min", "sk", 16, None),
        ("ok_max", "A_b_9", 255, None),
        ("ok_no_prefix", None, 16, None),
        ("ok_prefix_16", "ABCDEFGHIJKLMNOP", 20, None),
    ]
    for name, prefix, nbytes, field in gens:
        case = {"name": f"generate_{name}", "kind": "generate", "prefix": prefix,
                "byte_length": nbytes}
        cases.append(expecting(case, None if field else "ok", field))
    return cases


# --------------------------------------------------------------------------- scopes.json

ACTIONS = ["read", "create", "update", "delete"]


def expand(scopes):
    out = []
    for s in scopes:
        for a in ACTIONS:
            p = f"{s['representation']}.{a}"
            if s.get(a) and p not in out:
                out.append(p)
    return out


def fold(perms):
    out = []
    for p in perms:
        if "." not in p:
            continue
        rep, action = p.rsplit(".", 1)
        if not rep or action not in ACTIONS:
            continue
        existing = [s for s in out if s["representation"] == rep]
        if existing:
            s = existing[0]
        else:
            s = {"representation": rep, "read": False, "create": False, "update": False,
                 "delete": False}
            out.append(s)
        s[action] = True
    return out


def scope(rep, *actions):
    return {"representation": rep, **{a: a in actions for a in ACTIONS}}


def scopes_cases():
    cases = []
    expansions = [
        ("single_read", [scope("profile", "read")]),
        ("all_actions", [scope("profile", "read", "create", "update", "delete")]),
        ("order_is_read_create_update_delete", [scope("doc", "delete", "read", "update")]),
        ("no_actions", [scope("empty")]),
        ("two_scopes", [scope("profile", "read"), scope("billing", "update", "delete")]),
        ("duplicates_removed", [scope("profile", "read", "update"), scope("profile", "read")]),
        ("dotted_representation", [scope("org.billing", "read", "create")]),
        ("missing_bools_default_false", [{"representation": "partial", "update": True}]),
        ("empty_list", []),
    ]
    for name, scopes in expansions:
        cases.append({"name": f"expand_{name}", "kind": "expand", "scopes": scopes,
                      "expected": expand(scopes)})
    folds = [
        ("simple", ["profile.read", "profile.update"]),
        ("order_of_first_appearance", ["b.read", "a.delete", "b.create", "a.read"]),
        ("ignores_other_permissions", ["admin", "profile.write", "profile.read", "read", ".read"]),
        ("split_at_last_dot", ["org.billing.read", "org.billing.delete", "org.read"]),
        ("duplicates", ["x.read", "x.read"]),
        ("star_is_literal", ["*.read", "docs.*"]),
        ("case_sensitive_actions", ["p.READ", "p.Read", "p.read"]),
        ("empty", []),
    ]
    for name, perms in folds:
        cases.append({"name": f"fold_{name}", "kind": "fold", "permissions": perms,
                      "expected": fold(perms)})
    parses = [
        ("read_update", "profile:read,update", scope("profile", "read", "update")),
        ("all_star", "docs:*", scope("docs", "read", "create", "update", "delete")),
        ("case_and_spaces", "org:billing: READ , Delete", scope("org:billing", "read", "delete")),
        ("single", "x:create", scope("x", "create")),
        ("missing_colon", "profile", None),
        ("empty_actions", "profile:", None),
        ("unknown_action", "profile:write", None),
        ("empty_representation", ":read", None),
        ("bad_representation_char", "pro file:read", None),
        ("double_comma", "a:read,,update", None),
    ]
    for name, text, expected in parses:
        case = {"name": f"parse_cli_{name}", "kind": "parse_cli", "input": text}
        cases.append(expecting(case, expected, "scopes"))
    return cases


# --------------------------------------------------------------------------- permission_queries.json


class QueryError(Exception):
    def __init__(self, position):
        super().__init__(position)
        self.position = position


NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-*:/")


def tokenize(q):
    toks, i = [], 0
    while i < len(q):
        c = q[i]
        if c in "()":
            toks.append((c, i))
            i += 1
        elif c.isspace():
            i += 1
        elif c in NAME_CHARS:
            j = i
            while j < len(q) and q[j] in NAME_CHARS:
                j += 1
            word = q[i:j]
            kind = word.upper() if word.upper() in ("AND", "OR") else "NAME"
            toks.append((kind, i, word))
            i = j
        else:
            raise QueryError(i)
    return toks


def evaluate(q, granted):
    """Parses and evaluates q; returns bool or raises QueryError(position)."""
    if len(q) > 1000:
        raise QueryError(1000)
    toks = tokenize(q)
    if not toks:
        raise QueryError(len(q))
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else ("END", len(q))

    def chain(op, operand, depth):
        """operand (op operand)*, left to right; every operand is parsed (no short cut)."""
        v = operand(depth)
        while peek()[0] == op:
            pos[0] += 1
            w = operand(depth)
            v = (v or w) if op == "OR" else (v and w)
        return v

    def expr(depth):
        return chain("OR", term, depth)

    def term(depth):
        return chain("AND", primary, depth)

    def primary(depth):
        t = peek()
        if t[0] == "NAME":
            pos[0] += 1
            return t[2] in granted
        if t[0] == "(":
            if depth >= 64:
                raise QueryError(t[1])
            pos[0] += 1
            v = expr(depth + 1)
            if peek()[0] != ")":
                raise QueryError(peek()[1])
            pos[0] += 1
            return v
        raise QueryError(t[1])

    v = expr(0)
    if pos[0] < len(toks):
        raise QueryError(peek()[1])
    return v


def query_cases():
    cases = []
    ok = [
        ("single_granted", "a", ["a"]),
        ("single_missing", "a", ["b"]),
        ("single_nothing_granted", "docs.read", []),
        ("and_both", "a AND b", ["a", "b"]),
        ("and_one", "a AND b", ["a"]),
        ("or_one", "a OR b", ["b"]),
        ("or_none", "a OR b", ["c"]),
        ("precedence_and_first_1", "a OR b AND c", ["a"]),
        ("precedence_and_first_2", "a OR b AND c", ["b"]),
        ("precedence_and_first_3", "a OR b AND c", ["b", "c"]),
        ("precedence_and_first_4", "a AND b OR c", ["c"]),
        ("precedence_and_first_5", "a AND b OR c", ["a"]),
        ("parens_override_1", "(a OR b) AND c", ["a"]),
        ("parens_override_2", "(a OR b) AND c", ["b", "c"]),
        ("parens_override_3", "a AND (b OR c)", ["a", "c"]),
        ("nested_1", "((a OR b) AND (c OR d)) OR e", ["b", "d"]),
        ("nested_2", "((a OR b) AND (c OR d)) OR e", ["a", "b"]),
        ("nested_3", "((a OR b) AND (c OR d)) OR e", ["e"]),
        ("nested_deep", "(((((a)))))", ["a"]),
        ("nested_and_or_mix", "a AND (b OR (c AND (d OR e)))", ["a", "c", "e"]),
        ("nested_and_or_mix_false", "a AND (b OR (c AND (d OR e)))", ["a", "c"]),
        ("lowercase_operators", "a and b or c", ["c"]),
        ("mixed_case_operators", "a AnD b oR c", ["a", "b"]),
        ("operator_word_prefix_is_name", "android OR oracle", ["oracle"]),
        ("operator_word_suffix_is_name", "brand", ["brand"]),
        ("star_is_literal_not_wildcard", "docs.*", ["docs.read"]),
        ("star_literal_granted", "docs.*", ["docs.*"]),
        ("bare_star", "*", ["*"]),
        ("bare_star_not_granted", "*", ["a", "b"]),
        ("names_case_sensitive", "Docs.Read", ["docs.read"]),
        ("name_alphabet", "api:v1/keys-read_all.x", ["api:v1/keys-read_all.x"]),
        ("dotted_names", "documents.read AND users.view", ["documents.read", "users.view"]),
        ("whitespace_variety", "\ta\nAND  b\r\n", ["a", "b"]),
        ("no_space_around_parens", "(a)AND(b)", ["a", "b"]),
        ("long_chain_and", " AND ".join(f"p{i}" for i in range(50)), [f"p{i}" for i in range(50)]),
        ("long_chain_or", " OR ".join(f"p{i}" for i in range(50)), ["p49"]),
        ("same_name_twice", "a AND a", ["a"]),
        ("exactly_1000_chars", "a" * 1000, ["a" * 1000]),
        ("depth_64", "(" * 64 + "a" + ")" * 64, ["a"]),
    ]
    for name, q, granted in ok:
        cases.append({"name": name, "query": q, "granted": granted,
                      "expected": evaluate(q, set(granted))})
    bad = [
        ("error_empty", ""),
        ("error_whitespace_only", "   "),
        ("error_trailing_and", "a AND"),
        ("error_leading_and", "AND a"),
        ("error_leading_or", "or a"),
        ("error_double_operator", "a AND OR b"),
        ("error_adjacent_names", "a b"),
        ("error_unclosed_paren", "(a AND b"),
        ("error_unclosed_nested", "a AND (b OR (c)"),
        ("error_extra_close", "a AND b)"),
        ("error_empty_parens", "()"),
        ("error_close_first", ")a"),
        ("error_invalid_bang", "a !b"),
        ("error_ampersand_operator", "a && b"),
        ("error_pipe_operator", "a || b"),
        ("error_comma", "a,b"),
        ("error_unicode_name", "clé.read"),
        ("error_emoji", "a AND 🔑"),
        ("error_operator_glued_is_name", "a ORb"),
        ("error_too_long", "a" * 1001),
        ("error_too_deep", "(" * 65 + "a" + ")" * 65),
        ("error_quote", "\"a\""),
    ]
    for name, q in bad:
        try:
            evaluate(q, set())
        except QueryError as e:
            cases.append({"name": name, "query": q, "granted": [], "error": "invalid_input",
                          "position": e.position})
        else:
            raise AssertionError(f"{name} should fail")
    return cases


def main():
    parser = argparse.ArgumentParser(description="Generates tests/vectors/*.json.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; fail with a diff if a committed file differs")
    args = parser.parse_args()
    total = 0
    total += write(
        "hashing.json",
        "hash_key(key, variant) for sha256_base64 / sha256_hex (SHA-256 of the exact UTF-8 "
        "bytes, no trimming), rejection of empty/whitespace-only keys, and KeyHash::parse "
        "shape checks. Computed with Python hashlib + base64.",
        hashing_cases())
    total += write(
        "bcrypt.json",
        "verify_bcrypt(key, hash): $2a$/$2b$/$2y$ hashes made with Python's bcrypt package "
        "(fixed salts), wrong keys, the 72-byte truncation, and malformed hashes "
        "(invalid_input on field hash).",
        bcrypt_cases())
    total += write(
        "keyformat.json",
        "Key format: checksum (CRC32 as 6 base62 digits), looks_like_key (valid keys, one-char "
        "typos, bad prefixes and lengths), mask_key / key_start / key_prefix, generate_key "
        "argument errors. Computed with Python zlib.crc32 and a hand-written base58.",
        keyformat_cases())
    total += write(
        "scopes.json",
        "Scope expansion (scopes_to_permissions), folding (permissions_to_scopes) and the CLI "
        "form REPRESENTATION:ACTIONS (Scope::parse_cli).",
        scopes_cases())
    total += write(
        "permission_queries.json",
        "parse_permission_query + evaluate against granted permissions: expected true/false, "
        "or an invalid_input error at a 0-based character position. Computed with an "
        "independent Python parser.",
        query_cases())
    print(f"total: {total} cases")
    if args.check:
        return check_files()
    for name, text in OUTPUT.items():
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
