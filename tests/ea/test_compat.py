"""mql5compat.h's own semantics (ea/harness/compat_driver.cpp): the emulation the signer and
the EA are verified with must itself follow MQL5's documented behaviour."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.ea.harness import HARNESS, build, run

DRIVER = HARNESS / "compat_driver.cpp"


def _binary() -> Path:
    compiled = build(DRIVER)
    assert compiled.binary is not None, compiled.errors
    return compiled.binary


@pytest.mark.parametrize("case", ["strings", "arrays", "clock", "webrequest-not-allowed"])
def test_documented_semantics(case: str) -> None:
    result = run(_binary(), [case], timeout=30)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    assert result.stdout.decode().endswith(f"ok {case}\n")


def test_files_stay_in_the_sandbox(tmp_path: Path) -> None:
    result = run(_binary(), ["files", str(tmp_path)], timeout=30)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    assert not (tmp_path.parent / "escape.txt").exists()


def test_an_index_out_of_range_is_a_critical_error() -> None:
    result = run(_binary(), ["out-of-range"], timeout=30)
    assert result.returncode != 0
    assert b"MQL5 CRITICAL: array out of range: index 2, size 2" in result.stderr


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"{self.path} {self.headers.get('X-Test')}".encode()
        self.send_response(200)
        self.send_header("X-Server-Time", "1795773600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_webrequest_sends_headers_and_returns_status_headers_and_body(http_url: str) -> None:
    result = run(_binary(), ["webrequest-get", http_url], timeout=30)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    lines = result.stdout.decode().split("\n")
    assert lines[0] == "status 200 body 12"
    assert "X-Server-Time: 1795773600\r\n" in result.stdout.decode()
    assert "/hello?x=1 1" in lines
