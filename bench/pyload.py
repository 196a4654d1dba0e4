"""A small keep-alive HTTP/1.1 load generator on uvloop, used for HEAD because wrk 4.1 hangs on HEAD responses.

wrk's response parser waits for the ``Content-Length`` bytes a HEAD response announces but never sends, so every
HEAD times out. This client keeps N connections busy with one request in flight each and counts complete
responses (HEAD: the head only; GET: head plus Content-Length bytes) and non-2xx statuses. It prints one JSON line.

    python bench/pyload.py --url URL [--method HEAD] [--connections 16] [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

import uvloop


class _Client(asyncio.Protocol):
    def __init__(self, request: bytes, head_only: bool, stats: dict[str, int], stop_at: float) -> None:
        self.request, self.head_only, self.stats, self.stop_at = request, head_only, stats, stop_at
        self.buffer = b""
        self.body_left = -1  # -1: reading a response head
        self.closing = False  # the server answered "Connection: close" (moto's werkzeug does)
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.body_left < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
                if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                    self.stats["non_2xx"] += 1
                self.body_left = 0
                lower = head.lower()
                self.closing = b"\r\nconnection: close" in lower
                if not self.head_only:
                    for line in lower.split(b"\r\n"):
                        if line.startswith(b"content-length:"):
                            self.body_left = int(line[15:])
            take = min(self.body_left, len(self.buffer))
            self.buffer, self.body_left = self.buffer[take:], self.body_left - take
            if self.body_left > 0:
                return
            self.body_left = -1
            self.stats["requests"] += 1
            if self.closing or time.monotonic() >= self.stop_at:
                self.transport.close()
                return
            self.transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def load(url: str, method: str, connections: int, duration: float) -> dict[str, float]:
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    request = f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    stats = {"requests": 0, "non_2xx": 0}
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    stop_at = start + duration

    async def connection_slot() -> None:
        while time.monotonic() < stop_at:  # reconnect after "Connection: close", as wrk does
            _, client = await loop.create_connection(
                lambda: _Client(request, method == "HEAD", stats, stop_at), parts.hostname, parts.port
            )
            await client.done

    await asyncio.wait_for(asyncio.gather(*(connection_slot() for _ in range(connections))), duration + 30)
    elapsed = time.monotonic() - start
    return {"rps": stats["requests"] / elapsed, "requests": stats["requests"], "non_2xx": stats["non_2xx"]}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="HEAD", choices=["HEAD", "GET"])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    result = uvloop.run(load(args.url, args.method, args.connections, args.duration))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
