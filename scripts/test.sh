#!/usr/bin/env bash
# The README's test command: install everything the tests need, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
. .venv/bin/activate
for installer in scripts/install-clients.sh scripts/install-browser.sh; do
  if [ -f "$installer" ]; then bash "$installer"; fi
done
set +e
python -m pytest -q "$@"
status=$?
set -e
exit $status
