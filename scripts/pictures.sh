#!/usr/bin/env bash
# make pictures: the README's pictures of gstscope-report's views, from a
# real run. One live pipeline (videotestsrc, x264enc, h264parse, avdec_h264
# and a tee with a scaled preview branch, ~15 s) runs with both tracers; the
# pyroscope tracer uploads to a local Pyroscope server started here (as
# make demo does). While it runs:
#   docs/pictures/top.png    `gstscope-report top` in a detached tmux of
#                            fixed size, captured, turned into HTML and
#                            screenshotted by headless Chromium;
#   docs/pictures/graph.png  the /graph endpoint (second fetch: its figures
#                            cover the 2 s since the first), drawn by dot;
# and after it, once Pyroscope has ingested the profiles:
#   docs/pictures/flame.png  `gstscope-report flame`, screenshotted.
# A PNG over 50 KB is shrunk with pngquant (each is a few tens of KB).
# Needs the packages of scripts/deps.sh (chromium, tmux, graphviz, pngquant,
# python3). Not part of make test. The intermediate files stay in
# build/pictures.
set -euo pipefail
cd "$(dirname "$0")/.."

out=docs/pictures
work="$PWD/build/pictures"
service=gstscope-pictures
cols=180 rows=23
seconds=15

die() { echo "pictures: $*" >&2; exit 1; }
for c in chromium tmux dot pngquant curl gst-launch-1.0 /usr/bin/python3; do
  command -v "$c" >/dev/null || die "$c is missing: run bash scripts/deps.sh"
done

make --no-print-directory -s build
go build -o build/gstscope-report ./cmd/gstscope-report
report="$PWD/build/gstscope-report"
rm -rf "$work" && mkdir -p "$work" "$out"

server="" pipeline_pid="" sock="$work/tmux.sock"
cleanup() {
  set +e # a trap that stops at its first failure would leave the rest running
  if [ -n "$pipeline_pid" ]; then kill "$pipeline_pid" 2>/dev/null; wait "$pipeline_pid" 2>/dev/null; fi
  tmux -S "$sock" kill-server 2>/dev/null
  if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; fi
  return 0
}
trap cleanup EXIT
trap "exit 130" INT TERM

# Free ports as make demo finds them: Pyroscope from 4040 (it also takes the
# two ports after it), the metrics server from 9092.
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pport=4040
while busy "$pport" || busy $((pport + 1)) || busy $((pport + 2)); do pport=$((pport + 10)); done
mport=9092
while busy "$mport"; do mport=$((mport + 1)); done
pyro="http://127.0.0.1:$pport" metrics="http://127.0.0.1:$mport"

scripts/pyroscope.sh >/dev/null
mkdir -p "$work/pyroscope"
scripts/pyroscope-server.sh "$pport" "$work/pyroscope" > "$work/pyroscope.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fs "$pyro/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { tail -5 "$work/pyroscope.log" >&2; die "Pyroscope did not start"; }
  sleep 0.2
done
curl -fs "$pyro/ready" >/dev/null 2>&1 || die "Pyroscope is not ready after 20 s"

# A live camera-like source encoded and decoded, with a preview branch.
pipeline="videotestsrc is-live=true num-buffers=$((seconds * 30)) pattern=ball
 ! video/x-raw,width=640,height=360,framerate=30/1 ! tee name=t
 t. ! queue name=encq ! x264enc tune=zerolatency speed-preset=ultrafast
    ! h264parse ! avdec_h264 ! videoconvert ! fakesink name=display sync=true
 t. ! queue name=previewq leaky=downstream max-size-buffers=5 ! videoscale
    ! video/x-raw,width=320,height=180 ! fakesink name=preview sync=false"
# shellcheck disable=SC2086
GST_PLUGIN_PATH="$PWD/build" GST_REGISTRY="$work/registry.bin" \
GST_TRACERS='prometheus-latency-tracer(flags=pipeline+element+reported);pyroscope' \
GST_PROMETHEUS_TRACER_PORT=$mport \
GST_PYROSCOPE_SERVER_URL="$pyro" GST_PYROSCOPE_TRACER_NAME=$service \
GST_PYROSCOPE_UPLOAD_INTERVAL=1 GST_DEBUG=gstscope:2 \
  gst-launch-1.0 -q $pipeline > "$work/pipeline.log" 2>&1 &
pipeline_pid=$!
for _ in $(seq 100); do
  curl -fs "$metrics/metrics" >/dev/null 2>&1 && break
  kill -0 "$pipeline_pid" 2>/dev/null || { cat "$work/pipeline.log" >&2; die "the pipeline exited"; }
  sleep 0.1
done
curl -fs "$metrics/metrics" >/dev/null 2>&1 || die "the metrics endpoint $metrics does not answer"
start=$SECONDS

# top, in a terminal of fixed size, after a few refreshes.
tmux -S "$sock" -f /dev/null new-session -d -x $cols -y $rows \
  "TERM=xterm-256color '$report' top '$metrics'"
# The graph meanwhile: a first fetch starts its window, the second covers
# the 2 s after it.
curl -fs "$metrics/graph" >/dev/null || die "$metrics/graph does not answer"
sleep 2
"$report" graph "$metrics" -o "$work/graph.dot" || die "no graph from $metrics"
sleep 3
tmux -S "$sock" capture-pane -e -p > "$work/top.ansi"
tmux -S "$sock" kill-server 2>/dev/null || true
grep -q 'source-to-sink' "$work/top.ansi" || { cat "$work/top.ansi" >&2; die "top shows no table"; }
# top cuts what does not fit: the widest line must be narrower than the pane.
widest=$(/usr/bin/python3 -c 'import re, sys
print(max(len(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", l)) for l in open(sys.argv[1], encoding="utf-8")))' "$work/top.ansi")
[ "$widest" -lt $cols ] || die "top's table is $widest columns or wider: raise cols in $0"

# ANSI (SGR colors and bold) to a dark HTML page.
/usr/bin/python3 - "$work/top.ansi" "$work/top.html" <<'EOF'
import html, re, sys
base = ["#1e1e1e", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d0d0d0"]
bright = ["#7f7f7f", "#ff7b86", "#b5e890", "#ffd68a", "#82c4ff", "#e39cf5", "#7fdde8", "#ffffff"]
def c256(n):
    if n < 8: return base[n]
    if n < 16: return bright[n - 8]
    if n < 232:
        n -= 16; v = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (v[n // 36], v[n // 6 % 6], v[n % 6])
    g = 8 + 10 * (n - 232); return "#%02x%02x%02x" % (g, g, g)
fg = bg = None; bold = rev = False; out = []
def style():
    f, b = (bg, fg) if rev else (fg, bg)
    if rev: f, b = f or "#1e1e1e", b or "#d0d0d0"
    s = (f"color:{f};" if f else "") + (f"background:{b};" if b else "") + ("font-weight:bold;" if bold else "")
    return s
text = open(sys.argv[1], encoding="utf-8", errors="replace").read().rstrip("\n")
for part in re.split(r"(\x1b\[[0-9;]*[A-Za-z])", text):
    m = re.fullmatch(r"\x1b\[([0-9;]*)([A-Za-z])", part)
    if not m:
        if part:
            s = style(); t = html.escape(part)
            out.append(f'<span style="{s}">{t}</span>' if s else t)
        continue
    if m.group(2) != "m": continue
    codes = [int(c) if c else 0 for c in m.group(1).split(";")]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0: fg = bg = None; bold = rev = False
        elif c == 1: bold = True
        elif c == 22: bold = False
        elif c == 7: rev = True
        elif c == 27: rev = False
        elif 30 <= c <= 37: fg = base[c - 30]
        elif 90 <= c <= 97: fg = bright[c - 90]
        elif 40 <= c <= 47: bg = base[c - 40]
        elif 100 <= c <= 107: bg = bright[c - 100]
        elif c == 39: fg = None
        elif c == 49: bg = None
        elif c in (38, 48) and i + 1 < len(codes):
            if codes[i + 1] == 5 and i + 2 < len(codes):
                v = c256(codes[i + 2]); i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                v = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5]); i += 4
            else: v = None
            if c == 38: fg = v
            else: bg = v
        i += 1
open(sys.argv[2], "w", encoding="utf-8").write(
    "<!doctype html><meta charset=utf-8><style>html,body{margin:0;background:#1e1e1e}"
    "pre{margin:0;padding:10px 12px;color:#d0d0d0;font:13px/1.35 'DejaVu Sans Mono',monospace}</style>"
    "<pre>" + "".join(out) + "</pre>\n")
EOF

shot() { # shot TARGET WIDTH HEIGHT PNG
  local profile
  profile=$(mktemp -d)
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size="$2,$3" \
    --screenshot="$4" "file://$1" > "$work/chromium.log" 2>&1 || true
  rm -rf "$profile"
  [ -s "$4" ] || { tail -5 "$work/chromium.log" >&2; die "Chromium drew no screenshot of $1"; }
}
# DejaVu Sans Mono at 13px: 7.83 px a column, 17.55 px a line, plus padding.
shot "$work/top.html" $((cols * 783 / 100 + 26)) $((rows * 1755 / 100 + 20)) "$work/top.png"

# The graph, top to bottom (left to right it is 2600 px wide), at 80 dpi.
dot -Tpng -Grankdir=TB -Granksep=0.3 -Gnodesep=0.25 -Gdpi=80 -Gpad=0.15 \
  -o "$work/graph.png" "$work/graph.dot" || die "dot did not draw $work/graph.dot"

# The pipeline runs to its end (EOS), then the tracer's last upload.
while kill -0 "$pipeline_pid" 2>/dev/null; do
  [ $((SECONDS - start)) -lt $((seconds + 30)) ] || die "the pipeline did not end"
  sleep 0.5
done
wait "$pipeline_pid" || { cat "$work/pipeline.log" >&2; die "the pipeline failed"; }
pipeline_pid=""

# Ingestion is asynchronous: wait until the profile stops growing.
last=""
for _ in $(seq 30); do
  now=$("$report" -pyroscope "$pyro" -service "$service" 2>/dev/null | sed -n 2p || true)
  [ -n "$now" ] && [ "$now" = "$last" ] && break
  last=$now
  sleep 1
done
width=1000
"$report" flame -pyroscope "$pyro" -service "$service" -width $width -o "$work/flame.svg" ||
  die "no flame graph from $pyro (service $service)"
height=$(sed -n 's/.*<svg[^>]* height="\([0-9.]*\)".*/\1/p' "$work/flame.svg" | head -1)
[ -n "$height" ] || die "no height in $work/flame.svg"
shot "$work/flame.svg" $width "${height%.*}" "$work/flame.png"

# Over 50 KB, a PNG is quantized to a 256-color palette (flat colors and
# text: no visible loss).
for p in top graph flame; do
  [ -s "$work/$p.png" ] || die "$work/$p.png was not made"
  # An empty page or graph compresses to a few hundred bytes.
  [ "$(stat -c %s "$work/$p.png")" -gt 4096 ] || die "$work/$p.png looks blank (under 4 KB)"
  if [ "$(stat -c %s "$work/$p.png")" -le 51200 ] ||
    ! pngquant --force --skip-if-larger --quality=60-95 --output "$out/$p.png" "$work/$p.png"; then
    cp "$work/$p.png" "$out/$p.png"
  fi
  [ -s "$out/$p.png" ] || die "$out/$p.png was not made"
  echo "$out/$p.png: $(( $(stat -c %s "$out/$p.png") / 1024 )) KB"
done
