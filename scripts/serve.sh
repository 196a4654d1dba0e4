#!/usr/bin/env bash
# Install smarts3 into .venv and start it: http://127.0.0.1:9000, objects under ./s3-data.
# Extra arguments go to `smarts3 serve` (see `smarts3 serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh serve
exec .venv/bin/smarts3 serve "$@"
