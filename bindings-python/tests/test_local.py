"""Local functions beyond the shared vectors: hash_keys over any iterable (in input order, equal
to hashlib), its errors, and the result classes of the local helpers."""

from __future__ import annotations

import base64
import hashlib

import pytest

import keyshift


def b64(k: str) -> str:
    return base64.b64encode(hashlib.sha256(k.encode()).digest()).decode()


def test_hash_keys_matches_hashlib_in_order_for_big_batches() -> None:
    keys = ["k", "é😀 ", "x" * 3000] * 1500  # above core's parallel threshold
    keys = [f"{k}{i}" for i, k in enumerate(keys)]
    assert keyshift.hash_keys(keys) == [b64(k) for k in keys]
    hexes = keyshift.hash_keys(tuple(keys[:5]), "sha256_hex")
    assert hexes == [hashlib.sha256(k.encode()).hexdigest() for k in keys[:5]]
    assert keyshift.hash_keys(k for k in ["a", "b"]) == [b64("a"), b64("b")]
    assert keyshift.hash_keys([]) == []


def test_hash_keys_errors() -> None:
    with pytest.raises(TypeError):
        keyshift.hash_keys(["a", 1])  # type: ignore[list-item]
    with pytest.raises(UnicodeEncodeError):
        keyshift.hash_keys(["\ud800"])
    with pytest.raises(keyshift.InvalidInputError) as info:
        keyshift.hash_keys(["a", "  "])
    assert info.value.field == "key" and info.value.record == 2
    with pytest.raises(keyshift.InvalidInputError) as bad:
        keyshift.hash_keys(["a"], "md5")
    assert bad.value.field == "variant"


def test_key_hash_and_scope_classes() -> None:
    h = keyshift.hash_key("sk_live_abc")
    assert h == keyshift.KeyHash.parse(h.value) and h.to_dict() == {"value": h.value,
                                                                     "variant": "sha256_base64"}
    assert h.matches("sk_live_abc") and not h.matches("sk_live_abd")
    s = keyshift.Scope("profile", read=True)
    assert {s: 1}[keyshift.Scope("profile", read=True)] == 1
    assert repr(s) == "Scope('profile', read=True, create=False, update=False, delete=False)"
    with pytest.raises(AttributeError):
        s.read = False  # type: ignore[misc]
    with pytest.raises(keyshift.InvalidInputError):
        keyshift.Scope("bad name!", read=True)
    q = keyshift.parse_permission_query("a and (b or c)")
    assert str(q) == "a AND (b OR c)" and repr(q) == "PermissionQuery('a AND (b OR c)')"
