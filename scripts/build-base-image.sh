#!/usr/bin/env bash
# Builds Shoal's base image: a Debian bookworm root filesystem made with mmdebstrap from
# Debian packages (images/base/packages.txt), with an `ec2-user` that has passwordless sudo
# as on Amazon Linux, and sysvinit scripts that `service` runs under Shoal's init; plus the
# lab's own (images/base/lab-setup.sh, images/base/files): the app as a git repository at
# /var/www/aws-exercise-a (branches main and beta) on :3001, nginx on :3000 in front of
# it, and a yum that installs through apt.
#
#   scripts/build-base-image.sh [--tarball]    # prints the root filesystem's path
#
# Cached under $SHOAL_IMAGE_CACHE (default ~/.cache/shoal/images) in a directory named by
# a hash of the recipe (this script and the package list): rebuilt only when the recipe
# changes. Uses the host's apt sources where it has them, the public mirror otherwise.
# Needs root (mmdebstrap's root mode; ownership inside the image is Debian's).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
packages_file="$here/images/base/packages.txt"
suite=bookworm
tarball=0
[ "${1:-}" = "--tarball" ] && tarball=1

# The recipe: this script, the package list, the lab's setup and the files copied in.
lab_setup="$here/images/base/lab-setup.sh"
files="$here/images/base/files"
recipe_hash=$( (cat "$0" "$packages_file" "$lab_setup"; cd "$files" && find . -type f | sort | xargs -d '\n' sha256sum) | sha256sum | cut -c1-16)
cache="${SHOAL_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shoal/images}"
out="$cache/debian-$suite-$recipe_hash"
if [ -f "$out/complete" ]; then
  [ $tarball = 1 ] && [ ! -f "$out/rootfs.tar" ] && tar -C "$out/rootfs" -cf "$out/rootfs.tar" .
  [ $tarball = 1 ] && echo "$out/rootfs.tar" || echo "$out/rootfs"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "build-base-image: needs root (mmdebstrap root mode)" >&2
  exit 1
fi
if ! command -v mmdebstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2
fi

# The host's apt sources when it is Debian bookworm (a local mirror or proxy keeps
# working), the public mirror otherwise.
mirror="http://deb.debian.org/debian"
if [ -f /etc/apt/sources.list.d/debian.sources ] && grep -q "Suites:.*$suite" /etc/apt/sources.list.d/debian.sources; then
  mirror=/etc/apt/sources.list.d/debian.sources
elif [ -s /etc/apt/sources.list ] && grep -q "^deb .* $suite " /etc/apt/sources.list; then
  mirror=/etc/apt/sources.list
fi

include=$(grep -v '^\s*#' "$packages_file" | grep -v '^\s*$' | paste -sd, -)
mkdir -p "$cache"
work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s%N)
mmdebstrap --variant=minbase --mode=root --format=directory \
  --include="$include" \
  --customize-hook='chroot "$1" useradd --create-home --shell /bin/bash --comment "EC2 Default User" ec2-user' \
  --customize-hook='echo "ec2-user ALL=(ALL) NOPASSWD:ALL" > "$1/etc/sudoers.d/90-ec2-user"; chmod 0440 "$1/etc/sudoers.d/90-ec2-user"' \
  --customize-hook='echo "Shoal base image: Debian '"$suite"' (built by scripts/build-base-image.sh, recipe '"$recipe_hash"')" > "$1/etc/shoal-image"' \
  --customize-hook='cp -a "'"$files"'/." "$1/"' \
  --customize-hook='chroot "$1" sh -s < "'"$lab_setup"'"' \
  --customize-hook='rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*.bin' \
  "$suite" "$work/rootfs" "$mirror" >&2
elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
size=$(du -sm "$work/rootfs" | cut -f1)
echo "build-base-image: built in ${elapsed} ms, ${size} MiB" >&2
echo "built_ms=$elapsed size_mib=$size" > "$work/build-info"
touch "$work/complete"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
[ $tarball = 1 ] && tar -C "$out/rootfs" -cf "$out/rootfs.tar" . && echo "$out/rootfs.tar" || echo "$out/rootfs"
