#!/usr/bin/env bash
# The test command: builds Shoal, runs the Rust tests (unit + integration), then the
# suites that drive a real daemon with the aws CLI, boto3, `shoal` and Terraform (pinned
# versions, installed into a project-local virtualenv; Terraform's tests skip, saying
# why, where the machine has no terraform and provider mirror; two suite files at a time,
# each in a network namespace of its own: tests/run_suites.py), then the console's
# browser tests (Debian's headless Chromium driven by the pinned playwright-core) and the
# AWS SDK for JavaScript v3's (pinned in tests/sdk-js) and the AWS SDK for Rust's (pinned
# in tests/sdk-rust, built in the user's cache like the fuzz targets), then each fuzz
# target for a bounded time.
#
# Container instances (the default isolation) need runc and the Debian base image: both
# are installed or built here (the image is cached by its recipe's hash, so it is built
# once per recipe).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it starts and how long the run has taken so far: CI's log then
# shows where the time goes.
step() { echo "== test.sh: $* (at $(date +%T), ${SECONDS}s in)"; }

step setup
./scripts/setup-python.sh
./scripts/setup-browser.sh
./scripts/setup-sdk-js.sh
./scripts/setup-runtime.sh
./scripts/build-base-image.sh >/dev/null

step build
cargo build --workspace --bins
step Rust tests
cargo test --workspace
step aws suites
# Two suites at a time, each in a network namespace of its own (tests/run_suites.py).
SHOAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/shoal" .venv/bin/python tests/run_suites.py --jobs 2 \
    tests/aws/test_*.py -- -q -p no:cacheprovider --durations=5 "$@"
# The suites above run with the default isolation and network (containers in VPC networks
# where this host can); the runtime's own checks (processes, accounting, crashes, failover)
# run again with process instances on the host's network, the fallback where a host cannot
# isolate.
step aws suites with process instances
SHOAL_ISOLATION=process SHOAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/shoal" .venv/bin/python tests/run_suites.py \
    --jobs 2 tests/aws/test_runtime.py tests/aws/test_crash_soak.py tests/aws/test_seed_part2.py tests/aws/test_network.py \
    -- -q -p no:cacheprovider
step console
SHOAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/shoal" node --test --test-concurrency=1 tests/console/
step JS SDK
SHOAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/shoal" node --test --test-concurrency=1 tests/sdk-js/
step Rust SDK
SHOAL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/shoal" \
    CARGO_TARGET_DIR="${SDK_RUST_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/shoal/sdk-rust-target}" \
    cargo test --locked --manifest-path tests/sdk-rust/Cargo.toml
step fuzz
./scripts/fuzz.sh
step done
