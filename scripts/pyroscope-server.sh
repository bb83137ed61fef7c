#!/usr/bin/env bash
# Runs a Pyroscope server on loopback only, in the foreground, storing into
# DIR (a fresh temporary directory by default). Used by `make demo` and the
# integration tests; the binary comes from scripts/pyroscope.sh (cached).
#   scripts/pyroscope-server.sh [PORT [DIR]]      (default port 4040)
# Ready when GET http://127.0.0.1:PORT/ready answers 200 (~2 s).
set -euo pipefail

port=${1:-4040}
dir=${2:-$(mktemp -d)}
bin=$("$(dirname "$0")/pyroscope.sh")
a=127.0.0.1
# Every ring and listener is pinned to 127.0.0.1: left alone, Pyroscope
# advertises and dials the machine's external address. The gRPC and gossip
# ports are derived from the HTTP port so that several servers can run.
mkdir -p "$dir/head" "$dir/blocks"
exec "$bin" \
  -server.http-listen-address=$a -server.http-listen-port="$port" \
  -server.grpc-listen-address=$a -server.grpc-listen-port=$((port + 1)) \
  -memberlist.bind-addr=$a -memberlist.bind-port=$((port + 2)) \
  -memberlist.advertise-addr=$a -memberlist.advertise-port=$((port + 2)) \
  -compactor.ring.instance-addr=$a -distributor.ring.instance-addr=$a \
  -ingester.lifecycler.addr=$a -overrides-exporter.ring.instance-addr=$a \
  -query-frontend.instance-addr=$a -query-scheduler.ring.instance-addr=$a \
  -store-gateway.sharding-ring.instance-addr=$a \
  -ingester.min-ready-duration=0s \
  -self-profiling.disable-push -usage-stats.enabled=false \
  -storage.backend=filesystem -storage.filesystem.dir="$dir/blocks" \
  -pyroscopedb.data-path="$dir/head"
