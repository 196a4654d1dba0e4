"""Smoke test of the benchmark's raw ASGI floor (bench/floor.py): it serves a GET and stores a PUT."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

_FLOOR = Path(__file__).resolve().parents[2] / "bench" / "floor.py"


def _load_floor(root: Path) -> Any:
    spec = importlib.util.spec_from_file_location("bench_floor", _FLOOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ROOT = str(root)
    return module


async def _call(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    messages = [
        {"type": "http.request", "body": body[:3], "more_body": True},
        {"type": "http.request", "body": body[3:]},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": b"X-Amz-Signature=abc"}
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_bench_floor_serves_a_get_and_stores_a_put(tmp_path: Path) -> None:
    (tmp_path / "bucket").mkdir()
    (tmp_path / "bucket" / "obj").write_bytes(b"hello floor")
    floor = _load_floor(tmp_path)

    assert await _call(floor.app, "GET", "/bucket/obj") == (200, b"hello floor")
    assert await _call(floor.app, "PUT", "/bucket/new", b"uploaded body") == (200, b"")
    assert (tmp_path / "bucket" / "new").read_bytes() == b"uploaded body"
    status, listing = await _call(floor.app, "GET", "/bucket")
    assert status == 200 and [line.split()[0] for line in listing.decode().splitlines()] == ["new", "obj"]
