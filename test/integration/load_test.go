package integration

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// host is test/apps/loadhost.py: one pipeline, played to EOS on demand.
type host struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stdout strings.Builder // every line read from out
	errb   strings.Builder
	url    string
}

type hostRun struct {
	RunNs       int64        `json:"run_ns"`
	Buffers     int          `json:"buffers"`
	Arrivals    [][2]float64 `json:"arrivals"`
	Rendered    int          `json:"rendered"`
	Dropped     int          `json:"dropped"`
	StreamCPUNs float64      `json:"stream_cpu_ns"`
	OtherCPUNs  float64      `json:"other_cpu_ns"`
}

// startHost runs PIPELINE with the latency tracer serving on a free port;
// extra are loadhost.py's options.
func startHost(t *testing.T, desc, probe string, extra ...string) *host {
	t.Helper()
	port := freePort(t)
	env := gstEnv(t, "prometheus-latency-tracer", fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port))
	return startHostEnv(t, env, port, desc, probe, extra...)
}

// startHostEnv runs loadhost.py in env, whose tracer serves on port.
func startHostEnv(t *testing.T, env []string, port int, desc, probe string, extra ...string) *host {
	t.Helper()
	h := &host{t: t, url: fmt.Sprintf("http://127.0.0.1:%d/metrics", port)}
	h.cmd = exec.Command("/usr/bin/python3", append([]string{"../apps/loadhost.py", desc, probe}, extra...)...)
	h.cmd.Env = env
	h.cmd.Stderr = &h.errb
	h.in, _ = h.cmd.StdinPipe()
	stdout, _ := h.cmd.StdoutPipe()
	h.out = bufio.NewScanner(stdout)
	h.out.Buffer(nil, 64<<20)
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cmd.Process.Kill(); h.cmd.Wait() })
	var ready struct{ Ready bool }
	h.read(&ready)
	waitHTTP(t, h.url)
	return h
}

func (h *host) read(v any) {
	h.t.Helper()
	if err := h.readErr(v); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) readErr(v any) error {
	if !h.out.Scan() {
		return fmt.Errorf("loadhost.py ended (%v):\n%s", h.out.Err(), tail(h.errb.String()))
	}
	h.stdout.WriteString(h.out.Text() + "\n")
	if err := json.Unmarshal(h.out.Bytes(), v); err != nil {
		return fmt.Errorf("loadhost.py: %v: %s", err, h.out.Text())
	}
	return nil
}

func (h *host) run() hostRun {
	h.t.Helper()
	io.WriteString(h.in, "run\n")
	var r hostRun
	h.read(&r)
	return r
}

// runAsync plays the pipeline while the test goes on; the channel has the
// result (zero, with the test failed, if the host died).
func (h *host) runAsync() <-chan hostRun {
	ch := make(chan hostRun, 1)
	io.WriteString(h.in, "run\n")
	go func() {
		var r hostRun
		if err := h.readErr(&r); err != nil {
			h.t.Error(err)
		}
		ch <- r
	}()
	return ch
}

// finish ends the host and returns the exposition from the signal.
func (h *host) finish() *result {
	h.t.Helper()
	h.in.Close()
	var m struct{ Metrics string }
	h.read(&m)
	if err := h.cmd.Wait(); err != nil {
		h.t.Fatalf("loadhost.py: %v\n%s", err, tail(h.errb.String()))
	}
	return &result{Metrics: m.Metrics, Fams: parseExposition(h.t, m.Metrics), Stderr: h.errb.String()}
}

// loadStats is what a load run saw.
type loadStats struct {
	OK       int             `json:"ok"`
	Failures map[string]int  `json:"failures"` // reason: count
	Latency  []time.Duration `json:"latency"`  // of every good scrape
	Seconds  float64         `json:"seconds"`
	Groups   map[string]int  `json:"groups"`  // good scrapes per client kind
	Clients  int             `json:"clients"` // clients with a good scrape
}

// The series each scrape of the load tests is checked for: buffers that
// reached the sink.
var loadSeries = labels("element", "fakesink0", "pad", "sink")

const loadFamily = "gstreamer_pad_buffers_total"

// hammer runs n clients against url until ctx ends, each scraping in a
// loop. A quarter each: keep-alive or a new connection per scrape, asking
// for gzip (as Prometheus does) or not. Every answer must be a 200 whose
// body is as long as its Content-Length says and parses; and to each
// client, the sink's buffer count never goes back nor disappears once seen:
// no answer is older than one the client had before. scraping, if not nil,
// is called once every client has had its first answer.
func hammer(ctx context.Context, url string, n int, scraping func()) *loadStats {
	type kind struct {
		name            string
		keepAlive, gzip bool
	}
	kinds := []kind{{"keep-alive", true, false}, {"keep-alive gzip", true, true},
		{"new conn", false, false}, {"new conn gzip", false, true}}
	var mu sync.Mutex
	st := &loadStats{Failures: map[string]int{}, Groups: map[string]int{}}
	fail := func(reason string) {
		mu.Lock()
		st.Failures[reason]++
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	var answered sync.WaitGroup // each client's first answer
	answered.Add(n)
	if scraping != nil {
		go func() {
			answered.Wait()
			scraping()
		}()
	}
	for i := 0; i < n; i++ {
		k := kinds[i%len(kinds)]
		tr := &http.Transport{DisableKeepAlives: !k.keepAlive, DisableCompression: !k.gzip,
			MaxIdleConnsPerHost: 1}
		c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			var lat []time.Duration
			last := -1.0
			for ctx.Err() == nil {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fail(err.Error())
					}
					continue
				}
				body, err := io.ReadAll(resp.Body) // fails if shorter than Content-Length
				resp.Body.Close()
				if ctx.Err() != nil {
					break // cut by the end of the run, not by the server
				}
				if err != nil {
					fail("reading the body: " + err.Error())
					continue
				}
				if resp.StatusCode != 200 {
					fail(fmt.Sprintf("status %d: %.100s", resp.StatusCode, body))
					continue
				}
				v := checkExposition(body)
				switch {
				case v.problem != "":
					fail(v.problem)
					continue
				case v.buffers < last:
					fail(fmt.Sprintf("sink buffers went from %v back to %v", last, v.buffers))
					continue
				}
				last = v.buffers
				if lat = append(lat, time.Since(t0)); len(lat) == 1 {
					answered.Done()
				}
			}
			if len(lat) == 0 {
				answered.Done() // never answered: scraping comes only at the end
			}
			mu.Lock()
			if len(lat) > 0 {
				st.Clients++
			}
			st.OK += len(lat)
			st.Groups[k.name] += len(lat)
			st.Latency = append(st.Latency, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	st.Seconds = time.Since(start).Seconds()
	slices.Sort(st.Latency)
	return st
}

type verdict struct {
	problem string  // "" if the body is a valid exposition
	buffers float64 // the sink's buffer count, -1 if absent
}

// checked holds the verdict on every distinct body seen: the clients of
// one gather get the same bytes, and parsing them (1 ms for 34 KB) once
// instead of each time keeps the load client from being its own bottleneck.
var checked sync.Map // sha256 of body: verdict

func checkExposition(body []byte) verdict {
	sum := sha256.Sum256(body)
	if v, ok := checked.Load(sum); ok {
		return v.(verdict)
	}
	v := verdict{buffers: -1}
	fams, err := parseFamilies(string(body))
	if err != nil {
		v.problem = "exposition does not parse: " + err.Error()
	} else if m := find(fams, loadFamily, loadSeries); m != nil {
		v.buffers = m.GetCounter().GetValue()
	}
	checked.Store(sum, v)
	return v
}

func (st *loadStats) quantile(q float64) time.Duration {
	if len(st.Latency) == 0 {
		return 0
	}
	return st.Latency[int(q*float64(len(st.Latency)-1))]
}

func (st *loadStats) String() string {
	return fmt.Sprintf("%d good scrapes in %.1fs (%.0f/s; %v), scrape latency p50 %v p99 %v max %v; failures %v",
		st.OK, st.Seconds, float64(st.OK)/st.Seconds, st.Groups,
		st.quantile(0.5).Round(time.Microsecond), st.quantile(0.99).Round(time.Microsecond),
		st.quantile(1).Round(time.Microsecond), st.Failures)
}

// loadClients is how many clients hammer the port in the load tests.
const loadClients = 200

// A live pipeline that does real work on every buffer (100 buffers a
// second, 2 ms of CPU each, then a queue and a second thread) while 200
// clients hammer the metrics port for 10 s: the sink, which drops buffers
// more than 20 ms late (an audio sink's default max-lateness), renders
// every buffer and drops none, and every scrape is a complete exposition.
// The clients run in this process at normal priority, competing for the
// same two cores as the pipeline: the harshest case.
func TestHTTPLoadLivePipeline(t *testing.T) {
	if memoryChecker() != "" {
		t.Skip("load and throughput are not measured under a memory checker")
	}
	const buffers = 1000 // 10 s
	desc := func(n int) string {
		return fmt.Sprintf("audiotestsrc is-live=true samplesperbuffer=441 num-buffers=%d ! "+
			"scopeburn cpu-us=2000 ! queue ! identity ! fakesink sync=true max-lateness=20000000", n)
	}
	quiet := startHost(t, desc(200), "queue0:sink", "--arrivals", "--sink", "fakesink0")
	q := quiet.run()
	quiet.finish()
	t.Logf("without load: %d rendered, %d dropped late; %s", q.Rendered, q.Dropped, lateness(q))

	h := startHost(t, desc(buffers), "queue0:sink", "--arrivals", "--sink", "fakesink0")
	ctx, cancel := context.WithCancel(context.Background())
	loaded := make(chan *loadStats)
	scraping := make(chan struct{})
	go func() { loaded <- hammer(ctx, h.url, loadClients, func() { close(scraping) }) }()
	select { // every client is scraping before the run starts
	case <-scraping:
	case <-time.After(30 * time.Second):
		t.Fatal("the load clients got no answers within 30 s")
	}
	run := h.run()
	cancel()
	st := <-loaded
	r := h.finish()

	t.Logf("under load: %d rendered, %d dropped late; %s", run.Rendered, run.Dropped, lateness(run))
	t.Logf("load: %v", st)
	if run.Rendered != buffers || run.Dropped != 0 {
		t.Errorf("the sink rendered %d buffers and dropped %d as late, want %d and 0", run.Rendered, run.Dropped, buffers)
	}
	checkLoad(t, st)
	if got := counter(t, r, loadFamily, loadSeries); got != buffers {
		t.Errorf("tracer counted %v buffers at the sink, want %d", got, buffers)
	}
}

// checkLoad fails unless every scrape succeeded and every client had answers.
func checkLoad(t *testing.T, st *loadStats) {
	t.Helper()
	for reason, n := range st.Failures {
		t.Errorf("%d scrapes failed: %s", n, reason)
	}
	if st.Clients != loadClients {
		t.Errorf("%d of %d clients got an answer", st.Clients, loadClients)
	}
}

type late struct {
	n             int
	p50, p99, max time.Duration
}

func (l late) String() string {
	return fmt.Sprintf("%d buffers, behind the best one by p50 %v, p99 %v, max %v", l.n, l.p50, l.p99, l.max)
}

// lateness is how far each buffer arrived behind the pipeline's best: a
// live source stamps each buffer with its capture time, so arrival minus
// PTS is constant for a pipeline that keeps up, and grows with each delay.
func lateness(r hostRun) late {
	var d []time.Duration
	best := math.Inf(1)
	for _, a := range r.Arrivals {
		best = math.Min(best, a[1]-a[0])
	}
	for _, a := range r.Arrivals {
		d = append(d, time.Duration(a[1]-a[0]-best).Round(10*time.Microsecond))
	}
	slices.Sort(d)
	if len(d) == 0 {
		return late{}
	}
	q := func(f float64) time.Duration { return d[int(f*float64(len(d)-1))] }
	return late{len(d), q(0.5), q(0.99), d[len(d)-1]}
}

// A CPU-bound pipeline (0.5 ms of CPU per buffer, as fast as it can) runs
// alternately with and without 200 clients hammering the port, in one
// process: its throughput under load is within 5% of its throughput
// without (the median over pairs of runs, which other processes on the
// machine disturb alike). The clients run at nice 19 in a process of
// their own: on a real deployment they are on other machines, and on two
// cores their own CPU would otherwise be charged to the server. What is
// measured is what the server itself takes from the pipeline.
func TestHTTPLoadThroughput(t *testing.T) {
	if memoryChecker() != "" {
		t.Skip("load and throughput are not measured under a memory checker")
	}
	const (
		pairs   = 6
		buffers = 1500 // 0.75 s
		maxDrop = 0.05
	)
	h := startHost(t, fmt.Sprintf("fakesrc num-buffers=%d sizetype=fixed sizemax=4096 ! identity ! "+
		"scopeburn cpu-us=500 ! identity ! queue ! identity ! fakesink", buffers), "fakesink0:sink")
	rate := func(r hostRun) float64 { return float64(r.Buffers) / (float64(r.RunNs) / 1e9) }
	var ratios, free, loaded, serverFree, serverLoaded []float64
	var served, seconds float64
	var lat []time.Duration
	for i := 0; i < pairs; i++ {
		var with, without hostRun
		loadedRun := func() {
			stop := hammerNiced(t, h.url)
			with = h.run()
			st := stop()
			checkLoad(t, st)
			served += float64(st.OK)
			seconds += st.Seconds
			lat = append(lat, st.Latency...)
		}
		// with, without; without, with; ... so that neither always runs first
		if i%2 == 0 {
			loadedRun()
			without = h.run()
		} else {
			without = h.run()
			loadedRun()
		}
		ratios = append(ratios, rate(with)/rate(without))
		free, loaded = append(free, rate(without)), append(loaded, rate(with))
		serverLoaded = append(serverLoaded, with.OtherCPUNs/float64(with.RunNs))
		serverFree = append(serverFree, without.OtherCPUNs/float64(without.RunNs))
	}
	res := h.finish()

	drop := 1 - median(ratios)
	slices.Sort(lat)
	st := &loadStats{Latency: lat}
	t.Logf("without load: %.0f buffers/s (median; server threads %.1f%% of a core)", median(free), 100*median(serverFree))
	t.Logf("with load:    %.0f buffers/s (median; server threads %.1f%% of a core), %.0f scrapes/s served, scrape latency p50 %v p99 %v",
		median(loaded), 100*median(serverLoaded), served/seconds,
		st.quantile(0.5).Round(time.Millisecond), st.quantile(0.99).Round(time.Millisecond))
	t.Logf("throughput with/without load, per pair: %.3f", ratios)
	t.Logf("throughput drop under load: %.1f%% (median; limit %.0f%%)", 100*drop, 100*maxDrop)
	if drop > maxDrop {
		t.Errorf("throughput dropped %.1f%% under load, more than %.0f%%", 100*drop, 100*maxDrop)
	}
	if got := counter(t, res, loadFamily, loadSeries); got != 2*pairs*buffers {
		t.Errorf("tracer counted %v buffers at the sink, want %d", got, 2*pairs*buffers)
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// hammerNiced runs the load client at nice 19 in a child process (this test
// binary, see TestLoadClientProcess) until stop is called.
func hammerNiced(t *testing.T, url string) (stop func() *loadStats) {
	t.Helper()
	cmd := exec.Command("nice", "-n", "19", os.Args[0], "-test.run=^TestLoadClientProcess$")
	cmd.Env = append(os.Environ(), "GSTSCOPE_LOAD_URL="+url)
	in, _ := cmd.StdinPipe()
	var out strings.Builder
	cmd.Stdout = &out
	errPipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	// Every client is scraping (the client says so on stderr) before the
	// run starts: the process's own startup takes a while when loaded.
	var errb strings.Builder
	scraping, copied := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			if sc.Text() == loadClientsScraping {
				close(scraping)
				continue
			}
			errb.WriteString(sc.Text() + "\n")
		}
	}()
	select {
	case <-scraping:
	case <-copied:
		cmd.Wait()
		t.Fatalf("the load client ended before scraping:\n%s", errb.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the load client's clients got no answers within 30 s:\n%s", errb.String())
	}
	return func() *loadStats {
		in.Close()
		<-copied
		err := cmd.Wait()
		var st loadStats
		if derr := json.NewDecoder(strings.NewReader(out.String())).Decode(&st); err != nil || derr != nil {
			t.Fatalf("load client: %v %v\n%s%s", err, derr, out.String(), errb.String())
		}
		return &st
	}
}

// loadClientsScraping is the line the load client process writes to stderr
// once every client has had an answer.
const loadClientsScraping = "gstscope-load: every client is scraping"

// TestLoadClientProcess is the load client when the test binary runs as
// one (hammerNiced): it scrapes until its stdin closes, then prints what it
// saw. Otherwise it skips.
func TestLoadClientProcess(t *testing.T) {
	url := os.Getenv("GSTSCOPE_LOAD_URL")
	if url == "" {
		t.Skip("the load client of TestHTTPLoadThroughput")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	json.NewEncoder(os.Stdout).Encode(hammer(ctx, url, loadClients, func() {
		fmt.Fprintln(os.Stderr, loadClientsScraping)
	}))
}
