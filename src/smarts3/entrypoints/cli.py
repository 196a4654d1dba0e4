"""The ``smarts3`` command line: ``serve``, ``config check|show``, ``cert generate``, ``--version``.

Each command is a function that adds its sub-parser and sets ``handler`` (``args -> exit status``). More
commands (``bucket``, ``object``, ``user``, ``gc``, ``fsck``) plug in by being listed in
:data:`EXTENSION_MODULES`: a module there that exists is imported and its ``register(subparsers)`` called.
Exit statuses: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from smarts3 import __version__
from smarts3.entrypoints.config import ConfigError, load_settings, mask_secrets

__all__ = ["EXTENSION_MODULES", "build_parser", "main", "overrides_from_args"]

#: modules that may add sub-commands; each defines ``register(subparsers: argparse._SubParsersAction) -> None``
EXTENSION_MODULES: tuple[str, ...] = (
    "smarts3.entrypoints.admin.bucket",
    "smarts3.entrypoints.admin.object",
    "smarts3.entrypoints.admin.user",
    "smarts3.entrypoints.admin.gc",
    "smarts3.entrypoints.admin.fsck",
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


# --- settings flags shared by `serve` and `config show`


def _settings_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (override the config file and SMARTS3_* variables)")
    group.add_argument("--config", metavar="FILE",
                       help="config file (.json, .yaml, .yml, .toml); default $SMARTS3_CONFIG")
    group.add_argument("--host", help="address to listen on (server.host), e.g. 0.0.0.0")
    group.add_argument("--port", type=int, help="port to listen on (server.port)")
    group.add_argument("--data-dir", metavar="DIR", help="storage directory (storage.directory)")
    group.add_argument("--memory", action="store_true", help="keep objects in memory (storage.backend=memory)")
    group.add_argument("--clean-slate", action="store_true", default=None,
                       help="delete every bucket at start-up (storage.cleanSlate)")
    group.add_argument("--no-fsync", action="store_true", help="skip fsync on writes (storage.fsync=false)")
    group.add_argument("--workers", type=int, metavar="N", help="worker processes (server.workers)")
    group.add_argument("--base-domain", metavar="D",
                       help="virtual-host style base domain, <bucket>.D (server.baseDomain)")
    group.add_argument("--region", help="region name reported to clients (server.region)")
    group.add_argument("--shutdown-grace", type=float, metavar="SECONDS",
                       help="seconds in-flight requests get after SIGTERM (server.shutdownGrace)")
    group.add_argument("--no-auth", action="store_true", help="accept unsigned requests (auth.enabled=false)")
    group.add_argument("--access-key", metavar="K", help="access key id (with --secret-key)")
    group.add_argument("--secret-key", metavar="S",
                       help="secret access key (with --access-key); prefer SMARTS3_SECRET_ACCESS_KEY, "
                            "flags are visible in the process list")
    group.add_argument("--tls-cert", metavar="FILE", help="TLS certificate, enables HTTPS (server.ssl.cert)")
    group.add_argument("--tls-key", metavar="FILE", help="TLS private key (server.ssl.key)")
    group.add_argument("--tls-ca", metavar="FILE", help="CA / chain appended to the certificate (server.ssl.ca)")
    group.add_argument("--redirect-http-port", type=int, metavar="PORT",
                       help="plain-HTTP port answering 301 to HTTPS (server.ssl.redirectHttpPort)")
    group.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="logging.level")
    group.add_argument("--log-format", choices=["text", "json"], help="logging.format")
    group.add_argument("--log-file", metavar="FILE", help="application log file, rotated (logging.file)")
    group.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=None,
                       help="write one access-log line per request (logging.accessLog)")
    group.add_argument("--access-log-file", metavar="FILE", help="logging.accessLogFile")
    return parent


_SIMPLE_FLAGS: dict[str, str] = {
    "host": "server.host",
    "port": "server.port",
    "data_dir": "storage.directory",
    "clean_slate": "storage.cleanSlate",
    "workers": "server.workers",
    "base_domain": "server.baseDomain",
    "region": "server.region",
    "shutdown_grace": "server.shutdownGrace",
    "tls_ca": "server.ssl.ca",
    "redirect_http_port": "server.ssl.redirectHttpPort",
    "log_level": "logging.level",
    "log_format": "logging.format",
    "log_file": "logging.file",
    "access_log": "logging.accessLog",
    "access_log_file": "logging.accessLogFile",
}


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted-path overrides for ``load_settings`` from the settings flags that were given."""
    out: dict[str, Any] = {}
    for attr, path in _SIMPLE_FLAGS.items():
        value = getattr(args, attr, None)
        if value is not None:
            out[path] = value
    if getattr(args, "memory", False):
        out["storage.backend"] = "memory"
    if getattr(args, "no_fsync", False):
        out["storage.fsync"] = False
    if getattr(args, "no_auth", False):
        out["auth.enabled"] = False
    access_key, secret_key = getattr(args, "access_key", None), getattr(args, "secret_key", None)
    if (access_key is None) != (secret_key is None):
        raise ConfigError("--access-key and --secret-key must be given together")
    if access_key is not None:
        out["auth.credentials"] = [{"accessKeyId": access_key, "secretAccessKey": secret_key}]
    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if (cert is None) != (key is None):
        raise ConfigError("--tls-cert and --tls-key must be given together")
    if cert is not None:
        out.update({"server.ssl.enabled": True, "server.ssl.cert": cert, "server.ssl.key": key})
    return out


# --- commands


def _cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, os.environ, overrides_from_args(args))
    from smarts3.entrypoints import server  # uvicorn and the app load only when serving

    server.run(settings)
    return EXIT_OK


def _cmd_config_check(args: argparse.Namespace) -> int:
    env = {} if args.ignore_env else os.environ
    load_settings(args.file, env, {})
    print(f"{args.file}: ok")
    return EXIT_OK


def _cmd_config_show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, os.environ, overrides_from_args(args))
    data = mask_secrets(settings)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")
    return EXIT_OK


def _cmd_cert_generate(args: argparse.Namespace) -> int:
    try:
        from smarts3.entrypoints.certs import generate_dev_certificates
    except ModuleNotFoundError as exc:  # cryptography is the optional extra "certs"
        print(f"smarts3: cert generate needs the {exc.name!r} package; install smarts3[certs] "
              "(pipx install 'smarts3[certs]' / uv tool install 'smarts3[certs]')", file=sys.stderr)
        return EXIT_FAILURE

    try:
        paths = generate_dev_certificates(args.out_dir, args.hostname, args.days, overwrite=args.force)
    except FileExistsError as exc:
        print(f"smarts3: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:
        print(f"smarts3: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"CA certificate:     {paths.ca}   (trust this in clients, e.g. AWS_CA_BUNDLE)")
    print(f"server certificate: {paths.cert}")
    print(f"server key:         {paths.key}   (mode 0600)")
    print(f"serve with: smarts3 serve --tls-cert {paths.cert} --tls-key {paths.key}")
    return EXIT_OK


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser], flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[flags], help="run the S3 server",
                       description="Run the S3 server. Settings: flags > SMARTS3_* environment > config file "
                                   "> defaults.")
    p.set_defaults(handler=_cmd_serve)


def _add_config(sub: argparse._SubParsersAction[argparse.ArgumentParser], flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("config", help="check or show configuration",
                       description="Check a config file or show the effective settings.")
    cs = p.add_subparsers(dest="config_command", metavar="{check,show}", required=True)
    check = cs.add_parser("check", help="validate a config file (exit 0 'ok', or the problem and exit 2)",
                          description="Validate FILE together with the SMARTS3_* environment, as `serve` would.")
    check.add_argument("file", metavar="FILE")
    check.add_argument("--ignore-env", action="store_true", help="validate the file alone, without SMARTS3_*")
    check.set_defaults(handler=_cmd_config_check)
    show = cs.add_parser("show", parents=[flags], help="print the effective settings, secrets masked",
                         description="Print the effective settings (file + environment + flags), secrets masked.")
    show.add_argument("--json", action="store_true", help="JSON instead of YAML")
    show.set_defaults(handler=_cmd_config_show)


def _add_cert(sub: argparse._SubParsersAction[argparse.ArgumentParser], flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("cert", help="development TLS certificates",
                       description="Development TLS certificates.")
    cs = p.add_subparsers(dest="cert_command", metavar="{generate}", required=True)
    gen = cs.add_parser(
        "generate", help="write a self-signed dev CA and a server certificate",
        description="Write ca.pem, cert.pem and key.pem: a throwaway CA (its key is not kept) and a server "
                    "certificate for localhost, 127.0.0.1, ::1 and any --hostname.",
    )
    gen.add_argument("--out-dir", default="./certs", metavar="DIR", help="output directory (default ./certs)")
    gen.add_argument("--hostname", action="append", default=[], metavar="NAME",
                     help="extra DNS name or IP address for the certificate (repeatable)")
    gen.add_argument("--days", type=int, default=825, metavar="N", help="validity in days (default 825)")
    gen.add_argument("--force", action="store_true", help="replace existing files")
    gen.set_defaults(handler=_cmd_cert_generate)


_BUILTIN = (_add_serve, _add_config, _add_cert)


def build_parser() -> argparse.ArgumentParser:
    """The full ``smarts3`` parser, including any installed extension commands."""
    parser = argparse.ArgumentParser(
        prog="smarts3",
        description="S3-compatible object storage server that keeps objects as plain files.",
    )
    parser.add_argument("--version", action="version", version=f"smarts3 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    flags = _settings_flags()
    for add in _BUILTIN:
        add(sub, flags)
    for module_name in EXTENSION_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # not written yet / not installed
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smarts3`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"smarts3: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
