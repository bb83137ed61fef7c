package pyroscope

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// busyStacks puts every thread in src -> conv and charges it 1 ms per
// sample; charged is what all samples after the baseline add up to.
type busyStacks struct {
	mu               sync.Mutex
	reads            int
	charged          int64
	panicAt          int // panic on this read, 1-based; 0 never
	started, stopped int
}

func (b *busyStacks) Start(int) error { b.mu.Lock(); b.started++; b.mu.Unlock(); return nil }
func (b *busyStacks) Stop()           { b.mu.Lock(); b.stopped++; b.mu.Unlock() }

func (b *busyStacks) Read(threads []Thread, final bool) []Charge {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads++
	if b.reads == b.panicAt {
		panic("stack reader broke")
	}
	var charges []Charge
	for i := range threads {
		th := &threads[i]
		th.CPU += 1000000
		charges = append(charges, Charge{TID: th.TID, NS: 1000000, Frames: []Frame{src, conv}})
		if b.reads > 1 {
			b.charged += 1000000
		}
	}
	return charges
}

func (b *busyStacks) state() (reads int, charged int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reads, b.charged
}

type ingest struct {
	query url.Values
	prof  *profile.Profile
}

// ingestServer decodes every upload the way Pyroscope's /ingest would.
func ingestServer(t *testing.T) (*httptest.Server, chan ingest) {
	got := make(chan ingest, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/ingest" {
			t.Errorf("%s %s, want POST /ingest", r.Method, r.URL.Path)
		}
		f, _, err := r.FormFile("profile")
		if err != nil {
			t.Errorf("no profile field: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		data, err := io.ReadAll(f)
		if err != nil {
			t.Error(err)
		}
		p, err := profile.ParseData(data)
		if err != nil {
			t.Errorf("profile does not parse: %v", err)
		} else if err := p.CheckValid(); err != nil {
			t.Errorf("invalid profile: %v", err)
		}
		got <- ingest{r.URL.Query(), p}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func tracerConfig(server string) Config {
	return Config{
		ServerURL:      server,
		TracerName:     "app",
		SampleRate:     100,
		UploadInterval: MinUploadInterval,
		StopOnDispose:  true,
		Tags:           []Tag{{"env", "test"}, {"host", "h1"}},
	}
}

func nanos(t *testing.T, q url.Values, key string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(q.Get(key), 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", key, q.Get(key), err)
	}
	return n
}

func TestIngestName(t *testing.T) {
	for _, c := range []struct {
		tags []Tag
		want string
	}{
		{nil, "app"},
		{[]Tag{{"env", "prod"}}, "app{env=prod}"},
		{[]Tag{{"a", "1"}, {"b", "2"}}, "app{a=1,b=2}"},
	} {
		if got := ingestName(Config{TracerName: "app", Tags: c.tags}); got != c.want {
			t.Errorf("ingestName(%v) = %q, want %q", c.tags, got, c.want)
		}
	}
}

// Stopping before the first upload interval sends what was sampled so far.
func TestTracerStopSendsPartialPeriod(t *testing.T) {
	srv, got := ingestServer(t)
	stacks := &busyStacks{}
	log := &fakeLog{}
	tr, err := Start(tracerConfig(srv.URL), stacks, log)
	if err != nil {
		t.Fatal(err)
	}
	_, info := log.get()
	wantMessages(t, "info", info, []string{"profiling at 100 Hz from CPU timers on every streaming thread, uploading every 1s to " + srv.URL + " as app{env=test,host=h1}"})

	waitFor(t, "a few samples", func() bool { reads, _ := stacks.state(); return reads >= 3 })
	start := time.Now()
	tr.Stop()
	if stacks.started != 1 || stacks.stopped != 1 {
		t.Errorf("CPU timers started %d and stopped %d times, want 1 and 1", stacks.started, stacks.stopped)
	}
	if d := time.Since(start); d >= FlushTimeout {
		t.Errorf("Stop took %v, want less than %v", d, FlushTimeout)
	}
	tr.Stop() // does nothing

	if len(got) != 1 {
		t.Fatalf("%d uploads, want 1", len(got))
	}
	up := <-got
	q := up.query
	for key, want := range map[string]string{
		"name": "app{env=test,host=h1}", "spyName": "gstscope", "sampleRate": "100",
		"units": "nanoseconds", "aggregationType": "sum",
	} {
		if q.Get(key) != want {
			t.Errorf("%s = %q, want %q", key, q.Get(key), want)
		}
	}
	from, until := nanos(t, q, "from"), nanos(t, q, "until")
	if until <= from || until-from >= int64(time.Second) {
		t.Errorf("from %d until %d: want a partial period under 1s", from, until)
	}
	// The duration is measured on the monotonic clock, from and until on
	// the wall clock: they agree to well within a millisecond.
	if diff := up.prof.DurationNanos - (until - from); up.prof.TimeNanos != from || diff < -1e6 || diff > 1e6 || up.prof.Period != 10000000 {
		t.Errorf("profile time %d, duration %d, period %d; want %d, about %d, 10000000",
			up.prof.TimeNanos, up.prof.DurationNanos, up.prof.Period, from, until-from)
	}
	_, charged := stacks.state()
	values, labels := collapse(t, up.prof)
	if want := map[string]int64{"pipeline0;src;conv": charged}; !reflect.DeepEqual(values, want) {
		t.Errorf("values = %v, want %v", values, want)
	}
	if labels["pipeline0;src;conv"] != "pipeline0" {
		t.Errorf("labels = %v, want pipeline0", labels)
	}
	if warns, _ := log.get(); len(warns) != 0 {
		t.Errorf("warnings = %q, want none", warns)
	}
}

// Periods follow each other without a gap, and every sample lands in one.
func TestTracerUploadsEveryInterval(t *testing.T) {
	srv, got := ingestServer(t)
	stacks := &busyStacks{}
	tr, err := Start(tracerConfig(srv.URL), stacks, &fakeLog{})
	if err != nil {
		t.Fatal(err)
	}
	var first ingest
	select {
	case first = <-got:
	case <-time.After(3 * time.Second):
		tr.Stop()
		t.Fatal("no upload within 3s at a 1s interval")
	}
	tr.Stop()
	if len(got) != 1 {
		t.Fatalf("%d uploads after the first, want 1", len(got))
	}
	second := <-got
	from1, until1 := nanos(t, first.query, "from"), nanos(t, first.query, "until")
	if d := time.Duration(until1 - from1); d < time.Second || d > 1500*time.Millisecond {
		t.Errorf("first period lasted %v, want 1s plus at most a sample interval", d)
	}
	if from2 := nanos(t, second.query, "from"); from2 != until1 {
		t.Errorf("second period starts at %d, want %d where the first ended", from2, until1)
	}
	v1, _ := collapse(t, first.prof)
	v2, _ := collapse(t, second.prof)
	_, charged := stacks.state()
	if sum := v1["pipeline0;src;conv"] + v2["pipeline0;src;conv"]; sum != charged || len(v1) != 1 || len(v2) != 1 {
		t.Errorf("uploaded %v and %v, want one stack adding up to %d", v1, v2, charged)
	}
}

// A hanging server costs Stop at most FlushTimeout and one warning.
func TestTracerStopWithHangingServer(t *testing.T) {
	srv, reqs := hangingServer(t)
	cfg := tracerConfig(srv.URL)
	cfg.UploadInterval = 10 * time.Second // a request timeout well past FlushTimeout
	log := &fakeLog{}
	tr, err := Start(cfg, &busyStacks{}, log)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tr.Stop()
	if d := time.Since(start); d < FlushTimeout-100*time.Millisecond || d > FlushTimeout+500*time.Millisecond {
		t.Errorf("Stop took %v, want about %v", d, FlushTimeout)
	}
	receive(t, reqs, "the last upload")
	warns, _ := log.get()
	wantMessages(t, "warning", warns, []string{"the last profiles did not reach", srv.URL, "dropped"})
}

// A panic in the sampler stops profiling with a warning; Stop still works.
func TestTracerSamplerPanic(t *testing.T) {
	srv, got := ingestServer(t)
	log := &fakeLog{}
	tr, err := Start(tracerConfig(srv.URL), &busyStacks{panicAt: 3}, log)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the warning", func() bool { warns, _ := log.get(); return len(warns) > 0 })
	start := time.Now()
	tr.Stop()
	if d := time.Since(start); d > FlushTimeout/2 {
		t.Errorf("Stop took %v after the profiler had stopped", d)
	}
	warns, _ := log.get()
	wantMessages(t, "warning", warns, []string{"the profiler stopped", "stack reader broke"})
	if len(got) != 0 {
		t.Errorf("%d uploads, want none", len(got))
	}
}
