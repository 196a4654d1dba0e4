"""Fixtures for the browser tests: headless chromium, smarts3, and a page served from another origin."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smarts3.testing import running_server
from smarts3.testing.server import RunningServer, free_port

from browserkit import Chromium, WebDriverError, find_browser

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>smarts3 browser test</title></head>
<body><h1>A page on another origin</h1></body></html>"""
DONE = b"""<!doctype html><html><head><meta charset="utf-8"><title>uploaded</title></head>
<body><p id="done">upload finished</p></body></html>"""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = DONE if self.path.startswith("/done") else PAGE
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """``http://127.0.0.1:<port>``: a tiny static site, a different origin from smarts3."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def s3() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    """A headless chromium. A browser that cannot be installed or started fails the tests (never skips)."""
    try:
        chromium, driver = find_browser()
        session = Chromium(chromium, driver, free_port())
    except WebDriverError as error:
        pytest.fail(f"headless chromium unavailable: {error}")
    try:
        yield session
    finally:
        session.quit()
