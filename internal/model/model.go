package model

import (
	"time"

	dto "github.com/prometheus/client_model/go"
)

// ElementKey names an element: its pipeline and its path label
// ("bin0/identity0").
type ElementKey struct{ Pipeline, Element string }

// PadKey names a pad of an element.
type PadKey struct{ Pipeline, Element, Pad string }

// PathKey names a source-to-sink path.
type PathKey struct{ Pipeline, Source, Sink string }

// Element is what the exposition says about one element: its families with
// an element label and no pad label by name (Values: counters and gauges,
// summed over series that differ in other labels; Hists: histograms), and
// its pad counters summed over its sink pads (In) and its src pads (Out).
// A family is in In or Out when the element has a pad of that direction,
// even at 0: a sink has no Out, a source no In.
//
// QueueValues holds, by the queue label (a multiqueue has one queue per pad
// pair), the families of series that have one: each queue's own levels,
// which Values sums over the element's queues.
type Element struct {
	Factory     string
	Values      map[string]float64
	Hists       map[string]*Histogram
	In, Out     map[string]float64
	QueueValues map[string]map[string]float64
}

// Pad is one pad's direction (DirSink or DirSrc, "" when the exposition
// does not say) and its counters and gauges by family.
type Pad struct {
	Direction string
	Values    map[string]float64
}

// Model is one exposition, or (from Since) the observations between two.
type Model struct {
	// At is when the exposition was read; Interval, for a model from
	// Since, the time since the earlier one (0 otherwise).
	At       time.Time
	Interval time.Duration
	// Types are the families' types, by name: Since subtracts counters and
	// histograms and keeps gauges.
	Types    map[string]dto.MetricType
	Elements map[ElementKey]*Element
	Pads     map[PadKey]*Pad
	Paths    map[PathKey]*Histogram
}

func newModel(at time.Time) *Model {
	return &Model{At: at, Types: map[string]dto.MetricType{}, Elements: map[ElementKey]*Element{},
		Pads: map[PadKey]*Pad{}, Paths: map[PathKey]*Histogram{}}
}

// Empty says whether the model has no element and no path.
func (m *Model) Empty() bool { return len(m.Elements) == 0 && len(m.Paths) == 0 }

func (m *Model) element(k ElementKey) *Element {
	e := m.Elements[k]
	if e == nil {
		e = &Element{Values: map[string]float64{}, Hists: map[string]*Histogram{},
			In: map[string]float64{}, Out: map[string]float64{}, QueueValues: map[string]map[string]float64{}}
		m.Elements[k] = e
	}
	return e
}

// FromFamilies builds the model of parsed families taken at at. Families
// without an element label, other than the source-to-sink histograms, are
// not the tracer's and are left out.
func FromFamilies(fams []*dto.MetricFamily, at time.Time) *Model {
	m := newModel(at)
	for _, f := range fams {
		name := f.GetName()
		m.Types[name] = f.GetType()
		for _, s := range f.Metric {
			m.add(name, f.GetType(), s)
		}
	}
	return m
}

func (m *Model) add(name string, typ dto.MetricType, s *dto.Metric) {
	l := map[string]string{}
	for _, p := range s.Label {
		l[p.GetName()] = p.GetValue()
	}
	if typ == dto.MetricType_HISTOGRAM && name == PipelineLatency {
		k := PathKey{l[LabelPipeline], l[LabelSource], l[LabelSink]}
		m.Paths[k] = histogramOf(s.GetHistogram()).Add(m.Paths[k])
		return
	}
	el, ok := l[LabelElement]
	if !ok {
		return
	}
	e := m.element(ElementKey{l[LabelPipeline], el})
	if f := l[LabelFactory]; f != "" {
		e.Factory = f
	}
	if typ == dto.MetricType_HISTOGRAM {
		if _, onPad := l[LabelPad]; !onPad {
			e.Hists[name] = histogramOf(s.GetHistogram()).Add(e.Hists[name])
		}
		return
	}
	v := value(typ, s)
	pad, onPad := l[LabelPad]
	if !onPad {
		e.Values[name] += v
		if q, ok := l[LabelQueue]; ok {
			if e.QueueValues[q] == nil {
				e.QueueValues[q] = map[string]float64{}
			}
			e.QueueValues[q][name] += v
		}
		return
	}
	k := PadKey{l[LabelPipeline], el, pad}
	p := m.Pads[k]
	if p == nil {
		p = &Pad{Direction: l[LabelDirection], Values: map[string]float64{}}
		m.Pads[k] = p
	}
	p.Values[name] += v
	switch p.Direction {
	case DirSink:
		e.In[name] += v
	case DirSrc:
		e.Out[name] += v
	}
}

func value(typ dto.MetricType, s *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return s.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return s.GetGauge().GetValue()
	}
	return s.GetUntyped().GetValue()
}

// Processing is the element's processing-time histogram (nil: none).
func (e *Element) Processing() *Histogram { return e.Hists[ElementProcessing] }

// Latency is the element's latency histogram (nil: none).
func (e *Element) Latency() *Histogram { return e.Hists[ElementLatency] }

// Value is a counter or gauge of the element; ok is false without a series.
func (e *Element) Value(family string) (v float64, ok bool) {
	v, ok = e.Values[family]
	return v, ok
}

// BuffersIn is the buffers through the element's sink pads; ok is false
// when it has none (a source).
func (e *Element) BuffersIn() (n float64, ok bool) {
	n, ok = e.In[PadBuffers]
	return n, ok
}

// BuffersOut is the buffers through the element's src pads; ok is false
// when it has none (a sink).
func (e *Element) BuffersOut() (n float64, ok bool) {
	n, ok = e.Out[PadBuffers]
	return n, ok
}

// Buffers is the element's throughput: what it takes in, or for a source
// what it sends. ok is false for an element without pad counters.
func (e *Element) Buffers() (n float64, ok bool) {
	if n, ok = e.BuffersIn(); ok {
		return n, ok
	}
	return e.BuffersOut()
}

// Since is the model of the observations between prev and m: counters and
// histograms minus prev's (a series absent from prev started at 0 since),
// gauges as in m, Interval the time between them. reset is set when a
// counter of an element, pad or path went down: it restarted (the process,
// or a pipeline rebuilt under the same names), and its figures in d are
// its counts since then, m's own; a view that cannot tell how long that
// was shows no rates for the interval.
func (m *Model) Since(prev *Model) (d *Model, reset bool) {
	d = newModel(m.At)
	d.Interval = m.At.Sub(prev.At)
	d.Types = m.Types
	// sub subtracts old from each counter of cur; ok is false when one
	// went down.
	sub := func(cur, old map[string]float64) (out map[string]float64, ok bool) {
		out, ok = make(map[string]float64, len(cur)), true
		for name, v := range cur {
			if m.Types[name] != dto.MetricType_GAUGE {
				if v < old[name] {
					ok = false
				}
				v -= old[name]
			}
			out[name] = v
		}
		return out, ok
	}
	for k, e := range m.Elements {
		p := prev.Elements[k]
		if p == nil {
			p = &Element{}
		}
		de := &Element{Factory: e.Factory, Hists: map[string]*Histogram{},
			QueueValues: make(map[string]map[string]float64, len(e.QueueValues))}
		var ok [3]bool
		de.Values, ok[0] = sub(e.Values, p.Values)
		de.In, ok[1] = sub(e.In, p.In)
		de.Out, ok[2] = sub(e.Out, p.Out)
		restarted := !ok[0] || !ok[1] || !ok[2]
		for q, vs := range e.QueueValues {
			var qok bool
			if de.QueueValues[q], qok = sub(vs, p.QueueValues[q]); !qok {
				restarted = true
			}
		}
		for name, h := range e.Hists {
			var hok bool
			if de.Hists[name], hok = h.Sub(p.Hists[name]); !hok {
				restarted = true
			}
		}
		if restarted {
			de = e
			reset = true
		}
		d.Elements[k] = de
	}
	for k, pad := range m.Pads {
		var old map[string]float64
		if p := prev.Pads[k]; p != nil {
			old = p.Values
		}
		v, ok := sub(pad.Values, old)
		if !ok {
			v, reset = pad.Values, true
		}
		d.Pads[k] = &Pad{Direction: pad.Direction, Values: v}
	}
	for k, h := range m.Paths {
		dh, ok := h.Sub(prev.Paths[k])
		if !ok {
			dh, reset = h, true
		}
		d.Paths[k] = dh
	}
	return d, reset
}

// Rate is v per second of the model's Interval; NaN without one.
func (m *Model) Rate(v float64) float64 {
	if m.Interval <= 0 {
		return nan
	}
	return v / m.Interval.Seconds()
}
