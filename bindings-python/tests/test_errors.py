"""Each exception class, with `.code .status .request_id .field .retry_after`; a fake loopback
service answers the statuses the real server cannot be made to send on demand."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

import keyshift

from conftest import Server

CLASSES = {
    "invalid_input": keyshift.InvalidInputError, "bad_request": keyshift.BadRequestError,
    "unauthorized": keyshift.UnauthorizedError, "forbidden": keyshift.ForbiddenError,
    "not_found": keyshift.NotFoundError, "conflict": keyshift.ConflictError,
    "rate_limited": keyshift.RateLimitedError, "server_error": keyshift.ServerError,
    "network": keyshift.NetworkError, "timeout": keyshift.TimeoutError, "io": keyshift.IoError,
}


def test_hierarchy() -> None:
    for cls in CLASSES.values():
        assert issubclass(cls, keyshift.KeyshiftError) and cls.__module__ == "keyshift"
    assert issubclass(keyshift.KeyshiftError, Exception)


def test_unauthorized_from_the_real_server(server: Server) -> None:
    with keyshift.Client(server.base_url, "unkey_notarealrootkey123") as bad:
        with pytest.raises(keyshift.UnauthorizedError) as info:
            bad.create_api("nope")
    e = info.value
    assert (e.code, e.status) == ("unauthorized", 401) and e.request_id and e.request_id.startswith("req_")
    assert "notarealrootkey" not in str(e)


def test_invalid_input_names_the_field(client: keyshift.Client, api_id: str) -> None:
    with pytest.raises(keyshift.InvalidInputError) as info:
        client.create_api_key(api_id, byte_length=8)
    assert info.value.code == "invalid_input" and info.value.field == "byteLength"
    with pytest.raises(keyshift.InvalidInputError) as info:
        client.verify("some_key_value_123", permissions="a AND (b")
    assert info.value.field == "permissions" and info.value.status is None


def test_not_found_and_conflict(client: keyshift.Client, api_id: str) -> None:
    with pytest.raises(keyshift.NotFoundError) as nf:
        client.create_api_key(api_id, roles=["no-such-role-xyz"])
    assert nf.value.status == 404 or nf.value.code == "not_found"
    client.create_permission("dup.perm.once")
    with pytest.raises(keyshift.ConflictError) as cf:
        client.create_permission("dup.perm.once")
    assert cf.value.code == "conflict"


def test_network_and_io(tmp_path: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with keyshift.Client(f"http://127.0.0.1:{port}", "unkey_x", max_attempts=1) as c:
        with pytest.raises(keyshift.NetworkError) as info:
            c.get_api("api_123456")
    assert info.value.code == "network"
    with keyshift.Client.local(tmp_path / "io.db") as local:
        with pytest.raises(keyshift.IoError) as io:
            local.migrate_keys(tmp_path / "missing.jsonl", api_id="api_1234567", migration_id="m-io")
    assert io.value.code == "io"


class Fake(BaseHTTPRequestHandler):
    status = 500
    headers_out: ClassVar[dict[str, str]] = {}
    delay = 0.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if Fake.delay:
            threading.Event().wait(Fake.delay)
        body = json.dumps({"meta": {"requestId": "req_fake1"},
                           "error": {"title": "t", "detail": "fake failure", "status": Fake.status,
                                     "type": "about:blank"}}).encode()
        self.send_response(Fake.status)
        for k, v in Fake.headers_out.items():
            self.send_header(k, v)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    Fake.delay, Fake.headers_out = 0.0, {}


@pytest.mark.parametrize("status,code", [(400, "bad_request"), (403, "forbidden"),
                                         (409, "conflict"), (429, "rate_limited"),
                                         (500, "server_error")])
def test_http_statuses_map_to_classes(fake: str, status: int, code: str) -> None:
    Fake.status = status
    Fake.headers_out = {"retry-after": "7"} if status == 429 else {}
    with keyshift.Client(fake, "unkey_fake", max_attempts=1) as c:
        with pytest.raises(CLASSES[code]) as info:
            c.get_api("api_123456")
    e = info.value
    assert (e.code, e.status, e.request_id) == (code, status, "req_fake1")
    if status == 429:
        assert isinstance(e, keyshift.RateLimitedError) and e.retry_after == 7.0
    else:
        assert e.retry_after is None


async def test_timeout_async(fake: str) -> None:
    Fake.status, Fake.delay = 200, 2.0
    c = keyshift.AsyncClient(fake, "unkey_fake", timeout=0.2, max_attempts=1)
    with pytest.raises(keyshift.TimeoutError) as info:
        await c.get_api("api_123456")
    assert info.value.code == "timeout"


def test_ctrl_c_interrupts_a_blocking_call(fake: str) -> None:
    # Python's own Ctrl-C handler, as in a terminal: a shell that starts the suite in the
    # background leaves SIGINT ignored, and then Python installs no handler at all.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    Fake.status, Fake.delay = 200, 3.0
    c = keyshift.Client(fake, "unkey_fake", timeout=10.0, max_attempts=1)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            c.get_api("api_123456")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 2.0
