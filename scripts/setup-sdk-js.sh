#!/usr/bin/env bash
# Installs the AWS SDK for JavaScript v3 clients that tests/sdk-js drives Shoal with, at
# the versions pinned in tests/sdk-js/package-lock.json. Idempotent and quiet; safe to
# run every time.
set -euo pipefail
cd "$(dirname "$0")/../tests/sdk-js"
# npm ci only when an installed client is not the pinned one.
stale=$(node -e '
  const lock = require("./package-lock.json").packages;
  for (const name of Object.keys(require("./package.json").dependencies)) {
    let have = "";
    try { have = require(`./node_modules/${name}/package.json`).version; } catch {}
    if (have !== lock[`node_modules/${name}`].version) { console.log(name); break; }
  }')
if [ -n "$stale" ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
