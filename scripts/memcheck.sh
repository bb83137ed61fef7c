#!/usr/bin/env bash
# make memcheck: runs pipelines that exercise every hook under valgrind with
# the plugin loaded and fails on any error or leak whose stack passes through
# gstscope's C (internal/shim). The Go runtime's own false positives
# (runtime.adjustframe on stack growth) are reported but do not count.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wav="$out/tone.wav"
gst-launch-1.0 -q audiotestsrc num-buffers=20 ! wavenc ! filesink location="$wav"

export GST_PLUGIN_PATH="$PWD/build" GST_REGISTRY="$out/registry.bin"
latency='prometheus-latency-tracer(flags=pipeline+element+reported)'
# The pyroscope tracer samples the thread stacks from its own thread while
# the hooks write them; its uploads go to a closed port (they are Go).
export GST_PYROSCOPE_SERVER_URL=http://127.0.0.1:9 GST_PYROSCOPE_UPLOAD_INTERVAL=1 GST_PYROSCOPE_SAMPLE_RATE=1000
tracers=("$latency" "$latency" "$latency" "$latency" "$latency;pyroscope" "pyroscope")
pipelines=(
  "audiotestsrc num-buffers=200 ! tee name=t t. ! queue ! fakesink t. ! queue ! bin.( identity ) ! fakesink"
  "audiotestsrc is-live=true num-buffers=50 ! queue min-threshold-buffers=3 ! identity ! fakesink"
  "filesrc location=$wav ! wavparse ! fakesink"
  "audiotestsrc num-buffers=50 ! audiomixer name=m ! fakesink audiotestsrc num-buffers=50 ! m."
  "audiotestsrc is-live=true num-buffers=150 ! queue ! audioconvert ! tee name=t t. ! queue ! fakesink t. ! queue ! fakesink"
  "filesrc location=$wav ! wavparse ! queue ! fakesink"
)
gst-inspect-1.0 build/libgstscope.so >/dev/null   # fill the registry outside valgrind
fail=0
for i in "${!pipelines[@]}"; do
  log="$out/vg$i.log"
  # shellcheck disable=SC2086
  GST_TRACERS="${tracers[$i]}" valgrind --leak-check=full --num-callers=30 --log-file="$log" \
    gst-launch-1.0 -q ${pipelines[$i]} >/dev/null 2>&1 || { echo "memcheck: pipeline $i failed"; fail=1; }
  ours=$(awk '/^==[0-9]+== [A-Z]/{blk=""} {blk=blk"\n"$0} /internal\/shim|hooks\.c|store\.c|threads\.c|_tracer\.c|scope_/{print blk; blk=""}' "$log" \
    | grep -E "Invalid|uninitialised|definitely lost|Mismatched" || true)
  summary=$(grep -E "ERROR SUMMARY|definitely lost" "$log" | sed 's/==[0-9]*== *//' | tr '\n' ' ')
  echo "memcheck: pipeline $i ($(sed "s/([^)]*)//g" <<<"${tracers[$i]}")): $summary"
  if [ -n "$ours" ]; then
    echo "memcheck: errors in gstscope's C:"; grep -A30 -E "Invalid|uninitialised|definitely lost" "$log" | head -60
    fail=1
  fi
done
exit $fail
