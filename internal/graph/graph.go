// Package graph draws the pipelines the latency tracer sees as a Graphviz
// dot graph, like GStreamer's GST_DEBUG_DUMP_DOT_DIR dumps, with the
// tracer's numbers on it: each element's latency p95, processing mean,
// buffers/s and CPU share, the slowest and hottest element of each pipeline
// colored, each link's buffers/s; an element that dropped buffers says so
// in red, a queue shows its level and the share of time its upstream
// waited for room. Bins are clusters, derived from the
// elements' path labels ("bin1/identity0"), so the C snapshot carries no
// structure beyond each src pad's peer.
//
// Figures are over a window (see View): histograms and counters of the
// snapshot minus those of an earlier one.
package graph

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gstscope/gstscope/internal/latency"
	"github.com/gstscope/gstscope/internal/model"
)

// The window a View computes rates over: since a snapshot at least
// MinWindow old (shorter windows make noisy rates), at most MaxWindow old
// (longer ones are stale); without one, since the View was made.
const (
	MinWindow = time.Second
	MaxWindow = time.Minute
)

// View is one consumer of graphs (the HTTP server, the signal). It keeps
// the last two snapshots it took, at least MinWindow apart, so that each
// graph's rates cover the time since an earlier graph of the same consumer.
type View struct {
	snapshot func() *latency.Snapshot
	now      func() time.Time
	start    time.Time

	mu           sync.Mutex
	last, before *taken
}

type taken struct {
	s  *latency.Snapshot
	at time.Time
}

// NewView returns a view whose first graph has rates over the time since
// now, when the tracer starts.
func NewView(snapshot func() *latency.Snapshot) *View {
	return newView(snapshot, time.Now)
}

func newView(snapshot func() *latency.Snapshot, now func() time.Time) *View {
	return &View{snapshot: snapshot, now: now, start: now()}
}

// DOT takes a snapshot and returns the graph.
func (v *View) DOT() []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.snapshot()
	if s == nil {
		s = &latency.Snapshot{}
	}
	now := v.now()
	base, from := v.window(s, now)
	return Build(s, base, now.Sub(from).Seconds())
}

// window returns the snapshot to subtract (nil: none, totals since the
// start) and its time, and keeps s if the last kept one is MinWindow old.
func (v *View) window(s *latency.Snapshot, now time.Time) (*latency.Snapshot, time.Time) {
	var base *taken
	switch {
	case v.last == nil:
		v.last = &taken{s, now}
	case now.Sub(v.last.at) >= MinWindow:
		base, v.before, v.last = v.last, v.last, &taken{s, now}
	default:
		base = v.before // kept snapshots are MinWindow apart
	}
	if base == nil || now.Sub(base.at) > MaxWindow {
		return nil, v.start
	}
	return base.s, base.at
}

// node is one element's figures over the window.
type node struct {
	pipeline, path, factory string
	lat, proc               *model.Histogram
	hasRate                 bool

	latP95, latMean, procMean, rate, cpu float64
	slowest, hottest                     bool

	dropRate   float64       // buffers dropped per second, > 0 when it dropped
	levels     []model.Level // its queues' levels, now
	blocked    float64       // seconds its upstream waited per second
	hasBlocked bool
}

func (n *node) id() string   { return nodeID(n.pipeline, n.path) }
func (n *node) name() string { return n.path[strings.LastIndex(n.path, "/")+1:] }

func nodeID(pipeline, path string) string {
	if pipeline == "" {
		return path
	}
	return pipeline + "/" + path
}

// Build returns the DOT text of cur, with figures over the window since
// base (nil: cur's totals) of the given length in seconds. The figures are
// read as the exposition says them (latency.Families, internal/model), the
// same as gstscope-report's table and top: buffers/s through the sink pads
// (by direction), the mean, and the p95 by histogram_quantile's rule. An
// element whose counters went down within the window restarted: its counts
// since the restart are taken as the window's.
func Build(cur, base *latency.Snapshot, seconds float64) []byte {
	d := modelOf(cur, seconds)
	if base != nil {
		d, _ = d.Since(modelOf(base, 0))
	}
	return draw(cur, d, seconds, base == nil)
}

// draw is the graph of cur's elements and links with the figures of d, the
// model of the window (seconds long; totals is set when it is the whole
// run).
func draw(cur *latency.Snapshot, d *model.Model, seconds float64, totals bool) []byte {
	nodes := map[model.ElementKey]*node{}
	for _, e := range cur.Elements {
		k := model.ElementKey{Pipeline: e.Pipeline, Element: e.Element}
		if nodes[k] != nil {
			continue
		}
		n := &node{pipeline: e.Pipeline, path: e.Element, factory: e.Factory}
		nodes[k] = n
		me := d.Elements[k]
		if me == nil {
			continue
		}
		n.lat, n.proc = me.Latency(), me.Processing()
		n.latP95, n.latMean = n.lat.Quantile(0.95), n.lat.Mean()
		n.procMean = n.proc.Mean()
		// A source's rate is what it sends, any other's what it takes.
		var buffers float64
		buffers, n.hasRate = me.Buffers()
		cpu, _ := me.Value(model.ElementCPU)
		if seconds > 0 {
			n.rate = buffers / seconds
			n.cpu = cpu / seconds
		}
		n.flow(me, seconds)
	}
	mark(nodes, cur.CPUSampled)

	var b bytes.Buffer
	b.WriteString("digraph pipelines {\n")
	b.WriteString("  rankdir=LR;\n")
	window := fmt.Sprintf("over the last %.1f s", seconds)
	if totals {
		window = fmt.Sprintf("since the tracer started, %.1f s ago", seconds)
	}
	hot := "processing mean"
	if cur.CPUSampled {
		hot = "CPU"
	}
	fmt.Fprintf(&b, "  label=%s;\n  labelloc=t;\n", quote("gstscope: figures "+window+
		"; p95 by histogram_quantile (interpolated within its bucket); red border: slowest (latency p95), filled: hottest ("+hot+"); red text: buffers dropped; queues: level now, blocked: share of the time upstream waited for room"))
	b.WriteString("  node [shape=box, style=rounded, fontname=\"sans\", fontsize=10];\n")
	b.WriteString("  edge [fontname=\"sans\", fontsize=9];\n")
	clusters(nodes).write(&b, "  ", cur.CPUSampled)
	writeLinks(&b, cur, d, seconds)
	b.WriteString("}\n")
	return b.Bytes()
}

// modelOf is s as the exposition says it, at the given time in seconds.
func modelOf(s *latency.Snapshot, at float64) *model.Model {
	fams, _ := latency.Families(latency.AllFlags, s) // a const collector cannot fail
	return model.FromFamilies(fams, time.Unix(0, 0).Add(time.Duration(at*float64(time.Second))))
}

// mark colors, per pipeline, the element with the highest latency p95
// (ties: the highest mean) and the one with the most CPU, or without CPU
// figures the highest processing mean.
func mark(nodes map[model.ElementKey]*node, cpu bool) {
	slow, hot := map[string]*node{}, map[string]*node{}
	for _, n := range sorted(nodes) {
		if n.lat.Count() > 0 {
			if s := slow[n.pipeline]; s == nil || n.latP95 > s.latP95 || n.latP95 == s.latP95 && n.latMean > s.latMean {
				slow[n.pipeline] = n
			}
		}
		heat := func(n *node) float64 {
			if cpu {
				return n.cpu
			}
			return n.procMean
		}
		if heat(n) > 0 {
			if h := hot[n.pipeline]; h == nil || heat(n) > heat(h) {
				hot[n.pipeline] = n
			}
		}
	}
	for _, n := range slow {
		n.slowest = true
	}
	for _, n := range hot {
		n.hottest = true
	}
}

func sorted(nodes map[model.ElementKey]*node) []*node {
	out := make([]*node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out
}

// cluster is a bin: a pipeline, or a bin inside one.
type cluster struct {
	id, name string
	bins     map[string]*cluster
	nodes    []*node
}

func newCluster(id, name string) *cluster {
	return &cluster{id: id, name: name, bins: map[string]*cluster{}}
}

// clusters nests the elements by their pipeline and bin path; elements in
// no bin are at the root, outside any cluster.
func clusters(nodes map[model.ElementKey]*node) *cluster {
	root := newCluster("", "")
	for _, n := range sorted(nodes) {
		c := root
		var bins []string
		if n.pipeline != "" {
			bins = append(bins, n.pipeline)
		}
		parts := strings.Split(n.path, "/")
		bins = append(bins, parts[:len(parts)-1]...)
		for i, name := range bins {
			sub := c.bins[name]
			if sub == nil {
				sub = newCluster(strings.Join(bins[:i+1], "/"), name)
				c.bins[name] = sub
			}
			c = sub
		}
		c.nodes = append(c.nodes, n)
	}
	return root
}

func (c *cluster) write(b *bytes.Buffer, indent string, cpu bool) {
	inner := indent
	if c.id != "" {
		fmt.Fprintf(b, "%ssubgraph %s {\n", indent, quote("cluster_"+c.id))
		inner = indent + "  "
		fmt.Fprintf(b, "%slabel=%s;\n", inner, quote(c.name))
	}
	for _, n := range c.nodes {
		n.write(b, inner, cpu)
	}
	names := make([]string, 0, len(c.bins))
	for name := range c.bins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.bins[name].write(b, inner, cpu)
	}
	if c.id != "" {
		fmt.Fprintf(b, "%s}\n", indent)
	}
}

func (n *node) write(b *bytes.Buffer, indent string, cpu bool) {
	lines := []string{n.name(), "(" + n.factory + ")"}
	if n.lat.Count() > 0 {
		lines = append(lines, "latency p95 "+dur(n.latP95))
	}
	if n.proc.Count() > 0 {
		lines = append(lines, "processing mean "+dur(n.procMean))
	}
	if n.hasRate {
		lines = append(lines, fmt.Sprintf("%.1f buf/s", n.rate))
	}
	if cpu {
		lines = append(lines, fmt.Sprintf("CPU %.1f%%", 100*n.cpu))
	}
	lines = append(lines, n.queueLines()...)
	attrs := []string{"label=" + label(lines...)}
	if n.dropRate > 0 {
		attrs[0] = "label=" + htmlLabel(lines, fmt.Sprintf("dropped %.1f/s", n.dropRate))
	}
	if n.slowest {
		attrs = append(attrs, `color="red"`, "penwidth=3")
	}
	if n.hottest {
		attrs = append(attrs, `style="rounded,filled"`, `fillcolor="orange"`)
	}
	fmt.Fprintf(b, "%s%s [%s];\n", indent, quote(n.id()), strings.Join(attrs, ", "))
}

// writeLinks draws each src pad with a peer as an edge to the element that
// pad's data reaches (through ghost pads), with the src pad's buffers/s.
func writeLinks(b *bytes.Buffer, s *latency.Snapshot, d *model.Model, seconds float64) {
	type link struct{ from, to, label string }
	seen := map[link]bool{}
	var links []link
	for _, p := range s.Pads {
		if p.Sink || p.PeerElement == "" {
			continue
		}
		rate := 0.0
		if pad := d.Pads[model.PadKey{Pipeline: p.Pipeline, Element: p.Element, Pad: p.Pad}]; pad != nil && seconds > 0 {
			rate = pad.Values[model.PadBuffers] / seconds
		}
		l := link{nodeID(p.Pipeline, p.Element), nodeID(p.Pipeline, p.PeerElement),
			label(p.Pad+" → "+p.PeerPad, fmt.Sprintf("%.1f buf/s", rate))}
		if !seen[l] {
			seen[l] = true
			links = append(links, l)
		}
	}
	sort.Slice(links, func(i, j int) bool {
		if links[i].from != links[j].from {
			return links[i].from < links[j].from
		}
		if links[i].to != links[j].to {
			return links[i].to < links[j].to
		}
		return links[i].label < links[j].label
	})
	for _, l := range links {
		fmt.Fprintf(b, "  %s -> %s [label=%s];\n", quote(l.from), quote(l.to), l.label)
	}
}

// quote makes s a DOT string: backslashes and quotes escaped, so that a
// name cannot end the string or start one of Graphviz's \N, \G escapes;
// line breaks become \n.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	return `"` + r.Replace(s) + `"`
}

// label is a quoted multi-line label.
func label(lines ...string) string {
	q := make([]string, len(lines))
	for i, l := range lines {
		q[i] = strings.TrimSuffix(strings.TrimPrefix(quote(l), `"`), `"`)
	}
	return `"` + strings.Join(q, `\n`) + `"`
}

func dur(s float64) string {
	switch {
	case math.IsInf(s, 1):
		return "inf"
	case s < 1e-3:
		return fmt.Sprintf("%.1f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.2f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}
