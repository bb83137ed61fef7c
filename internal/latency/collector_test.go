package latency

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.prom golden files")

func mkHist(sumNs uint64, counts ...uint64) Hist {
	h := Hist{Counts: make([]uint64, 4), SumNs: sumNs}
	copy(h.Counts, counts)
	return h
}

// A fixture snapshot: bounds 1 us, 1 ms, 1 s; two pipelines with the same
// name (merged), a source without processing time, an unbounded maximum,
// CPU time from the pyroscope tracer's sampler; a leaky queue's drops
// (merged), a late sink's drops and its lateness (signed bounds -1 ms, 0,
// 1 ms: early and late buffers, a negative sum); queue levels.
func fixture() *Snapshot {
	return &Snapshot{
		BoundsNs:     []uint64{1000, 1000000, 1000000000},
		LateBoundsNs: []int64{-1000000, 0, 1000000},
		CPUSampled:   true,
		Elements: []ElementStat{
			{Pipeline: "p", Element: "src", Factory: "audiotestsrc", Latency: mkHist(0),
				Reported: true, ReportedMinNs: 10000000, ReportedMaxNs: Unbounded, CPUNs: 250000000},
			{Pipeline: "p", Element: "bin/q", Factory: "queue",
				Processing: mkHist(3000, 2, 1), Latency: mkHist(40000000, 0, 0, 2), LastLatencyNs: 21000000,
				Reported: true, ReportedMinNs: 0, ReportedMaxNs: 1000000000, CPUNs: 1000000000,
				DropsKnown: true, Dropped: 5},
			{Pipeline: "p", Element: "bin/q", Factory: "queue",
				Processing: mkHist(500, 1), Latency: mkHist(20000000, 0, 0, 1), LastLatencyNs: 20000000, CPUNs: 500000000,
				DropsKnown: true, Dropped: 2},
			{Pipeline: "p", Element: "sink", Factory: "fakesink", DropsKnown: true, Dropped: 3,
				Lateness: LateHist{Counts: []uint64{2, 1, 0, 1}, SumNs: -1500000}},
		},
		Pads: []PadStat{
			{Pipeline: "p", Element: "src", Pad: "src", Buffers: 3, Bytes: 300},
			{Pipeline: "p", Element: "bin/q", Pad: "sink", Buffers: 3, Bytes: 300, Sink: true},
			{Pipeline: "p", Element: "bin/q", Pad: "sink", Buffers: 1, Bytes: 100, Sink: true},
		},
		Paths: []PathStat{{Pipeline: "p", Source: "src", Sink: "sink", Latency: mkHist(60000000, 0, 0, 3)}},
		// A queue, and a multiqueue's two queues (their blocked times
		// summed into one series for the element).
		Queues: []QueueStat{
			{Pipeline: "p", Element: "bin/q", Factory: "queue", Queue: "sink:src",
				Buffers: 5, Bytes: 5000, TimeNs: 100000000, BlockedNs: 1500000000},
			{Pipeline: "p", Element: "dec/multiqueue0", Factory: "multiqueue", Queue: "sink_0:src_0",
				Buffers: 3, Bytes: 30000, TimeNs: 100000000, BlockedNs: 250000000},
			{Pipeline: "p", Element: "dec/multiqueue0", Factory: "multiqueue", Queue: "sink_1:src_1",
				Buffers: 0, Bytes: 0, TimeNs: 0, BlockedNs: 250000000},
		},
	}
}

func TestCollectorGolden(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags Flags
	}{{"all", AllFlags}, {"pipeline", Pipeline}} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(NewCollector(c.flags, fixture))
			golden := filepath.Join("testdata", c.name+".prom")
			if *update {
				got := (&Tracer{reg: reg}).Text()
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(string(want))); err != nil {
				t.Error(err)
			}
			problems, err := testutil.GatherAndLint(reg)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

func TestCollectorNilSnapshot(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(AllFlags, func() *Snapshot { return nil }))
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("got %d metrics, %v; want none", n, err)
	}
}
