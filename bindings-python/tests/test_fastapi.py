"""keyshift.fastapi.require_key through FastAPI's TestClient: valid, missing header, invalid key,
insufficient permissions, rate limited; with the blocking and the async client."""

from __future__ import annotations

from typing import Any, Union

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi import Depends, FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import keyshift  # noqa: E402
from keyshift.fastapi import require_key  # noqa: E402


def make_app(client: Union[keyshift.Client, keyshift.AsyncClient]) -> TestClient:
    app = FastAPI()

    guard = Depends(require_key(client, permissions="orders.read"))

    @app.get("/orders")
    async def orders(v: keyshift.Verification = guard) -> dict[str, Any]:
        return {"key_id": v.key_id, "code": v.code}

    return TestClient(app)


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_guard(client: keyshift.Client, aclient: keyshift.AsyncClient, api_id: str,
               flavor: str) -> None:
    http = make_app(client if flavor == "sync" else aclient)
    good = client.create_api_key(api_id, permissions=["orders.read"])
    r = http.get("/orders", headers={"Authorization": f"Bearer {good.key}"})
    assert r.status_code == 200 and r.json() == {"key_id": good.key_id, "code": "VALID"}

    r = http.get("/orders")
    assert r.status_code == 401 and r.json()["detail"]["error"]["code"] == "missing_key"
    r = http.get("/orders", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401

    r = http.get("/orders", headers={"Authorization": "Bearer sk_nope_" + "z" * 20})
    assert r.status_code == 401 and r.json()["detail"]["error"]["code"] == "NOT_FOUND"

    weak = client.create_api_key(api_id, permissions=["orders.write"])
    r = http.get("/orders", headers={"Authorization": f"Bearer {weak.key}"})
    assert r.status_code == 403
    assert r.json()["detail"]["error"]["code"] == "INSUFFICIENT_PERMISSIONS"

    limited = client.create_api_key(api_id, permissions=["orders.read"], ratelimits=[
        {"name": "req", "limit": 1, "duration": 60_000, "auto_apply": True}])
    auth = {"Authorization": f"Bearer {limited.key}"}
    assert http.get("/orders", headers=auth).status_code == 200
    r = http.get("/orders", headers=auth)
    assert r.status_code == 429 and r.json()["detail"]["error"]["code"] == "RATE_LIMITED"
    assert int(r.headers["retry-after"]) >= 1
    assert limited.key not in r.text and weak.key not in r.text
