#!/usr/bin/env bash
# Creates .venv with the pinned client tools the tests drive Shoal with.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import boto3, awscli, pytest, cbor2, tzdata, ansible_collections.amazon.aws" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
