package pyroscope

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// collapse maps each sample's stack, root first and ';'-separated, to its
// value; labels maps the stacks that have a pipeline label to it.
func collapse(t *testing.T, p *profile.Profile) (values map[string]int64, labels map[string]string) {
	t.Helper()
	values, labels = map[string]int64{}, map[string]string{}
	for _, s := range p.Sample {
		var names []string
		for i := len(s.Location) - 1; i >= 0; i-- {
			l := s.Location[i]
			if len(l.Line) != 1 {
				t.Fatalf("location %d has %d lines, want 1", l.ID, len(l.Line))
			}
			names = append(names, l.Line[0].Function.Name)
		}
		k := strings.Join(names, ";")
		if _, dup := values[k]; dup {
			t.Errorf("stack %s appears in two samples", k)
		}
		if len(s.Value) != 1 {
			t.Fatalf("sample %s has %d values, want 1", k, len(s.Value))
		}
		values[k] = s.Value[0]
		if len(s.Label["pipeline"]) > 1 || len(s.Label) > 1 {
			t.Errorf("sample %s has labels %v, want at most pipeline", k, s.Label)
		}
		if v, ok := s.Label["pipeline"]; ok {
			labels[k] = strings.Join(v, ",")
		}
	}
	return values, labels
}

var (
	src     = Frame{"pipeline0", "src", "videotestsrc"}
	conv    = Frame{"pipeline0", "conv", "videoconvert"}
	appsink = Frame{"pipeline0", "appsink0", "appsink"}
	appsrc  = Frame{"pipeline1", "appsrc0", "appsrc"}
	enc     = Frame{"pipeline1", "enc", "x264enc"}
	orphan  = Frame{"", "lonely", "identity"} // an element in no pipeline
)

func fillPeriod(p *period) {
	p.addStack([]Frame{src}, 10)
	p.addStack([]Frame{src, conv}, 5)
	p.addStack([]Frame{src, conv}, 7)
	p.addThread("main", 3)
	p.addThread("main", 4)
	p.addThread("gstscope-prof", 1)
	p.addStack([]Frame{appsink, appsrc, enc}, 20)
	p.addStack([]Frame{orphan}, 2)
}

var (
	wantValues = map[string]int64{
		"pipeline0;src":                            10,
		"pipeline0;src;conv":                       12,
		"thread:main":                              7,
		"thread:gstscope-prof":                     1,
		"pipeline0;appsink0;pipeline1;appsrc0;enc": 20,
		"lonely": 2,
	}
	wantLabels = map[string]string{
		"pipeline0;src":                            "pipeline0",
		"pipeline0;src;conv":                       "pipeline0",
		"pipeline0;appsink0;pipeline1;appsrc0;enc": "pipeline0",
	}
)

func TestPeriodProfile(t *testing.T) {
	start := time.Unix(1700000000, 123)
	p := newPeriod(start)
	if !p.empty() {
		t.Fatal("a new period is not empty")
	}
	fillPeriod(p)
	if p.empty() {
		t.Fatal("a filled period is empty")
	}
	pr := p.profile(start.Add(2*time.Second), 100)

	if got := pr.SampleType; len(got) != 1 || got[0].Type != "cpu" || got[0].Unit != "nanoseconds" {
		t.Errorf("sample type = %v, want [cpu/nanoseconds]", got)
	}
	if got := pr.PeriodType; got == nil || got.Type != "cpu" || got.Unit != "nanoseconds" {
		t.Errorf("period type = %v, want cpu/nanoseconds", got)
	}
	if pr.Period != 10000000 {
		t.Errorf("period = %d, want 10000000 (1e9/100)", pr.Period)
	}
	if pr.TimeNanos != start.UnixNano() {
		t.Errorf("time = %d, want %d", pr.TimeNanos, start.UnixNano())
	}
	if pr.DurationNanos != 2000000000 {
		t.Errorf("duration = %d, want 2000000000", pr.DurationNanos)
	}
	if err := pr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	values, labels := collapse(t, pr)
	if !reflect.DeepEqual(values, wantValues) {
		t.Errorf("values = %v, want %v", values, wantValues)
	}
	if !reflect.DeepEqual(labels, wantLabels) {
		t.Errorf("labels = %v, want %v", labels, wantLabels)
	}
	// One location and function per distinct frame, shared by samples:
	// pipeline0, src, conv, thread:main, thread:gstscope-prof, appsink0,
	// pipeline1, appsrc0, enc, lonely.
	if len(pr.Location) != 10 || len(pr.Function) != 10 {
		t.Errorf("%d locations, %d functions; want 10 each", len(pr.Location), len(pr.Function))
	}
}

// pprof lists a sample's locations leaf first; the system name tells
// elements (their factory), pipelines and threads apart.
func TestPeriodProfileFrameOrder(t *testing.T) {
	p := newPeriod(time.Unix(0, 0))
	p.addStack([]Frame{src, conv}, 1)
	p.addThread("main", 1)
	pr := p.profile(time.Unix(1, 0), 100)
	type frame struct{ name, system string }
	got := map[string][]frame{}
	for _, s := range pr.Sample {
		var fs []frame
		for _, l := range s.Location {
			f := l.Line[0].Function
			fs = append(fs, frame{f.Name, f.SystemName})
		}
		got[fs[0].name] = fs
	}
	want := map[string][]frame{
		"conv":        {{"conv", "videoconvert"}, {"src", "videotestsrc"}, {"pipeline0", "pipeline"}},
		"thread:main": {{"thread:main", "thread"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("frames = %v, want %v", got, want)
	}
}

func TestPeriodProfilePeriod(t *testing.T) {
	for _, c := range []struct {
		rate int
		want int64
	}{{1, 1000000000}, {3, 333333333}, {100, 10000000}, {MaxSampleRate, 1000000}} {
		p := newPeriod(time.Unix(0, 0))
		p.addThread("t", 1)
		if got := p.profile(time.Unix(1, 0), c.rate).Period; got != c.want {
			t.Errorf("rate %d: period = %d, want %d", c.rate, got, c.want)
		}
	}
}

// The sampler reuses its frame slices, so the period must copy them.
func TestPeriodCopiesFrames(t *testing.T) {
	p := newPeriod(time.Unix(0, 0))
	frames := []Frame{src, conv}
	p.addStack(frames, 5)
	frames[0], frames[1] = appsrc, enc
	values, _ := collapse(t, p.profile(time.Unix(1, 0), 100))
	want := map[string]int64{"pipeline0;src;conv": 5}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values = %v, want %v", values, want)
	}
}

// Stacks that share a prefix, or a thread named like an element, stay apart.
func TestPeriodKeysDoNotCollide(t *testing.T) {
	p := newPeriod(time.Unix(0, 0))
	p.addStack([]Frame{{"p", "a", "f"}, {"p", "b", "f"}}, 1)
	p.addStack([]Frame{{"p", "ab", "f"}}, 2)
	p.addStack([]Frame{{"", "x", "f"}}, 4)
	p.addThread("x", 8)
	values, _ := collapse(t, p.profile(time.Unix(1, 0), 100))
	want := map[string]int64{"p;a;b": 1, "p;ab": 2, "x": 4, "thread:x": 8}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values = %v, want %v", values, want)
	}
}

// An element's worker threads are one frame under the element, at the end
// of the element's stack, labelled with its pipeline; they stay apart from
// the element's own CPU, from a thread in no element and from another
// element's workers, whatever the threads are called.
func TestPeriodWorkers(t *testing.T) {
	p := newPeriod(time.Unix(0, 0))
	q := Frame{"p", "q", "queue"}
	enc := Frame{"p", "enc", "x264enc"}
	p.addStack([]Frame{q, enc}, 1)
	p.addWorker([]Frame{q, enc}, 2)
	p.addWorker([]Frame{q, enc}, 4)
	p.addWorker([]Frame{{"p", "dec", "avdec_h264"}}, 8)
	p.addWorker([]Frame{{"", "lonely", "x264enc"}}, 16)
	p.addThread("q:src", 32)
	values, labels := collapse(t, p.profile(time.Unix(1, 0), 100))
	want := map[string]int64{"p;q;enc": 1, "p;q;enc;workers:enc": 6, "p;dec;workers:dec": 8,
		"lonely;workers:lonely": 16, "thread:q:src": 32}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values = %v, want %v", values, want)
	}
	if labels["p;q;enc;workers:enc"] != "p" || labels["lonely;workers:lonely"] != "" {
		t.Errorf("labels = %v", labels)
	}
}

// What is uploaded is the encoded profile: it must decode to the same
// samples and pass pprof's own checks.
func TestPeriodProfileRoundTrip(t *testing.T) {
	start := time.Unix(1700000000, 0)
	p := newPeriod(start)
	fillPeriod(p)
	var buf bytes.Buffer
	if err := p.profile(start.Add(10*time.Second), 100).Write(&buf); err != nil {
		t.Fatal(err)
	}
	pr, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if pr.Period != 10000000 || pr.TimeNanos != start.UnixNano() || pr.DurationNanos != 10000000000 {
		t.Errorf("period %d, time %d, duration %d; want 10000000, %d, 10000000000",
			pr.Period, pr.TimeNanos, pr.DurationNanos, start.UnixNano())
	}
	if len(pr.SampleType) != 1 || pr.SampleType[0].Type != "cpu" || pr.SampleType[0].Unit != "nanoseconds" {
		t.Errorf("sample type = %v, want [cpu/nanoseconds]", pr.SampleType)
	}
	values, labels := collapse(t, pr)
	if !reflect.DeepEqual(values, wantValues) {
		t.Errorf("values = %v, want %v", values, wantValues)
	}
	if !reflect.DeepEqual(labels, wantLabels) {
		t.Errorf("labels = %v, want %v", labels, wantLabels)
	}
}

// Pyroscope folds frames named "other" into its small-nodes bucket, so an
// element or pipeline of that name is shown with its kind.
func TestPeriodRenamesOther(t *testing.T) {
	p := newPeriod(time.Unix(0, 0))
	p.addStack([]Frame{{"other", "other", "queue"}, {"other", "others", "queue"}}, 1)
	p.addThread("other", 2)
	values, labels := collapse(t, p.profile(time.Unix(1, 0), 100))
	want := map[string]int64{"other (pipeline);other (queue);others": 1, "thread:other": 2}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values = %v, want %v", values, want)
	}
	// The label is the pipeline's real name.
	if got := labels["other (pipeline);other (queue);others"]; got != "other" {
		t.Errorf("pipeline label = %q, want other", got)
	}
}
