"""Measure what signature verification costs: 4 KiB PUT and GET ops/s with auth on vs ``--no-auth``.

    python tests/clients/measure_auth_cost.py [--seconds 3] [--rounds 2]

Method: ``smarts3 serve`` (filesystem storage, --no-fsync, one worker) runs as a subprocess on 127.0.0.1, so
client and server do not share a GIL. The client is one keep-alive ``http.client`` connection sending requests
back to back on SigV4 presigned URLs made before the timed loop (PUT: a pool of 256 keys, UNSIGNED-PAYLOAD;
GET: one 4 KiB object). With ``--no-auth`` the same URLs are sent and the query signature is ignored, so the
difference is the server's presigned SigV4 verification. Every loop is bounded by time and by count. Not
collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from smarts3.testing.server import free_port

ACCESS, SECRET = "bench-access", "bench-secret-key"
BODY = os.urandom(4096)
MAX_OPS = 200_000


@contextlib.contextmanager
def serve(auth: bool, data_dir: str) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "smarts3.entrypoints.cli", "serve", "--port", str(port), "--data-dir", data_dir,
           "--no-fsync", "--log-level", "warning", "--no-access-log"]
    cmd += ["--access-key", ACCESS, "--secret-key", SECRET] if auth else ["--no-auth"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/")
                conn.getresponse().read()
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"smarts3 did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _loop(endpoint: str, method: str, paths: list[str], seconds: float) -> float:
    host = urlsplit(endpoint).netloc
    conn = http.client.HTTPConnection(host, timeout=10)
    body = BODY if method == "PUT" else None
    headers = {"Content-Length": str(len(BODY))} if method == "PUT" else {}
    ops = 0
    start = time.perf_counter()
    deadline = start + seconds
    while ops < MAX_OPS:
        conn.request(method, paths[ops % len(paths)], body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} answered {resp.status}")
        ops += 1
        if not ops % 64 and time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - start
    conn.close()
    return ops / elapsed


def measure(auth: bool, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="smarts3-authcost-") as data_dir, serve(auth, data_dir) as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                          region_name="us-east-1", config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="get4k", Body=BODY)

        def path(method: str, key: str) -> str:
            url = s3.generate_presigned_url(method, Params={"Bucket": "bench", "Key": key}, ExpiresIn=3600)
            parts = urlsplit(url)
            return f"{parts.path}?{parts.query}"

        put_paths = [path("put_object", f"put4k/{i:04d}") for i in range(256)]
        get_paths = [path("get_object", "get4k")]
        _loop(endpoint, "GET", get_paths, 0.3)  # warm up
        return {"put4k": _loop(endpoint, "PUT", put_paths, seconds), "get4k": _loop(endpoint, "GET", get_paths, seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per workload")
    parser.add_argument("--rounds", type=int, default=2, help="alternating auth/no-auth rounds (median)")
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {"auth": {}, "no-auth": {}}
    for _ in range(args.rounds):
        for mode in ("auth", "no-auth"):
            for workload, rate in measure(mode == "auth", args.seconds).items():
                results[mode].setdefault(workload, []).append(rate)
    print(f"{'workload':<8} {'auth ops/s':>11} {'no-auth ops/s':>14} {'auth cost':>10} {'us/req':>7}")
    for workload in ("put4k", "get4k"):
        on = statistics.median(results["auth"][workload])
        off = statistics.median(results["no-auth"][workload])
        print(f"{workload:<8} {on:>11.0f} {off:>14.0f} {1 - on / off:>9.1%} {1e6 / on - 1e6 / off:>7.1f}")


if __name__ == "__main__":
    main()
