package latency

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gstscope/gstscope/internal/model"
)

// Collector turns a Snapshot, read once per Collect, into metrics.
type Collector struct {
	snapshot func() *Snapshot
	flags    Flags

	processing, latency, latencyLast *prometheus.Desc
	pipeline                         *prometheus.Desc
	reportedMin, reportedMax         *prometheus.Desc
	buffers, bytes                   *prometheus.Desc
	cpu                              *prometheus.Desc
	dropped, lateness                *prometheus.Desc
	queueBuffers, queueBytes         *prometheus.Desc
	queueTime, queueBlocked          *prometheus.Desc
}

// NewCollector returns a collector of the families that flags enable (the
// pad counters are always on).
func NewCollector(flags Flags, snapshot func() *Snapshot) *Collector {
	el := []string{model.LabelPipeline, model.LabelElement, model.LabelFactory}
	// direction says which pads are inputs: names do not (mp4mux's
	// video_0, rtpbin's recv_rtp_sink_0).
	pad := []string{model.LabelPipeline, model.LabelElement, model.LabelPad, model.LabelDirection}
	rep := []string{model.LabelPipeline, model.LabelElement}
	queue := []string{model.LabelPipeline, model.LabelElement, model.LabelFactory, model.LabelQueue}
	return &Collector{
		snapshot: snapshot,
		flags:    flags,
		processing: prometheus.NewDesc(model.ElementProcessing,
			"Time an element spends on a buffer on its streaming thread, excluding time spent downstream during its own pushes.", el, nil),
		latency: prometheus.NewDesc(model.ElementLatency,
			"Time from a buffer entering an element to leaving it, including time queued inside it.", el, nil),
		latencyLast: prometheus.NewDesc(model.ElementLatencyLast,
			"Element latency of the last buffer that left the element.", el, nil),
		pipeline: prometheus.NewDesc(model.PipelineLatency,
			"Time from a buffer leaving a source element to its arrival at a sink element.", []string{model.LabelPipeline, model.LabelSource, model.LabelSink}, nil),
		reportedMin: prometheus.NewDesc(model.ElementReportedMin,
			"Element's own share of the minimum latency in a live pipeline's LATENCY query answer: its answer minus the answer upstream of it; absent when zero.", rep, nil),
		reportedMax: prometheus.NewDesc(model.ElementReportedMax,
			"Element's own share of the maximum latency in a live pipeline's LATENCY query answer; absent when zero or unbounded.", rep, nil),
		buffers: prometheus.NewDesc(model.PadBuffers,
			"Buffers that passed through a pad; direction is sink for an input of the element, src for an output.", pad, nil),
		bytes: prometheus.NewDesc(model.PadBytes,
			"Bytes of the buffers that passed through a pad.", pad, nil),
		cpu: prometheus.NewDesc(model.ElementCPU,
			"Thread CPU time the pyroscope tracer's sampler attributed to the element itself (not to elements it pushes to); present while that tracer runs.", el, nil),
		dropped: prometheus.NewDesc(model.ElementDropped,
			"Buffers an element received and did not pass on, where the element says so (its QoS messages, a jitterbuffer's drop messages) or a leaky queue's outputs show it; present for elements that can tell.", el, nil),
		lateness: prometheus.NewDesc(model.SinkLateness,
			"How late each buffer a syncing sink with qos rendered or dropped was against its render time (negative: early, it waited), from the sink's QoS events.", el, nil),
		queueBuffers: prometheus.NewDesc(model.QueueLevelBuffers,
			"Buffers in a queue now (queue, queue2, or one sink_N:src_N queue of a multiqueue): those that entered its sink pad minus those that left its src pad, were flushed or were dropped.", queue, nil),
		queueBytes: prometheus.NewDesc(model.QueueLevelBytes,
			"Bytes of the buffers in a queue now.", queue, nil),
		queueTime: prometheus.NewDesc(model.QueueLevelSeconds,
			"Running time a queue holds now: the end of the last buffer in minus the end of the last buffer out, as the queue's own current-level-time.", queue, nil),
		queueBlocked: prometheus.NewDesc(model.QueueBlocked,
			"Time upstream threads spent in a queue's chain function waiting for room in it (the calls during which a buffer left the queue, or that took over 50 us); a queue blocked most of the time points at the element after it as the bottleneck.", el, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.processing, c.latency, c.latencyLast,
		c.pipeline, c.reportedMin, c.reportedMax, c.buffers, c.bytes, c.cpu,
		c.dropped, c.lateness,
		c.queueBuffers, c.queueBytes, c.queueTime, c.queueBlocked} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Series that share all labels
// (two pipelines with the same name) are merged, since Prometheus cannot
// tell them apart either.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	if s == nil {
		return
	}
	bounds := make([]float64, len(s.BoundsNs))
	for i, b := range s.BoundsNs {
		bounds[i] = seconds(b)
	}
	hists := newHistSet(bounds)
	lateBounds := make([]float64, len(s.LateBoundsNs))
	for i, b := range s.LateBoundsNs {
		lateBounds[i] = float64(b) / 1e9
	}
	lates := newHistSet(lateBounds)
	gauges := gaugeSet{}
	counters := gaugeSet{}
	for _, e := range s.Elements {
		lv := []string{e.Pipeline, e.Element, e.Factory}
		if s.CPUSampled {
			counters.add(c.cpu, lv, seconds(e.CPUNs))
		}
		if e.DropsKnown || e.Dropped > 0 {
			counters.add(c.dropped, lv, float64(e.Dropped))
		}
		lates.add(c.lateness, lv, Hist{Counts: e.Lateness.Counts}, float64(e.Lateness.SumNs)/1e9)
		if c.flags&Element != 0 {
			hists.add(c.processing, lv, e.Processing, seconds(e.Processing.SumNs))
			hists.add(c.latency, lv, e.Latency, seconds(e.Latency.SumNs))
			if e.Latency.Count() > 0 {
				gauges.set(c.latencyLast, lv, seconds(e.LastLatencyNs))
			}
		}
		// A share is shown only where the element adds something: a zero
		// (most elements) or an unbounded maximum (anything with a queue
		// or a live source upstream) is noise, not a figure (see reported.c).
		if c.flags&Reported != 0 && e.Reported {
			lv := []string{e.Pipeline, e.Element}
			if e.ReportedMinNs > 0 {
				gauges.set(c.reportedMin, lv, float64(e.ReportedMinNs)/1e9)
			}
			if e.ReportedMaxNs > 0 && e.ReportedMaxNs != Unbounded {
				gauges.set(c.reportedMax, lv, float64(e.ReportedMaxNs)/1e9)
			}
		}
	}
	if c.flags&Pipeline != 0 {
		for _, p := range s.Paths {
			hists.add(c.pipeline, []string{p.Pipeline, p.Source, p.Sink}, p.Latency, seconds(p.Latency.SumNs))
		}
	}
	for _, p := range s.Pads {
		dir := model.DirSrc
		if p.Sink {
			dir = model.DirSink
		}
		lv := []string{p.Pipeline, p.Element, p.Pad, dir}
		counters.add(c.buffers, lv, float64(p.Buffers))
		counters.add(c.bytes, lv, float64(p.Bytes))
	}
	for _, q := range s.Queues {
		lv := []string{q.Pipeline, q.Element, q.Factory, q.Queue}
		gauges.add(c.queueBuffers, lv, float64(q.Buffers))
		gauges.add(c.queueBytes, lv, float64(q.Bytes))
		gauges.add(c.queueTime, lv, seconds(q.TimeNs))
		// One figure per element (the family's labels are fixed by the
		// issue): a multiqueue's queues' upstream threads summed.
		counters.add(c.queueBlocked, lv[:3], seconds(q.BlockedNs))
	}
	hists.emit(ch)
	lates.emit(ch)
	for _, g := range gauges {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.v, g.lv...)
	}
	for _, g := range counters {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.CounterValue, g.v, g.lv...)
	}
}

func seconds(ns uint64) float64 { return float64(ns) / 1e9 }

func key(d *prometheus.Desc, lv []string) string {
	return d.String() + "\xff" + strings.Join(lv, "\xff")
}

type gauge struct {
	desc *prometheus.Desc
	lv   []string
	v    float64
}

// gaugeSet holds single-value metrics by series; add merges duplicates.
type gaugeSet map[string]gauge

func (m gaugeSet) set(d *prometheus.Desc, lv []string, v float64) {
	m[key(d, lv)] = gauge{d, lv, v}
}

func (m gaugeSet) add(d *prometheus.Desc, lv []string, v float64) {
	k := key(d, lv)
	g := m[k]
	m[k] = gauge{d, lv, g.v + v}
}

type hist struct {
	desc   *prometheus.Desc
	lv     []string
	counts []uint64
	sum    float64
}

type histSet struct {
	bounds []float64
	m      map[string]*hist
}

func newHistSet(bounds []float64) histSet { return histSet{bounds, map[string]*hist{}} }

// add skips empty histograms: an element that never saw a buffer of that
// kind (a source has no processing time) has no series rather than zeros.
// sum is h's sum in seconds.
func (s histSet) add(d *prometheus.Desc, lv []string, h Hist, sum float64) {
	if h.Count() == 0 || len(h.Counts) != len(s.bounds)+1 {
		return
	}
	k := key(d, lv)
	x := s.m[k]
	if x == nil {
		x = &hist{desc: d, lv: lv, counts: make([]uint64, len(h.Counts))}
		s.m[k] = x
	}
	for i, c := range h.Counts {
		x.counts[i] += c
	}
	x.sum += sum
}

func (s histSet) emit(ch chan<- prometheus.Metric) {
	for _, x := range s.m {
		buckets := make(map[float64]uint64, len(s.bounds))
		var cum uint64
		for i, b := range s.bounds {
			cum += x.counts[i]
			buckets[b] = cum
		}
		cum += x.counts[len(s.bounds)]
		ch <- prometheus.MustNewConstHistogram(x.desc, cum, x.sum, buckets, x.lv...)
	}
}

// Families is s as the collector exposes it with flags, for the views built
// inside the process (the pipeline graph): they read what a scrape reads.
func Families(flags Flags, s *Snapshot) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewCollector(flags, func() *Snapshot { return s })); err != nil {
		return nil, err
	}
	return reg.Gather()
}
