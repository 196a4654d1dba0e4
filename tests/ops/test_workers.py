"""`smarts3 serve --workers 2` on one data directory: both workers serve and agree on every piece of state.

A keep-alive connection stays with the worker that accepted it; which worker that is, is read from /proc (the
worker that holds the server side of the socket). So a test can send one request to each worker on purpose:
create a multipart upload on one and complete it on the other, race two conditional PUTs across them.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opskit import (
    ServerProcess,
    connection_owner,
    cpu_ticks,
    pid_alive,
    process_children,
    start_server,
)

WORKER_ENV = {
    "SMARTS3_SERVER_KEEP_ALIVE_TIMEOUT": "60",  # pinned connections must outlive the test
    "SMARTS3_LIMITS_MIN_PART_SIZE": "1024",
}


class Pinned:
    """A keep-alive connection known to be served by worker ``pid``; fails rather than silently reconnect."""

    def __init__(self, conn: http.client.HTTPConnection, pid: int) -> None:
        self.conn = conn
        self.pid = pid
        assert conn.sock is not None
        self._sock = conn.sock
        self._held = b""

    def call(self, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        assert self.conn.sock is self._sock, "the worker closed a pinned connection"
        self.conn.request(method, path, body=body, headers={"Content-Length": str(len(body)), **(headers or {})})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def send_all_but_last_byte(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        """Start a request and hold back its last body byte (see :meth:`finish`)."""
        assert self.conn.sock is self._sock, "the worker closed a pinned connection"
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body[:-1])
        self._held = body[-1:]

    def finish(self) -> int:
        """Send the held-back byte and read the answer; the connection stays usable."""
        self._sock.sendall(self._held)
        response = http.client.HTTPResponse(self._sock)
        response.begin()
        response.read()
        return response.status

    def close(self) -> None:
        self.conn.close()


def worker_pids(server: ServerProcess) -> list[int]:
    deadline = time.monotonic() + 10
    while True:
        workers = [pid for pid in process_children(server.pid)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        if len(workers) == 2 or time.monotonic() > deadline:
            return workers
        time.sleep(0.05)


def pinned_pair(server: ServerProcess, workers: list[int]) -> tuple[Pinned, Pinned]:
    """One connection served by each worker (opens connections until the kernel spread them)."""
    found: dict[int, Pinned] = {}
    spare: list[http.client.HTTPConnection] = []
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/_health")
        conn.getresponse().read()
        assert conn.sock is not None
        owner = connection_owner(server.port, conn.sock.getsockname()[1], workers)
        if owner is not None and owner not in found:
            found[owner] = Pinned(conn, owner)
            if len(found) == 2:
                break
        else:
            spare.append(conn)
    for conn in spare:
        conn.close()
    assert len(found) == 2, f"connections never reached both workers: {list(found)}"
    first, second = found[workers[0]], found[workers[1]]
    return first, second


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(tmp_path_factory.mktemp("workers"), "--workers", "2", env=WORKER_ENV)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def workers(server: ServerProcess) -> list[int]:
    pids = worker_pids(server)
    assert len(pids) == 2, pids
    return pids


@pytest.fixture
def pair(server: ServerProcess, workers: list[int]) -> Iterator[tuple[Pinned, Pinned]]:
    a, b = pinned_pair(server, workers)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_two_worker_processes_both_serve_requests(
    server: ServerProcess, workers: list[int], pair: tuple[Pinned, Pinned]
) -> None:
    a, b = pair
    assert {a.pid, b.pid} == set(workers)
    assert a.call("PUT", "/served")[0] == 200
    before = {pid: cpu_ticks(pid) for pid in workers}
    for _ in range(150):
        assert a.call("GET", "/served?list-type=2")[0] == 200
        assert b.call("GET", "/served?list-type=2")[0] == 200
    after = {pid: cpu_ticks(pid) for pid in workers}
    assert all(after[pid] > before[pid] for pid in workers), (before, after)


def test_multipart_upload_created_on_one_worker_is_completed_on_the_other(
    pair: tuple[Pinned, Pinned],
) -> None:
    a, b = pair
    assert a.call("PUT", "/mpu")[0] == 200
    status, _, body = a.call("POST", "/mpu/assembled?uploads")
    assert status == 200
    upload_id = re.search(rb"<UploadId>([^<]+)</UploadId>", body).group(1).decode()  # type: ignore[union-attr]
    part1, part2 = b"1" * 4096, b"2" * 100
    status, headers1, _ = b.call("PUT", f"/mpu/assembled?partNumber=1&uploadId={upload_id}", part1)
    assert status == 200
    status, headers2, _ = a.call("PUT", f"/mpu/assembled?partNumber=2&uploadId={upload_id}", part2)
    assert status == 200
    status, _, listing = b.call("GET", f"/mpu/assembled?uploadId={upload_id}")
    assert status == 200 and listing.count(b"<Part>") == 2
    status, _, uploads = a.call("GET", "/mpu?uploads")
    assert upload_id.encode() in uploads
    complete = (
        "<CompleteMultipartUpload>"
        f"<Part><PartNumber>1</PartNumber><ETag>{headers1['etag']}</ETag></Part>"
        f"<Part><PartNumber>2</PartNumber><ETag>{headers2['etag']}</ETag></Part>"
        "</CompleteMultipartUpload>"
    ).encode()
    status, _, result = b.call("POST", f"/mpu/assembled?uploadId={upload_id}", complete)
    assert status == 200 and b"<CompleteMultipartUploadResult" in result, result
    status, _, data = a.call("GET", "/mpu/assembled")
    assert status == 200 and data == part1 + part2
    status, _, uploads = b.call("GET", "/mpu?uploads")
    assert upload_id.encode() not in uploads
    status, _, _ = a.call("PUT", f"/mpu/assembled?partNumber=3&uploadId={upload_id}", b"late")
    assert status == 404  # NoSuchUpload on the worker that did not complete it


def test_if_none_match_star_racing_across_workers_has_exactly_one_winner(
    pair: tuple[Pinned, Pinned],
) -> None:
    a, b = pair
    assert a.call("PUT", "/race")[0] == 200
    for round_number in range(10):
        key = f"/race/key-{round_number}"
        bodies = {conn.pid: f"written by worker {conn.pid};".encode() * 20_000 for conn in (a, b)}
        # both bodies all but complete on both workers, then the last bytes leave together: the two
        # writes are certainly in flight at the same time, each past any early existence check
        for conn in (a, b):
            conn.send_all_but_last_byte("PUT", key, bodies[conn.pid], {"If-None-Match": "*"})
        time.sleep(0.15)
        barrier = threading.Barrier(2)
        outcomes: dict[int, int] = {}

        def finish(conn: Pinned, barrier: threading.Barrier = barrier,
                   outcomes: dict[int, int] = outcomes) -> None:
            barrier.wait(timeout=5)
            outcomes[conn.pid] = conn.finish()

        threads = [threading.Thread(target=finish, args=(conn,)) for conn in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        statuses = sorted(outcomes.values())
        assert len(statuses) == 2 and statuses[0] == 200 and statuses[1] in (409, 412), outcomes
        winner = next(pid for pid, status in outcomes.items() if status == 200)
        for conn in (a, b):
            status, _, data = conn.call("GET", key)
            assert status == 200 and data == bodies[winner]


def test_concurrent_clients_across_workers_agree_on_objects_and_listings(
    server: ServerProcess, workers: list[int]
) -> None:
    setup, other = pinned_pair(server, workers)
    assert setup.call("PUT", "/shared")[0] == 200
    failures: list[str] = []
    threads_count, per_thread = 4, 15

    def client(index: int) -> None:
        a, b = pinned_pair(server, workers)
        try:
            for i in range(per_thread):
                writer, reader = (a, b) if i % 2 == 0 else (b, a)
                key = f"/shared/t{index}/obj-{i:02d}"
                body = hashlib.sha256(key.encode()).digest() * (1 + i * 37)
                status, headers, _ = writer.call("PUT", key, body)
                if status != 200 or headers["etag"] != f'"{hashlib.md5(body).hexdigest()}"':
                    failures.append(f"PUT {key} on {writer.pid}: {status} {headers.get('etag')}")
                    continue
                status, _, data = reader.call("GET", key)
                if status != 200 or data != body:
                    failures.append(f"GET {key} on {reader.pid}: {status}, {len(data)} bytes")
                status, _, listing = reader.call("GET", f"/shared?list-type=2&prefix=t{index}/")
                if listing.count(b"<Key>") != i + 1:
                    failures.append(f"LIST on {reader.pid} after {key}: {listing.count(b'<Key>')} keys")
        except Exception as exc:  # reported below, with the other failures
            failures.append(f"client {index}: {exc!r}")
        finally:
            a.close()
            b.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    expected = threads_count * per_thread
    for conn in (setup, other):
        status, _, listing = conn.call("GET", "/shared?list-type=2")
        assert status == 200 and listing.count(b"<Key>") == expected
    setup.close()
    other.close()


def test_sigterm_finishes_in_flight_upload_on_a_worker_then_stops_every_worker_with_exit_0(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path, "--workers", "2", "--shutdown-grace", "5", env=WORKER_ENV)
    try:
        pids = worker_pids(server)
        assert len(pids) == 2
        a, b = pinned_pair(server, pids)
        assert a.call("PUT", "/stop")[0] == 200
        body = b"s" * 50_000
        sock = b.conn.sock
        assert sock is not None
        sock.sendall(f"PUT /stop/late HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                     + body[:10_000])
        time.sleep(0.2)
        server.signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[10_000:])
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert server.wait(timeout=10) == 0
        deadline = time.monotonic() + 5
        while any(pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(pid_alive(pid) for pid in pids)
    finally:
        server.stop()
    assert (server.data_dir / "stop" / "late").read_bytes() == body
