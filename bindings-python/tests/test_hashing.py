"""hash_keys and hash_keys_packed against hashlib on thousands of random keys (ASCII, non-ASCII,
long multi-block ones), and the packed form's edge cases as typed errors."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest

import keyshift

ALPHABET = "abcXYZ019_-é日本🔑ß \t"


def b64(k: str) -> str:
    return base64.b64encode(hashlib.sha256(k.encode()).digest()).decode()


def random_keys(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    keys = ["k" * length for length in range(1, 200)]  # every tail length, up to 4 blocks
    while len(keys) < n:
        keys.append("x" + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 90))))
    return keys[:n]


def split(out: bytes, width: int) -> list[str]:
    assert len(out) % width == 0
    return [out[i:i + width].decode("ascii") for i in range(0, len(out), width)]


@pytest.mark.parametrize("n", [1, 150, 6000])
def test_list_and_packed_forms_equal_hashlib(n: int) -> None:
    keys = random_keys(n, seed=n)
    want_b64 = [b64(k) for k in keys]
    want_hex = [hashlib.sha256(k.encode()).hexdigest() for k in keys]
    assert keyshift.hash_keys(keys) == want_b64
    assert keyshift.hash_keys(tuple(keys), "sha256_hex") == want_hex
    joined = "\n".join(keys)
    assert split(keyshift.hash_keys_packed(joined.encode(), count=n), 44) == want_b64
    assert split(keyshift.hash_keys_packed(joined), 44) == want_b64  # str read in place
    assert split(keyshift.hash_keys_packed(joined + "\n", variant="sha256_hex"), 64) == want_hex
    other_sep = "\x00".join(keys).encode()
    assert split(keyshift.hash_keys_packed(other_sep, sep=b"\x00", count=n), 44) == want_b64


def test_packed_edge_cases() -> None:
    assert keyshift.hash_keys_packed(b"") == b""
    assert keyshift.hash_keys_packed(b"abc\n") == b64("abc").encode()
    cases = [(b"a\n\nb", 2), (b"\n", 1), (b"a\n \t\n", 2), ("a\nb\n\u3000".encode(), 3),
             (b"ok\n\xff\xfe", 2)]
    for data, record in cases:
        with pytest.raises(keyshift.InvalidInputError) as info:
            keyshift.hash_keys_packed(data)
        assert (info.value.code, info.value.field, info.value.record) == (
            "invalid_input", "key", record), data
    with pytest.raises(keyshift.InvalidInputError, match="UTF-8"):
        keyshift.hash_keys_packed(b"ok\n\xff")
    # A key holding the separator: with the count, a clear error instead of two hashes.
    with pytest.raises(keyshift.InvalidInputError, match="found 3 keys where 2") as sep_inside:
        keyshift.hash_keys_packed(b"sk_a\nsk_b\nc", count=2)
    assert sep_inside.value.field == "keys"
    for sep in (b"", b"ab", b"\xc3"):
        with pytest.raises(keyshift.InvalidInputError) as bad_sep:
            keyshift.hash_keys_packed(b"a", sep=sep)
        assert bad_sep.value.field == "sep"
    with pytest.raises(keyshift.InvalidInputError) as bcrypt:
        keyshift.hash_keys_packed(b"a", variant="bcrypt")
    assert bcrypt.value.field == "variant"
    with pytest.raises(TypeError, match="bytes or str"):
        keyshift.hash_keys_packed(["a"])  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        keyshift.hash_keys_packed("a\n\ud800")


def test_list_form_errors_name_the_first_bad_key() -> None:
    keys = random_keys(5000, seed=7)
    keys[4321], keys[4800] = "", " "
    with pytest.raises(keyshift.InvalidInputError) as info:
        keyshift.hash_keys(keys)
    assert (info.value.field, info.value.record) == ("key", 4322)
    assert keyshift.hash_keys(["é"], "bcrypt")[0].startswith("$2b$10$")


def test_list_form_strings_are_ordinary_and_nothing_leaks() -> None:
    """hash_keys reads keys in place and writes each hash into a new str through the C API:
    the answers must be ordinary ASCII str objects owned only by the list, input strings must
    get back their reference counts, and the answer must not depend on later changes."""
    import sys

    rng = random.Random(11)
    keys = ["sk_" + "".join(rng.choice("abcXYZ019") for _ in range(45)) for _ in range(3000)]
    keys += ["é" * 30, "日本🔑", "x" * 500, "k"]  # non-ASCII, multi-block, one-character
    refs = [sys.getrefcount(k) for k in keys[:5]]
    out = keyshift.hash_keys(keys)
    assert [sys.getrefcount(k) for k in keys[:5]] == refs  # no reference kept or lost
    for bad in (None, "\ud800", " "):  # a call that fails late gives back what it took
        with pytest.raises((TypeError, UnicodeEncodeError, keyshift.InvalidInputError)):
            keyshift.hash_keys([*keys[:2999], bad, *keys[2999:]])
        assert [sys.getrefcount(k) for k in keys[:5]] == refs
    assert out == [b64(k) for k in keys]
    for i in (0, 1, 2, -4, -3, -2, -1):
        h = out[i]
        assert type(h) is str and len(h) == 44 and h.isascii() and h.isprintable()
        assert sys.getrefcount(h) <= 3  # the list, `h`, getrefcount's argument: no leak
        assert h == str(h.encode("ascii"), "ascii") and hash(h) == hash(h[:22] + h[22:])
    assert {h: i for i, h in enumerate(out)}[out[7]] == 7
    assert keyshift.hash_keys([]) == [] and keyshift.hash_keys(keys[-1:]) == [b64("k")]
    assert keyshift.hash_keys(keys[:1], "sha256_hex") == [
        hashlib.sha256(keys[0].encode()).hexdigest()]
    class Key(str):  # a str subclass, from a generator: read like a plain str
        pass

    assert keyshift.hash_keys(Key(k) for k in keys[:3]) == out[:3]
    first = b64(keys[0])
    keys.clear()  # the answer is the caller's own list, independent of the input
    assert len(out) == 3004 and out[0] == first


def test_list_form_answer_is_gc_tracked_while_other_threads_run() -> None:
    """Large batches build the answer while other threads may run (the GIL is released while
    hashing): the answer comes back as an ordinary, GC-tracked list, and a thread walking the
    GC's objects meanwhile never sees a half-filled list."""
    import gc
    import threading

    keys = [f"sk_{i:045d}" for i in range(20000)]
    stop = threading.Event()
    seen_none: list[bool] = []

    def walk() -> None:
        while not stop.is_set():
            for obj in gc.get_objects():
                if type(obj) is list and len(obj) == len(keys):
                    seen_none.append(any(x is None for x in obj))

    walker = threading.Thread(target=walk)
    walker.start()
    try:
        for _ in range(5):
            out = keyshift.hash_keys(keys)
            assert gc.is_tracked(out) and out[-1] == b64(keys[-1])
    finally:
        stop.set()
        walker.join()
    assert not any(seen_none)
