"""The benchmark "floor": a raw ASGI file server with no S3 logic, on smarts3's uvicorn + uvloop + httptools.

GET opens ``<root>/<path>`` and sends it (one blocking read and one message when small, 1 MiB chunks when large);
HEAD stats it; PUT streams the body to a temp file and renames it; GET of a directory lists it (scandir, sort,
names after ``start-after``, at most 1000, one stat each). Query strings such as presigned SigV4 parameters are
ignored. Run: ``python bench/floor.py --root DIR --port PORT [--workers N]``.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import parse_qs, unquote

ROOT = os.environ.get("FLOOR_ROOT", ".")  # how ``--workers`` hands the root to uvicorn's worker processes
CHUNK = 1 << 20


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = os.path.join(ROOT, unquote(scope["path"]).lstrip("/"))
    method = scope["method"]
    if method == "PUT":
        tmp = f"{path}.{id(scope)}.tmp"
        with open(tmp, "wb") as fh:
            more = True
            while more:
                message = await receive()
                fh.write(message.get("body", b""))
                more = message.get("more_body", False)
        os.replace(tmp, path)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body"})
        return
    if os.path.isdir(path):  # noqa: ASYNC240 -- a "list": the first 1000 names after start-after, with their sizes
        after = parse_qs(scope["query_string"].decode()).get("start-after", [""])[0]
        names = [e for e in sorted(os.scandir(path), key=lambda e: e.name) if e.name > after][:1000]
        body = "".join(f"{e.name} {e.stat().st_size} {e.stat().st_mtime}\n" for e in names).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        headers = [(b"content-length", b"%d" % size), (b"content-type", b"binary/octet-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if method == "HEAD":
            await send({"type": "http.response.body"})
        elif size <= CHUNK:
            await send({"type": "http.response.body", "body": fh.read()})
        else:
            while chunk := fh.read(CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body"})


def main(argv: list[str]) -> None:
    import argparse

    import uvicorn

    global ROOT
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (uvicorn's multiprocess mode)"
    )
    args = parser.parse_args(argv)
    ROOT = args.root
    os.environ["FLOOR_ROOT"] = args.root
    uvicorn.run(
        "floor:app" if args.workers > 1 else app,
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        workers=args.workers if args.workers > 1 else None,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
