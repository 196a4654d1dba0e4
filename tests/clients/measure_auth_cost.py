"""Measure what signature verification costs: 4 KiB PUT and GET ops/s with auth on vs ``--no-auth``.

    python tests/clients/measure_auth_cost.py [--seconds 3] [--rounds 2]

Method: ``smarts3 serve`` (filesystem storage, --no-fsync, one worker) runs as a subprocess on 127.0.0.1, so
client and server do not share a GIL. The client is one keep-alive ``http.client`` connection sending requests
back to back on SigV4 presigned URLs made before the timed loop (PUT: a pool of 256 keys, UNSIGNED-PAYLOAD;
GET: one 4 KiB object). With ``--no-auth`` the same URLs are sent and the query signature is ignored, so the
difference is the server's presigned SigV4 verification. Besides ops/s it reports the server process's CPU
time per request (/proc), which a busy shared machine disturbs less. Every loop is bounded by time and count. Not
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
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from smarts3.testing.server import free_port

ACCESS, SECRET = "bench-access", "bench-secret-key"
BODY = os.urandom(4096)
MAX_OPS = 200_000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to compare per-request server cost under load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(auth: bool, data_dir: str) -> Iterator[tuple[str, int]]:
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
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _loop(endpoint: str, method: str, paths: list[str], seconds: float, pid: int) -> tuple[float, float]:
    """(ops/s, server CPU microseconds per request)."""
    host = urlsplit(endpoint).netloc
    conn = http.client.HTTPConnection(host, timeout=10)
    body = BODY if method == "PUT" else None
    headers = {"Content-Length": str(len(BODY))} if method == "PUT" else {}
    ops = 0
    cpu_start = cpu_seconds(pid)
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
    cpu = cpu_seconds(pid) - cpu_start
    conn.close()
    return ops / elapsed, cpu / ops * 1e6


def measure(auth: bool, seconds: float) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="smarts3-authcost-") as data_dir, \
            serve(auth, data_dir) as (endpoint, pid):
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
        _loop(endpoint, "GET", get_paths, 0.3, pid)  # warm up
        return {
            "put4k": _loop(endpoint, "PUT", put_paths, seconds, pid),
            "get4k": _loop(endpoint, "GET", get_paths, seconds, pid),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per workload")
    parser.add_argument("--rounds", type=int, default=2, help="alternating auth/no-auth rounds (median)")
    args = parser.parse_args()
    rates: dict[str, dict[str, list[float]]] = {"auth": {}, "no-auth": {}}
    cpus: dict[str, dict[str, list[float]]] = {"auth": {}, "no-auth": {}}
    for _ in range(args.rounds):
        for mode in ("auth", "no-auth"):
            for workload, (rate, cpu_us) in measure(mode == "auth", args.seconds).items():
                rates[mode].setdefault(workload, []).append(rate)
                cpus[mode].setdefault(workload, []).append(cpu_us)
    print(f"{'workload':<8} {'auth ops/s':>11} {'no-auth ops/s':>14} {'ops/s cost':>11} "
          f"{'server CPU us/req auth':>23} {'no-auth':>8} {'diff':>6}")
    for workload in ("put4k", "get4k"):
        on, off = statistics.median(rates["auth"][workload]), statistics.median(rates["no-auth"][workload])
        cpu_on, cpu_off = statistics.median(cpus["auth"][workload]), statistics.median(cpus["no-auth"][workload])
        print(f"{workload:<8} {on:>11.0f} {off:>14.0f} {1 - on / off:>10.1%} "
              f"{cpu_on:>23.0f} {cpu_off:>8.0f} {cpu_on - cpu_off:>6.0f}")


if __name__ == "__main__":
    main()
