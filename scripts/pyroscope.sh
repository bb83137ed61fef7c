#!/usr/bin/env bash
# Prints the path of a Pyroscope server binary, building it first if it is
# not cached. Pyroscope has no Debian package: it is built from the Go module
# proxy (v1.12.0, the newest the proxy serves here) into a cache outside the
# repository (~5 min and ~1 GB of RAM from cold caches; a 71 MB binary).
#   scripts/pyroscope.sh            -> /root/.cache/gstscope/pyroscope-v1.12.0/pyroscope
set -euo pipefail

version=v1.12.0
cache="${GSTSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gstscope}/pyroscope-$version"
bin="$cache/pyroscope"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
echo "pyroscope: building $version into $cache (takes a few minutes)" >&2
(
  cd "$work"
  GOFLAGS=-mod=mod go mod download -json "github.com/grafana/pyroscope@$version" > mod.json
  dir=$(sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p' mod.json)
  cp -r "$dir" src
  chmod -R u+w src
  cd src
  rm -f go.work go.work.sum
  go mod edit -dropreplace github.com/grafana/pyroscope/api -require github.com/grafana/pyroscope/api@v1.1.0
  GOWORK=off GOFLAGS=-mod=mod go build -o "$bin.tmp" ./cmd/pyroscope
) >&2
mv "$bin.tmp" "$bin"
echo "$bin"
