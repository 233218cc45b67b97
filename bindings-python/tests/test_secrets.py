"""No plaintext key in any repr, str or exception text."""

from __future__ import annotations

import pytest

import keyshift


def test_created_key_shows_only_the_mask(client: keyshift.Client, api_id: str) -> None:
    created = client.create_api_key(api_id, prefix="sk_live")
    plain = created.key
    for text in (repr(created), str(created), str(created.to_dict()), repr(created.to_dict()),
                 repr(client), repr(client.get_key(created.key_id)),
                 repr(client.verify(plain)), str(client.verify(plain).to_dict())):
        assert plain not in text and plain[8:] not in text
    assert created.masked in repr(created) and created.masked.endswith(plain[-4:])
    rerolled = client.reroll_key(created.key_id)
    assert rerolled.key not in repr(rerolled)


def test_root_key_and_keys_never_in_errors(server: object, client: keyshift.Client) -> None:
    root = "unkey_SECRETrootSECRETroot"
    c = keyshift.Client(server.base_url, root)
    assert "SECRETroot" not in repr(c)
    with pytest.raises(keyshift.UnauthorizedError) as info:
        c.verify("sk_live_SECRETkeySECRETkey")
    text = f"{info.value} {info.value!r} {info.value.args}"
    assert "SECRETroot" not in text and "SECRETkey" not in text
    with pytest.raises(keyshift.InvalidInputError) as bad:
        client.verify("sk_live_SECRETkeySECRETkey", permissions="((")
    assert "SECRETkey" not in f"{bad.value} {bad.value!r}"
