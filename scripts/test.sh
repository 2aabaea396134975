#!/usr/bin/env bash
# The test command: builds Shoal, runs the Rust tests (unit + integration), then the
# suites that drive a real daemon with the aws CLI, boto3 and `shoal` (pinned versions,
# installed into a project-local virtualenv), then the console's browser tests (Debian's
# headless Chromium driven by the pinned playwright-core).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-python.sh
./scripts/setup-browser.sh

cargo build --workspace --bins
cargo test --workspace
SHOAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/shoal" .venv/bin/python -m pytest tests/aws -q -p no:cacheprovider "$@"
SHOAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/shoal" node --test --test-concurrency=1 tests/console/
