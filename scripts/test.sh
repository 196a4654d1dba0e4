#!/usr/bin/env bash
# The README's test command: the whole suite (unit, contract, conformance, clients).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ] && [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
exec python -m pytest -q "$@"
