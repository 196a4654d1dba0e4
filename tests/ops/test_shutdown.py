"""Graceful shutdown of a real `smarts3 serve` process on SIGTERM and SIGINT.

In flight when the signal arrives: a PUT whose body trickles in over about a second, and a GET whose client
reads slowly. Both must complete; new connections must be refused; the process exits 0 within the grace
period. An upload still running at the deadline is cut off and leaves nothing visible, not even after the
next start.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import time
from pathlib import Path

import pytest

from opskit import (
    ServerProcess,
    connect,
    object_files,
    read_response,
    request_head,
    simple_request,
    start_server,
)

GRACE = 3.0
SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]


def _wait_refused(port: int, within: float = 2.0) -> bool:
    """True once a new connection to ``port`` is refused (the listener is closed)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


def _temp_files(server: ServerProcess) -> list[Path]:
    tmp = server.data_dir / ".smarts3" / "tmp"
    return sorted(p for p in tmp.rglob("*") if p.is_file()) if tmp.exists() else []


@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_lets_in_flight_upload_and_download_finish_refuses_new_connections_and_exits_0(
    tmp_path: Path, signum: int
) -> None:
    server = start_server(tmp_path, "--shutdown-grace", str(GRACE))
    try:
        assert simple_request(server.port, "PUT", "/bkt").status == 200
        big = bytes(range(256)) * (8 * 1024 * 1024 // 256)  # 8 MiB: more than loopback buffers hold
        assert simple_request(server.port, "PUT", "/bkt/big", big).status == 200

        # a download whose client reads slowly: small receive buffer, only a little read before the signal
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        reader.settimeout(10)
        reader.connect(("127.0.0.1", server.port))
        reader.sendall(request_head("GET", "/bkt/big", {"Connection": "keep-alive"}))
        first = reader.recv(16 * 1024)
        assert first.startswith(b"HTTP/1.1 200")

        # an upload whose body trickles in: 10 pieces over about a second
        body = bytes(range(256)) * 400  # 100 KiB
        pieces = [body[i : i + len(body) // 10] for i in range(0, len(body), len(body) // 10)]
        writer = connect(server.port)
        writer.sendall(request_head("PUT", "/bkt/slow", {"Content-Length": str(len(body))}) + pieces[0])
        time.sleep(0.2)

        signalled = time.monotonic()
        server.signal(signum)
        assert _wait_refused(server.port), "new connections are still accepted after the signal"
        assert server.proc.poll() is None, "the server exited with requests in flight"

        for piece in pieces[1:]:
            writer.sendall(piece)
            time.sleep(0.1)
        put = read_response(writer)
        writer.close()
        assert put.status == 200, put.body
        assert put.headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
        assert put.headers.get("connection") == "close"  # no further requests on this connection

        received = first
        while True:
            chunk = reader.recv(256 * 1024)
            if not chunk:
                break
            received += chunk
        reader.close()
        assert received.endswith(big) and len(received.partition(b"\r\n\r\n")[2]) == len(big)

        assert server.wait(timeout=GRACE + 5) == 0
        assert time.monotonic() - signalled < GRACE + 1.0
    finally:
        server.stop()
    # the upload is stored: objects are plain files under the data directory
    assert (server.data_dir / "bkt" / "slow").read_bytes() == body
    assert _temp_files(server) == []


@pytest.mark.parametrize("signum", SIGNALS)
def test_upload_still_running_at_the_grace_deadline_is_cut_off_and_leaves_nothing(
    tmp_path: Path, signum: int
) -> None:
    grace = 1.0
    server = start_server(tmp_path, "--shutdown-grace", str(grace))
    try:
        assert simple_request(server.port, "PUT", "/bkt").status == 200
        declared = 4 * 1024 * 1024
        writer = connect(server.port)
        writer.sendall(request_head("PUT", "/bkt/cut", {"Content-Length": str(declared)}))
        writer.sendall(b"c" * (2 * 1024 * 1024))  # more than one write batch: a temp file exists
        deadline = time.monotonic() + 5
        while not _temp_files(server) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _temp_files(server), "the upload never reached the disk"

        signalled = time.monotonic()
        server.signal(signum)
        # the client stays silent: the upload cannot finish before the deadline
        assert server.wait(timeout=grace + 5) == 0
        assert time.monotonic() - signalled < grace + 2.0
        try:
            writer.settimeout(2)
            answer = writer.recv(65536)
        except OSError:
            answer = b""
        writer.close()
        assert not answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        server.stop()
    assert not (server.data_dir / "bkt" / "cut").exists()

    restarted = start_server(tmp_path, name="restarted")
    try:
        assert simple_request(restarted.port, "GET", "/bkt/cut").error_code == "NoSuchKey"
        listing = simple_request(restarted.port, "GET", "/bkt")
        assert listing.status == 200 and b"<Key>" not in listing.body
        assert _temp_files(restarted) == []
        assert [p for p in object_files(restarted.data_dir) if "cut" in p.name] == []
    finally:
        assert restarted.stop() == 0
