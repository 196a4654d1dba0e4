"""Run the ASGI app under uvicorn (uvloop + httptools) from validated :class:`Settings`.

One worker: the app is built in this process and served by ``uvicorn.Server``; the optional HTTP->HTTPS
redirect listener runs as a second ``uvicorn.Server`` in the same event loop. N workers: uvicorn's supervisor
spawns N processes that each call :func:`app_from_environment`, which reads the settings from
``$SMARTS3_SETTINGS_JSON``; the redirect listener then runs in a thread of the supervisor process.

SIGTERM/SIGINT: uvicorn stops accepting, gives in-flight requests ``server.shutdownGrace`` seconds, runs the
lifespan shutdown, and :func:`run` returns normally (exit status 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from smarts3.adapters.observability.logging import configure_logging
from smarts3.entrypoints.config import (
    ENV_SETTINGS_JSON,
    is_loopback_host,
    settings_from_json,
    settings_to_json,
    uses_dev_credentials,
)
from smarts3.entrypoints.memory import skip_unused_optional_imports, tune_malloc
from smarts3.entrypoints.settings import DEV_ACCESS_KEY, DEV_SECRET_KEY, Settings, TlsSettings

__all__ = ["APP_FACTORY", "TlsFiles", "app_from_environment", "redirect_app", "run", "uvicorn_options"]

APP_FACTORY = "smarts3.entrypoints.server:app_from_environment"

_log = logging.getLogger("smarts3.server")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# --- TLS material


@dataclass(frozen=True)
class TlsFiles:
    """Paths uvicorn reads; PEM text from the settings has been written to private temp files."""

    certfile: str | None = None
    keyfile: str | None = None
    ca_certs: str | None = None


def _is_pem(value: str) -> bool:
    return "-----BEGIN " in value


@contextlib.contextmanager
def _tls_files(tls: TlsSettings) -> Iterator[TlsFiles]:
    """Materialise cert/key/CA as files for the lifetime of the server; temp files are mode 0600."""
    if not tls.enabled:
        yield TlsFiles()
        return
    created: list[str] = []

    def as_text(value: str) -> str:
        return value if _is_pem(value) else Path(value).read_text(encoding="utf-8")

    def temp(content: str, name: str) -> str:
        fd, path = tempfile.mkstemp(prefix=f"smarts3-{name}-", suffix=".pem")
        created.append(path)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        return path

    try:
        key = temp(tls.key, "key") if _is_pem(tls.key) else tls.key
        ca = (temp(tls.ca, "ca") if _is_pem(tls.ca) else tls.ca) or None
        if tls.ca:
            # serve the chain: a CA/intermediate given here is appended to the certificate clients receive
            cert = temp(as_text(tls.cert).rstrip() + "\n" + as_text(tls.ca), "chain")
        else:
            cert = temp(tls.cert, "cert") if _is_pem(tls.cert) else tls.cert
        yield TlsFiles(certfile=cert, keyfile=key, ca_certs=ca)
    finally:
        for path in created:
            with contextlib.suppress(OSError):
                os.unlink(path)


# --- uvicorn configuration


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def uvicorn_options(settings: Settings, tls: TlsFiles) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` (everything but the app and the worker count)."""
    srv = settings.server
    return {
        "host": srv.host,
        "port": srv.port,
        "loop": "uvloop" if _available("uvloop") else "asyncio",
        "http": "smarts3.entrypoints.server:QuickCloseHttpToolsProtocol" if _available("httptools") else "h11",
        "lifespan": "on",
        "access_log": False,  # the app writes the access log (smarts3.access)
        "log_config": None,  # logging is configured by configure_logging
        "log_level": settings.logging.level,
        "server_header": False,
        "timeout_graceful_shutdown": srv.shutdown_grace,
        "timeout_keep_alive": srv.keep_alive_timeout,
        "limit_concurrency": srv.limit_concurrency or None,
        "backlog": srv.backlog,
        "proxy_headers": srv.proxy_headers,
        "forwarded_allow_ips": srv.forwarded_allow_ips,
        # only the h11 protocol honours this; httptools accepts any size, so the S3 API checks the limit itself
        "h11_max_incomplete_event_size": settings.limits.max_header_size,
        "ssl_certfile": tls.certfile,
        "ssl_keyfile": tls.keyfile,
        "ssl_ca_certs": tls.ca_certs,
    }


# --- HTTP -> HTTPS redirect


def redirect_app(https_port: int, fallback_host: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A tiny ASGI app answering every request with 301 to the same path on ``https://host:https_port``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1") or fallback_host
        if host.startswith("["):
            host = host[: host.index("]") + 1] if "]" in host else host
        else:
            host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        port = "" if https_port == 443 else f":{https_port}"
        target = f"https://{host}{port}{scope.get('raw_path', b'').decode('latin-1') or scope['path']}"
        query = scope.get("query_string", b"")
        if query and "?" not in target:
            target += "?" + query.decode("latin-1")
        await send({
            "type": "http.response.start",
            "status": 301,
            "headers": [(b"location", target.encode("latin-1")), (b"content-length", b"0")],
        })
        await send({"type": "http.response.body", "body": b""})

    return app


class _SecondaryServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the primary one and stops when told."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _redirect_server(settings: Settings) -> _SecondaryServer | None:
    port = settings.server.ssl.redirect_http_port
    if not (settings.server.ssl.enabled and port):
        return None
    config = uvicorn.Config(
        redirect_app(settings.server.port, settings.server.host),
        host=settings.server.host,
        port=port,
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        loop="asyncio",
        http="h11",
    )
    return _SecondaryServer(config)


async def _serve_together(main: uvicorn.Server, redirect: _SecondaryServer) -> None:
    task = asyncio.create_task(redirect.serve())
    try:
        await main.serve()
    finally:
        redirect.should_exit = True
        with contextlib.suppress(Exception):
            await task


# --- signals


class _ShutdownSignals:
    """Turns SIGTERM/SIGINT into a clean return from :func:`run`.

    uvicorn handles the signals while serving and re-raises them afterwards; without a handler of our own the
    re-raised SIGTERM would kill the process with status 143 after a perfectly graceful shutdown.
    """

    def __init__(self) -> None:
        self.serving = False
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if not self.serving:
            raise SystemExit(0)  # a signal before the server started: just stop

    def __enter__(self) -> _ShutdownSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# --- entry points


def _announce(settings: Settings) -> None:
    srv = settings.server
    scheme = "https" if srv.ssl.enabled else "http"
    _log.info("smarts3 starting on %s://%s:%s with %d worker(s), storage %s %s", scheme, srv.host, srv.port,
              srv.workers, settings.storage.backend,
              settings.storage.directory if settings.storage.backend == "filesystem" else "")
    if not settings.auth.enabled:
        _log.warning("authentication is DISABLED: every request is accepted without a signature")
    elif uses_dev_credentials(settings):
        where = "" if is_loopback_host(srv.host) else " ON A NON-LOOPBACK ADDRESS"
        _log.warning(
            "no credentials configured: accepting the documented development credentials%s "
            "(access key id %s, secret %s); set auth.credentials or SMARTS3_AUTH_CREDENTIALS for anything shared",
            where, DEV_ACCESS_KEY, DEV_SECRET_KEY,
        )
    if srv.workers > 1 and (settings.logging.file or settings.logging.access_log_file):
        _log.warning("several workers write to the same log file; size-based rotation is not process-safe, "
                     "prefer stderr or an external rotator (logrotate copytruncate) with workers > 1")


def _secrets(settings: Settings) -> list[str]:
    # secrets from auth.credentialsFile are redacted too; the documented dev secret is public (and announced)
    if uses_dev_credentials(settings):
        return []
    return [c.secret_access_key for c in settings.effective_credentials()]


def _create_app(settings: Settings) -> Any:
    # the server process only (see memory.py): before the app's imports and before the I/O threads exist
    skip_unused_optional_imports()
    tune_malloc()
    from smarts3.entrypoints.app import create_app  # the app factory; imported late so the CLI stays light

    return create_app(settings)


def app_from_environment() -> Any:
    """uvicorn factory for worker processes: settings from ``$SMARTS3_SETTINGS_JSON``, then ``create_app``."""
    raw = os.environ.get(ENV_SETTINGS_JSON)
    if not raw:
        raise RuntimeError(f"{ENV_SETTINGS_JSON} is not set; start workers with `smarts3 serve`")
    settings = settings_from_json(raw)
    configure_logging(settings.logging, secrets=_secrets(settings))
    return _create_app(settings)


def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT. ``settings`` must come from ``load_settings`` (already validated)."""
    configure_logging(settings.logging, secrets=_secrets(settings))
    _announce(settings)
    with _ShutdownSignals() as signals, _tls_files(settings.server.ssl) as tls:
        options = uvicorn_options(settings, tls)
        redirect = _redirect_server(settings)
        if settings.server.workers == 1:
            config = uvicorn.Config(_create_app(settings), **options)
            main = uvicorn.Server(config)
            signals.serving = True
            if redirect is None:
                main.run()
            else:
                with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
                    runner.run(_serve_together(main, redirect))
            return
        os.environ[ENV_SETTINGS_JSON] = settings_to_json(settings).decode()
        thread: threading.Thread | None = None
        try:
            if redirect is not None:
                thread = threading.Thread(target=redirect.run, name="smarts3-redirect", daemon=True)
                thread.start()
            signals.serving = True
            uvicorn.run(APP_FACTORY, factory=True, workers=settings.server.workers, **options)
        finally:
            os.environ.pop(ENV_SETTINGS_JSON, None)
            if redirect is not None and thread is not None:
                redirect.should_exit = True
                thread.join(timeout=5)


def _quick_close_protocol() -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class QuickClose(HttpToolsProtocol):
        """uvicorn's httptools protocol, but idle keep-alive connections are dropped at once on shutdown.

        A plain close of a TLS connection waits for the client's close_notify, which an idle pooled client
        (boto3 keeps connections open) never sends, so SIGTERM used to take the whole shutdown grace period.
        Connections with a request in flight still finish it, as before."""

        def shutdown(self) -> None:
            if self.cycle is None or self.cycle.response_complete:
                self.transport.abort()
            else:
                self.cycle.keep_alive = False

    QuickClose.__name__ = QuickClose.__qualname__ = "QuickCloseHttpToolsProtocol"
    return QuickClose


def __getattr__(name: str) -> object:
    # resolved lazily (uvicorn imports "smarts3.entrypoints.server:QuickCloseHttpToolsProtocol" by name), so
    # importing this module does not require httptools
    if name == "QuickCloseHttpToolsProtocol":
        cls = _quick_close_protocol()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
