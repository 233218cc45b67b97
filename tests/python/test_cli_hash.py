"""Issue 3's promise: `keyshift hash` agrees with Python's
`hashlib.sha256(k.encode()).digest()` -> base64 / hex on arbitrary input, non-ASCII included.

Thousands of random keys from a fixed seed (ASCII, Latin-1, CJK, emoji, combining marks, other
planes, control characters, long strings) are piped through the real binary and compared line by
line with hashlib. Newlines are excluded: stdin mode reads one key per `\\n`-terminated line.
"""

import base64
import hashlib
import json
import random
import subprocess

import pytest
from keyshift_testbin import keyshift_bin

SEED = 20261129
COUNT = 3000


def run(args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([keyshift_bin(), *args],
                          input=None if stdin is None else stdin.encode("utf-8"),
                          stdin=subprocess.DEVNULL if stdin is None else None,
                          capture_output=True, timeout=120)


def b64(key: str) -> str:
    return base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()


def hexd(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _ranges(*pairs):
    return [chr(c) for lo, hi in pairs for c in range(lo, hi + 1)
            if not 0xD800 <= c <= 0xDFFF and c not in (0x0A, 0x0D)]


ASCII = _ranges((0x20, 0x7E))
CONTROL = _ranges((0x00, 0x1F), (0x7F, 0x9F))  # minus \n and \r
LATIN1 = _ranges((0xA0, 0xFF))
CJK = _ranges((0x4E00, 0x9FFF), (0x3040, 0x30FF), (0xAC00, 0xD7A3))
EMOJI = _ranges((0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F900, 0x1F9FF))
COMBINING = _ranges((0x0300, 0x036F), (0x20D0, 0x20FF))
SPACES = ["\u00a0", "\u2028", "\u2029", "\u3000", "\u0085", "\u200b", "\ufeff", "\t", " "]
ASTRAL = _ranges((0x10000, 0x1007F), (0x1D400, 0x1D4FF), (0x10FF00, 0x10FFFF))
ZWJ_EMOJI = ["👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "👍🏽"]


def random_key(rng: random.Random) -> str:
    kind = rng.choice(["ascii", "latin1", "cjk", "emoji", "combining", "mixed", "long",
                       "spaces", "control", "astral"])
    n = rng.randint(1, 64)
    if kind == "ascii":
        s = "".join(rng.choice(ASCII) for _ in range(n))
    elif kind == "latin1":
        s = "".join(rng.choice(LATIN1 + ASCII) for _ in range(n))
    elif kind == "cjk":
        s = "".join(rng.choice(CJK) for _ in range(n))
    elif kind == "emoji":
        s = "".join(rng.choice(EMOJI) if rng.random() < 0.8 else rng.choice(ZWJ_EMOJI)
                    for _ in range(n))
    elif kind == "combining":
        # base letters each followed by 1-4 combining marks (NFC and NFD forms hash differently)
        s = "".join(rng.choice("aeiouAEIOUnc") + "".join(rng.choice(COMBINING)
                                                       for _ in range(rng.randint(1, 4)))
                    for _ in range(n))
    elif kind == "mixed":
        pools = [ASCII, LATIN1, CJK, EMOJI, COMBINING, SPACES, ASTRAL]
        s = "".join(rng.choice(rng.choice(pools)) for _ in range(n))
    elif kind == "long":
        pools = ASCII + LATIN1 + CJK + EMOJI
        s = "".join(rng.choice(pools) for _ in range(rng.randint(1000, 20000)))
    elif kind == "spaces":
        # leading/trailing/inner whitespace is part of the key: no trimming
        s = "".join(rng.choice(SPACES) for _ in range(rng.randint(1, 4))) + \
            "".join(rng.choice(ASCII) for _ in range(n)) + \
            "".join(rng.choice(SPACES) for _ in range(rng.randint(0, 4)))
    elif kind == "control":
        s = "".join(rng.choice(CONTROL + ASCII) for _ in range(n))
    else:
        s = "".join(rng.choice(ASTRAL + ASCII) for _ in range(n))
    # A whitespace-only key is rejected by design (tested below); keep this corpus valid.
    if all(c.isspace() for c in s):
        s += rng.choice(ASCII[1:])
    return s


@pytest.fixture(scope="module")
def keys() -> list[str]:
    rng = random.Random(SEED)
    out = [random_key(rng) for _ in range(COUNT)]
    # fixed edge cases on top of the random ones
    out += ["a", "sk_live_abc", "clé", "é", "e\u0301", "キー", "🔑", "\u00ff" * 300,
            "x" * 100_000, " leading", "trailing ", "\ttab", "nul\x00inside", "\u0085x",
            "\ufeffbom", "\U0010ffff", "a" + "\u0301" * 50]
    assert len(set(out)) > COUNT * 0.95
    assert all("\n" not in k and "\r" not in k for k in out)
    return out


def _hash_stdin(keys, *flags) -> list[str]:
    proc = run(["hash", *flags, "-"], stdin="".join(k + "\n" for k in keys))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[:2000]
    assert proc.stderr == b""
    lines = proc.stdout.decode("utf-8").split("\n")
    assert lines[-1] == "", "output ends with a newline"
    return lines[:-1]


def test_stdin_sha256_base64_matches_hashlib(keys):
    got = _hash_stdin(keys)
    assert len(got) == len(keys)
    mismatches = [(i, k[:40]) for i, (k, h) in enumerate(zip(keys, got)) if h != b64(k)]
    assert mismatches == []


def test_default_variant_is_sha256_base64(keys):
    assert _hash_stdin(keys[:50], "--variant", "sha256_base64") == _hash_stdin(keys[:50])


def test_stdin_sha256_hex_matches_hashlib(keys):
    got = _hash_stdin(keys, "--variant", "sha256_hex")
    assert len(got) == len(keys)
    mismatches = [(i, k[:40]) for i, (k, h) in enumerate(zip(keys, got)) if h != hexd(k)]
    assert mismatches == []
    assert all(h == h.lower() and len(h) == 64 for h in got)


def test_stdin_json_output(keys):
    sample = keys[:400]
    for flags, variant, expect in [((), "sha256_base64", b64),
                                   (("--variant", "sha256_hex"), "sha256_hex", hexd)]:
        lines = _hash_stdin(sample, "--json", *flags)
        assert len(lines) == len(sample)
        for key, line in zip(sample, lines):
            obj = json.loads(line)
            assert obj == {"hash": expect(key), "variant": variant}


@pytest.mark.parametrize("key", ["sk_live_abc", "clé-ünïcødé", "キー🔑", "e\u0301\u0302",
                                 " spaced key ", "👨‍👩‍👧‍👦", "\u00a0nbsp"])
def test_key_passed_as_argument(key):
    for flags, expect in [((), b64), (("--variant", "sha256_hex"), hexd)]:
        proc = run(["hash", *flags, key])
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.decode("utf-8") == expect(key) + "\n"
    proc = run(["hash", "--json", key])
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"hash": b64(key), "variant": "sha256_base64"}


def test_argument_and_stdin_agree(keys):
    rng = random.Random(SEED + 1)
    sample = [k for k in rng.sample(keys, 40) if len(k) < 2000 and "\x00" not in k
              and not k.startswith("-")]
    got = _hash_stdin(sample)
    for key, h in zip(sample, got):
        proc = run(["hash", key])
        assert proc.returncode == 0
        assert proc.stdout.decode("utf-8").rstrip("\n") == h


@pytest.mark.parametrize("bad", ["", " ", "   ", "\t", "\u3000", " \u00a0\t\u2028"])
def test_empty_or_whitespace_argument_exits_2(bad):
    proc = run(["hash", bad])
    assert proc.returncode == 2
    assert proc.stdout == b""
    err = proc.stderr.decode("utf-8")
    assert "key" in err and ("empty" in err or "whitespace" in err), err


def test_whitespace_line_on_stdin_exits_2_without_echoing_keys():
    secret = "sk_live_" + "Zq8" * 10
    proc = run(["hash", "-"], stdin=f"{secret}\n   \n")
    assert proc.returncode == 2
    err = proc.stderr.decode("utf-8")
    assert "line 2" in err and "whitespace" in err, err
    assert secret not in err
    assert secret not in proc.stdout.decode("utf-8")

    proc = run(["hash", "--json", "-"], stdin=f"{secret}\n\n")
    assert proc.returncode == 2
    assert secret not in proc.stderr.decode("utf-8")
    assert "empty" in proc.stderr.decode("utf-8")
