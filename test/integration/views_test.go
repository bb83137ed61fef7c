package integration

import (
	"encoding/json"
	"fmt"
	"math"
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

// viewsPipeline has a muxer whose inputs are not named sink*: mp4mux's
// video_0 and audio_0, fed by an encoder and a parser each.
const viewsPipeline = "videotestsrc num-buffers=60 ! video/x-raw,width=160,height=120,framerate=30/1 " +
	"! x264enc tune=zerolatency speed-preset=ultrafast ! h264parse ! mux.video_0 " +
	"audiotestsrc num-buffers=50 ! opusenc ! mux.audio_0 mp4mux name=mux ! fakesink"

// The table, top and the graph render one run of a pipeline and agree: the
// same buffers in per element (as rates over each view's interval in top
// and the graph), the same means and the same p95. The run is made to fall
// inside all three windows: the app holds its pipeline in NULL until told
// to play, top's first scrape and the graph's first request come before,
// and top's second scrape is held by a proxy until the app saw EOS. The
// muxer's inputs are counted: its buffers in are what the app's own probes
// on video_0 and audio_0 counted.
func TestViewsAgree(t *testing.T) {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	app := startLineApp(t, gstEnv(t, tracerAll, fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port)),
		"views.py", viewsPipeline, "mux")
	waitHTTP(t, base+"/metrics")
	_, _, _ = get(base + "/graph") // the graph's window starts here
	graphStart := time.Now()

	// top scrapes through a proxy that holds its second scrape until EOS.
	eos := make(chan struct{})
	var scrapes sync.WaitGroup
	scrapes.Add(1)
	target, _ := neturl.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var n int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if !first {
			<-eos
		}
		proxy.ServeHTTP(w, r)
		if first {
			scrapes.Done()
		}
	}))
	defer srv.Close()
	var topOut strings.Builder
	top := exec.Command(reportBin(t), "top", "-n", "1", "-interval", "8s", srv.URL)
	top.Stdout = &topOut
	top.Stderr = &topOut
	if err := top.Start(); err != nil {
		t.Fatal(err)
	}
	scrapes.Wait()
	if d := time.Since(graphStart); d < 1100*time.Millisecond {
		time.Sleep(1100*time.Millisecond - d) // graph.MinWindow
	}

	var run struct{ Probes map[string]float64 }
	if line := app.ask("play"); json.Unmarshal([]byte(line), &run) != nil {
		t.Fatalf("views.py: not the run at EOS: %s", line)
	}
	close(eos)
	if err := waitStarted(top, 30*time.Second); err != nil {
		t.Fatalf("top: %v\n%s", err, topOut.String())
	}
	_, dot, err := get(base + "/graph")
	if err != nil {
		t.Fatal(err)
	}
	tableOut, err := exec.Command(reportBin(t), base).CombinedOutput()
	if err != nil {
		t.Fatalf("table: %v\n%s", err, tableOut)
	}
	t.Logf("table:\n%s\ntop:\n%s\ngraph:\n%s", tableOut, topOut.String(), dot)

	table, tc := viewColumns(t, string(tableOut), "processing mean")
	topRows, oc := viewColumns(t, topOut.String(), "proc mean")
	topSecs := viewSeconds(t, topOut.String(), `over the last ([0-9.]+)s`)
	graph := graphNodes(t, dot)
	graphSecs := viewSeconds(t, dot, `over the last ([0-9.]+) s`)

	truth := run.Probes["mux:video_0"] + run.Probes["mux:audio_0"]
	if run.Probes["mux:video_0"] != 60 || run.Probes["mux:audio_0"] == 0 {
		t.Errorf("the app's probes on mux: %v, want 60 on video_0 and Opus frames on audio_0", run.Probes)
	}
	mux := table["mux"]
	if mux == nil || mux[tc["buffers in"]] != fmt.Sprint(truth) {
		t.Errorf("table: mux buffers in %q, want %v (the app's probes on video_0 and audio_0)", mux, truth)
	}
	for el, row := range table {
		tr, g := topRows[el], graph[el]
		if tr == nil || g == nil {
			t.Errorf("%s: in the table, not in top (%v) or the graph (%v)", el, tr != nil, g != nil)
			continue
		}
		if in := row[tc["buffers in"]]; in != "-" {
			n, _ := strconv.ParseFloat(in, 64)
			checkCount(t, el+" top in/s", tr[oc["in/s"]], topSecs, n)
			checkCount(t, el+" graph buf/s", g["buf/s"], graphSecs, n)
		} else if out := tr[oc["out/s"]]; out != "-" {
			// A source: the graph shows what it sends, top its out/s.
			r, _ := strconv.ParseFloat(out, 64)
			gr, _ := strconv.ParseFloat(g["buf/s"], 64)
			if math.Abs(r*topSecs-gr*graphSecs) > 0.05*(topSecs+graphSecs)+0.05*(r+gr)+1 {
				t.Errorf("%s: top sends %s/s over %.1fs, the graph %s/s over %.1f s", el, out, topSecs, g["buf/s"], graphSecs)
			}
		}
		// The same observations in the three: the same figures, printed
		// alike. The graph shows a figure only where there is one.
		for _, c := range []struct {
			what, table, top string
			graph            *string
		}{
			{"processing mean", row[tc["processing mean"]], tr[oc["proc mean"]], strp(g["processing mean"])},
			{"processing p95", row[tc["processing mean"]+1], tr[oc["proc p95"]], nil},
			{"latency mean", row[tc["latency mean"]], tr[oc["latency mean"]], nil},
			{"latency p95", row[tc["latency mean"]+1], tr[oc["latency p95"]], strp(g["latency p95"])},
		} {
			if c.table != c.top {
				t.Errorf("%s %s: table %q, top %q", el, c.what, c.table, c.top)
			}
			if want := strings.TrimSuffix(c.table, "-"); c.graph != nil && *c.graph != want {
				t.Errorf("%s %s: table %q, graph %q", el, c.what, c.table, *c.graph)
			}
		}
	}
}

func strp(s string) *string { return &s }

// checkCount fails unless a rate printed with one decimal over an interval
// printed with one decimal can be the count: the rounding bounds the
// product.
func checkCount(t *testing.T, what, rate string, secs, count float64) {
	t.Helper()
	r, err := strconv.ParseFloat(rate, 64)
	if err != nil {
		t.Errorf("%s: %q is no rate", what, rate)
		return
	}
	if lo, hi := (r-0.05)*(secs-0.05), (r+0.05)*(secs+0.05); count < lo || count > hi {
		t.Errorf("%s: %s/s over %.1f s is %.1f-%.1f buffers, the table counted %v", what, rate, secs, lo, hi, count)
	}
}

func viewSeconds(t *testing.T, text, re string) float64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s in\n%s", re, text)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// viewColumns reads the element table of the table or top, whose header
// holds mark, into cells by element, and the columns' indexes by header
// (the first of two alike: the table's "p95" follows its mean): the
// columns are right-aligned, each ending where its header's name ends.
func viewColumns(t *testing.T, text, mark string) (rows map[string][]string, cols map[string]int) {
	t.Helper()
	rows, cols = map[string][]string{}, map[string]int{}
	var ends []int
	for _, line := range strings.Split(text, "\n") {
		r := []rune(line)
		switch {
		case strings.Contains(line, mark) && strings.Contains(line, "element"):
			ends = nil
			for i, m := range regexp.MustCompile(`\S+( \S+)?`).FindAllStringIndex(line, -1) {
				ends = append(ends, len([]rune(line[:m[1]])))
				if _, ok := cols[line[m[0]:m[1]]]; !ok {
					cols[line[m[0]:m[1]]] = i
				}
			}
		case ends != nil && strings.TrimSpace(line) == "":
			return rows, cols
		case ends != nil:
			cells, start := make([]string, len(ends)), 0
			for i, end := range ends {
				if end > len(r) {
					end = len(r)
				}
				if start < end {
					cells[i] = strings.TrimSpace(string(r[start:end]))
				}
				start = end
			}
			rows[cells[1]] = cells
		}
	}
	if ends == nil {
		t.Fatalf("no table with %q in\n%s", mark, text)
	}
	return rows, cols
}

// graphNodes reads each node's figures ("latency p95", "processing mean",
// "buf/s") from the graph's labels.
func graphNodes(t *testing.T, dot string) map[string]map[string]string {
	t.Helper()
	nodes := map[string]map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*"pipeline0/([^"]+)" \[label="([^"]*)"`).FindAllStringSubmatch(dot, -1) {
		f := map[string]string{}
		for _, l := range strings.Split(m[2], `\n`) {
			switch {
			case strings.HasPrefix(l, "latency p95 "):
				f["latency p95"] = strings.TrimPrefix(l, "latency p95 ")
			case strings.HasPrefix(l, "processing mean "):
				f["processing mean"] = strings.TrimPrefix(l, "processing mean ")
			case strings.HasSuffix(l, " buf/s"):
				f["buf/s"] = strings.TrimSuffix(l, " buf/s")
			}
		}
		nodes[m[1]] = f
	}
	if len(nodes) == 0 {
		t.Fatalf("no nodes in\n%s", dot)
	}
	return nodes
}
