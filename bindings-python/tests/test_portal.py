"""`create_portal_session` (issue 16) against the session's real `keyshift serve`: the minted URL
points at that server, its one-time code is hidden from repr/to_dict, and it works exactly once
through `portal.exchangeCode` over HTTP (the access token it gives opens `portal.getSession` for
the right end user and scopes)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

import keyshift

from conftest import Server


def post(server: Server, op: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(f"{server.base_url}/v2/{op}", data=json.dumps(body).encode(),
                                 method="POST", headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def code_of(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["code"][0]


@pytest.fixture(scope="module")
def http_client(server: Server) -> keyshift.Client:
    return keyshift.Client(server.base_url, server.root_key)


def test_minted_url_opens_a_session_once(server: Server, http_client: keyshift.Client) -> None:
    api_id = http_client.create_api("python-portal").api_id
    session = http_client.create_portal_session(api_id, "user_py", ["keys:read", "keys:create"])
    assert isinstance(session, keyshift.PortalSession)
    assert session.id.startswith("ps_")
    assert session.url.startswith(f"{server.base_url}/portal?code=pst_")
    code = code_of(session.url)
    assert code not in repr(session) and code not in str(session.to_dict())
    assert session.id in repr(session) and session.to_dict()["id"] == session.id

    status, body = post(server, "portal.exchangeCode", {"code": code})
    assert status == 200, body
    token = body["data"]["accessToken"]
    assert token.startswith("pat_")
    status, body = post(server, "portal.getSession", {}, token)
    assert status == 200, body
    assert body["data"]["sessionId"] == session.id
    assert body["data"]["externalId"] == "user_py"
    assert sorted(body["data"]["scopes"]) == ["keys:create", "keys:read"]
    assert body["data"]["portal"]["apiId"] == api_id

    status, body = post(server, "portal.exchangeCode", {"code": code})
    assert status == 401 and body["error"]["title"] == "Unauthorized"


async def test_async_client_mints_too_and_errors_map(server: Server,
                                                     http_client: keyshift.Client) -> None:
    api_id = http_client.create_api("python-portal-async").api_id
    aclient = keyshift.AsyncClient(server.base_url, server.root_key)
    session = await aclient.create_portal_session(api_id, "user_async", ["keys:delete"],
                                                  return_url="https://app.example.com/keys")
    status, body = post(server, "portal.exchangeCode", {"code": code_of(session.url)})
    assert status == 200, body
    status, body = post(server, "portal.getSession", {}, body["data"]["accessToken"])
    assert body["data"]["externalId"] == "user_async" and body["data"]["scopes"] == ["keys:delete"]

    with pytest.raises(keyshift.KeyshiftError) as unknown:
        http_client.create_portal_session(api_id, "user_py", ["keys:everything"])
    assert unknown.value.code in ("invalid_input", "bad_request")
    assert "keys:everything" in str(unknown.value)
    with pytest.raises(keyshift.NotFoundError):
        http_client.create_portal_session("api_doesnotexist", "user_py", ["keys:read"])
