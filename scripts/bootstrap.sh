#!/usr/bin/env bash
# Create .venv (if missing) and install smarts3 with its test dependencies into it. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
stamp=".venv/.smarts3-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)-${1:-test}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  python -m pip install --quiet --upgrade pip
  if [ "${1:-test}" = "serve" ]; then
    python -m pip install --quiet -e .
  else
    python -m pip install --quiet -e '.[test]'
  fi
  echo "$want" > "$stamp"
fi
