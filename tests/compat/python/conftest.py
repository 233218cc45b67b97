"""Fixtures: a real `keyshift serve` on a free loopback port with a temporary database, and the
official Unkey Python SDK (unkey.py) pointed at it, unchanged (only server_url and root_key)."""

import sys
from pathlib import Path

import pytest
from unkey.py import Unkey

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "python"))
from keyshift_testbin import Serve  # noqa: E402  (shared with tests/python)


class Server(Serve):
    """keyshift_testbin.Serve, with the official SDK pointed at it."""

    def sdk(self, root_key=None) -> Unkey:
        return Unkey(server_url=self.base_url, root_key=root_key or self.root_key)


def start_server(tmp_path: Path) -> Server:
    return Server(tmp_path, announce_within=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("keyshift-compat-python"))
    yield srv
    code = srv.stop()
    assert code == 0, f"keyshift serve exited with {code} on SIGTERM"


@pytest.fixture(scope="module")
def unkey(server):
    with server.sdk() as client:
        yield client


@pytest.fixture(scope="module")
def api_id(unkey):
    return unkey.apis.create_api(name="compat-python").data.api_id
