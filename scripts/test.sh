#!/usr/bin/env bash
# The test command: builds Shoal, runs the Rust tests (unit + integration), then the
# suites that drive a real daemon with the aws CLI, boto3 and `shoal` (pinned versions,
# installed into a project-local virtualenv).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-python.sh

cargo build --workspace --bins
cargo test --workspace
SHOAL_BIN="$PWD/target/debug/shoal" .venv/bin/python -m pytest tests/aws -q -p no:cacheprovider "$@"
