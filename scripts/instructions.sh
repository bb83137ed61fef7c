#!/usr/bin/env bash
# Instructions per pad push of each tracer configuration, counted by
# callgrind on the busiest thread of P1 (fakesrc ! identity x3 ! fakesink,
# 4 pushes per buffer) at two buffer counts: the slope is the per-push cost,
# free of start-up and stable to a fraction of a percent between runs, where
# wall and CPU times on a shared machine move by 20%.
# Usage: scripts/instructions.sh [PLUGIN_DIR] (default build, with build-test)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export GST_PLUGIN_PATH=$PWD/$dir:$PWD/build-test GST_REGISTRY=$out/registry.bin
unset GST_DEBUG
# Go preempts goroutines with signals, which callgrind sometimes trips on.
export GODEBUG=asyncpreemptoff=1
n1=20000 n2=80000
busiest() { # the largest per-thread total of a run
  grep -h '^summary:' "$1".* | awk '{print $2}' | sort -n | tail -1
}
run() { # name, GST_TRACERS
  local c=()
  for n in $n1 $n2; do
    GST_TRACERS=$2 valgrind --tool=callgrind --separate-threads=yes \
      --callgrind-out-file="$out/$1.$n.%p" gst-launch-1.0 -q fakesrc num-buffers=$n \
      sizetype=empty ! identity ! identity ! identity ! fakesink sync=false >/dev/null 2>&1
    c+=("$(busiest "$out/$1.$n")")
  done
  echo "$1 $(( (c[1] - c[0]) / ((n2 - n1) * 4) ))"
}
{
  run none ""
  run floor noop
  run latency-all "prometheus-latency-tracer(flags=pipeline+element+reported)"
  run latency-pipeline "prometheus-latency-tracer(flags=pipeline)"
  run latency-element "prometheus-latency-tracer(flags=element)"
  # pyroscope's profiling signals nest with Go's, which callgrind cannot
  # follow (an assertion in its signal tracking): its hot path is the
  # thread stack the latency tracer keeps too.
  run core-latency "latency(flags=pipeline+element+reported)"
} | awk 'BEGIN { print "| configuration | instructions per push | over the floor |"; print "| --- | --- | --- |" }
  { v[NR] = $2; name[NR] = $1; if ($1 == "floor") f = $2 }
  END { for (i = 1; i <= NR; i++) printf "| %s | %d | %s |\n", name[i], v[i], (i > 2 ? v[i] - f : "") }'
