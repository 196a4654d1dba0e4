"""Read the final stage of the Dockerfile: its ENV, ENTRYPOINT, CMD and HEALTHCHECK (so tests cannot drift)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import attrs


@attrs.frozen
class ImageSpec:
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    user: str
    volumes: list[str]
    stopsignal: str


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def parse_final_stage(path: Path, base_env: dict[str, str] | None = None) -> ImageSpec:
    instructions = _instructions(path.read_text())
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    env: dict[str, str] = dict(base_env or {})
    spec: dict[str, object] = {"entrypoint": [], "cmd": [], "healthcheck": [], "user": "root", "volumes": [],
                               "stopsignal": "SIGTERM"}
    for word, args in instructions[last_from + 1 :]:
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = _expand(value, env)
        elif word in ("ENTRYPOINT", "CMD"):
            spec[word.lower()] = json.loads(args)  # exec form only: a shell form would not parse
        elif word == "HEALTHCHECK":
            spec["healthcheck"] = json.loads(args[args.index("CMD") + 3 :].strip())
        elif word == "USER":
            spec["user"] = args
        elif word == "VOLUME":
            spec["volumes"] = json.loads(args) if args.startswith("[") else args.split()
        elif word == "STOPSIGNAL":
            spec["stopsignal"] = args
    return ImageSpec(env=env, **spec)  # type: ignore[arg-type]
