"""Shared by the Python tests (tests/python, tests/compat/python and bindings-python/tests): where
the built `keyshift` binary is, and a real `keyshift serve` on a free loopback port."""

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def keyshift_bin() -> str:
    path = os.environ.get("KEYSHIFT_BIN") or str(REPO / "target" / "debug" / "keyshift")
    if not Path(path).is_file():
        pytest.fail(f"keyshift binary not found at {path}: run `cargo build -p keyshift-cli` "
                    "or set KEYSHIFT_BIN")
    return path


class Serve:
    """`keyshift serve --json` on a free loopback port with its database in `tmp`; no KEYSHIFT_ or
    UNKEY_ setting of this environment reaches it. Its stderr is kept in `stderr_lines`."""

    def __init__(self, tmp: Path, announce_within: float = 30) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSHIFT_", "UNKEY_"))}
        self.proc = subprocess.Popen(
            [keyshift_bin(), "serve", "--db", str(tmp / "keyshift.db"),
             "--listen", "127.0.0.1:0", "--json"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env)
        self.stderr_lines: list[str] = []
        stderr, stdout = self.proc.stderr, self.proc.stdout
        assert stderr is not None and stdout is not None
        threading.Thread(target=lambda: self.stderr_lines.extend(stderr), daemon=True).start()
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=announce_within)
        if not line or not line[0].strip():
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"keyshift serve did not announce itself within {announce_within} s; "
                        "stderr:\n" + "".join(self.stderr_lines))
        announce = json.loads(line[0])
        self.base_url: str = announce["baseUrl"]
        self.root_key: str = announce["rootKey"]
        assert self.base_url.startswith("http://127.0.0.1:"), self.base_url

    def stop(self) -> int:
        """SIGTERM (unless it has already exited) and its exit code; killed, and the timeout
        raised, when it has not exited within 20 s."""
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
