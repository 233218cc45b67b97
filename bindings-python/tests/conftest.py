"""Fixtures: a real `keyshift serve` (the CLI built from this workspace) on a free loopback port
with a temporary database, for the whole session; every client test runs twice, against it over
HTTP and against `Client.local` (the in-process engine on its own SQLite file)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import keyshift

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"
sys.path.insert(0, str(REPO / "tests" / "python"))
from keyshift_testbin import Serve  # noqa: E402  (shared with tests/python, tests/compat)


class Server(Serve):
    """The session's `keyshift serve` (see keyshift_testbin.Serve)."""


def start_server(tmp: Path) -> Server:
    return Server(tmp)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("keyshift-python"))
    yield srv
    assert srv.stop() == 0, "keyshift serve did not exit cleanly on SIGTERM"


@pytest.fixture(scope="session", params=["http", "local"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def local_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keyshift-local") / "local.db"


@pytest.fixture(scope="session")
def client(kind: str, server: Server, local_db: Path) -> Iterator[keyshift.Client]:
    c = (keyshift.Client(server.base_url, server.root_key) if kind == "http"
         else keyshift.Client.local(local_db))
    with c:
        yield c


@pytest.fixture(scope="session")
def aclient(kind: str, server: Server, local_db: Path) -> keyshift.AsyncClient:
    return (keyshift.AsyncClient(server.base_url, server.root_key) if kind == "http"
            else keyshift.AsyncClient.local(local_db))


@pytest.fixture(scope="session")
def api_id(client: keyshift.Client) -> str:
    return client.create_api("python-tests").api_id


def load_vectors(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text("utf-8"))["cases"]
    return cases
