"""Every case of every shared vector file in tests/vectors/, through the binding's functions."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest

import keyshift

from conftest import VECTORS, load_vectors


def expect(case: dict[str, Any], call: Callable[[], Any], field: str = "field") -> Any:
    if "error" in case:
        with pytest.raises(keyshift.KeyshiftError) as info:
            call()
        assert info.value.code == case["error"], case["name"]
        assert isinstance(info.value, keyshift.InvalidInputError), case["name"]
        if field == "position":
            m = re.search(r"at position (\d+)", str(info.value))
            assert m and int(m.group(1)) == case["position"], (case["name"], str(info.value))
        else:
            assert info.value.field == case["field"], case["name"]
        return None
    return call()


def scope_dict(s: keyshift.Scope) -> dict[str, Any]:
    return s.to_dict()


def scope_of(d: dict[str, Any]) -> keyshift.Scope:
    return keyshift.Scope(d["representation"], read=d.get("read", False),
                          create=d.get("create", False), update=d.get("update", False),
                          delete=d.get("delete", False))


def ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


def test_every_vector_file_is_covered() -> None:
    files = {p.name for p in VECTORS.glob("*.json")}
    assert files == {"hashing.json", "bcrypt.json", "keyformat.json", "scopes.json",
                     "permission_queries.json"}


HASHING = load_vectors("hashing.json")


@pytest.mark.parametrize("case", HASHING, ids=ids(HASHING))
def test_hashing(case: dict[str, Any]) -> None:
    if case["kind"] == "hash":
        got = expect(case, lambda: keyshift.hash_key(case["key"], case["variant"]))
        if got is not None:
            if case["variant"] == "bcrypt":
                assert got.matches(case["key"]), case["name"]
            else:
                assert got.value == case["expected"], case["name"]
                assert got.variant == case["variant"]
                assert keyshift.hash_keys([case["key"]], case["variant"]) == [case["expected"]]
    else:
        got = expect(case, lambda: keyshift.KeyHash.parse(case["value"], case["variant"]))
        if got is not None:
            assert got.value == case["expected"], case["name"]


BCRYPT = load_vectors("bcrypt.json")


@pytest.mark.parametrize("case", BCRYPT, ids=ids(BCRYPT))
def test_bcrypt(case: dict[str, Any]) -> None:
    got = expect(case, lambda: keyshift.verify_bcrypt(case["key"], case["hash"]))
    if "expected" in case:
        assert got is case["expected"], case["name"]


KEYFORMAT = load_vectors("keyformat.json")


@pytest.mark.parametrize("case", KEYFORMAT, ids=ids(KEYFORMAT))
def test_keyformat(case: dict[str, Any]) -> None:
    kind = case["kind"]
    if kind == "checksum":
        assert keyshift.checksum(case["body"]) == case["expected"], case["name"]
    elif kind == "looks_like_key":
        assert keyshift.looks_like_key(case["key"]) is case["expected"], case["name"]
    elif kind == "mask":
        assert keyshift.mask_key(case["key"]) == case["expected"], case["name"]
    elif kind == "key_start":
        assert keyshift.key_start(case["key"]) == case["expected"], case["name"]
    elif kind == "key_prefix":
        assert keyshift.key_prefix(case["key"]) == case["expected"], case["name"]
    elif kind == "generate":
        key = expect(case, lambda: keyshift.generate_key(case["prefix"], case["byte_length"]))
        if key is not None:
            assert keyshift.looks_like_key(key), case["name"]
            assert keyshift.key_prefix(key) == case["prefix"], case["name"]
    else:
        pytest.fail(f"unknown kind {kind} in {case['name']}")


SCOPES = load_vectors("scopes.json")


@pytest.mark.parametrize("case", SCOPES, ids=ids(SCOPES))
def test_scopes(case: dict[str, Any]) -> None:
    kind = case["kind"]
    if kind == "expand":
        scopes = [scope_of(s) for s in case["scopes"]]
        assert keyshift.scopes_to_permissions(scopes) == case["expected"], case["name"]
    elif kind == "fold":
        got = [scope_dict(s) for s in keyshift.permissions_to_scopes(case["permissions"])]
        assert got == case["expected"], case["name"]
    elif kind == "parse_cli":
        got = expect(case, lambda: keyshift.Scope.parse(case["input"]))
        if got is not None:
            assert scope_dict(got) == case["expected"], case["name"]
    else:
        pytest.fail(f"unknown kind {kind} in {case['name']}")


QUERIES = load_vectors("permission_queries.json")


@pytest.mark.parametrize("case", QUERIES, ids=ids(QUERIES))
def test_permission_queries(case: dict[str, Any]) -> None:
    q = expect(case, lambda: keyshift.parse_permission_query(case["query"]), field="position")
    if q is not None:
        assert q.evaluate(case["granted"]) is case["expected"], case["name"]
        # The canonical form parses to the same query.
        assert keyshift.parse_permission_query(str(q)) == q
