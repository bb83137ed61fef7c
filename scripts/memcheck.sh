#!/usr/bin/env bash
# make memcheck: runs pipelines that exercise every hook under valgrind with
# the plugin loaded, and the dynamic-pipeline app (branches added and
# removed, pipelines made and destroyed; short runs), and fails on any error
# or leak whose stack passes through gstscope's C (internal/shim/*.c).
# Errors raised in Go code are reported but do not count: valgrind cannot
# follow the stacks the Go runtime allocates and moves itself, and flags
# their use ("is in a rw- anonymous segment") wherever Go runs.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wav="$out/tone.wav"
gst-launch-1.0 -q audiotestsrc num-buffers=20 ! wavenc ! filesink location="$wav"
# 1 s of H.264 (x264enc's defaults: B-frames) and AAC in MP4.
mp4="$out/av.mp4"
gst-launch-1.0 -q videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
  ! x264enc ! h264parse ! queue ! mp4mux name=mux ! filesink location="$mp4" \
  audiotestsrc num-buffers=43 ! audio/x-raw,rate=44100,channels=2 ! avenc_aac ! aacparse ! queue ! mux.

export GST_PLUGIN_PATH="$PWD/build" GST_REGISTRY="$out/registry.bin"
latency='prometheus-latency-tracer(flags=pipeline+element+reported)'
# The pyroscope tracer samples the thread stacks from its own thread while
# the hooks write them; its uploads go to a closed port (they are Go).
export GST_PYROSCOPE_SERVER_URL=http://127.0.0.1:9 GST_PYROSCOPE_UPLOAD_INTERVAL=1 GST_PYROSCOPE_SAMPLE_RATE=1000
# Go's asynchronous preemption off: under valgrind, which delivers a signal
# only when the target thread next gets its turn, the Go runtime's
# preemption loop (SIGURG, then spinning on nanotime until the goroutine
# stops) starved the app for 10-70 s in one run of three of "dynamic.py
# sequence 100" with both tracers (a CI failure: a pipeline missed its 10 s
# EOS); 0 of 12 with it off, or with the latency tracer alone. Natively
# the same runs never stall (200 pipelines with two busy loops beside them:
# longest step 0.12 s). scripts/instructions.sh does the same for callgrind.
export GODEBUG=asyncpreemptoff=1
tracers=("$latency" "$latency" "$latency" "$latency" "$latency;pyroscope" "pyroscope"
  "$latency" "$latency;pyroscope" "$latency" "pyroscope")
pipelines=(
  "audiotestsrc num-buffers=200 ! tee name=t t. ! queue ! fakesink t. ! queue ! bin.( identity ) ! fakesink"
  "audiotestsrc is-live=true num-buffers=50 ! queue min-threshold-buffers=3 ! identity ! fakesink"
  "filesrc location=$wav ! wavparse ! fakesink"
  "audiotestsrc num-buffers=50 ! audiomixer name=m ! fakesink audiotestsrc num-buffers=50 ! m."
  "audiotestsrc is-live=true num-buffers=150 ! queue ! audioconvert ! tee name=t t. ! queue ! fakesink t. ! queue ! fakesink"
  "filesrc location=$wav ! wavparse ! queue ! fakesink"
  # Real media: codecs with their own threads and locks (avdec_h264 holds its
  # object lock while it queries upstream), decodebin's dynamic pads, RTP.
  "videotestsrc is-live=true num-buffers=60 ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc ! h264parse ! avdec_h264 ! videoconvert ! fakesink"
  "filesrc location=$mp4 ! decodebin name=d d. ! queue ! videoconvert ! fakesink d. ! queue ! audioconvert ! fakesink"
  "videotestsrc is-live=true num-buffers=30 ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc tune=zerolatency ! rtph264pay ! rtpjitterbuffer ! rtph264depay ! avdec_h264 ! fakesink"
  # Codec worker threads, which run no hook, under the profiler alone: their
  # timers record the addresses they interrupt.
  "videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120 ! x264enc speed-preset=ultrafast threads=2 ! h264parse ! avdec_h264 ! fakesink"
)
# A run that takes longer than this under valgrind (about 30 s at most when
# nothing is wrong) is hung: killed and failed.
limit=180
gst-inspect-1.0 build/libgstscope.so >/dev/null   # fill the registry outside valgrind
fail=0

# The error blocks of a valgrind log whose stack passes through gstscope's
# C, unless raised in Go (top frame in a .go or .s file).
ours() {
  awk 'function flush() { if (hit && !gotop) print blk; blk = ""; hit = 0; gotop = 0; top = 0 }
    /^==[0-9]+== *$/ { flush(); next }
    { blk = blk "\n" $0 }
    !top && /^==[0-9]+== +at 0x/ { top = 1; if ($0 ~ /\.(go|s):[0-9]+\)$/) gotop = 1 }
    /\((hooks|store|threads|cputimer|plugin|latency_tracer|pyroscope_tracer)\.c:[0-9]+\)|: (gst_)?scope_[a-z_]+ \(/ { hit = 1 }
    END { flush() }' "$1"
}

# crashed LOG: the signal that ended the process and its stack, if any.
crashed() {
  awk '/Process terminating with default action/ { f = 1 } f && n++ < 40' "$1"
}

# What was checked, for the closing line.
runs=0 configs=""
# Errors in gstscope's C: the first line of a block names its kind.
errkinds="Invalid|uninitialised|Mismatched"

# check NAME TRACERS LOG: counts the errors and leaks in gstscope's C. None:
# one line saying what ran and that it has none. Some: valgrind's summary
# of the run and the blocks, and the run fails. Errors and leaks valgrind
# finds elsewhere (GStreamer, GLib, Python, Go's runtime) are not counted,
# and not printed on a green run: they are not gstscope's, and there are
# always some.
check() {
  local blocks errs leaks tracers
  blocks=$(ours "$3")
  errs=$(grep -cE "$errkinds" <<<"$blocks" || true)
  leaks=$(grep -c "definitely lost" <<<"$blocks" || true)
  tracers=$(sed "s/([^)]*)//g" <<<"$2")
  runs=$((runs + 1))
  case ", $configs," in *", $tracers,"*) ;; *) configs="${configs:+$configs, }$tracers" ;; esac
  if [ "$errs" -eq 0 ] && [ "$leaks" -eq 0 ]; then
    if [ "$runfailed" -eq 0 ]; then
      echo "memcheck: ok: $1 [$tracers]: 0 errors, 0 leaks in gstscope's C"
    else
      echo "memcheck: FAILED: $1 [$tracers]: the run failed (above); 0 errors, 0 leaks in gstscope's C"
    fi
    return
  fi
  echo "memcheck: FAILED: $1 [$tracers]: $errs errors and $leaks leaks in gstscope's C"
  echo "memcheck: valgrind's summary of the run: $(grep -E "ERROR SUMMARY|definitely lost" "$3" | sed 's/==[0-9]*== *//' | tr '\n' ' ')"
  echo "memcheck: errors in gstscope's C:"; head -60 <<<"$blocks"
  fail=1
}

for i in "${!pipelines[@]}"; do
  log="$out/vg$i.log"
  status=0 runfailed=0
  # shellcheck disable=SC2086
  GST_TRACERS="${tracers[$i]}" timeout -k 10 "$limit" valgrind --leak-check=full --num-callers=30 --log-file="$log" \
    gst-launch-1.0 -q ${pipelines[$i]} >/dev/null 2>&1 || status=$?
  case $status in
    0) ;;
    124|137) echo "memcheck: pipeline $i hung: killed after ${limit} s: ${pipelines[$i]}"; fail=1 runfailed=1 ;;
    *) echo "memcheck: pipeline $i failed"; crashed "$log"; fail=1 runfailed=1 ;;
  esac
  check "pipeline $i: ${pipelines[$i]}" "${tracers[$i]}" "$log"
done

# Both tracers, the metrics read through the signal after every change.
# PYTHONMALLOC=malloc: valgrind sees Python's allocations one by one.
for args in "churn 3" "sequence 20"; do
  # shellcheck disable=SC2086
  log="$out/vg-${args%% *}.log" runfailed=0
  GST_TRACERS="$latency;pyroscope" PYTHONMALLOC=malloc valgrind --leak-check=full --num-callers=30 \
    --log-file="$log" /usr/bin/python3 test/apps/dynamic.py $args >/dev/null 2>"$out/app.err" ||
    { echo "memcheck: dynamic.py $args failed:"; grep -v "^$" "$out/app.err" | head -20; crashed "$log"; fail=1 runfailed=1; }
  check "app dynamic.py $args" "$latency;pyroscope" "$log"
done
if [ $fail -eq 0 ]; then
  echo "memcheck: passed: $runs runs under valgrind (${#pipelines[@]} gst-launch-1.0 pipelines, 2 runs of the dynamic-pipeline app; tracer configurations: $configs): 0 errors and 0 leaks in gstscope's C"
else
  echo "memcheck: FAILED (details above)"
fi
exit $fail
