"""Measure smarts3 side by side with its anchors (raw ASGI floor, nginx, moto) and print a table with ratios.

    python bench/run.py [--quick] [--only get4k,put4k,...] [--servers smarts3,floor,...] [--pin]

Every server runs as a subprocess on a free 127.0.0.1 port with its own data directory under one temp dir and
is stopped by PID at the end. Request-rate workloads use wrk (1 thread, 16 connections) on SigV4 presigned URLs,
interleaved server by server for several rounds (median reported); large transfers use a raw-socket client
(sendfile up, recv_into down). Results are saved as JSON under bench/results/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ACCESS_KEY = "benchaccesskey"
SECRET_KEY = "benchsecretkey0123456789"
REGION = "us-east-1"
MIB = 1 << 20
SMALL = 4096
EXPIRES = 7 * 24 * 3600  # presigned URLs outlive any run (SigV4 maximum is 7 days)
LIST10K_LATER_AFTER = "key-04999"  # page 6 of 10: keys 5000..5999
SDK_BUCKET = "sdk"
SDK_USER_AGENT = "Boto3/1.40.0 md/Botocore#1.40.0 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.11.7 cfg/retry-mode#standard"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#: more keys than smarts3 remembers verified signatures (1024): every request of get4k-sdk is verified afresh
SDK_KEYS = [f"obj-{i:05d}" for i in range(4000)]

ALL_SERVERS = ("smarts3", "smarts3-nofsync", "floor", "nginx", "moto")
S3_SERVERS = ("smarts3", "smarts3-nofsync", "moto")
PUT_ONLY = ("smarts3-nofsync",)  # the no-fsync variant answers write workloads only
WORKERS_SUFFIX = "-w2"  # the workers2 workload's second instance of a server, with two worker processes


# --- servers


@dataclass
class Server:
    name: str
    port: int
    data: Path
    proc: subprocess.Popen[bytes]
    log: Path
    s3: Any = None  # a boto3 client for S3 servers

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_s3(self) -> bool:
        return self.name.removesuffix(WORKERS_SUFFIX) in S3_SERVERS

    def presign(self, op: str, **params: Any) -> str:
        return str(self.s3.generate_presigned_url(op, Params=params, ExpiresIn=EXPIRES))

    def object_url(self, bucket: str, key: str, op: str = "get_object") -> str:
        if self.is_s3:
            return self.presign(op, Bucket=bucket, Key=key)
        return f"{self.endpoint}/{bucket}/{key}"

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_client(endpoint: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", **config),
    )


def wait_listening(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode} during start-up")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout:.0f} s")


NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ {dav} }}
        location /l200/ {{ autoindex on; autoindex_format json; }}
    }}
}}
"""


def nginx_has_dav(nginx: str) -> bool:
    out = subprocess.run([nginx, "-V"], capture_output=True, text=True, check=False)
    return "http_dav_module" in (out.stdout + out.stderr)


def start_server(name: str, tmp: Path, pin: bool, loading: bool = False) -> Server:
    """Start one server; ``loading`` runs smarts3 without fsync while the fixture objects are written.

    ``<name>-w2`` starts a second instance of ``<name>`` with two worker processes on the same data."""
    port = free_port()
    base = name.removesuffix(WORKERS_SUFFIX)
    workers = ["--workers", "2"] if name != base else []
    data = tmp / base
    data.mkdir(exist_ok=True)
    log = tmp / f"{name}.log"
    prefix = ["taskset", "-c", "0"] if pin and not workers else []
    env = dict(os.environ)
    if base.startswith("smarts3"):
        argv = ["smarts3", "serve", "--data-dir", str(data), "--port", str(port), "--no-access-log"]
        argv += ["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, "--region", REGION]
        argv += ["--log-level", "warning", *workers]
        if base == "smarts3-nofsync" or loading:
            argv.append("--no-fsync")
    elif base == "floor":
        argv = [sys.executable, str(BENCH / "floor.py"), "--root", str(data), "--port", str(port), *workers]
    elif name == "nginx":
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        ntmp = tmp / "nginx-run"
        ntmp.mkdir()
        dav = "dav_methods PUT; create_full_put_path on;" if nginx_has_dav(nginx) else ""
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = ntmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, tmp=ntmp, port=port, root=data, dav=dav))
        argv = [nginx, "-p", str(ntmp), "-c", str(conf), "-e", str(ntmp / "nginx-error.log")]
    elif name == "moto":
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    else:
        raise ValueError(name)
    with log.open("ab") as out:
        proc = subprocess.Popen(prefix + argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    server = Server(name=name, port=port, data=data, proc=proc, log=log)
    try:
        wait_listening(port, proc, name)
    except RuntimeError:
        stop_server(server)
        sys.stderr.write(log.read_text(errors="replace")[-3000:])
        raise
    if server.is_s3:
        server.s3 = s3_client(server.endpoint, max_pool_connections=16)
    return server


def stop_server(server: Server) -> None:
    if server.s3 is not None:
        server.s3.close()  # idle keep-alive connections would hold up a graceful shutdown
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM if server.name != "nginx" else signal.SIGQUIT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --- process memory


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    todo.extend(int(child) for child in fh.read().split())
    return pids


def status_kib(pid: int, field_name: str) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pids: Sequence[int]) -> int:
    return sum(status_kib(pid, "VmRSS") for pid in pids)


@contextlib.contextmanager
def rss_sampler(server: Server, interval: float = 0.01) -> Iterator[dict[str, float]]:
    """Sample the RSS summed over the server's process tree; yields a dict filled with before/peak MiB."""
    out: dict[str, float] = {}
    stop = threading.Event()
    peak = [0]

    def run() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss_kib(server.pids()))
            stop.wait(interval)

    out["before_mib"] = tree_rss_kib(server.pids()) / 1024
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["peak_mib"] = round(peak[0] / 1024, 1)
        out["hwm_mib"] = round(sum(status_kib(pid, "VmHWM") for pid in server.pids()) / 1024, 1)
        out["before_mib"] = round(out["before_mib"], 1)


# --- raw HTTP client for large bodies


def _request_head(method: str, url: str, length: int | None) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    if length is not None:
        lines += [f"Content-Length: {length}", "Content-Type: application/octet-stream"]
    return parts.hostname or "127.0.0.1", parts.port or 80, ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, int]:
    """Read to EOF (Connection: close); return (status, body bytes) without keeping the body."""
    view = memoryview(buf)
    head = b""
    total = 0
    while True:
        n = sock.recv_into(view)
        if not n:
            break
        if not head:
            head_end = bytes(view[:n]).find(b"\r\n\r\n")
            if head_end >= 0:  # a response head always arrives in the first segment here
                head = bytes(view[:head_end])
                total += n - head_end - 4
                continue
            raise RuntimeError("response head not in the first read")
        total += n
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, total


def http_get(url: str) -> tuple[int, int, float]:
    host, port, head = _request_head("GET", url, None)
    buf = bytearray(4 * MIB)
    start = time.perf_counter()
    with socket.create_connection((host, port)) as sock:
        sock.sendall(head)
        status, size = _read_response(sock, buf)
    return status, size, time.perf_counter() - start


def http_put_file(url: str, path: Path) -> tuple[int, int, float]:
    size = path.stat().st_size
    host, port, head = _request_head("PUT", url, size)
    buf = bytearray(64 * 1024)
    start = time.perf_counter()
    with socket.create_connection((host, port)) as sock, path.open("rb") as fh:
        sock.sendall(head)
        sock.sendfile(fh)
        status, _ = _read_response(sock, buf)
    return status, size, time.perf_counter() - start


# --- population


def write_file(path: Path, size: int, block: bytes) -> None:
    with path.open("wb") as fh:
        left = size
        while left > 0:
            fh.write(block[: min(left, len(block))])
            left -= len(block)


def put_many(server: Server, bucket: str, keys: Sequence[str], body: bytes) -> None:
    """PUT many small objects through presigned URLs on keep-alive connections (8 threads)."""

    def worker(chunk: Sequence[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        for key in chunk:
            parts = urlsplit(server.presign("put_object", Bucket=bucket, Key=key))
            conn.request("PUT", parts.path + "?" + parts.query, body=body)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{server.name}: PUT {bucket}/{key} -> {response.status}")
        conn.close()

    chunks = [keys[i::8] for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, chunks))


def populate(server: Server, src: Path, big_put: bool) -> None:
    keys200 = [f"key-{i:05d}" for i in range(200)]
    keys10k = [f"key-{i:05d}" for i in range(10_000)]
    small = (src / "obj-4k").read_bytes()
    if server.is_s3:
        s3 = server.s3
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="obj-4k", Body=small)
        if server.name in PUT_ONLY:
            return
        if not big_put:
            key = "obj-moto" if server.name == "moto" else "obj-big"
            status, _, _ = http_put_file(server.presign("put_object", Bucket="bench", Key=key), src / key)
            assert status == 200, f"{server.name}: PUT {key} -> {status}"
        status, _, _ = http_put_file(
            server.presign("put_object", Bucket="bench", Key="obj-64m"), src / "obj-64m"
        )
        assert status == 200, f"{server.name}: PUT obj-64m -> {status}"
        for bucket, keys in (("l200", keys200), ("l10k", keys10k)):
            s3.create_bucket(Bucket=bucket)
            put_many(server, bucket, keys, b"x" * 100)
        s3.create_bucket(Bucket=SDK_BUCKET)
        put_many(server, SDK_BUCKET, SDK_KEYS, small)
        return
    for bucket, keys in (("bench", []), ("l200", keys200), ("l10k", keys10k)):
        (server.data / bucket).mkdir()
        for key in keys:
            (server.data / bucket / key).write_bytes(b"x" * 100)
    (server.data / SDK_BUCKET).mkdir()
    for key in SDK_KEYS:  # distinct files, as smarts3 stores them (not links to one hot inode)
        (server.data / SDK_BUCKET / key).write_bytes(small)
    (server.data / "bench" / "obj-4k").write_bytes(small)
    os.link(src / "obj-64m", server.data / "bench" / "obj-64m")
    if not big_put:
        os.link(src / "obj-big", server.data / "bench" / "obj-big")


def check_url(url: str, method: str = "GET", body: bytes | None = None) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    try:
        conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body=body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# --- wrk


@dataclass
class WrkResult:
    rps: float
    requests: int
    non_2xx: int
    socket_errors: int
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None


def _ms(text: str) -> float:
    value = float(re.sub(r"[a-z]+$", "", text))
    unit = re.sub(r"^[0-9.]+", "", text)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}.get(unit, 1.0)


def run_wrk(url: str, duration: float, script: Path | None, pin: bool) -> WrkResult:
    argv = ["taskset", "-c", "1"] if pin else []
    argv += ["wrk", "-t1", "-c16", f"-d{duration:g}s", "--timeout", "10s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = re.search(r"\s50%\s+(\S+)", out)
    p99 = re.search(r"\s99%\s+(\S+)", out)
    return WrkResult(
        rps=rps,
        requests=requests,
        non_2xx=int(non.group(1)) if non else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        latency_p50_ms=_ms(p50.group(1)) if p50 else None,
        latency_p99_ms=_ms(p99.group(1)) if p99 else None,
    )


WRK_SCRIPTS = {
    "put": f'wrk.method = "PUT"\nwrk.body = string.rep("x", {SMALL})\n'
    'wrk.headers["Content-Type"] = "application/octet-stream"\n',
    # one presigned URL per request from a file (moto breaks on concurrent PUTs of one key)
    "put-many": f"""
wrk.method = "PUT"
wrk.body = string.rep("x", {SMALL})
wrk.headers["Content-Type"] = "application/octet-stream"
paths = {{}}
for line in io.lines("%s") do paths[#paths + 1] = line end
i = 0
request = function()
    i = i %% #paths + 1
    return wrk.format(nil, paths[i])
end
""",
}
MOTO_PUT_KEYS = 20_000


def sdk_get_script(server: Server) -> str:
    """A wrk script sending GetObject requests as boto3 sends them: a SigV4 Authorization header with a new
    signature for every request (here: every key), its x-amz-date, x-amz-content-sha256, x-amz-checksum-mode,
    User-Agent and amz-sdk-* headers. A load generator cannot compute HMACs, so the requests are signed up
    front (x-amz-date now: valid for the 15 minutes of allowed clock skew, far longer than a run)."""
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    host = f"127.0.0.1:{server.port}"
    requests = []
    for i, key in enumerate(SDK_KEYS):
        request = AWSRequest(
            "GET",
            f"http://{host}/{SDK_BUCKET}/{key}",
            headers={
                "x-amz-checksum-mode": "ENABLED",
                "User-Agent": SDK_USER_AGENT,
                "x-amz-content-sha256": EMPTY_SHA256,
            },
        )
        SigV4Auth(credentials, "s3", REGION).add_auth(request)
        lines = [f"GET /{SDK_BUCKET}/{key} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in request.headers.items()]
        lines += [
            f"amz-sdk-invocation-id: 6f1d2c3e-8a9b-4c5d-9e0f-{i:012d}",
            "amz-sdk-request: attempt=1; max=3",
        ]
        requests.append("\r\n".join(lines) + "\r\n\r\n")
    return (
        "requests = " + json.dumps(requests).replace("[", "{", 1)[:-1] + "}\n"
        "i = 0\n"
        "request = function()\n"
        "    i = i % #requests + 1\n"
        "    return requests[i]\n"
        "end\n"
    )


def run_pyload(url: str, method: str, duration: float, pin: bool) -> WrkResult:
    argv = ["taskset", "-c", "1"] if pin else []
    argv += [sys.executable, str(BENCH / "pyload.py"), "--url", url, "--method", method]
    argv += ["--connections", "16", "--duration", f"{duration:g}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    data = json.loads(out)
    return WrkResult(rps=data["rps"], requests=data["requests"], non_2xx=data["non_2xx"], socket_errors=0)


# --- workloads


@dataclass
class Workload:
    name: str
    unit: str
    servers: tuple[str, ...]
    description: str
    higher_is_better: bool = True
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def wrk_target(workload: str, server: Server) -> tuple[str, str, bytes | None]:
    """(url, method, body) for a wrk workload on one server."""
    s3 = server.is_s3
    if workload in ("get4k", "get4k-py"):
        return server.object_url("bench", "obj-4k"), "GET", None
    if workload == "get4k-sdk":  # the check request; the load itself comes from sdk_get_script
        if s3:
            return server.object_url(SDK_BUCKET, SDK_KEYS[0]), "GET", None
        return f"{server.endpoint}/{SDK_BUCKET}/{SDK_KEYS[0]}", "GET", None
    if workload == "head":
        return server.object_url("bench", "obj-4k", "head_object"), "HEAD", None
    if workload == "put4k":
        return server.object_url("bench", "put-4k", "put_object"), "PUT", b"x" * SMALL
    if workload == "list200":
        if s3:
            return server.presign("list_objects_v2", Bucket="l200", MaxKeys=1000), "GET", None
        return f"{server.endpoint}/l200/", "GET", None
    if workload == "list10k-first":
        if s3:
            return server.presign("list_objects_v2", Bucket="l10k", MaxKeys=1000), "GET", None
        return f"{server.endpoint}/l10k", "GET", None
    if workload == "list10k-later":
        if s3:
            token = continuation_token(server, "l10k", pages=5)
            return (
                server.presign("list_objects_v2", Bucket="l10k", MaxKeys=1000, ContinuationToken=token),
                "GET",
                None,
            )
        return f"{server.endpoint}/l10k?start-after={LIST10K_LATER_AFTER}", "GET", None
    raise ValueError(workload)


def continuation_token(server: Server, bucket: str, pages: int) -> str:
    """The NextContinuationToken after ``pages`` pages of 1000: the request then starts at key pages*1000."""
    token: str | None = None
    for _ in range(pages):
        kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 1000}
        if token:
            kwargs["ContinuationToken"] = token
        token = server.s3.list_objects_v2(**kwargs)["NextContinuationToken"]
    assert token
    return token


def workloads() -> list[Workload]:
    big = ("smarts3", "floor", "nginx", "moto")
    return [
        Workload("get4k", "req/s", big, "GET of a 4 KiB object (wrk, 16 connections)"),
        Workload(
            "get4k-sdk",
            "req/s",
            big,
            "GET of 4,000 distinct 4 KiB objects in turn, each request header-signed like boto3's GetObject",
        ),
        Workload("head", "req/s", big, "HEAD of a 4 KiB object (pyload: wrk 4.1 hangs on HEAD)"),
        Workload("get4k-py", "req/s", big, "GET of a 4 KiB object with pyload, to compare with head"),
        Workload("put4k", "req/s", ALL_SERVERS, "PUT of a 4 KiB body over one key (wrk + Lua)"),
        Workload("put4k-new", "req/s", ALL_SERVERS, "PUT of a 4 KiB body, each to a new key (wrk + Lua)"),
        Workload("list200", "req/s", big, "ListObjectsV2 of a 200-key bucket (nginx: autoindex json)"),
        Workload(
            "list10k-first",
            "req/s",
            ("smarts3", "floor", "moto"),
            "ListObjectsV2 max-keys 1000, first page of 10,000 keys",
        ),
        Workload(
            "list10k-later",
            "req/s",
            ("smarts3", "floor", "moto"),
            "ListObjectsV2 max-keys 1000, page 6 of 10,000 keys (continuation token; floor: start-after)",
        ),
        Workload("get64m", "MB/s", big, "GET of a 64 MiB object (raw socket client, recv_into 4 MiB)"),
        Workload("put64m", "MB/s", ALL_SERVERS, "PUT of a 64 MiB body (raw socket client, sendfile)"),
        Workload(
            "multipart1g",
            "MB/s",
            ("smarts3", "smarts3-nofsync", "moto"),
            "boto3 upload_file multipart, 16 MiB parts, 8 threads (moto: smaller object, see notes)",
        ),
        Workload(
            "workers2",
            "req/s",
            ("smarts3", "smarts3-w2", "floor", "floor-w2"),
            "GET of a 4 KiB object, wrk pinned to CPU 1, one worker vs --workers 2 (`-w2`)",
        ),
        Workload("rss-put1g", "MiB", big, "peak RSS of the server (process tree) during a 1 GiB PUT", False),
        Workload("rss-get1g", "MiB", big, "peak RSS of the server (process tree) during a 1 GiB GET", False),
    ]


# --- the run


@dataclass
class Options:
    quick: bool
    duration: float
    rounds: int
    big_mib: int
    moto_big_mib: int
    pin: bool
    only: set[str]
    servers: tuple[str, ...]
    keep: bool


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_wrk_workload(wl: Workload, servers: dict[str, Server], opts: Options, tmp: Path) -> None:
    targets: dict[str, tuple[str, Path | None]] = {}
    for name in wl.servers:
        if name not in servers:
            continue
        url, method, body = wrk_target(wl.name, servers[name])
        status = check_url(url, method, body)
        if not 200 <= status < 300:
            wl.notes[name] = f"check request answered {status}; not measured"
            log(f"  {wl.name} {name}: check answered {status}, skipped")
            continue
        script = None
        if method == "PUT" and name == "moto":
            urls = tmp / "moto-put-urls.txt"
            server = servers[name]
            lines = []
            for i in range(MOTO_PUT_KEYS):
                parts = urlsplit(server.presign("put_object", Bucket="bench", Key=f"put-4k-{i}"))
                lines.append(f"{parts.path}?{parts.query}")
            urls.write_text("\n".join(lines) + "\n")
            script = tmp / "put-many.lua"
            script.write_text(WRK_SCRIPTS["put-many"] % urls)
            wl.notes[name] = "PUTs spread over distinct keys: moto fails concurrent PUTs of one key"
        elif method == "PUT":
            script = tmp / "put.lua"
            script.write_text(WRK_SCRIPTS["put"])
        elif wl.name == "get4k-sdk":
            script = tmp / f"sdk-get-{name}.lua"
            script.write_text(sdk_get_script(servers[name]))
        targets[name] = (url, script)
    use_pyload = wl.name in ("head", "get4k-py")
    # a 10,000-key list takes moto more than a second: give every server the same longer window
    duration = max(opts.duration, 4.0) if wl.name.startswith("list10k") else opts.duration
    for round_no in range(opts.rounds):
        for name, (url, script) in targets.items():
            try:
                if use_pyload:
                    result = run_pyload(url, "HEAD" if wl.name == "head" else "GET", duration, opts.pin)
                else:
                    result = run_wrk(url, duration, script, opts.pin)
            except (subprocess.SubprocessError, OSError, ValueError, AttributeError) as exc:
                wl.notes[name] = f"load generator failed in round {round_no + 1}: {exc!r:.200}"
                log(f"  {wl.name} {name}: {wl.notes[name]}")
                continue
            record_rate(wl, name, result, round_no)


def record_rate(wl: Workload, name: str, result: WrkResult, round_no: int) -> bool:
    """Keep one load run's rate as a sample, or note why not (more than 1% failed, nothing completed)."""
    wl.extra.setdefault(name, []).append(result.__dict__)
    bad = result.non_2xx + result.socket_errors
    if not result.requests:
        wl.notes[name] = f"no request completed in round {round_no + 1}"
    elif bad > result.requests * 0.01:
        wl.notes[name] = f"{bad} of {result.requests} requests failed in round {round_no + 1}"
    else:
        wl.samples.setdefault(name, []).append(result.rps)
        log(f"  {wl.name} r{round_no + 1} {name}: {result.rps:,.0f} req/s")
        return True
    log(f"  {wl.name} {name}: {wl.notes[name]}")
    return False


#: distinct keys written per server and round by put4k-new (more than any server PUTs in one load run here)
NEW_KEYS = {"moto": 6_000, "floor": 200_000, "nginx": 300_000}
NEW_KEYS_DEFAULT = 40_000


def run_put_new(wl: Workload, servers: dict[str, Server], opts: Options, src: Path) -> None:
    """4 KiB PUTs, every one to a key that does not exist yet (an upload of new objects), round after round."""
    tmp = src.parent
    for round_no in range(opts.rounds):
        for name in (n for n in wl.servers if n in servers):
            server = servers[name]
            count = NEW_KEYS.get(name, NEW_KEYS_DEFAULT)
            keys = (f"new-r{round_no}-{i:06d}" for i in range(count))
            if server.is_s3:
                lines = [urlsplit(server.presign("put_object", Bucket="bench", Key=k)) for k in keys]
                paths = [f"{parts.path}?{parts.query}" for parts in lines]
            else:
                paths = [f"/bench/{k}" for k in keys]
            listing = tmp / f"put-new-{name}.txt"
            listing.write_text("\n".join(paths) + "\n")
            script = tmp / f"put-new-{name}.lua"
            script.write_text(WRK_SCRIPTS["put-many"] % listing)
            result = run_wrk(server.endpoint + "/", opts.duration, script, opts.pin)
            if record_rate(wl, name, result, round_no) and result.requests > count:
                wl.notes[name] = f"more PUTs than keys in round {round_no + 1}: some overwrote"


def run_workers(wl: Workload, servers: dict[str, Server], opts: Options, src: Path) -> None:
    """4 KiB GETs with wrk pinned to CPU 1 against one and two worker processes (the servers unpinned)."""
    names = [n for n in ("smarts3", "floor") if n in servers]
    both = dict(servers)
    try:
        for name in names:
            both[name + WORKERS_SUFFIX] = start_server(name + WORKERS_SUFFIX, src.parent, pin=False)
        urls = {
            name: both[name].object_url("bench", "obj-4k") for n in names for name in (n, n + WORKERS_SUFFIX)
        }
        for round_no in range(opts.rounds):
            for name, url in urls.items():
                record_rate(wl, name, run_wrk(url, opts.duration, None, pin=True), round_no)
    finally:
        for name in names:
            if name + WORKERS_SUFFIX in both:
                stop_server(both[name + WORKERS_SUFFIX])


def run_big_workload(wl: Workload, servers: dict[str, Server], opts: Options, src: Path) -> None:
    iterations = 2 if opts.quick else 5
    names = [n for n in wl.servers if n in servers]
    for it in range(iterations):
        for name in names:
            server = servers[name]
            if wl.name == "get64m":
                status, size, seconds = http_get(server.object_url("bench", "obj-64m"))
            else:
                url = server.object_url("bench", "put-64m", "put_object")
                status, size, seconds = http_put_file(url, src / "obj-64m")
            if not 200 <= status < 300 or (wl.name == "get64m" and size != 64 * MIB):
                wl.notes[name] = f"answered {status} with {size} bytes"
                continue
            mbps = size / seconds / 1e6
            wl.samples.setdefault(name, []).append(mbps)
            log(f"  {wl.name} i{it + 1} {name}: {mbps:,.0f} MB/s")


def run_multipart(wl: Workload, servers: dict[str, Server], opts: Options, src: Path) -> None:
    iterations = 1 if opts.quick else 2
    config = TransferConfig(multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=8)
    for it in range(iterations):
        for name in (n for n in wl.servers if n in servers):
            server = servers[name]
            path = src / ("obj-moto" if name == "moto" else "obj-big")
            size = path.stat().st_size
            client = s3_client(server.endpoint, max_pool_connections=16)
            with rss_sampler(server) as rss:
                start = time.perf_counter()
                client.upload_file(str(path), "bench", "multipart", Config=config)
                seconds = time.perf_counter() - start
            head = client.head_object(Bucket="bench", Key="multipart")
            client.close()
            if head["ContentLength"] != size:
                wl.notes[name] = f"object has {head['ContentLength']} bytes, expected {size}"
                continue
            mbps = size / seconds / 1e6
            wl.samples.setdefault(name, []).append(mbps)
            wl.extra.setdefault(name, []).append({"bytes": size, "seconds": round(seconds, 3), "rss": rss})
            if name == "moto":
                wl.notes[name] = f"{size // MIB} MiB object (moto keeps everything in memory and is slow)"
            log(
                f"  {wl.name} i{it + 1} {name}: {mbps:,.0f} MB/s ({size // MIB} MiB, peak RSS {rss['peak_mib']} MiB)"
            )


def run_rss(wl: Workload, servers: dict[str, Server], opts: Options, src: Path) -> None:
    for name in (n for n in wl.servers if n in servers):
        server = servers[name]
        path = src / ("obj-moto" if name == "moto" else "obj-big")
        key = "obj-moto" if name == "moto" else "obj-big"
        with rss_sampler(server) as rss:
            if wl.name == "rss-put1g":
                status, size, seconds = http_put_file(server.object_url("bench", key, "put_object"), path)
            else:
                status, size, seconds = http_get(server.object_url("bench", key))
        if not 200 <= status < 300 or size != path.stat().st_size:
            wl.notes[name] = f"answered {status} with {size} bytes"
            continue
        wl.samples[name] = [rss["peak_mib"]]
        wl.extra[name] = [
            {"bytes": size, "seconds": round(seconds, 3), "mb_s": round(size / seconds / 1e6), **rss}
        ]
        if name == "moto":
            wl.notes[name] = f"{size // MIB} MiB object (moto keeps objects in memory)"
        log(
            f"  {wl.name} {name}: peak {rss['peak_mib']} MiB (before {rss['before_mib']} MiB), "
            f"{size // MIB} MiB in {seconds:.2f} s"
        )


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


RATIO_PAIRS = (("smarts3", "floor"), ("smarts3", "nginx"), ("smarts3", "moto"), ("smarts3-nofsync", "floor"))
#: reported in the JSON and printed below the table: what a second worker process gives
SCALING_PAIRS = (("smarts3-w2", "smarts3"), ("floor-w2", "floor"), ("smarts3-w2", "floor-w2"))


def summarise(wls: Sequence[Workload]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wl in wls:
        medians = {name: median(values) for name, values in wl.samples.items()}
        ratios = {}
        for a, b in RATIO_PAIRS + SCALING_PAIRS:
            if medians.get(a) and medians.get(b):
                ratios[f"{a}/{b}"] = round(medians[a] / medians[b], 3)  # type: ignore[operator]
        out[wl.name] = {
            "unit": wl.unit,
            "description": wl.description,
            "higher_is_better": wl.higher_is_better,
            "median": {k: round(v, 1) for k, v in medians.items() if v is not None},
            "samples": {k: [round(x, 1) for x in v] for k, v in wl.samples.items()},
            "ratios": ratios,
            "notes": wl.notes,
            "detail": wl.extra,
        }
    return out


def table(summary: dict[str, Any], servers: Sequence[str]) -> str:
    ratio_cols = [f"{a}/{b}" for a, b in RATIO_PAIRS]
    short = {"smarts3-nofsync": "nofsync", "smarts3/floor": "s3/floor", "smarts3/nginx": "s3/nginx"}
    short |= {"smarts3/moto": "s3/moto", "smarts3-nofsync/floor": "nofsync/floor"}
    head = ["workload", "unit", *(short.get(s, s) for s in servers), *(short[c] for c in ratio_cols)]
    rows = [head]
    for name, entry in summary.items():
        row = [name, entry["unit"]]
        for server in servers:
            value = entry["median"].get(server)
            row.append("-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:,.1f}")
        for col in ratio_cols:
            ratio = entry["ratios"].get(col)
            row.append("-" if ratio is None else f"{ratio:.2f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    def version(argv: list[str]) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        return "unavailable"

    import moto
    import uvicorn

    commit = version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return {
        "commit": commit,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "nginx": version(["nginx", "-v"]),
        "nginx_put": "dav_methods PUT" if nginx_has_dav(shutil.which("nginx") or "nginx") else "none",
        "wrk": version(["wrk", "-v"]),
        "moto": moto.__version__,
        "uvicorn": uvicorn.__version__,
    }


def parse_args(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 s per wrk run, 2 rounds, fewer iterations")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 6, quick 2)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per workload (default 3, quick 2)")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big object (default 1024)")
    parser.add_argument(
        "--moto-big-mib", type=int, default=256, help="big object size for moto (default 256)"
    )
    parser.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    parser.add_argument("--servers", default=",".join(ALL_SERVERS), help="comma-separated servers")
    parser.add_argument("--pin", action="store_true", help="servers on CPU 0, load generator on CPU 1")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs)")
    args = parser.parse_args(argv)
    names = {wl.name for wl in workloads()}
    only = {w for w in args.only.split(",") if w}
    if only - names:
        parser.error(f"unknown workloads {sorted(only - names)}; choose from {sorted(names)}")
    servers = tuple(s for s in args.servers.split(",") if s)
    if set(servers) - set(ALL_SERVERS):
        parser.error(f"unknown servers {sorted(set(servers) - set(ALL_SERVERS))}; choose from {ALL_SERVERS}")
    return Options(
        quick=args.quick,
        duration=args.duration or (2.0 if args.quick else 6.0),
        rounds=args.rounds or (2 if args.quick else 3),
        big_mib=args.big_mib,
        moto_big_mib=args.moto_big_mib,
        pin=args.pin,
        only=only,
        servers=servers,
        keep=args.keep,
    )


def prepare_sources(src: Path, opts: Options) -> None:
    src.mkdir()
    block = os.urandom(MIB)
    (src / "obj-4k").write_bytes(block[:SMALL])
    write_file(src / "obj-64m", 64 * MIB, block)
    write_file(src / "obj-big", opts.big_mib * MIB, block)
    write_file(src / "obj-moto", min(opts.moto_big_mib, opts.big_mib) * MIB, block)


def check_tools(opts: Options) -> None:
    missing = [tool for tool in ("wrk", "smarts3") if shutil.which(tool) is None]
    if "nginx" in opts.servers and shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        missing.append("nginx")
    if missing:
        raise SystemExit(f"missing tools: {missing}; apt-get install -y nginx wrk and activate the venv")


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    check_tools(opts)
    selected = [wl for wl in workloads() if not opts.only or wl.name in opts.only]
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="smarts3-bench-"))
    servers: dict[str, Server] = {}
    runners: dict[str, Callable[[Workload, dict[str, Server], Options, Path], None]] = {
        "get64m": run_big_workload,
        "put64m": run_big_workload,
        "multipart1g": run_multipart,
        "rss-put1g": run_rss,
        "rss-get1g": run_rss,
        "workers2": run_workers,
        "put4k-new": run_put_new,
    }
    try:
        log(f"temp dir {tmp}; preparing source files ({opts.big_mib} MiB big object)")
        prepare_sources(tmp / "src", opts)
        big_put = any(wl.name == "rss-put1g" for wl in selected)
        for name in opts.servers:
            servers[name] = start_server(name, tmp, opts.pin, loading=name == "smarts3")
            log(f"started {name} on port {servers[name].port} (pid {servers[name].proc.pid})")

        def fill(server: Server) -> None:
            t0 = time.monotonic()
            populate(server, tmp / "src", big_put)
            log(f"  populated {server.name} in {time.monotonic() - t0:.1f} s")

        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(fill, servers.values()))
        if "smarts3" in servers:  # loaded without fsync; measure with the default (fsync on)
            stop_server(servers["smarts3"])
            servers["smarts3"] = start_server("smarts3", tmp, opts.pin)
            log(
                f"restarted smarts3 with fsync on port {servers['smarts3'].port} (pid {servers['smarts3'].proc.pid})"
            )
        # the fixtures (GiBs for the big workloads) were written without fsync: write them out now, so the
        # kernel's background writeback of setup data does not run during (and distort) the measured runs
        t0 = time.monotonic()
        os.sync()
        log(f"synced the fixtures to disk in {time.monotonic() - t0:.1f} s")
        for wl in selected:
            log(f"workload {wl.name}: {wl.description}")
            runner = runners.get(wl.name)
            try:
                if runner is None:
                    run_wrk_workload(wl, servers, opts, tmp)
                else:
                    runner(wl, servers, opts, tmp / "src")
            except Exception as exc:  # one broken workload must not lose the others' figures
                wl.notes["*"] = f"workload aborted: {exc!r:.300}"
                log(f"  {wl.name} aborted: {exc!r}")
    finally:
        for server in servers.values():
            t0 = time.monotonic()
            stop_server(server)
            log(f"stopped {server.name} (pid {server.proc.pid}) in {time.monotonic() - t0:.1f} s")
        if opts.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = summarise(selected)
    present = [s for s in ALL_SERVERS if s in opts.servers]
    print()
    print(table(summary, present))
    notes = [
        f"{wl}/{server}: {note}" for wl, entry in summary.items() for server, note in entry["notes"].items()
    ]
    scaling = [
        f"{wl}: "
        + ", ".join(
            f"{a}/{b} {entry['ratios'][f'{a}/{b}']:.2f}"
            for a, b in SCALING_PAIRS
            if f"{a}/{b}" in entry["ratios"]
        )
        for wl, entry in summary.items()
        if any(f"{a}/{b}" in entry["ratios"] for a, b in SCALING_PAIRS)
    ]
    if scaling:
        print("\nworkers (rates in the JSON):\n  " + "\n  ".join(scaling))
    if notes:
        print("\nnotes:\n  " + "\n  ".join(notes))
    elapsed = time.monotonic() - started
    result = {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "options": {k: sorted(v) if isinstance(v, set) else v for k, v in opts.__dict__.items()},
        "environment": environment(),
        "elapsed_s": round(elapsed, 1),
        "workloads": summary,
    }
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nresults saved to {out.relative_to(REPO)} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
