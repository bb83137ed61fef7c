package graph

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gstscope/gstscope/internal/latency"
)

var update = flag.Bool("update", false, "rewrite testdata/pipeline.dot")

func fixture(t *testing.T) *latency.Snapshot {
	t.Helper()
	b, err := os.ReadFile("testdata/pipeline.json")
	if err != nil {
		t.Fatal(err)
	}
	var s latency.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// The fixture's graph, 10 s after the tracer started, is the golden file,
// and Graphviz accepts it.
func TestGolden(t *testing.T) {
	got := Build(fixture(t), nil, 10)
	if *update {
		os.WriteFile("testdata/pipeline.dot", got, 0o644)
	}
	want, err := os.ReadFile("testdata/pipeline.dot")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("graph differs from testdata/pipeline.dot (go test -update to accept):\n%s", got)
	}
	if _, err := exec.LookPath("dot"); err != nil {
		t.Skip("no graphviz dot")
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = bytes.NewReader(got)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	svg, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s", err, stderr.String())
	}
	for _, name := range []string{"audiotestsrc0", "identity0", "fakesink1", "src &quot;1&quot;"} {
		if !bytes.Contains(svg, []byte(name)) {
			t.Errorf("the SVG lacks %q", name)
		}
	}
}

// Names cannot break out of their strings: quotes and backslashes are
// escaped, line breaks become \n.
func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:        `"plain"`,
		`a"b`:          `"a\"b"`,
		`a\b`:          `"a\\b"`,
		`a\"`:          `"a\\\""`,
		"two\nlines":   `"two\nlines"`,
		`\N`:           `"\\N"`,
		"cr\r\nlf\rx":  `"cr\nlf\nx"`,
		`"; evil=1; "`: `"\"; evil=1; \""`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// Bins are clusters nested as the paths say, inside their pipeline's;
// each pipeline has its own; ids are the full paths.
func TestClusters(t *testing.T) {
	s := &latency.Snapshot{Elements: []latency.ElementStat{
		{Pipeline: "p1", Element: "a/b/c"},
		{Pipeline: "p1", Element: "a/d"},
		{Pipeline: "p1", Element: "e"},
		{Pipeline: "p2", Element: "e"},
		{Pipeline: "", Element: "loose"},
	}}
	dot := string(Build(s, nil, 1))
	want := `  "loose" [label="loose\n()"];
  subgraph "cluster_p1" {
    label="p1";
    "p1/e" [label="e\n()"];
    subgraph "cluster_p1/a" {
      label="a";
      "p1/a/d" [label="d\n()"];
      subgraph "cluster_p1/a/b" {
        label="b";
        "p1/a/b/c" [label="c\n()"];
      }
    }
  }
  subgraph "cluster_p2" {
    label="p2";
    "p2/e" [label="e\n()"];
  }
`
	if !strings.Contains(dot, want) {
		t.Errorf("clusters:\n%s\nwant:\n%s", dot, want)
	}
}

func attrs(dot, id string) string {
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(quote(id)) + ` \[(.*)\];$`).FindStringSubmatch(dot)
	if m == nil {
		return ""
	}
	return m[1]
}

// Per pipeline, the highest latency p95 (ties: the highest mean) gets the
// red border, the most CPU, or without CPU the highest processing mean,
// the fill.
func TestColors(t *testing.T) {
	s := fixture(t)
	dot := string(Build(s, nil, 10))
	slow := func(id string) bool { return strings.Contains(attrs(dot, id), `color="red"`) }
	hot := func(id string) bool { return strings.Contains(attrs(dot, id), `fillcolor="orange"`) }
	// queue0 and queue1 share the p95 bucket; queue1's mean is higher.
	if !slow("pipeline0/queue1") || slow("pipeline0/queue0") || slow("pipeline0/t") {
		t.Errorf("slowest is not queue1 alone:\n%s", dot)
	}
	if !hot("pipeline0/audiotestsrc0") || hot("pipeline0/queue1") {
		t.Errorf("hottest (processing) is not audiotestsrc0:\n%s", dot)
	}
	if !hot(`odd "p"/a\b/src "1"`) {
		t.Errorf("the second pipeline has no hottest element of its own:\n%s", dot)
	}
	for i := range s.Elements {
		if s.Elements[i].Element == "b/fakesink1" {
			s.Elements[i].CPUNs = 3e9
		}
	}
	s.CPUSampled = true
	dot = string(Build(s, nil, 10))
	if !hot("pipeline0/b/fakesink1") || hot("pipeline0/audiotestsrc0") {
		t.Errorf("with CPU, hottest is not fakesink1:\n%s", dot)
	}
	if !strings.Contains(attrs(dot, "pipeline0/b/fakesink1"), `CPU 30.0%`) {
		t.Errorf("fakesink1's CPU share is not 30%% of a core:\n%s", dot)
	}
}

// A View's first graph has rates since its start; later ones over the
// time since a kept snapshot at least MinWindow old; beyond MaxWindow,
// since the start again. Counters that went down start over.
func TestRates(t *testing.T) {
	var buffers uint64
	snap := func() *latency.Snapshot {
		return &latency.Snapshot{
			Elements: []latency.ElementStat{{Pipeline: "p", Element: "x", Factory: "f"}},
			Pads:     []latency.PadStat{{Pipeline: "p", Element: "x", Pad: "src", Buffers: buffers, PeerElement: "y", PeerPad: "sink"}},
		}
	}
	t0 := time.Unix(1000, 0)
	now := t0
	v := newView(snap, func() time.Time { return now })
	rate := func() string {
		dot := string(v.DOT())
		m := regexp.MustCompile(`"p/x" -> "p/y" \[label="src → sink\\n([0-9.]+) buf/s"\]`).FindStringSubmatch(dot)
		if m == nil {
			t.Fatalf("no link in\n%s", dot)
		}
		return m[1]
	}
	for _, step := range []struct {
		after   time.Duration
		buffers uint64
		want    string
	}{
		{2 * time.Second, 200, "100.0"},        // since the start: 200 in 2 s; kept
		{500 * time.Millisecond, 300, "120.0"}, // none kept 1 s ago: since the start, 300 in 2.5 s
		{time.Second, 500, "200.0"},            // since the one kept at 2 s: 300 in 1.5 s; kept
		{4 * time.Second, 900, "100.0"},        // since 3.5 s: 400 in 4 s; kept
		{2 * time.Minute, 1000, "7.8"},         // beyond MaxWindow: since the start, 1000 in 127.5 s
		{2 * time.Second, 1100, "50.0"},        // since 127.5 s: 100 in 2 s; kept
		{300 * time.Millisecond, 1130, "56.5"}, // the last kept is too recent: since the one before, 130 in 2.3 s
		{time.Second, 100, "76.9"},             // went down (a new element): 100 in 1.3 s
	} {
		now = now.Add(step.after)
		buffers = step.buffers
		if got := rate(); got != step.want {
			t.Errorf("at %v with %d buffers: %s buf/s, want %s", now.Sub(t0), step.buffers, got, step.want)
		}
	}
}

// Over a window, the p95, the means and the CPU share are those of the
// observations since the base snapshot, not of the whole run.
func TestWindowedFigures(t *testing.T) {
	bounds := []uint64{1000, 10000, 100000, 1000000}
	snap := func(slow, fast, cpuNs uint64) *latency.Snapshot {
		h := latency.Hist{Counts: []uint64{0, fast, 0, slow, 0}, SumNs: fast*5000 + slow*500000}
		return &latency.Snapshot{BoundsNs: bounds, CPUSampled: true, Elements: []latency.ElementStat{
			{Pipeline: "p", Element: "x", Factory: "f", Latency: h, Processing: h, CPUNs: cpuNs}}}
	}
	base := snap(100, 0, 1e9)
	cur := snap(100, 100, 1.5e9)
	a := attrs(string(Build(cur, base, 2)), "p/x")
	// histogram_quantile: the rank 95 of 100 in (1, 10] µs: 1 + 9*95/100.
	for _, want := range []string{`latency p95 9.6 µs`, `processing mean 5.0 µs`, `CPU 25.0%`} {
		if !strings.Contains(a, want) {
			t.Errorf("over the window: %s lacks %q", a, want)
		}
	}
	a = attrs(string(Build(cur, nil, 2)), "p/x")
	// The rank 190 of 200 is the 90th of 100 in (100, 1000] µs: 100 + 900*90/100.
	for _, want := range []string{`latency p95 910.0 µs`, `processing mean 252.5 µs`, `CPU 75.0%`} {
		if !strings.Contains(a, want) {
			t.Errorf("totals: %s lacks %q", a, want)
		}
	}
}
