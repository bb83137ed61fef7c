package pyroscope

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// ThreadPrefix starts the frame of a thread that is in no element.
const ThreadPrefix = "thread:"

// WorkersPrefix starts the frame, under an element, of the threads its codec
// library started (x264's, libvpx's, libav's): "workers:x264enc0". Those
// threads carry the name of whichever streaming thread opened the codec (a
// queue's, a source's), which says nothing about what they are.
const WorkersPrefix = "workers:"

// fn is one frame of a profile: a pipeline, an element or a thread.
type fn struct {
	name   string // what Pyroscope shows
	system string // the element's factory, "pipeline" or "thread"
}

type stack struct {
	fns      []fn // the root first
	pipeline string
	ns       int64
}

// period aggregates the CPU samples between two uploads.
type period struct {
	start  time.Time
	stacks map[string]*stack
	key    strings.Builder
}

func newPeriod(start time.Time) *period {
	return &period{start: start, stacks: map[string]*stack{}}
}

func (p *period) empty() bool { return len(p.stacks) == 0 }

// addStack charges ns to an element stack: each pipeline's frame, then its
// elements; a stack that crosses into another pipeline (an appsink feeding
// an appsrc on the same thread) gets that pipeline's frame where it does.
func (p *period) addStack(frames []Frame, ns uint64) {
	p.key.Reset()
	for _, f := range frames {
		p.key.WriteString(f.Pipeline)
		p.key.WriteByte(0)
		p.key.WriteString(f.Element)
		p.key.WriteByte(0)
	}
	if s := p.stacks[p.key.String()]; s != nil {
		s.ns += int64(ns)
		return
	}
	s := &stack{pipeline: frames[0].Pipeline, ns: int64(ns)}
	for i, f := range frames {
		if f.Pipeline != "" && (i == 0 || f.Pipeline != frames[i-1].Pipeline) {
			s.fns = append(s.fns, fn{frameName(f.Pipeline, "pipeline"), "pipeline"})
		}
		s.fns = append(s.fns, fn{frameName(f.Element, f.Factory), f.Factory})
	}
	p.stacks[p.key.String()] = s
}

// frameName is name, except for "other": Pyroscope's flame graph folds
// whatever is under a frame of that name into its "other" bucket of small
// nodes, so such a frame is shown as "other (kind)".
func frameName(name, kind string) string {
	if name == "other" {
		return name + " (" + kind + ")"
	}
	return name
}

// addWorker charges ns to the worker threads of the element that ends
// frames (its stack on the streaming threads, so that its frame and its
// workers' are one): pipeline -> ... -> element -> workers:element.
func (p *period) addWorker(frames []Frame, ns uint64) {
	p.key.Reset()
	p.key.WriteString("\x00\x00") // an element stack starts with its pipeline, a thread with one 0
	for _, f := range frames {
		p.key.WriteString(f.Pipeline)
		p.key.WriteByte(0)
		p.key.WriteString(f.Element)
		p.key.WriteByte(0)
	}
	if s := p.stacks[p.key.String()]; s != nil {
		s.ns += int64(ns)
		return
	}
	s := &stack{pipeline: frames[0].Pipeline, ns: int64(ns)}
	for i, f := range frames {
		if f.Pipeline != "" && (i == 0 || f.Pipeline != frames[i-1].Pipeline) {
			s.fns = append(s.fns, fn{frameName(f.Pipeline, "pipeline"), "pipeline"})
		}
		s.fns = append(s.fns, fn{frameName(f.Element, f.Factory), f.Factory})
	}
	e := frames[len(frames)-1]
	s.fns = append(s.fns, fn{WorkersPrefix + e.Element, "workers"})
	p.stacks[p.key.String()] = s
}

// addThread charges ns to a thread that is in no element.
func (p *period) addThread(name string, ns uint64) {
	p.key.Reset()
	p.key.WriteByte(0)
	p.key.WriteString(name)
	if s := p.stacks[p.key.String()]; s != nil {
		s.ns += int64(ns)
		return
	}
	p.stacks[p.key.String()] = &stack{fns: []fn{{ThreadPrefix + name, "thread"}}, ns: int64(ns)}
}

// profile is the period as a pprof CPU profile: one sample per distinct
// stack, valued in CPU nanoseconds, labelled with its pipeline.
func (p *period) profile(end time.Time, rate int) *profile.Profile {
	pr := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        int64(time.Second) / int64(rate),
		TimeNanos:     p.start.UnixNano(),
		DurationNanos: end.Sub(p.start).Nanoseconds(),
	}
	locs := map[fn]*profile.Location{}
	loc := func(f fn) *profile.Location {
		if l := locs[f]; l != nil {
			return l
		}
		id := uint64(len(locs) + 1)
		pf := &profile.Function{ID: id, Name: f.name, SystemName: f.system}
		l := &profile.Location{ID: id, Line: []profile.Line{{Function: pf}}}
		pr.Function = append(pr.Function, pf)
		pr.Location = append(pr.Location, l)
		locs[f] = l
		return l
	}
	for _, k := range slices.Sorted(maps.Keys(p.stacks)) {
		s := p.stacks[k]
		smp := &profile.Sample{Value: []int64{s.ns}}
		for i := len(s.fns) - 1; i >= 0; i-- { // pprof lists the leaf first
			smp.Location = append(smp.Location, loc(s.fns[i]))
		}
		if s.pipeline != "" {
			smp.Label = map[string][]string{"pipeline": {s.pipeline}}
		}
		pr.Sample = append(pr.Sample, smp)
	}
	return pr
}
