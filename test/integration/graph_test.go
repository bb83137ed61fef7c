package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// graphPipeline has a tee, queues and a bin reached through a ghost pad;
// graphElements and graphLinks are its real structure, as the graph must
// show it (elements by path label, links element to element through the
// bin's ghost pad).
const graphPipeline = "audiotestsrc %s ! tee name=t t. ! queue ! fakesink t. ! queue ! bin.( name=b identity ! fakesink )"

var graphElements = []string{"audiotestsrc0", "t", "queue0", "fakesink0", "queue1", "b/identity0", "b/fakesink1"}

var graphLinks = [][4]string{
	{"audiotestsrc0", "src", "t", "sink"},
	{"t", "src_0", "queue0", "sink"},
	{"queue0", "src", "fakesink0", "sink"},
	{"t", "src_1", "queue1", "sink"},
	{"queue1", "src", "b/identity0", "sink"},
	{"b/identity0", "src", "b/fakesink1", "sink"},
}

var (
	dotNode = regexp.MustCompile(`(?m)^\s*"([^"]+)" \[label=`)
	dotEdge = regexp.MustCompile(`(?m)^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]+) → ([^"]+)\\n([0-9.]+) buf/s"\];$`)
)

// checkGraph fails unless dot shows exactly the pipeline's elements, in
// their clusters, and its links; it returns the links' buffers/s.
func checkGraph(t *testing.T, dot string) map[[4]string]float64 {
	t.Helper()
	var nodes []string
	for _, m := range dotNode.FindAllStringSubmatch(dot, -1) {
		nodes = append(nodes, m[1])
	}
	want := map[string]bool{}
	for _, e := range graphElements {
		want["pipeline0/"+e] = true
	}
	if len(nodes) != len(want) {
		t.Errorf("nodes %q, want the %d elements %q", nodes, len(want), graphElements)
	}
	for _, n := range nodes {
		if !want[n] {
			t.Errorf("node %q is no element of the pipeline", n)
		}
		delete(want, n)
	}
	for n := range want {
		t.Errorf("element %s is not in the graph", n)
	}
	for _, c := range []string{`subgraph "cluster_pipeline0" {`, `subgraph "cluster_pipeline0/b" {`} {
		if !strings.Contains(dot, c) {
			t.Errorf("no %s", c)
		}
	}
	// b's elements are inside b's cluster, the others outside it.
	if i := strings.Index(dot, `subgraph "cluster_pipeline0/b"`); i >= 0 {
		inner := dot[i : i+strings.Index(dot[i:], "\n    }")]
		for _, e := range graphElements {
			if in := strings.Contains(inner, `"pipeline0/`+e+`" [`); in != strings.HasPrefix(e, "b/") {
				t.Errorf("%s in bin b's cluster: %v", e, in)
			}
		}
	}
	rates := map[[4]string]float64{}
	for _, m := range dotEdge.FindAllStringSubmatch(dot, -1) {
		l := [4]string{strings.TrimPrefix(m[1], "pipeline0/"), m[3], strings.TrimPrefix(m[2], "pipeline0/"), m[4]}
		rates[l], _ = strconv.ParseFloat(m[5], 64)
	}
	if len(rates) != len(graphLinks) {
		t.Errorf("%d links, want %d: %v", len(rates), len(graphLinks), rates)
	}
	for _, l := range graphLinks {
		if _, ok := rates[l]; !ok {
			t.Errorf("link %s:%s -> %s:%s is not in the graph", l[0], l[1], l[2], l[3])
		}
	}
	if t.Failed() {
		t.Logf("graph:\n%s", dot)
	}
	return rates
}

// renders fails unless Graphviz's dot renders the text to an SVG naming
// every element.
func renders(t *testing.T, dot string) {
	t.Helper()
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	svg, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s\n%s", err, stderr.String(), dot)
	}
	checkSVG(t, "dot -Tsvg", svg)
}

func checkSVG(t *testing.T, what string, svg []byte) {
	t.Helper()
	if !bytes.HasPrefix(bytes.TrimSpace(svg), []byte("<?xml")) || !bytes.Contains(svg, []byte("</svg>")) {
		t.Errorf("%s: not an SVG:\n%s", what, tail(string(svg)))
	}
	for _, e := range graphElements {
		name := e[strings.LastIndex(e, "/")+1:]
		if !bytes.Contains(svg, []byte(">"+name+"<")) {
			t.Errorf("%s: the SVG does not name %s", what, name)
		}
	}
}

// A live pipeline's graph over HTTP: every element and link, the bin as a
// cluster, buffers/s near the source's 43/s (first since the tracer
// started, then over the window since the previous request), rendered by
// dot; and gstscope-report graph writes the SVG and the DOT.
func TestGraphHTTP(t *testing.T) {
	port := freePort(t)
	startPipeline(t, gstEnv(t, "prometheus-latency-tracer", fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port)),
		fmt.Sprintf(graphPipeline, "is-live=true")) // until the test ends: a slow run outlived 400 buffers
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Buffers reach both sinks: every link carries them from now on.
	waitExposition(t, base+"/metrics", "buffers at both sinks", func(fams map[string]*dto.MetricFamily) bool {
		return find(fams, "gstreamer_pad_buffers_total", labels("element", "fakesink0")).GetCounter().GetValue() > 0 &&
			find(fams, "gstreamer_pad_buffers_total", labels("element", "b/fakesink1")).GetCounter().GetValue() > 0
	})

	asked := time.Now()
	resp, err := http.Get(base + "/graph")
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/vnd.graphviz; charset=utf-8" {
		t.Errorf("GET /graph: %d, Content-Type %q", resp.StatusCode, ct)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		req, _ := http.NewRequest(m, base+"/graph", nil)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
			t.Errorf("%s /graph: %v %v, want 405", m, resp, err)
		} else {
			resp.Body.Close()
		}
	}

	time.Sleep(1100 * time.Millisecond)
	asked2 := time.Now()
	_, dot, err := get(base + "/graph")
	if err != nil {
		t.Fatal(err)
	}
	// The window the graph states lies between what this test saw of the
	// two requests (to the 0.1 s the graph prints), however slow the run.
	shortest, longest := asked2.Sub(answered).Seconds(), time.Since(asked).Seconds()
	if m := regexp.MustCompile(`over the last ([0-9.]+) s`).FindStringSubmatch(dot); m == nil {
		t.Errorf("the second graph's rates are not over the time since the first:\n%s", dot)
	} else if w, _ := strconv.ParseFloat(m[1], 64); w < shortest-0.05 || w > longest+0.05 {
		t.Errorf("the second graph's rates are over %.1f s; the requests were %.2f-%.2f s apart", w, shortest, longest)
	}
	for l, rate := range checkGraph(t, dot) {
		if rate < 30 || rate > 60 {
			t.Errorf("link %v: %.1f buf/s, want about 43", l, rate)
		}
	}
	renders(t, dot)

	report := reportBin(t)
	dir := t.TempDir()
	svgPath, dotPath := filepath.Join(dir, "pipeline.svg"), filepath.Join(dir, "pipeline.dot")
	for _, args := range [][]string{{"graph", base, "-o", svgPath}, {"graph", "-o", dotPath, base + "/graph"}} {
		if out, err := exec.Command(report, args...).CombinedOutput(); err != nil {
			t.Fatalf("gstscope-report %q: %v\n%s", args, err, out)
		}
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	checkSVG(t, "gstscope-report graph -o pipeline.svg", svg)
	// As a person sees it: Chromium draws it, with every element's name.
	chromiumScreenshot(t, svgPath, 8)
	dom := chromiumDOM(t, svgPath)
	if strings.Contains(dom, "error on line") || !strings.Contains(dom, "<svg") {
		t.Fatalf("Chromium did not render the graph:\n%s", tail(dom))
	}
	drawn := "\n" + strings.Join(renderedTexts(dom), "\n") + "\n"
	for _, e := range graphElements {
		if name := e[strings.LastIndex(e, "/")+1:]; !strings.Contains(drawn, "\n"+name+"\n") {
			t.Errorf("Chromium does not draw %s; the texts drawn:%s", name, drawn)
		}
	}
	written, err := os.ReadFile(dotPath)
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, string(written))
	out, err := exec.Command(report, "graph", base+"/").Output()
	if err != nil || !strings.HasPrefix(string(out), "digraph ") {
		t.Errorf("gstscope-report graph to stdout: %v\n%s", err, out)
	}
}

// The request-graph examples get the same graph from the signal.
func TestGraphSignalFromC(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "graph")
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "gstreamer-1.0").Output()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-o", bin, "../../examples/request-graph.c"}, strings.Fields(string(flags))...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	runGraphExample(t, exec.Command(bin, fmt.Sprintf(graphPipeline, "num-buffers=50")))
}

func TestGraphSignalFromPython(t *testing.T) {
	runGraphExample(t, exec.Command("/usr/bin/python3", "../../examples/request-graph.py", fmt.Sprintf(graphPipeline, "num-buffers=50")))
}

func runGraphExample(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Env = gstEnv(t, "prometheus-latency-tracer")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	dot := string(out)
	if !strings.Contains(dot, "since the tracer started") {
		t.Errorf("the first graph's rates are not since the tracer started:\n%s", dot)
	}
	checkGraph(t, dot)
	renders(t, dot)
}

// With the pyroscope tracer, elements show their CPU share and the hottest
// is the one with the most CPU: a burner of 3 ms per buffer at 100
// buffers/s uses 30% of a core. The Pyroscope server is down (a warning),
// which the CPU counters do not need.
func TestGraphCPU(t *testing.T) {
	port := freePort(t)
	startPipeline(t, gstEnv(t, "prometheus-latency-tracer;pyroscope",
		fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port),
		fmt.Sprintf("GST_PYROSCOPE_SERVER_URL=http://127.0.0.1:%d", freePort(t))),
		"audiotestsrc is-live=true samplesperbuffer=441 ! queue ! scopeburn name=b cpu-us=3000 ! fakesink") // until the test ends
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The sampler has charged the burner: its CPU is counted from now on.
	// The share asserted is over the 1.5 s between two graphs after that.
	waitExposition(t, base+"/metrics", "the burner's CPU counted", func(fams map[string]*dto.MetricFamily) bool {
		return find(fams, "gstreamer_element_cpu_seconds_total", labels("element", "b")).GetCounter().GetValue() > 0
	})
	if _, _, err := get(base + "/graph"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_, dot, err := get(base + "/graph")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dot, "hottest (CPU)") {
		t.Fatalf("the graph does not know of the CPU figures:\n%s", dot)
	}
	m := regexp.MustCompile(`(?m)^\s*"pipeline0/b" \[label="[^"]*\\nCPU ([0-9.]+)%"(.*)\];$`).FindStringSubmatch(dot)
	if m == nil {
		t.Fatalf("no CPU share on the burner:\n%s", dot)
	}
	share, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("the burner: %.1f%% of a core", share)
	if !strings.Contains(m[2], `fillcolor="orange"`) {
		t.Errorf("the burner is not the hottest:\n%s", dot)
	}
	if memoryChecker() == "" && (share < 20 || share > 40) {
		t.Errorf("the burner uses %.1f%% of a core, want about 30%%", share)
	}
}
