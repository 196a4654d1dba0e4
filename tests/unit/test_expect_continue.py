"""``Expect: 100-continue`` with a chunked body (no Content-Length), as boto3 sends uploads over HTTPS: answered
before the body was read, the connection must close (the client will not send the body, and the next request
would be parsed as it); once the body was read, even an empty one, it stays open for the next request."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from smarts3.testing import RunningServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as running:
        running.client().create_bucket(Bucket="expect")
        yield running


def exchange(server: RunningServer, bucket: str, key: str, *, send_body: bool) -> str:
    url = urlsplit(server.client().generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}))
    head = (
        f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10) as sock:
        sock.sendall(head.encode())
        reply = sock.recv(65536).decode("latin-1")
        if send_body:
            assert reply.startswith("HTTP/1.1 100"), reply
            sock.sendall(b"0\r\n\r\n")  # an empty body, fully sent
            while "\r\n\r\n" not in reply.partition("\r\n\r\n")[2] and len(reply) < 65536:
                more = sock.recv(65536).decode("latin-1")
                if not more:
                    break
                reply += more
            reply = reply.partition("\r\n\r\n")[2]
        return reply.lower()


def test_an_early_answer_to_a_chunked_upload_closes_the_connection(server: RunningServer) -> None:
    reply = exchange(server, "no-such-bucket", "k", send_body=False)
    assert reply.startswith("http/1.1 404") and "connection: close" in reply


def test_an_empty_chunked_body_that_was_read_keeps_the_connection(server: RunningServer) -> None:
    reply = exchange(server, "expect", "empty", send_body=True)
    assert reply.startswith("http/1.1 200") and "connection: close" not in reply
    assert server.client().head_object(Bucket="expect", Key="empty")["ContentLength"] == 0
