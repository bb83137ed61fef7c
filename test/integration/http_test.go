package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// livePipeline runs gst-launch-1.0 with the tracer for a few seconds; stop
// returns its log once it has been killed.
func livePipeline(t *testing.T, env []string, seconds int) (stop func() string) {
	t.Helper()
	cmd := exec.Command("gst-launch-1.0", "-e",
		"audiotestsrc", "is-live=true", fmt.Sprintf("num-buffers=%d", seconds*43), "!", "identity", "!", "fakesink")
	cmd.Env = env
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
		return errb.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

func get(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code, body, err := get(url); err == nil && code == 200 {
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
	return ""
}

// The port from GST_PROMETHEUS_TRACER_PORT serves the same exposition at /
// and /metrics, nothing elsewhere, and passes promtool's lint.
func TestHTTPExpositionAndPromtool(t *testing.T) {
	port := freePort(t)
	livePipeline(t, gstEnv(t, tracerAll, fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port)), 5)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	body := ""
	for i := 0; i < 100 && !strings.Contains(body, "gstreamer_pipeline_latency_seconds_count"); i++ {
		body = waitHTTP(t, base+"/metrics")
		time.Sleep(50 * time.Millisecond)
	}
	fams := parseExposition(t, body)
	if fams["gstreamer_pad_buffers_total"] == nil || fams["gstreamer_element_processing_seconds"] == nil {
		t.Fatalf("families missing:\n%s", body)
	}
	if root := waitHTTP(t, base+"/"); !strings.Contains(root, "gstreamer_pad_buffers_total") {
		t.Errorf("/ does not serve the metrics:\n%s", root)
	}
	if code, _, _ := get(base + "/other"); code != 404 {
		t.Errorf("/other answered %d, want 404", code)
	}
	resp, err := http.Post(base+"/metrics", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST answered %d, want 405", resp.StatusCode)
	}

	lint := exec.Command("promtool", "check", "metrics")
	lint.Stdin = strings.NewReader(body)
	out, err := lint.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// A real Prometheus server scrapes the tracer, and the series come back
// through its query API.
func TestPrometheusScrapes(t *testing.T) {
	port := freePort(t)
	livePipeline(t, gstEnv(t, tracerAll, fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port)), 30)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: gstscope
    static_configs:
      - targets: ["127.0.0.1:%d"]
`, port)), 0o644)
	promPort := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	prom := exec.CommandContext(ctx, "prometheus", "--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	var promLog bytes.Buffer
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	defer func() {
		cancel()
		prom.Wait()
	}()

	q := url.Values{"query": {`gstreamer_pad_buffers_total{element="identity0",pad="src"}`}}
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?%s", promPort, q.Encode())
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		code, body, err := get(api)
		if err == nil && code == 200 {
			var res struct {
				Data struct {
					Result []struct {
						Metric map[string]string `json:"metric"`
						Value  [2]any            `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(body), &res) == nil && len(res.Data.Result) == 1 {
				m := res.Data.Result[0]
				if m.Metric["pipeline"] != "pipeline0" || m.Metric["job"] != "gstscope" {
					t.Errorf("unexpected labels %v", m.Metric)
				}
				if v, _ := m.Value[1].(string); v == "" || v == "0" {
					t.Errorf("value %v, want buffers counted", m.Value)
				}
				t.Logf("Prometheus has %v = %v", m.Metric, m.Value[1])
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("Prometheus never returned the series\n%s", tail(promLog.String()))
}

// The README's C example finds the tracer and gets the text from the signal.
func TestSignalFromC(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "signal")
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "gstreamer-1.0").Output()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-o", bin, "../../examples/request-metrics.c"}, strings.Fields(string(flags))...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	r := runExample(t, exec.Command(bin, "fakesrc num-buffers=77 ! identity ! fakesink"))
	if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "identity0", "pad", "sink")); got != 77 {
		t.Errorf("buffers = %v, want 77", got)
	}
}

// Bad and busy ports: a warning, and the pipeline and the signal work on.
func TestBadPorts(t *testing.T) {
	busy, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	cases := []struct {
		name, tracer, env, warning string
	}{
		{"env not a number", "prometheus-latency-tracer", "GST_PROMETHEUS_TRACER_PORT=abc", `GST_PROMETHEUS_TRACER_PORT="abc": not a port number`},
		{"env out of range", "prometheus-latency-tracer", "GST_PROMETHEUS_TRACER_PORT=70000", "port out of range"},
		{"param negative", "prometheus-latency-tracer(port=-5)", "", `port="-5": port out of range`},
		{"busy", "prometheus-latency-tracer", fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", busyPort), "cannot serve metrics on 0.0.0.0:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := gstEnv(t, c.tracer)
			if c.env != "" {
				env = append(env, c.env)
			}
			r := measure(t, env, "fakesrc num-buffers=10 ! fakesink")
			if !strings.Contains(r.Stderr, c.warning) {
				t.Errorf("log lacks %q:\n%s", c.warning, tail(r.Stderr))
			}
			if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "fakesink0")); got != 10 {
				t.Errorf("buffers = %v, want 10", got)
			}
		})
	}
}

// bind-address restricts the server to loopback.
func TestBindAddress(t *testing.T) {
	port := freePort(t)
	stop := livePipeline(t, gstEnv(t, fmt.Sprintf("prometheus-latency-tracer(port=%d,bind-address=127.0.0.1)", port)), 5)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	want := fmt.Sprintf("serving metrics on http://127.0.0.1:%d/metrics", port)
	if log := stop(); !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, tail(log))
	}
}

// The README's Python example finds the tracer and gets the text.
func TestSignalFromPython(t *testing.T) {
	r := runExample(t, exec.Command("/usr/bin/python3", "../../examples/request-metrics.py", "fakesrc num-buffers=55 ! identity ! fakesink"))
	if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "identity0", "pad", "src")); got != 55 {
		t.Errorf("buffers = %v, want 55", got)
	}
}

// runExample runs a signal example with the tracer and parses what it prints.
func runExample(t *testing.T, cmd *exec.Cmd) *result {
	t.Helper()
	cmd.Env = gstEnv(t, "prometheus-latency-tracer")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	return &result{Metrics: string(out), Fams: parseExposition(t, string(out))}
}
