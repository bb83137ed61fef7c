package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// flowPipeline: a live source faster than the element after its queue
// (60 frames/s in, one per 45 ms out): the queue fills to its limit of
// flowLimit buffers within a quarter of a second and its upstream then
// waits for room; the sink, syncing with qos and 5 ms max-lateness, drops
// the buffers that arrive late.
const (
	flowLimit    = 10
	flowPipeline = "videotestsrc is-live=true num-buffers=180 ! video/x-raw,width=320,height=240,framerate=60/1 " +
		"! queue name=q max-size-buffers=10 max-size-bytes=0 max-size-time=0 ! identity sleep-time=45000 " +
		"! fakesink name=sink sync=true qos=true max-lateness=5000000"
)

// flowTruth is what the queue and the sink say of themselves (flow.py).
type flowTruth struct {
	LevelBuffers float64 `json:"level_buffers"`
	LevelSeconds float64 `json:"level_seconds"`
	Rendered     float64 `json:"rendered"`
	Dropped      float64 `json:"dropped"`
}

// top and the graph show what the pipeline says of itself: the drops per
// second of their intervals add up to the sink's own stats dropped count
// (the run lies inside top's two frames and the graph's two windows: the
// app holds the pipeline until both took their first figures, and the last
// scrape waits for EOS), the queue's level in the middle of the run is the
// queue's own current-level-buffers read just before and after that scrape
// (within one buffer) and at its limit, its upstream blocked most of the
// time; the table's dropped count is the sink's. Where more than 5% of the
// buffers were dropped, the sink's lateness p95 is above its max-lateness.
func TestFlowViews(t *testing.T) {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	app := exec.Command("/usr/bin/python3", "../apps/flow.py", flowPipeline, "q", "sink")
	app.Env = gstEnv(t, tracerAll, fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port))
	stdin, err := app.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := app.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var appErr lockedBuffer
	app.Stderr = &appErr
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := waitStarted(app, 20*time.Second); err != nil {
			t.Errorf("flow.py: %v\n%s", err, tail(appErr.String()))
		}
	})
	lines := bufio.NewScanner(stdout)
	ask := func(cmd string) string {
		io.WriteString(stdin, cmd+"\n")
		if !lines.Scan() {
			t.Fatalf("flow.py: no answer to %s\n%s", cmd, tail(appErr.String()))
		}
		return lines.Text()
	}
	truth := func(cmd string) flowTruth {
		var s flowTruth
		if line := ask(cmd); json.Unmarshal([]byte(line), &s) != nil {
			t.Fatalf("flow.py %s: %q", cmd, line)
		}
		return s
	}
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("flow.py did not start: %q\n%s", lines.Text(), tail(appErr.String()))
	}
	waitHTTP(t, base+"/metrics")
	bin := reportBin(t)            // built before the windows start: they hold the run and little else
	_, _, _ = get(base + "/graph") // the graph's first window starts here

	// top scrapes through a proxy: the first scrape before the run, the
	// second in its middle between two reads of the queue's level, the
	// third held until EOS.
	var (
		mu           sync.Mutex
		n            int
		first        = make(chan struct{})
		mid          = make(chan [2]flowTruth, 1)
		eos          = make(chan struct{})
		target, _    = neturl.Parse(base)
		proxy        = httputil.NewSingleHostReverseProxy(target)
		topOut       strings.Builder
		topIntervalS = 5
		flowCellsTop = []string{"drops/s", "queue level", "blocked", "late p95"}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		switch i {
		case 1:
			proxy.ServeHTTP(w, r)
			close(first)
		case 2:
			before := truth("state")
			proxy.ServeHTTP(w, r)
			mid <- [2]flowTruth{before, truth("state")}
		default:
			<-eos
			proxy.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	top := exec.Command(bin, "top", "-n", "2", "-interval", fmt.Sprintf("%ds", topIntervalS), srv.URL)
	top.Stdout, top.Stderr = &topOut, &topOut
	if err := top.Start(); err != nil {
		t.Fatal(err)
	}
	<-first
	if got := ask("play"); got != "playing" {
		t.Fatalf("flow.py play: %q", got)
	}
	atTop := <-mid
	// The graph in the middle of the run, between two reads of the level.
	before := truth("state")
	_, midDot, err := get(base + "/graph")
	if err != nil {
		t.Fatal(err)
	}
	atGraph := [2]flowTruth{before, truth("state")}
	final := truth("eos")
	close(eos)
	if err := waitStarted(top, 30*time.Second); err != nil {
		t.Fatalf("top: %v\n%s", err, topOut.String())
	}
	_, endDot, err := get(base + "/graph")
	if err != nil {
		t.Fatal(err)
	}
	tableOut, err := exec.Command(bin, base).CombinedOutput()
	if err != nil {
		t.Fatalf("table: %v\n%s", err, tableOut)
	}
	t.Logf("truth: at top's scrape %+v, at the graph %+v, at EOS %+v", atTop, atGraph, final)
	t.Logf("top:\n%s\ngraph in the middle:\n%s\ngraph at the end:\n%s\ntable:\n%s", topOut.String(), midDot, endDot, tableOut)

	// The scenario: the queue at its limit, the sink dropping.
	if atTop[0].LevelBuffers < flowLimit-1 || final.Dropped == 0 {
		t.Fatalf("the pipeline did not fill its queue (%v of %d) or drop (%v)", atTop[0].LevelBuffers, flowLimit, final.Dropped)
	}

	// top: two frames.
	frames := strings.Split(topOut.String(), "gstscope top ")[1:]
	if len(frames) != 2 {
		t.Fatalf("top printed %d frames", len(frames))
	}
	var topLo, topHi float64
	for i, f := range frames {
		rows, cols := viewColumns(t, f, "proc mean")
		secs := viewSeconds(t, f, `over the last ([0-9.]+)s`)
		for _, c := range flowCellsTop {
			if _, ok := cols[c]; !ok {
				t.Fatalf("top has no %q column:\n%s", c, f)
			}
		}
		lo, hi := countRange(t, "top sink drops/s", rows["sink"][cols["drops/s"]], secs)
		topLo, topHi = topLo+lo, topHi+hi
		if d := rows["identity0"][cols["drops/s"]]; d != "" {
			t.Errorf("top frame %d: identity0 cannot tell its drops, shows %q", i+1, d)
		}
		if i == 0 {
			checkLevel(t, "top's queue level", rows["q"][cols["queue level"]], atTop)
			checkBlocked(t, "top's blocked share", rows["q"][cols["blocked"]])
		}
	}
	if final.Dropped < topLo || final.Dropped > topHi {
		t.Errorf("top: drops/s over its two frames are %.1f-%.1f buffers, the sink's stats say %v", topLo, topHi, final.Dropped)
	}

	// The graph: the middle window and the last.
	var graphLo, graphHi float64
	for i, dot := range []string{midDot, endDot} {
		secs := viewSeconds(t, dot, `over the last ([0-9.]+) s`)
		sink := nodeLine(t, dot, "sink")
		m := regexp.MustCompile(`<FONT COLOR="red">dropped ([0-9.]+)/s</FONT>`).FindStringSubmatch(sink)
		if m == nil {
			t.Errorf("graph %d: the sink has no red drop line: %s", i+1, sink)
			continue
		}
		lo, hi := countRange(t, "graph sink dropped", m[1], secs)
		graphLo, graphHi = graphLo+lo, graphHi+hi
	}
	if final.Dropped < graphLo || final.Dropped > graphHi {
		t.Errorf("graph: dropped/s over its two windows are %.1f-%.1f buffers, the sink's stats say %v", graphLo, graphHi, final.Dropped)
	}
	q := nodeLine(t, midDot, "q")
	if m := regexp.MustCompile(`level ([0-9]+) buf`).FindStringSubmatch(q); m == nil {
		t.Errorf("graph: the queue has no level: %s", q)
	} else {
		checkLevel(t, "the graph's queue level", m[1]+" buf", atGraph)
	}
	if m := regexp.MustCompile(`blocked ([0-9]+)%`).FindStringSubmatch(q); m == nil {
		t.Errorf("graph: the queue has no blocked share: %s", q)
	} else {
		checkBlocked(t, "the graph's blocked share", m[1]+"%")
	}
	if id := nodeLine(t, midDot, "identity0"); strings.Contains(id, "dropped") || strings.Contains(id, "level") {
		t.Errorf("graph: identity0 neither drops nor queues: %s", id)
	}

	// The table: the run's totals.
	rows, cols := viewColumns(t, string(tableOut), "processing mean")
	sink := rows["sink"]
	if sink == nil || sink[cols["dropped"]] != fmt.Sprint(final.Dropped) {
		t.Errorf("table: sink dropped %q, the sink's stats say %v", sink, final.Dropped)
	}
	if final.Dropped > 0.05*(final.Rendered+final.Dropped) {
		if late := parseSeconds(t, sink[cols["late p95"]]); late < 0.005 {
			t.Errorf("table: the sink's lateness p95 %v is under its max-lateness (5 ms), yet it dropped %v of %v", late, final.Dropped, final.Rendered+final.Dropped)
		}
	}
}

// countRange is the counts a rate printed with one decimal over an
// interval printed with one decimal can be.
func countRange(t *testing.T, what, rate string, secs float64) (lo, hi float64) {
	t.Helper()
	r, err := strconv.ParseFloat(rate, 64)
	if err != nil {
		t.Fatalf("%s: %q is no rate", what, rate)
	}
	return (r - 0.05) * (secs - 0.05), (r + 0.05) * (secs + 0.05)
}

// checkLevel: a view's level ("N buf ...") within one buffer of the
// queue's own levels read before and after the view's scrape, and at the
// queue's limit.
func checkLevel(t *testing.T, what, cell string, truth [2]flowTruth) {
	t.Helper()
	var n float64
	if _, err := fmt.Sscanf(cell, "%g buf", &n); err != nil {
		t.Errorf("%s: %q", what, cell)
		return
	}
	lo, hi := truth[0].LevelBuffers, truth[1].LevelBuffers
	if lo > hi {
		lo, hi = hi, lo
	}
	if n < lo-1 || n > hi+1 || n < flowLimit-1 {
		t.Errorf("%s %v: the queue said %v then %v (limit %d)", what, n, truth[0].LevelBuffers, truth[1].LevelBuffers, flowLimit)
	}
}

// checkBlocked: the upstream of a full queue before a slower element waits
// for room most of the time.
func checkBlocked(t *testing.T, what, cell string) {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(cell, "%"), 64)
	if err != nil || v < 50 {
		t.Errorf("%s %q: want most of the time", what, cell)
	}
}

// nodeLine is a node's DOT line in pipeline0.
func nodeLine(t *testing.T, dot, element string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*"pipeline0/` + regexp.QuoteMeta(element) + `" \[.*$`).FindString(dot)
	if m == "" {
		t.Fatalf("no node %s in\n%s", element, dot)
	}
	return m
}

// parseSeconds reads a duration as the views print it ("-12.00 ms").
func parseSeconds(t *testing.T, s string) float64 {
	t.Helper()
	var v float64
	var unit string
	if _, err := fmt.Sscanf(s, "%g %s", &v, &unit); err != nil {
		t.Fatalf("%q is no duration", s)
	}
	switch unit {
	case "µs":
		return v / 1e6
	case "ms":
		return v / 1e3
	case "s":
		return v
	}
	t.Fatalf("%q: unit %q", s, unit)
	return 0
}
