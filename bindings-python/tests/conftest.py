"""Fixtures: a real `keyshift serve` (the CLI built from this workspace) on a free loopback port
with a temporary database, for the whole session; every client test runs twice, against it over
HTTP and against `Client.local` (the in-process engine on its own SQLite file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import keyshift

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"
sys.path.insert(0, str(REPO / "tests" / "python"))
from keyshift_testbin import keyshift_bin  # noqa: E402  (shared with tests/python, tests/compat)


class Server:
    def __init__(self, proc: subprocess.Popen[str], base_url: str, root_key: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.root_key = root_key

    def stop(self) -> int:
        self.proc.terminate()  # SIGTERM, unless it has already exited
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def start_server(tmp: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSHIFT_", "UNKEY_"))}
    proc = subprocess.Popen(
        [keyshift_bin(), "serve", "--db", str(tmp / "keyshift.db"),
         "--listen", "127.0.0.1:0", "--json"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=30)
    if not line or not line[0].strip():
        proc.kill()
        pytest.fail("keyshift serve did not announce itself within 30 s")
    announce = json.loads(line[0])
    assert announce["baseUrl"].startswith("http://127.0.0.1:")
    return Server(proc, announce["baseUrl"], announce["rootKey"])


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
