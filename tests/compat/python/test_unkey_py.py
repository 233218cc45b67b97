"""The official Unkey Python SDK (unkey.py, v2 API), unchanged, against `keyshift serve`.

Issue 4: "an official Unkey client pointed at this server must work unchanged". Every call goes
through the SDK (its request serialisation and pydantic response models) over loopback HTTP.
"""

import base64
import hashlib
import secrets
import time

import pytest
from unkey.py import Unkey, errors


def sha256_base64(key: str) -> str:
    return base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()


def verify(unkey, key, **kw):
    return unkey.keys.verify_key(key=key, **kw).data


def test_create_api_and_get_api(unkey):
    created = unkey.apis.create_api(name="compat-python-get")
    assert created.meta.request_id.startswith("req_")
    assert created.data.api_id.startswith("api_")
    got = unkey.apis.get_api(api_id=created.data.api_id).data
    assert got.id == created.data.api_id
    assert got.name == "compat-python-get"


def test_create_key_with_options_then_verify_valid(unkey, api_id):
    expires = int(time.time() * 1000) + 3_600_000
    created = unkey.keys.create_key(
        api_id=api_id,
        prefix="sk_py",
        name="python full",
        external_id="py_user",
        meta={"plan": "pro", "n": 2},
        permissions=["documents.read", "documents.write"],
        expires=expires,
        credits={"remaining": 5},
        ratelimits=[{"name": "requests", "limit": 10, "duration": 60_000, "auto_apply": True}],
    ).data
    assert created.key_id.startswith("key_")
    assert created.key.startswith("sk_py_")

    v = verify(unkey, created.key, permissions="documents.read AND documents.write")
    assert v.valid is True
    assert v.code == "VALID"
    assert v.key_id == created.key_id
    assert v.name == "python full"
    assert v.meta == {"plan": "pro", "n": 2}
    assert v.expires == expires
    assert v.credits == 4
    assert v.enabled is True
    assert sorted(v.permissions) == ["documents.read", "documents.write"]
    assert v.identity.external_id == "py_user"
    (rl,) = [r for r in v.ratelimits if r.name == "requests"]
    assert (rl.exceeded, rl.limit, rl.remaining) == (False, 10, 9)

    got = unkey.keys.get_key(key_id=created.key_id).data
    assert got.key_id == created.key_id
    assert created.key.startswith(got.start)
    assert got.name == "python full"
    assert got.credits.remaining == 4
    assert got.identity.external_id == "py_user"
    assert sorted(got.permissions) == ["documents.read", "documents.write"]
    assert got.ratelimits[0].duration == 60_000
    assert isinstance(got.created_at, int)


def test_verify_insufficient_permissions(unkey, api_id):
    key = unkey.keys.create_key(api_id=api_id, permissions=["a", "c"]).data.key
    denied = verify(unkey, key, permissions="b")
    assert (denied.valid, denied.code) == (False, "INSUFFICIENT_PERMISSIONS")
    assert verify(unkey, key, permissions="b OR a AND c").code == "VALID"
    assert verify(unkey, key, permissions="(b OR c) AND d").code == "INSUFFICIENT_PERMISSIONS"


def test_verify_usage_exceeded(unkey, api_id):
    key = unkey.keys.create_key(api_id=api_id, credits={"remaining": 1}).data.key
    assert verify(unkey, key).credits == 0
    out = verify(unkey, key)
    assert (out.valid, out.code) == (False, "USAGE_EXCEEDED")


def test_verify_not_found_is_an_outcome(unkey):
    out = verify(unkey, "sk_" + secrets.token_hex(20))
    assert (out.valid, out.code, out.key_id) == (False, "NOT_FOUND", None)


def test_update_key_disables(unkey, api_id):
    created = unkey.keys.create_key(api_id=api_id, name="before").data
    unkey.keys.update_key(key_id=created.key_id, enabled=False, name="after")
    out = verify(unkey, created.key)
    assert (out.valid, out.code) == (False, "DISABLED")
    got = unkey.keys.get_key(key_id=created.key_id).data
    assert (got.enabled, got.name) == (False, "after")


def test_delete_key(unkey, api_id):
    created = unkey.keys.create_key(api_id=api_id).data
    unkey.keys.delete_key(key_id=created.key_id)
    assert verify(unkey, created.key).code == "NOT_FOUND"
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.keys.get_key(key_id=created.key_id)


def test_migrate_keys_with_hashlib_hashes(unkey, api_id):
    plaintexts = [f"legacy_py_{i}_{secrets.token_hex(10)}" for i in range(20)]
    plaintexts.append("pässwörd-キー-🔑")
    keys = [{"hash": sha256_base64(p), "name": f"legacy {i}", "external_id": "py_legacy",
             "meta": {"i": i}, "permissions": ["legacy.read"]}
            for i, p in enumerate(plaintexts)]
    res = unkey.keys.migrate_keys(migration_id="compat_python", api_id=api_id, keys=keys).data
    assert res.failed == []
    assert len(res.migrated) == len(plaintexts)
    by_hash = {m.hash: m.key_id for m in res.migrated}
    for i, p in enumerate(plaintexts):
        v = verify(unkey, p, permissions="legacy.read")
        assert v.code == "VALID", (i, v.code)
        assert v.key_id == by_hash[sha256_base64(p)]
        assert v.name == f"legacy {i}"
        assert v.meta == {"i": i}
        assert v.identity.external_id == "py_legacy"

    again = unkey.keys.migrate_keys(
        migration_id="compat_python", api_id=api_id,
        keys=[{"hash": sha256_base64(plaintexts[0])}]).data
    assert again.migrated == []
    assert again.failed == [sha256_base64(plaintexts[0])]


def test_permissions_roles_and_identities(unkey, api_id):
    perm = unkey.permissions.create_permission(name="reports.read", slug="reports.read").data
    assert perm.permission_id.startswith("perm_")
    role = unkey.permissions.create_role(name="analyst", description="reads reports").data
    assert role.role_id.startswith("role_")

    ident = unkey.identities.create_identity(external_id="py_org", meta={"tier": "gold"}).data
    got = unkey.identities.get_identity(identity="py_org").data
    assert (got.id, got.external_id, got.meta) == (ident.identity_id, "py_org", {"tier": "gold"})

    created = unkey.keys.create_key(api_id=api_id, external_id="py_org").data
    added = unkey.keys.add_permissions(key_id=created.key_id, permissions=["reports.read"]).data
    assert [p.name for p in added] == ["reports.read"]
    roles = unkey.keys.set_roles(key_id=created.key_id, roles=["analyst"]).data
    assert [r.name for r in roles] == ["analyst"]
    v = verify(unkey, created.key, permissions="reports.read")
    assert v.code == "VALID"
    assert v.roles == ["analyst"]
    assert v.identity.id == ident.identity_id


def test_reroll_key(unkey, api_id):
    created = unkey.keys.create_key(api_id=api_id, permissions=["p.read"]).data
    new = unkey.keys.reroll_key(key_id=created.key_id, expiration=0).data
    assert new.key_id != created.key_id
    assert verify(unkey, new.key, permissions="p.read").code == "VALID"
    assert verify(unkey, created.key).valid is False


def test_list_keys_pagination(unkey):
    api = unkey.apis.create_api(name="compat-python-list").data.api_id
    ids = {unkey.keys.create_key(api_id=api).data.key_id for _ in range(5)}
    seen, pages = [], 0
    page = unkey.apis.list_keys(api_id=api, limit=2)
    while page is not None:
        pages += 1
        seen.extend(k.key_id for k in page.result.data)
        assert pages <= 10, "pagination does not end"
        page = page.next()
    assert pages == 3
    assert sorted(seen) == sorted(ids)


def test_unknown_root_key_is_unauthorized(server):
    with server.sdk(root_key="unkey_" + secrets.token_hex(16)) as stranger:
        with pytest.raises(errors.UnauthorizedErrorResponse) as info:
            stranger.apis.create_api(name="nope-nope")
    err = info.value
    assert err.status_code == 401
    assert err.data.error.status == 401
    assert err.data.meta.request_id.startswith("req_")


def test_get_key_unknown_is_not_found(unkey):
    with pytest.raises(errors.NotFoundErrorResponse) as info:
        unkey.keys.get_key(key_id="key_doesnotexist123")
    assert info.value.status_code == 404
    assert info.value.data.error.status == 404


def test_invalid_body_is_bad_request_with_errors(unkey, api_id):
    with pytest.raises(errors.BadRequestErrorResponse) as info:
        unkey.keys.create_key(api_id=api_id, byte_length=8)
    details = info.value.data.error
    assert details.status == 400
    assert any("byteLength" in e.location for e in details.errors), details.errors


def test_the_sdk_is_the_pinned_official_release():
    # The suite proves compatibility with one published SDK release: the one pinned in
    # tests/python/requirements.txt.
    from importlib.metadata import version
    from pathlib import Path

    requirements = Path(__file__).resolve().parents[2] / "python" / "requirements.txt"
    pinned = [line.split("==")[1].strip()
              for line in requirements.read_text().splitlines()
              if line.startswith("unkey.py==")]
    assert pinned == [version("unkey.py")]
    assert Unkey.__module__ == "unkey.py.sdk"
