#!/usr/bin/env bash
# Installs what container-isolated instances need (issue 12): the OCI runtime Shoal drives
# (runc), crun for the runtime comparison in bench/runtimes.py, and busybox-static for its
# test root filesystem, and nftables (`nft`), which loads security groups into VPC
# networks' namespaces (issue 13). Idempotent: installs only what is missing. Needs root (apt).
set -euo pipefail
missing=()
for pkg in runc crun busybox-static nftables; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
runc --version | head -1
nft --version
