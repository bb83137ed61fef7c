#!/usr/bin/env bash
# make demo: a live video pipeline with the prometheus-latency-tracer loaded,
# then a summary of what it measured per element. No server needed: the
# metrics come from the request-metrics signal at the end of the run.
set -euo pipefail
cd "$(dirname "$0")/.."

pipeline="videotestsrc is-live=true num-buffers=300 \
 ! video/x-raw,width=640,height=360,framerate=100/1 ! videoconvert \
 ! queue name=q1 ! videoscale ! video/x-raw,width=320,height=180 \
 ! tee name=t \
 t. ! queue name=q2 ! identity name=slow sleep-time=3000 ! fakesink name=display sync=true \
 t. ! queue name=q3 max-size-buffers=2 leaky=downstream ! fakesink name=record sync=false"

echo "== gst-launch-1.0 $pipeline"
echo "== with GST_TRACERS='prometheus-latency-tracer(flags=pipeline+element+reported)'"
echo
export GST_PLUGIN_PATH="$PWD/build${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_TRACERS='prometheus-latency-tracer(flags=pipeline+element+reported)'
export GST_DEBUG="${GST_DEBUG:-gstscope:2}"
export GST_REGISTRY="$PWD/build/registry.bin"
/usr/bin/python3 examples/request-metrics.py "$pipeline" > build/demo-metrics.prom
go run ./cmd/gstscope-report < build/demo-metrics.prom
echo
echo "Full exposition: build/demo-metrics.prom ($(grep -vc '^#' build/demo-metrics.prom) samples)."
echo "Serve it live with GST_PROMETHEUS_TRACER_PORT=9092 and curl http://localhost:9092/metrics."
