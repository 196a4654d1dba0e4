#!/usr/bin/env bash
# Install the real S3 clients that tests/clients drives; idempotent, run by .ci/run before the tests.
#  - Debian packages: rclone, s3cmd (apt-get, needs root; skipped when already installed)
#  - into the active venv: awscli (v1, vendors its own botocore), minio, pyarrow
#  - s3fs into its own venv tests/clients/.venv-s3fs: aiobotocore pins an older botocore than the newest boto3
#  - the AWS SDK for JavaScript v3: `npm ci` in tests/clients/node (package-lock.json)
# Any failure exits non-zero: a client that cannot be installed fails CI instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
PYTHON=${PYTHON:-python}

missing=()
for pkg in rclone s3cmd; do
    command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

"$PYTHON" -m pip install --quiet \
    'awscli>=1.36,<2' \
    'minio>=7.2,<8' \
    'pyarrow>=17'

S3FS_VENV=tests/clients/.venv-s3fs
if [ ! -x "$S3FS_VENV/bin/python" ]; then
    "$PYTHON" -m venv "$S3FS_VENV"
fi
"$S3FS_VENV/bin/python" -m pip install --quiet 's3fs>=2024.10'

command -v node >/dev/null 2>&1 || { echo "node is required for the JS SDK client tests" >&2; exit 1; }
(cd tests/clients/node && npm ci --no-audit --no-fund --loglevel=error)

echo "clients: $(rclone version | head -1); $(s3cmd --version); $("$PYTHON" -m awscli --version 2>&1);" \
     "minio $("$PYTHON" -c 'import minio; print(minio.__version__)');" \
     "pyarrow $("$PYTHON" -c 'import pyarrow; print(pyarrow.__version__)');" \
     "s3fs $("$S3FS_VENV/bin/python" -c 'import s3fs; print(s3fs.__version__)');" \
     "boto3 $("$PYTHON" -c 'import boto3; print(boto3.__version__)')"
