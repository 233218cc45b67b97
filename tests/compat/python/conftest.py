"""Fixtures: a real `keyshift serve` on a free loopback port with a temporary database, and the
official Unkey Python SDK (unkey.py) pointed at it, unchanged (only server_url and root_key)."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from unkey.py import Unkey

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "python"))
from keyshift_testbin import keyshift_bin  # noqa: E402  (shared with tests/python)


class Server:
    def __init__(self, proc, base_url, root_key, stderr_lines):
        self.proc = proc
        self.base_url = base_url
        self.root_key = root_key
        self.stderr_lines = stderr_lines

    def sdk(self, root_key=None) -> Unkey:
        return Unkey(server_url=self.base_url, root_key=root_key or self.root_key)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def start_server(tmp_path: Path) -> Server:
    env = dict(os.environ)
    env.pop("KEYSHIFT_ROOT_KEY", None)
    proc = subprocess.Popen(
        [keyshift_bin(), "serve", "--db", str(tmp_path / "keyshift.db"),
         "--listen", "127.0.0.1:0", "--json"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)
    stderr_lines: list[str] = []
    threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True).start()

    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=20)
    if not line or not line[0].strip():
        proc.kill()
        proc.wait()
        pytest.fail("keyshift serve did not announce itself within 20 s; stderr:\n"
                    + "".join(stderr_lines))
    announce = json.loads(line[0])
    base_url, root_key = announce["baseUrl"], announce["rootKey"]
    assert base_url.startswith("http://127.0.0.1:"), base_url
    return Server(proc, base_url, root_key, stderr_lines)


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
