package graph

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gstscope/gstscope/internal/latency"
	"github.com/gstscope/gstscope/internal/model"
)

func readModel(t *testing.T, name string, at time.Time) *model.Model {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Read(f, at)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The window between flow-1.prom and flow-2.prom (2 s; figures by hand):
// the sink dropped 60 buffers, 30/s, in red; the queue holds 200 buffers
// and 950 ms and its upstream waited 1.5 s of 2; the multiqueue shows each
// queue; an element without these families shows none of them.
func TestFlowOnNodes(t *testing.T) {
	t0 := time.Unix(1000, 0)
	d, reset := readModel(t, "flow-2.prom", t0.Add(2*time.Second)).Since(readModel(t, "flow-1.prom", t0))
	if reset {
		t.Fatal("reset")
	}
	structure := &latency.Snapshot{Elements: []latency.ElementStat{
		{Pipeline: "p", Element: "src", Factory: "videotestsrc"},
		{Pipeline: "p", Element: "q", Factory: "queue"},
		{Pipeline: "p", Element: "id", Factory: "identity"},
		{Pipeline: "p", Element: "sink", Factory: "fakesink"},
		{Pipeline: "p", Element: "dec/mq", Factory: "multiqueue"},
	}}
	dot := string(draw(structure, d, 2, false))
	sink := attrs(dot, "p/sink")
	if !strings.HasPrefix(sink, `label=<sink<BR/>(fakesink)<BR/>50.0 buf/s<BR/><FONT COLOR="red">dropped 30.0/s</FONT>>`) {
		t.Errorf("sink: %s", sink)
	}
	q := attrs(dot, "p/q")
	for _, want := range []string{`level 200 buf, 950.00 ms`, `blocked 75%`} {
		if !strings.Contains(q, want) {
			t.Errorf("q: %s lacks %q", q, want)
		}
	}
	if strings.Contains(q, "dropped") || strings.Contains(q, "<") {
		t.Errorf("q dropped nothing: %s", q)
	}
	mq := attrs(dot, "p/dec/mq")
	if !strings.Contains(mq, `sink_0:src_0 3 buf, 100.00 ms\nsink_1:src_1 40 buf, 500.00 ms\nblocked 0%`) {
		t.Errorf("mq: %s", mq)
	}
	if id := attrs(dot, "p/id"); strings.Contains(id, "level") || strings.Contains(id, "blocked") || strings.Contains(id, "dropped") {
		t.Errorf("id: %s", id)
	}
	// Totals since the start (no base): 70 dropped in 2 s.
	tot := readModel(t, "flow-2.prom", t0)
	if s := attrs(string(draw(structure, tot, 2, true)), "p/sink"); !strings.Contains(s, "dropped 35.0/s") {
		t.Errorf("totals: %s", s)
	}
	svg := render(t, dot)
	if !strings.Contains(svg, `fill="red"`) || !strings.Contains(svg, "dropped 30.0/s") {
		t.Errorf("the SVG has no red drop text:\n%s", svg)
	}
}

// A name in an HTML label cannot end it or open a tag.
func TestHTMLLabelEscapes(t *testing.T) {
	got := htmlLabel([]string{`a<b>&"c'`, "(f)"}, "dropped 1.0/s")
	want := `<a&lt;b&gt;&amp;&#34;c&#39;<BR/>(f)<BR/><FONT COLOR="red">dropped 1.0/s</FONT>>`
	if got != want {
		t.Errorf("htmlLabel = %s, want %s", got, want)
	}
	render(t, "digraph g { n [label="+got+"]; }")
}

// render runs Graphviz's dot on text; it must accept it without a warning.
func render(t *testing.T, dot string) string {
	t.Helper()
	if _, err := exec.LookPath("dot"); err != nil {
		t.Skip("no graphviz dot")
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	svg, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s\n%s", err, stderr.String(), dot)
	}
	return string(svg)
}

// Through the collector (latency.Families), as the server draws it: the
// snapshot's drops, queue levels and blocked time reach the nodes. Over
// 2 s: the sink dropped 60 (30/s), q's upstream waited 1.5 s (75%), the
// multiqueue's two upstream threads 0.5 s each (50%: summed).
func TestFlowFromSnapshot(t *testing.T) {
	snap := func(dropped, level, blockedNs, mqBlockedNs uint64) *latency.Snapshot {
		return &latency.Snapshot{
			Elements: []latency.ElementStat{
				{Pipeline: "p", Element: "q", Factory: "queue", DropsKnown: true},
				{Pipeline: "p", Element: "sink", Factory: "fakesink", DropsKnown: true, Dropped: dropped},
				{Pipeline: "p", Element: "mq", Factory: "multiqueue"},
			},
			Queues: []latency.QueueStat{
				{Pipeline: "p", Element: "q", Factory: "queue", Queue: "sink:src", Buffers: level, TimeNs: 950e6, BlockedNs: blockedNs},
				{Pipeline: "p", Element: "mq", Factory: "multiqueue", Queue: "sink_0:src_0", Buffers: 3, TimeNs: 100e6, BlockedNs: mqBlockedNs},
				{Pipeline: "p", Element: "mq", Factory: "multiqueue", Queue: "sink_1:src_1", Buffers: 40, TimeNs: 500e6, BlockedNs: mqBlockedNs},
			},
		}
	}
	dot := string(Build(snap(70, 200, 2.5e9, 1e9), snap(10, 100, 1e9, 0.5e9), 2))
	for id, want := range map[string]string{
		"p/sink": `<FONT COLOR="red">dropped 30.0/s</FONT>`,
		"p/q":    `level 200 buf, 950.00 ms\nblocked 75%`,
		"p/mq":   `sink_0:src_0 3 buf, 100.00 ms\nsink_1:src_1 40 buf, 500.00 ms\nblocked 50%`,
	} {
		if a := attrs(dot, id); !strings.Contains(a, want) {
			t.Errorf("%s: %s lacks %q", id, a, want)
		}
	}
	if strings.Contains(attrs(dot, "p/q"), "dropped") {
		t.Errorf("q dropped nothing:\n%s", dot)
	}
	render(t, dot)
}
