#!/usr/bin/env bash
# make demo: a live video pipeline with both gstscope tracers loaded, then
# what they saw: the latency tracer's per-element table (from the
# request-metrics signal at the end of the run) and the pyroscope tracer's
# CPU profile, read back from a local Pyroscope server that this script
# starts (built once into ~/.cache by scripts/pyroscope.sh, a few minutes
# the first time) and stops again. Its data stays in build/pyroscope-demo;
# the flame graph of the run is drawn into build/demo-flame.svg, and the
# pipeline graph with the tracer's numbers (the request-graph signal at the
# end of the run) into build/demo-graph.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

pipeline="videotestsrc is-live=true num-buffers=300 pattern=ball \
 ! video/x-raw,width=640,height=360,framerate=100/1 ! videoconvert ! video/x-raw,format=BGRx \
 ! queue name=q1 ! videoscale ! video/x-raw,width=320,height=180 \
 ! tee name=t \
 t. ! queue name=q2 ! identity name=slow sleep-time=3000 ! fakesink name=display sync=true \
 t. ! queue name=q3 max-size-buffers=2 leaky=downstream ! fakesink name=record sync=false"
tracers='prometheus-latency-tracer(flags=pipeline+element+reported);pyroscope(flags=element)'
service=gstscope-demo

scripts/pyroscope.sh >/dev/null
# Port 4040 (Pyroscope's usual one) unless taken; the server also takes the
# two ports after it.
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${GSTSCOPE_DEMO_PYROSCOPE_PORT:-4040}
while busy "$port" || busy $((port + 1)) || busy $((port + 2)); do port=$((port + 10)); done
data="$PWD/build/pyroscope-demo"
rm -rf "$data" && mkdir -p "$data"
scripts/pyroscope-server.sh "$port" "$data" > "$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { echo "demo: Pyroscope did not start:" >&2; tail -5 "$data/server.log" >&2; exit 1; }
  sleep 0.2
done

export GST_PLUGIN_PATH="$PWD/build${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_TRACERS="$tracers"
export GST_PYROSCOPE_SERVER_URL="http://127.0.0.1:$port" GST_PYROSCOPE_TRACER_NAME="$service"
export GST_PYROSCOPE_TAGS="source=make-demo"
export GST_DEBUG="${GST_DEBUG:-gstscope:2}"
export GST_REGISTRY="$PWD/build/registry.bin"
go build -o build/gstscope-report ./cmd/gstscope-report
# The metrics server too, for the pipeline graph, fetched while the pipeline
# runs: after a first request, the second one's figures cover the 1.5 s
# between them.
mport=9092
while busy "$mport"; do mport=$((mport + 1)); done
export GST_PROMETHEUS_TRACER_PORT=$mport

# What runs, as it runs: a Python application (examples/request-metrics.py)
# that plays the pipeline to EOS and then emits the request-metrics signal,
# so that the table below has the run's final figures.
echo "== Running the pipeline in examples/request-metrics.py, which prints the request-metrics signal's text at EOS:"
echo "GST_PLUGIN_PATH=$GST_PLUGIN_PATH GST_REGISTRY=$GST_REGISTRY GST_DEBUG=$GST_DEBUG \\"
echo "GST_TRACERS='$tracers' \\"
echo "GST_PROMETHEUS_TRACER_PORT=$mport GST_PYROSCOPE_SERVER_URL=$GST_PYROSCOPE_SERVER_URL \\"
echo "GST_PYROSCOPE_TRACER_NAME=$service GST_PYROSCOPE_TAGS=$GST_PYROSCOPE_TAGS \\"
echo "  /usr/bin/python3 examples/request-metrics.py '$pipeline' > build/demo-metrics.prom"
echo
rm -f build/demo-graph.svg
(
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$mport/graph" >/dev/null 2>&1 && break; sleep 0.05; done
  sleep 1.5
  build/gstscope-report graph "http://127.0.0.1:$mport" -o build/demo-graph.svg 2>/dev/null
) &
grapher=$!
/usr/bin/python3 examples/request-metrics.py "$pipeline" > build/demo-metrics.prom
wait $grapher || true
echo "== Latency, per element (prometheus-latency-tracer, request-metrics signal):"
build/gstscope-report < build/demo-metrics.prom
echo
echo "Full exposition: build/demo-metrics.prom ($(grep -vc '^#' build/demo-metrics.prom) samples)."
echo "Serve it live with GST_PROMETHEUS_TRACER_PORT=9092 and curl http://localhost:9092/metrics."
echo
echo "== CPU, per element (pyroscope tracer, read back from Pyroscope):"
# Ingestion is asynchronous: wait until the profile stops growing.
last=""
for _ in $(seq 30); do
  now=$(build/gstscope-report -pyroscope "http://127.0.0.1:$port" -service "$service" 2>/dev/null | sed -n 2p || true)
  [ -n "$now" ] && [ "$now" = "$last" ] && break
  last=$now
  sleep 1
done
build/gstscope-report -pyroscope "http://127.0.0.1:$port" -service "$service"
echo
echo "== Pictures:"
build/gstscope-report flame -pyroscope "http://127.0.0.1:$port" -service "$service" -o build/demo-flame.svg
echo "Flame graph (CPU per element, open in a browser): $PWD/build/demo-flame.svg"
if [ -s build/demo-graph.svg ]; then
  echo "Pipeline graph (latency, processing, buffers/s, CPU per element): $PWD/build/demo-graph.svg"
else
  echo "Pipeline graph: not drawn (the run ended before /graph answered twice)"
fi
echo
echo "The data stays in $data: scripts/pyroscope-server.sh $port $data serves it again."
echo "That server is built from source without the web UI: view flame graphs in Grafana"
echo "(Pyroscope data source, URL http://localhost:$port, service $service; dashboards/gstscope.json),"
echo "draw one with build/gstscope-report flame -pyroscope http://localhost:$port -service $service,"
echo "or print the tree with build/gstscope-report -pyroscope http://localhost:$port -service $service."
