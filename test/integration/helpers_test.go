package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The built libgstscope.so and the test plugin (noop tracer, scopeburn
// element); `make test` passes them in.
var pluginDir, testPluginDir string

// gstscope-report, built once per test binary on first use (reportBin), not
// in every test that runs it nor in processes that never do (this binary
// run as the load client); TestMain removes it.
var report struct {
	once     sync.Once
	dir, bin string
	err      error
}

// reportBin is the path of gstscope-report, built on first use.
func reportBin(t *testing.T) string {
	t.Helper()
	report.once.Do(func() {
		if report.dir, report.err = os.MkdirTemp("", "gstscope-report-"); report.err != nil {
			return
		}
		report.bin = filepath.Join(report.dir, "gstscope-report")
		if out, err := exec.Command("go", "build", "-o", report.bin, "../../cmd/gstscope-report").CombinedOutput(); err != nil {
			report.err = fmt.Errorf("go build gstscope-report: %v\n%s", err, out)
		}
	})
	if report.err != nil {
		t.Fatal(report.err)
	}
	return report.bin
}

func TestMain(m *testing.M) {
	for _, v := range []struct {
		env string
		dir *string
	}{{"GSTSCOPE_PLUGIN", &pluginDir}, {"GSTSCOPE_TEST_PLUGIN", &testPluginDir}} {
		p := os.Getenv(v.env)
		if p == "" {
			fmt.Fprintln(os.Stderr, v.env+" is not set: run the integration tests with `make test`")
			os.Exit(2)
		}
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintln(os.Stderr, "plugin not built:", err)
			os.Exit(2)
		}
		*v.dir = filepath.Dir(p)
	}
	code := m.Run()
	stopPyroscope()
	removeMedia()
	if report.dir != "" {
		os.RemoveAll(report.dir)
	}
	os.Exit(code)
}

// gstEnv is the environment for a process that loads the plugin with the
// given GST_TRACERS, isolated from the user's registry.
func gstEnv(t *testing.T, tracers string, extra ...string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GST_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"GST_PLUGIN_PATH="+pluginDir+":"+testPluginDir,
		"GST_REGISTRY="+filepath.Join(t.TempDir(), "registry.bin"),
		"GST_TRACERS="+tracers,
		"GST_DEBUG=gstscope:4",
		"GST_DEBUG_NO_COLOR=1",
	)
	// make asan: a plugin built with AddressSanitizer needs its runtime
	// loaded first, in the processes that load the plugin only.
	if p := memoryChecker(); p != "" {
		env = append(env, "LD_PRELOAD="+p)
	}
	return append(env, extra...)
}

// memoryChecker is the runtime make asan preloads, or "". Under it, speed
// and memory use mean nothing: tests of those skip, or skip those checks.
func memoryChecker() string { return os.Getenv("GSTSCOPE_PRELOAD") }

type result struct {
	Metrics string                    `json:"metrics"`
	Probes  map[string][][4]float64   `json:"probes"` // pts, t_ns, running time, duration: see measure.py
	Queries map[string]map[string]any `json:"queries"`
	Props   map[string]float64        `json:"props"`
	RunNs   int64                     `json:"run_ns"`       // PLAYING to EOS
	CPUNs   int64                     `json:"cpu_ns"`       // process CPU, same span
	CPUAll  int64                     `json:"cpu_total_ns"` // process CPU, from its start
	EOSUnix int64                     `json:"eos_unix_ns"`  // wall clock at EOS
	Threads map[string]threadCPU      `json:"threads"`      // by kernel thread id, with --threads
	TIDOf   map[string]int            `json:"thread_of"`    // elem:pad -> kernel thread id, with --thread-of
	Stderr  string                    `json:"-"`
	Wall    time.Duration             `json:"-"` // the whole process
	// AfterEOS is how long the process took from EOS to its exit (not its
	// startup, which a loaded machine makes seconds long).
	AfterEOS time.Duration                `json:"-"`
	Fams     map[string]*dto.MetricFamily `json:"-"`
}

// threadCPU is one thread's name and its CPU ns from PLAYING to EOS, as
// the kernel counts it (measure.py --threads).
type threadCPU struct {
	Name string
	NS   float64
}

func (c *threadCPU) UnmarshalJSON(b []byte) error {
	v := []any{&c.Name, &c.NS}
	return json.Unmarshal(b, &v)
}

// measure runs test/apps/measure.py with args and parses what it prints.
func measure(t *testing.T, env []string, args ...string) *result {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", append([]string{"../apps/measure.py"}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := runWithTimeout(cmd, 90*time.Second)
	exited := time.Now()
	wall := exited.Sub(start)
	if err != nil {
		t.Fatalf("measure.py %v: %v\nstderr:\n%s", args, err, tail(errb.String()))
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("measure.py output: %v\n%s", err, out.String())
	}
	r.Stderr, r.Wall = errb.String(), wall
	r.AfterEOS = exited.Sub(time.Unix(0, r.EOSUnix))
	r.Fams = parseExposition(t, r.Metrics)
	return &r
}

func runWithTimeout(cmd *exec.Cmd, d time.Duration) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	return waitStarted(cmd, d)
}

// waitStarted waits for a started command, killing it after d.
func waitStarted(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("timed out after %v", d)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// residence is the ground truth: the mean time, in seconds, between a buffer
// passing probe `from` and the buffer with the same PTS passing probe `to`,
// and how many buffers were matched.
func residence(t *testing.T, r *result, from, to string) (int, float64) {
	t.Helper()
	in := map[float64]float64{}
	for _, e := range r.Probes[from] {
		if _, dup := in[e[0]]; !dup {
			in[e[0]] = e[1]
		}
	}
	var sum float64
	n := 0
	for _, e := range r.Probes[to] {
		if t0, ok := in[e[0]]; ok {
			sum += e[1] - t0
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no buffer seen at both %s and %s", from, to)
	}
	return n, sum / float64(n) / 1e9
}

// near fails unless got is within rel (relative) or abs seconds of want.
func near(t *testing.T, what string, got, want, rel, abs float64) {
	t.Helper()
	if d := math.Abs(got - want); d > abs && d > rel*math.Abs(want) {
		t.Errorf("%s = %.6fs, ground truth %.6fs (tolerance %.0f%% or %.6fs)", what, got, want, rel*100, abs)
	} else {
		t.Logf("%s = %.6fs, ground truth %.6fs", what, got, want)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// startPrometheus runs a real Prometheus (Debian's) that scrapes the
// tracer's port every second, with config appended to its global section
// (an evaluation interval and rule files, say), until the test ends. It
// returns Prometheus's base URL once it is ready, and its log.
func startPrometheus(t *testing.T, port int, global string) (string, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
%sscrape_configs:
  - job_name: gstscope
    static_configs:
      - targets: ["127.0.0.1:%d"]
`, global, port)), 0o644)
	promPort := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	prom := exec.CommandContext(ctx, "prometheus", "--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	promLog := &bytes.Buffer{}
	prom.Stdout, prom.Stderr = promLog, promLog
	if err := prom.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		prom.Wait()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	waitHTTP(t, base+"/-/ready")
	return base, promLog
}
