"""Load, merge and validate settings: file (JSON/YAML/TOML) < SMARTS3_* environment < CLI flags.

Every source is turned into a plain dict with the camelCase keys of :class:`Settings`; the dicts are
deep-merged (later wins, lists are replaced not concatenated) and bound once with ``msgspec.convert``. Any
problem - a parse error, a wrong type, an unknown key, a semantic rule - becomes a :class:`ConfigError`
whose message names the setting path (``server.port``), the bad value, where it came from and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import msgspec
import yaml

from smarts3.entrypoints.settings import DEV_ACCESS_KEY, Credential, CredentialStoreFile, Settings

__all__ = [
    "ENV_PREFIX",
    "ConfigError",
    "env_variable_table",
    "is_loopback_host",
    "load_settings",
    "mask_secrets",
    "read_credential_store",
    "read_credentials_file",
    "settings_from_json",
    "settings_to_json",
    "uses_dev_credentials",
]

_log = logging.getLogger("smarts3.config")

ENV_PREFIX = "SMARTS3_"
#: environment variables with a meaning of their own (not ``SMARTS3_<SECTION>_<FIELD>``)
ENV_CONFIG_FILE = "SMARTS3_CONFIG"
ENV_CREDENTIALS = "SMARTS3_AUTH_CREDENTIALS"
ENV_ACCESS_KEY_ID = "SMARTS3_ACCESS_KEY_ID"
ENV_SECRET_ACCESS_KEY = "SMARTS3_SECRET_ACCESS_KEY"
#: used by the server runner to hand validated settings to worker processes; never read as configuration
ENV_SETTINGS_JSON = "SMARTS3_SETTINGS_JSON"
_SPECIAL_ENV = {ENV_CONFIG_FILE, ENV_CREDENTIALS, ENV_ACCESS_KEY_ID, ENV_SECRET_ACCESS_KEY, ENV_SETTINGS_JSON}

#: alternative spellings accepted in files and env (the plan's ``server.address``, ``server.tls``)
_ALIASES: dict[tuple[str, ...], dict[str, str]] = {
    ("server",): {"address": "host", "tls": "ssl"},
}

_MASK = "********"
_PEM_MARKER = "-----BEGIN "


class ConfigError(Exception):
    """Invalid configuration. ``str(error)`` is a complete message for a human; the CLI exits 2 with it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- key names


def _camel(name: str) -> str:
    """``clean_slate`` / ``clean-slate`` / ``cleanSlate`` -> ``cleanSlate``."""
    parts = re.split(r"[_\-]+", name)
    if len(parts) == 1:
        return name
    head, *tail = parts
    return head + "".join(p[:1].upper() + p[1:] for p in tail)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _struct_fields(cls: type[msgspec.Struct]) -> dict[str, tuple[str, Any]]:
    """camelCase encode name -> (python attribute name, resolved type)."""
    hints = typing.get_type_hints(cls)
    return {f.encode_name: (f.name, hints[f.name]) for f in msgspec.structs.fields(cls)}


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _type_at(path: tuple[str | int, ...]) -> Any:
    """The declared type of the setting at a camelCase path, or None when the path is unknown."""
    tp: Any = Settings
    for part in path:
        if isinstance(part, int):
            args = get_args(tp)
            if get_origin(tp) is not list or not args:
                return None
            tp = args[0]
            continue
        if not _is_struct(tp):
            return None
        fields = _struct_fields(tp)
        if part not in fields:
            return None
        tp = fields[part][1]
    return tp


def _describe_type(tp: Any) -> str:
    """What a value of this type looks like, for error messages."""
    origin = get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is list:
        (item,) = get_args(tp)
        if item is str:
            return "a list of strings"
        if _is_struct(item):
            return "a list of objects with keys " + ", ".join(_struct_fields(item))
        return "a list"
    if _is_struct(tp):
        return "an object with keys " + ", ".join(_struct_fields(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe_type(a) for a in get_args(tp))
    return str(tp)


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --- sources


def _read_file(path: str) -> dict[str, Any]:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml", ".toml"):
        raise ConfigError(
            f"config file {path}: unsupported extension {suffix or '(none)'!r}; "
            "allowed: .json, .yaml, .yml, .toml"
        )
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc.strerror})") from None
    try:
        if suffix == ".json":
            data: Any = json.loads(raw)
        elif suffix == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path}: not valid {suffix[1:].upper()}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path}: the top level must be a mapping of sections, got {type(data).__name__}"
        )
    data.pop("$schema", None)
    return data


def _normalize_keys(value: Any, path: tuple[str, ...] = ()) -> Any:
    """Recursively rewrite keys to camelCase and resolve aliases."""
    if isinstance(value, list):
        return [_normalize_keys(v, path) for v in value]
    if not isinstance(value, dict):
        return value
    aliases = _ALIASES.get(path, {})
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = _camel(str(key))
        name = aliases.get(name, name)
        if name in out and out[name] != item:
            raise ConfigError(f"{_dotted((*path, name))}: given twice (as {key!r} and another spelling)")
        out[name] = _normalize_keys(item, (*path, name))
    return out


def _adapt_plan_shape(data: dict[str, Any], source: str) -> None:
    """Map the production-readiness plan's ``smarts3.config.json`` shapes onto our model, in place."""
    server = data.get("server")
    if isinstance(server, dict):
        ssl = server.get("ssl")
        if isinstance(ssl, dict) and "redirectHttp" in ssl:
            redirect = ssl.pop("redirectHttp")
            if redirect is True and not ssl.get("redirectHttpPort"):
                ssl["redirectHttpPort"] = 80
            elif isinstance(redirect, int) and not isinstance(redirect, bool) and redirect > 0:
                ssl["redirectHttpPort"] = redirect
    auth = data.get("auth")
    if isinstance(auth, dict) and "signatureVersion" in auth:
        version = auth.pop("signatureVersion")
        if version == "none":
            auth["enabled"] = False
        elif version != "v4":
            raise ConfigError(
                f"auth.signatureVersion = {version!r} (from {source}): not allowed; allowed: 'v4', 'none'"
            )
    limits = data.get("limits")
    if isinstance(limits, dict):
        timeout = limits.get("requestTimeout")
        # The plan (a Node.js project) writes milliseconds (300000); ours is seconds. Nobody means a
        # 17-minute silent-client timeout, so large numbers are read as milliseconds.
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout >= 1000:
            _log.warning(
                "limits.requestTimeout = %s (from %s) read as milliseconds (%.1f s); write seconds", timeout,
                source, timeout / 1000,
            )
            limits["requestTimeout"] = timeout / 1000
    log = data.get("logging")
    if isinstance(log, dict):
        if isinstance(log.get("level"), str):
            level = log["level"].lower()
            log["level"] = {"warn": "warning", "critical": "error", "fatal": "error"}.get(level, level)
        if isinstance(log.get("format"), str):
            log["format"] = log["format"].lower()
        access = log.get("accessLog")
        if isinstance(access, dict):
            log["accessLog"] = access.get("enabled", True)
            if access.get("path"):
                log["accessLogFile"] = access["path"]
            if access.get("format"):
                log["accessLogFormat"] = str(access["format"]).lower()
        error_log = log.pop("errorLog", None)
        if isinstance(error_log, dict):
            # our application log carries errors and everything else at or above logging.level
            if error_log.get("enabled", True) and error_log.get("path"):
                log["file"] = error_log["path"]
        elif error_log is not None:
            raise ConfigError(
                f"logging.errorLog = {error_log!r} (from {source}): not allowed; "
                "allowed: an object {enabled, path} (prefer logging.file)"
            )


def _bool_from_env(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off", ""):
        return False
    raise ConfigError(f"{name} = {raw!r}: not a boolean; allowed: true/false, 1/0, yes/no, on/off")


def _coerce_env(name: str, raw: str, tp: Any) -> Any:
    if tp is bool:
        return _bool_from_env(name, raw)
    if tp is int:
        try:
            return int(raw.strip().replace("_", ""))
        except ValueError:
            raise ConfigError(f"{name} = {raw!r}: not an integer; allowed: {_describe_type(tp)}") from None
    if tp is float:
        try:
            return float(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} = {raw!r}: not a number; allowed: {_describe_type(tp)}") from None
    if get_origin(tp) is list and get_args(tp) == (str,):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if get_origin(tp) is Literal:
        return raw.strip().lower()
    if tp is str:
        return raw
    raise ConfigError(f"{name}: this setting cannot be given as an environment variable; use the config file")


def _resolve_env_name(name: str) -> tuple[tuple[str, ...], Any] | None:
    """``SMARTS3_SERVER_SSL_CERT`` -> (("server", "ssl", "cert"), str); None when the section is not ours."""
    rest = name[len(ENV_PREFIX) :].lower()
    top = {_snake(k): k for k in _struct_fields(Settings)}
    section = next((s for s in top if rest.startswith(s + "_")), None)
    if section is None:
        return None
    path: tuple[str, ...] = (top[section],)
    cls: Any = _type_at(path)
    remainder = rest[len(section) + 1 :]
    while True:
        fields = _struct_fields(cls)
        by_snake = {_snake(k): k for k in fields}
        for alias, target in _ALIASES.get(path, {}).items():
            by_snake.setdefault(_snake(alias), target)
        if remainder in by_snake:
            key = by_snake[remainder]
            tp = fields[key][1]
            if _is_struct(tp):
                break
            return (*path, key), tp
        nested = next(
            (s for s in by_snake if remainder.startswith(s + "_") and _is_struct(fields[by_snake[s]][1])),
            None,
        )
        if nested is None:
            break
        path = (*path, by_snake[nested])
        cls = fields[by_snake[nested]][1]
        remainder = remainder[len(nested) + 1 :]
    allowed = ", ".join(
        ENV_PREFIX + "_".join(_snake(p).upper() for p in (*path, k))
        for k, (_, t) in _struct_fields(cls).items()
        if not _is_struct(t)
    )
    raise ConfigError(f"{name}: unknown setting {_dotted(path)}.{_camel(remainder)}; allowed: {allowed}")


def _parse_credentials(name: str, raw: str) -> list[dict[str, str]]:
    creds: list[dict[str, str]] = []
    for index, item in enumerate(part.strip() for part in raw.split(",")):
        if not item:
            continue
        access_key, sep, secret = item.partition(":")
        if not sep or not access_key.strip() or not secret.strip():
            raise ConfigError(
                f"{name}: entry {index + 1} is not ACCESS_KEY_ID:SECRET_ACCESS_KEY; "
                "allowed: comma-separated pairs like AK1:SECRET1,AK2:SECRET2"
            )
        creds.append({"accessKeyId": access_key.strip(), "secretAccessKey": secret.strip()})
    return creds


def _from_env(env: Mapping[str, str], origin: dict[tuple[str, ...], str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in _SPECIAL_ENV:
            continue
        resolved = _resolve_env_name(name)
        if resolved is None:
            continue  # not a settings section: leave other SMARTS3_* variables to whoever owns them
        path, tp = resolved
        _set_path(data, path, _coerce_env(name, env[name], tp))
        origin[path] = f"env {name}"
    if ENV_CREDENTIALS in env:
        data.setdefault("auth", {})["credentials"] = _parse_credentials(ENV_CREDENTIALS, env[ENV_CREDENTIALS])
        origin[("auth", "credentials")] = f"env {ENV_CREDENTIALS}"
    key_id, secret = env.get(ENV_ACCESS_KEY_ID), env.get(ENV_SECRET_ACCESS_KEY)
    if key_id is not None or secret is not None:
        if not key_id or not secret:
            raise ConfigError(
                f"{ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY} must be set together, both non-empty"
            )
        if ENV_CREDENTIALS in env:
            raise ConfigError(
                f"set either {ENV_CREDENTIALS} or {ENV_ACCESS_KEY_ID}/{ENV_SECRET_ACCESS_KEY}, not both"
            )
        data.setdefault("auth", {})["credentials"] = [{"accessKeyId": key_id, "secretAccessKey": secret}]
        origin[("auth", "credentials")] = f"env {ENV_ACCESS_KEY_ID}/{ENV_SECRET_ACCESS_KEY}"
    return data


def _from_overrides(overrides: Mapping[str, Any], origin: dict[tuple[str, ...], str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for dotted, value in overrides.items():
        path = tuple(_camel(p) for p in dotted.split("."))
        if path[:1] == ("server",) and len(path) > 1:
            alias = _ALIASES[("server",)].get(path[1])
            path = (path[0], alias, *path[2:]) if alias else path
        _set_path(data, path, value)
        origin[path] = f"command line ({_dotted(path)})"
    return data


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _record_origin(data: Any, path: tuple[str, ...], label: str, origin: dict[tuple[str, ...], str]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            _record_origin(value, (*path, key), label, origin)
    else:
        origin[path] = label


# --- binding


_MSGSPEC_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _parse_msgspec_path(raw: str) -> tuple[str | int, ...]:
    """``.auth.credentials[0].accessKeyId`` -> ("auth", "credentials", 0, "accessKeyId")."""
    return tuple(
        int(m.group(2)) if m.group(2) is not None else m.group(1)
        for m in re.finditer(r"\.([^.\[]+)|\[(\d+)\]", raw)
    )


def _lookup(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _origin_of(origin: Mapping[tuple[str, ...], str], path: tuple[str | int, ...]) -> str:
    keys = tuple(p for p in path if isinstance(p, str))
    while keys:
        if keys in origin:
            return origin[keys]
        keys = keys[:-1]
    return "defaults"


def _show(value: Any, path: tuple[str | int, ...]) -> str:
    if isinstance(value, str) and value and (path[-1:] == ("secretAccessKey",) or _is_pem(value)):
        return repr(_MASK)
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _rewrite_validation_error(exc: msgspec.ValidationError, merged: dict[str, Any],
                              origin: Mapping[tuple[str, ...], str]) -> ConfigError:
    match = _MSGSPEC_AT.match(str(exc))
    assert match is not None
    what, raw_path = match.group("what"), match.group("path") or ""
    path = _parse_msgspec_path(raw_path)
    unknown = re.match(r"Object contains unknown field `(.+)`", what)
    if unknown:
        parent = _type_at(path)
        full = (*path, unknown.group(1))
        allowed = ", ".join(_struct_fields(parent)) if _is_struct(parent) else "none"
        return ConfigError(
            f"{_dotted(full)} = {_show(_lookup(merged, full), full)} (from {_origin_of(origin, full)}): "
            f"unknown setting; allowed keys in {_dotted(path) or 'the top level'}: {allowed}"
        )
    missing = re.match(r"Object missing required field `(.+)`", what)
    if missing:
        full = (*path, missing.group(1))
        return ConfigError(
            f"{_dotted(full)} (from {_origin_of(origin, path)}): required but missing; "
            f"allowed: {_describe_type(_type_at(full))}"
        )
    tp = _type_at(path)
    allowed = _describe_type(tp) if tp is not None else what
    return ConfigError(
        f"{_dotted(path)} = {_show(_lookup(merged, path), path)} (from {_origin_of(origin, path)}): "
        f"{what[:1].lower() + what[1:]}; allowed: {allowed}"
    )


# --- semantics


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback_host(host: str) -> bool:
    """True when ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def uses_dev_credentials(settings: Settings) -> bool:
    """Auth is on and no credentials (inline or file) are configured, so the development pair is accepted."""
    return settings.auth.enabled and not settings.auth.credentials and not settings.auth.credentials_file


def read_credential_store(path: str) -> CredentialStoreFile:
    """The credential store file at ``path`` (``auth.credentialsFile``); an absent file is an empty store.

    Raises :class:`ConfigError` naming the file when it cannot be read or is not a valid store.
    """
    where = f"auth.credentialsFile = {path!r}"
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return CredentialStoreFile()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot be read ({exc.strerror})") from None
    try:
        store = msgspec.json.decode(raw, type=CredentialStoreFile)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(
            f"{where}: not a valid credential store ({exc}); allowed: JSON "
            '{"version": 1, "users": [{"accessKeyId": ..., "secretAccessKey": ..., "name": ...}]} '
            "as written by `smarts3 user add`"
        ) from None
    if store.version != 1:
        raise ConfigError(f"{where}: version {store.version} is not supported; allowed: 1")
    seen: set[str] = set()
    for index, user in enumerate(store.users):
        if not user.access_key_id.strip() or re.search(r"[\s/:]", user.access_key_id):
            raise ConfigError(f"{where}: users[{index}].accessKeyId = {user.access_key_id!r}: not allowed; "
                              "allowed: a non-empty string without whitespace, '/' or ':'")
        if not user.secret_access_key.strip():
            raise ConfigError(f"{where}: users[{index}].secretAccessKey is empty; allowed: a non-empty string")
        if user.access_key_id in seen:
            raise ConfigError(f"{where}: users[{index}].accessKeyId = {user.access_key_id!r} appears twice")
        seen.add(user.access_key_id)
    return store


def read_credentials_file(path: str) -> list[Credential]:
    """Credentials of the store file at ``path`` (empty when the file does not exist yet)."""
    return [
        Credential(access_key_id=u.access_key_id, secret_access_key=u.secret_access_key)
        for u in read_credential_store(path).users
    ]


def _is_pem(value: str) -> bool:
    return _PEM_MARKER in value


_BUCKET_CHARS = re.compile(r"^[a-z0-9.\-]*$")


def _semantic_errors(s: Settings, origin: Mapping[tuple[str, ...], str]) -> list[str]:
    errors: list[str] = []

    def bad(path: tuple[str | int, ...], value: Any, allowed: str) -> None:
        errors.append(f"{_dotted(path)} = {_show(value, path)} (from {_origin_of(origin, path)}): "
                      f"not allowed; allowed: {allowed}")

    srv = s.server
    if not srv.host.strip():
        bad(("server", "host"), srv.host, "an IP address or host name, e.g. 127.0.0.1 or 0.0.0.0")
    if not 0 <= srv.port <= 65535:
        bad(("server", "port"), srv.port, "an integer from 0 to 65535 (0 = any free port)")
    if srv.workers < 1:
        bad(("server", "workers"), srv.workers, "an integer >= 1")
    if srv.shutdown_grace < 0:
        bad(("server", "shutdownGrace"), srv.shutdown_grace, "seconds >= 0")
    if srv.keep_alive_timeout <= 0:
        bad(("server", "keepAliveTimeout"), srv.keep_alive_timeout, "seconds > 0")
    if srv.limit_concurrency < 0:
        bad(("server", "limitConcurrency"), srv.limit_concurrency, "an integer >= 0 (0 = unlimited)")
    if srv.backlog < 1:
        bad(("server", "backlog"), srv.backlog, "an integer >= 1")
    if not srv.region.strip():
        bad(("server", "region"), srv.region, "a non-empty region name such as us-east-1")
    if srv.base_domain and not re.fullmatch(r"[A-Za-z0-9.\-]+(:\d+)?", srv.base_domain):
        bad(("server", "baseDomain"), srv.base_domain,
            "a host name without scheme or path, e.g. s3.example.test")

    tls = srv.ssl
    redirect = ("server", "ssl", "redirectHttpPort")
    if not 0 <= tls.redirect_http_port <= 65535:
        bad(redirect, tls.redirect_http_port, "an integer from 0 (off) to 65535")
    if tls.redirect_http_port and not tls.enabled:
        bad(redirect, tls.redirect_http_port, "0 unless server.ssl.enabled is true")
    if tls.redirect_http_port and tls.redirect_http_port == srv.port:
        bad(redirect, tls.redirect_http_port, "a port different from server.port")
    if tls.enabled:
        for name in ("cert", "key", "ca"):
            value: str = getattr(tls, name)
            path = ("server", "ssl", name)
            if not value:
                if name != "ca":
                    bad(path, value, "a path to an existing PEM file or the PEM text (required when "
                                     "server.ssl.enabled is true)")
            elif not _is_pem(value) and not Path(value).is_file():
                bad(path, value, f"a path to an existing PEM file (no file at {Path(value).resolve()}) "
                                 "or the PEM text")

    st = s.storage
    if st.backend == "filesystem" and not st.directory.strip():
        bad(("storage", "directory"), st.directory, "a directory path")
    if st.backend == "memory" and srv.workers > 1:
        bad(("server", "workers"), srv.workers,
            "1 with storage.backend 'memory' (workers share nothing in memory)")

    au = s.auth
    seen: set[str] = set()
    for i, cred in enumerate(au.credentials):
        base: tuple[str | int, ...] = ("auth", "credentials")
        if not cred.access_key_id.strip() or re.search(r"[\s/:]", cred.access_key_id):
            bad((*base, i, "accessKeyId"), cred.access_key_id,
                "a non-empty string without whitespace, '/' or ':'")
        if not cred.secret_access_key.strip():
            bad((*base, i, "secretAccessKey"), cred.secret_access_key, "a non-empty string")
        if cred.access_key_id in seen:
            bad((*base, i, "accessKeyId"), cred.access_key_id, "an access key id used only once")
        seen.add(cred.access_key_id)
    if au.max_clock_skew < 0:
        bad(("auth", "maxClockSkew"), au.max_clock_skew, "seconds >= 0")
    if au.credentials_file:
        try:
            read_credential_store(au.credentials_file)
        except ConfigError as exc:
            errors.append(f"{exc} (from {_origin_of(origin, ('auth', 'credentialsFile'))})")
    public = not is_loopback_host(srv.host)
    if uses_dev_credentials(s) and public and not au.allow_dev_credentials_on_public_address:
        errors.append(
            f"server.host = {srv.host!r} (from {_origin_of(origin, ('server', 'host'))}) "
            "with no auth.credentials: "
            f"the documented development credentials ({DEV_ACCESS_KEY}) would be accepted on a non-loopback "
            "address; allowed: configure auth.credentials (SMARTS3_AUTH_CREDENTIALS), listen on 127.0.0.1, "
            "disable auth, or set auth.allowDevCredentialsOnPublicAddress = true"
        )

    co = s.cors
    if co.max_age < 0:
        bad(("cors", "maxAge"), co.max_age, "seconds >= 0")

    li = s.limits
    sizes: tuple[tuple[str, float, str], ...] = (
        ("maxObjectSize", li.max_object_size, "bytes > 0"),
        ("minPartSize", li.min_part_size, "bytes > 0"),
        ("maxKeyLength", li.max_key_length, "an integer > 0"),
        ("requestTimeout", li.request_timeout, "seconds > 0"),
        ("maxHeaderSize", li.max_header_size, "bytes > 0"),
    )
    for name, number, rule in sizes:
        if number <= 0:
            bad(("limits", name), number, rule)
    if li.max_metadata_size < 0:
        bad(("limits", "maxMetadataSize"), li.max_metadata_size, "bytes >= 0")
    if li.min_part_size > li.max_object_size > 0:
        bad(("limits", "minPartSize"), li.min_part_size, "at most limits.maxObjectSize")

    lg = s.logging
    if lg.max_bytes < 0:
        bad(("logging", "maxBytes"), lg.max_bytes, "bytes >= 0 (0 = never rotate)")
    if lg.backup_count < 0:
        bad(("logging", "backupCount"), lg.backup_count, "an integer >= 0")

    me = s.metrics
    paths: dict[str, str] = {}
    for name in ("path", "healthPath", "readyPath"):
        value = getattr(me, _snake(name))
        first = value[1:].split("/", 1)[0] if value.startswith("/") else ""
        if not value.startswith("/") or not first or _BUCKET_CHARS.match(first):
            bad(("metrics", name), value,
                "a path starting with '/' whose first segment contains a character S3 forbids in bucket "
                "names (such as '_'), e.g. '/_health', so it never hides a bucket")
        elif value in paths:
            bad(("metrics", name), value, f"a path different from metrics.{paths[value]}")
        paths[value] = name

    mp = s.multipart
    if mp.max_age <= 0:
        bad(("multipart", "maxAge"), mp.max_age, "seconds > 0")
    if mp.cleanup_interval < 0:
        bad(("multipart", "cleanupInterval"), mp.cleanup_interval, "seconds >= 0 (0 = only at start-up)")
    lc = s.lifecycle
    if lc.interval <= 0:
        bad(("lifecycle", "interval"), lc.interval, "seconds > 0")
    if lc.day_seconds <= 0:
        bad(("lifecycle", "daySeconds"), lc.day_seconds, "seconds > 0")
    return errors


# --- public API


def load_settings(
    config_file: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build validated settings from a file, environment variables and flag overrides (later wins).

    ``config_file`` falls back to ``$SMARTS3_CONFIG``; ``env`` defaults to ``os.environ``; ``overrides`` maps
    dotted setting paths (``server.port``) to values already of the right type. Raises :class:`ConfigError`.
    """
    env = os.environ if env is None else env
    overrides = overrides or {}
    origin: dict[tuple[str, ...], str] = {}
    layers: list[dict[str, Any]] = []

    path = config_file or env.get(ENV_CONFIG_FILE) or None
    if path:
        file_data = _normalize_keys(_read_file(path))
        _adapt_plan_shape(file_data, f"file {path}")
        _record_origin(file_data, (), f"file {path}", origin)
        layers.append(file_data)
    env_data = _from_env(env, origin)
    layers.append(env_data)
    layers.append(_from_overrides(overrides, origin))

    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _deep_merge(merged, layer)
    try:
        settings = msgspec.convert(merged, Settings)
    except msgspec.ValidationError as exc:
        raise _rewrite_validation_error(exc, merged, origin) from None
    errors = _semantic_errors(settings, origin)
    if errors:
        if len(errors) == 1:
            raise ConfigError(errors[0])
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
    return settings


def settings_to_json(settings: Settings) -> bytes:
    """Encode validated settings for another process (see ``smarts3.entrypoints.server``)."""
    return msgspec.json.encode(settings)


def settings_from_json(data: str | bytes) -> Settings:
    """Decode settings written by :func:`settings_to_json`."""
    return msgspec.json.decode(data, type=Settings)


def _mask_pem(value: str) -> str:
    if not value:
        return value
    if _is_pem(value):
        return "<PEM text, masked>" if "PRIVATE KEY" in value else f"<PEM text, {len(value)} characters>"
    return value


def mask_secrets(settings: Settings) -> dict[str, Any]:
    """Settings as a plain camelCase dict with secret keys and inline private keys replaced by a mask."""
    data: dict[str, Any] = msgspec.to_builtins(settings)
    for cred in data["auth"]["credentials"]:
        cred["secretAccessKey"] = _MASK
    tls = data["server"]["ssl"]
    for name in ("cert", "key", "ca"):
        tls[name] = _mask_pem(tls[name])
    return data


def env_variable_table() -> list[tuple[str, str, Any]]:
    """(environment variable, setting path, default) for every scalar setting - the README table."""
    rows: list[tuple[str, str, Any]] = []
    defaults = msgspec.to_builtins(Settings())

    def walk(cls: type[msgspec.Struct], path: tuple[str, ...]) -> None:
        for key, (_, tp) in _struct_fields(cls).items():
            if _is_struct(tp):
                walk(tp, (*path, key))
                continue
            full = (*path, key)
            name = ENV_PREFIX + "_".join(_snake(p).upper() for p in full)
            if full == ("auth", "credentials"):
                name = f"{ENV_CREDENTIALS} (AK:SECRET,...)"
            rows.append((name, _dotted(full), _lookup(defaults, full)))

    walk(Settings, ())
    return rows

