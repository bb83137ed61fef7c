#!/usr/bin/env bash
# Installs the Debian packages gstscope builds and tests with, when missing.
# Uses sudo when not root. Safe to run again: it only installs what is absent.
set -euo pipefail

packages=(
  pkg-config gcc make curl
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-libav gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
  gir1.2-gst-plugins-base-1.0
  python3 python3-gi gir1.2-gstreamer-1.0
  prometheus valgrind
  graphviz tmux chromium pngquant
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
