"""Run `smarts3 serve` as a real child process and talk to it over raw sockets, for the operations tests.

Every server is started on a free loopback port with its own data directory and stopped by its PID only.
Raw sockets let a test control exactly when each byte of a request leaves, which is what graceful shutdown,
request timeouts and header limits are about.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

from smarts3.testing.server import free_port

ACCESS_KEY = "ops-test-key"
SECRET_KEY = "ops-test-secret-do-not-log-0123456789"

#: how long a server gets to come up before the test fails
START_TIMEOUT = 15.0


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test runner's environment without any SMARTS3_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTS3_")}
    env.update(extra or {})
    return env


@attrs.define
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    output_path: Path
    scheme: str = "http"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM this process (by PID) and wait; SIGKILL if it does not exit in ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode


def start_server(
    tmp_path: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    auth: bool = False,
    name: str = "server",
    tls_context: object | None = None,
    test_credentials: bool = True,
) -> ServerProcess:
    """Start ``smarts3 serve`` on a free port (filesystem storage, fsync on) and wait until it answers.

    ``auth=False`` adds ``--no-auth`` so raw-socket requests need no signature; with ``auth=True`` the
    credentials are :data:`ACCESS_KEY`/:data:`SECRET_KEY`, given through the environment (unless
    ``test_credentials=False``: the config file's own).
    """
    port = free_port()
    data = data_dir if data_dir is not None else tmp_path / "data"
    output = tmp_path / f"{name}.out"
    command = [sys.executable, "-m", "smarts3.entrypoints.cli", "serve", "--port", str(port),
               "--data-dir", str(data), "--log-level", "info", *args]
    extra = dict(env or {})
    if auth and test_credentials:
        extra.setdefault("SMARTS3_AUTH_CREDENTIALS", f"{ACCESS_KEY}:{SECRET_KEY}")
    else:
        command.append("--no-auth")
    with output.open("wb") as sink:
        # cwd: relative paths of a config file (logs, certs) land in the test's directory, never the repo
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=clean_env(extra),
                                cwd=tmp_path, start_new_session=True)
    server = ServerProcess(proc, port, data, output, "https" if tls_context is not None else "http")
    _wait_until_ready(server, tls_context)
    return server


def _wait_until_ready(server: ServerProcess, tls_context: object | None) -> None:
    import ssl
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT
    context = tls_context if isinstance(tls_context, ssl.SSLContext) else None
    host = "localhost" if context is not None else "127.0.0.1"
    url = f"{server.scheme}://{host}:{server.port}/_health"
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"smarts3 exited with {server.proc.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"smarts3 did not answer within {START_TIMEOUT}s:\n{server.output()}")
        time.sleep(0.05)


@contextlib.contextmanager
def serving(tmp_path: Path, *args: str, **kwargs: object) -> Iterator[ServerProcess]:
    """:func:`start_server` that always stops the process (by PID) when the block ends."""
    server = start_server(tmp_path, *args, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


# --- raw HTTP


@attrs.frozen
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error_code(self) -> str | None:
        import re

        match = re.search(rb"<Code>([^<]+)</Code>", self.body)
        return match.group(1).decode() if match else None


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request_head(method: str, path: str, headers: Mapping[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket, head_only: bool = False) -> RawResponse:
    """Read one HTTP/1.1 response with a Content-Length body (what smarts3 sends for these requests)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a complete response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return RawResponse(status, headers, rest[:length])


def simple_request(port: int, method: str, path: str, body: bytes = b"",
                   headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> RawResponse:
    """One request on a fresh connection (``Connection: close``)."""
    all_headers = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    with connect(port, timeout) as sock:
        sock.sendall(request_head(method, path, all_headers) + body)
        return read_response(sock, head_only=method == "HEAD")


def object_files(data_dir: Path) -> list[Path]:
    """Every regular file under the data directory (objects, sidecars, temp files)."""
    return sorted(p for p in data_dir.rglob("*") if p.is_file())


def files_mentioning(data_dir: Path, fragment: str) -> list[Path]:
    return [p for p in object_files(data_dir) if fragment in str(p.relative_to(data_dir))]


def process_children(pid: int) -> list[int]:
    """Direct children of ``pid`` read from /proc (the uvicorn workers of a supervisor)."""
    children: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie may wait for a PID 1 that never reaps)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _socket_inodes(server_port: int, client_port: int) -> set[str]:
    """Inodes of the server side of the loopback connection from ``client_port`` to ``server_port``."""
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            inodes.add(fields[9])
    return inodes


def connection_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the accepted socket of this client connection (None: nobody yet)."""
    targets = {f"socket:[{inode}]" for inode in _socket_inodes(server_port, client_port)}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in targets:
                    return pid
            except OSError:
                continue
    return None
