#!/usr/bin/env bash
# Installs the Debian packages a make target needs, when missing: only
# what that target uses. Uses sudo when not root. Safe to run again.
#   scripts/deps.sh build     compile the plugin
#   scripts/deps.sh demo      build, and run the demo (python3-gi, the plugins
#                             it uses, graphviz for its graph)
#   scripts/deps.sh test      everything make test uses (the default)
#   scripts/deps.sh pictures  the demo's, and what draws the README's pictures
set -euo pipefail

build=(pkg-config gcc make libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev)
run=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gir1.2-gst-plugins-base-1.0 python3 python3-gi gir1.2-gstreamer-1.0 curl graphviz)
media=(gstreamer1.0-libav gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad)
case "${1:-test}" in
  build) packages=("${build[@]}") ;;
  demo) packages=("${build[@]}" "${run[@]}") ;;
  pictures) packages=("${build[@]}" "${run[@]}" "${media[@]}" tmux chromium pngquant) ;;
  test) packages=("${build[@]}" "${run[@]}" "${media[@]}" prometheus valgrind tmux chromium) ;;
  *) echo "usage: $0 [build|demo|test|pictures]" >&2; exit 2 ;;
esac

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
