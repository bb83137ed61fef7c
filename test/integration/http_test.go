package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// livePipeline runs a live audiotestsrc ! identity ! fakesink with the
// tracer for a few seconds (startPipeline); stop kills it and returns its
// log.
func livePipeline(t *testing.T, env []string, seconds int) (stop func() string) {
	t.Helper()
	return startPipeline(t, env, fmt.Sprintf("-e audiotestsrc is-live=true num-buffers=%d ! identity ! fakesink", seconds*43)).stop
}

// liveDesc is a live pipeline that runs until the test stops it (or ends):
// no num-buffers, whose end would be a deadline a slow run (AddressSanitizer,
// a loaded machine) could overrun while it still scrapes.
const liveDesc = "audiotestsrc is-live=true ! identity ! fakesink"

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
	startPipeline(t, gstEnv(t, tracerAll, fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port)), liveDesc)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Each family only appears with its first observation: the sink's
	// source-to-sink latency and identity0's processing are recorded on
	// different hooks, and a scrape can fall between them (it did under
	// AddressSanitizer). Wait for every family the test asserts on.
	body, _ := waitExposition(t, base+"/metrics", "buffers, processing and source-to-sink latency",
		func(fams map[string]*dto.MetricFamily) bool {
			return find(fams, "gstreamer_pad_buffers_total", labels("element", "identity0")) != nil &&
				observed(fams, "gstreamer_element_processing_seconds", labels("element", "identity0")) > 0 &&
				observed(fams, "gstreamer_pipeline_latency_seconds", labels("source", "audiotestsrc0", "sink", "fakesink0")) > 0
		})
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
	startPipeline(t, gstEnv(t, tracerAll, fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port)), liveDesc)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))

	promBase, promLog := startPrometheus(t, port, "")

	q := url.Values{"query": {`gstreamer_pad_buffers_total{element="identity0",pad="src"}`}}
	api := promBase + "/api/v1/query?" + q.Encode()
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
			// The series appears with the pad, before its first buffer
			// maybe: wait for a scrape that counted buffers.
			if json.Unmarshal([]byte(body), &res) == nil && len(res.Data.Result) == 1 {
				m := res.Data.Result[0]
				if v, _ := m.Value[1].(string); v != "" && v != "0" {
					if m.Metric["pipeline"] != "pipeline0" || m.Metric["job"] != "gstscope" {
						t.Errorf("unexpected labels %v", m.Metric)
					}
					t.Logf("Prometheus has %v = %v", m.Metric, m.Value[1])
					return
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("Prometheus never returned the series with buffers counted\n%s", tail(promLog.String()))
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

// Bad and busy ports: one warning naming the value and the problem, no
// server, and the pipeline and the signal work on (exit 0, exact counts).
// Port 0 is not a port to serve on: a warning, as for any value outside
// 1-65535 (unset the variable for no server).
func TestBadPorts(t *testing.T) {
	busyPort := takePort(t)
	const lat = "prometheus-latency-tracer"
	cases := []struct {
		name, tracer, env, warning string
	}{
		{"env not a number", lat, "GST_PROMETHEUS_TRACER_PORT=abc", `GST_PROMETHEUS_TRACER_PORT="abc": not a port number; no HTTP server`},
		{"env trailing garbage", lat, "GST_PROMETHEUS_TRACER_PORT=9092abc", `GST_PROMETHEUS_TRACER_PORT="9092abc": not a port number; no HTTP server`},
		{"env huge", lat, "GST_PROMETHEUS_TRACER_PORT=99999999999999999999", `GST_PROMETHEUS_TRACER_PORT="99999999999999999999": not a port number; no HTTP server`},
		{"env out of range", lat, "GST_PROMETHEUS_TRACER_PORT=70000", `GST_PROMETHEUS_TRACER_PORT="70000": port out of range 1-65535; no HTTP server`},
		{"env negative", lat, "GST_PROMETHEUS_TRACER_PORT=-1", `GST_PROMETHEUS_TRACER_PORT="-1": port out of range 1-65535; no HTTP server`},
		{"env zero", lat, "GST_PROMETHEUS_TRACER_PORT=0", `GST_PROMETHEUS_TRACER_PORT="0": port out of range 1-65535; no HTTP server`},
		{"param negative", lat + "(port=-5)", "", `port="-5": port out of range 1-65535; no HTTP server`},
		{"param zero", lat + "(port=0)", "", `port="0": port out of range 1-65535; no HTTP server`},
		{"param above 65535", lat + "(port=65536)", "", `port="65536": port out of range 1-65535; no HTTP server`},
		{"param not a number", lat + "(port=http)", "", `port="http": not a port number; no HTTP server`},
		{"busy", lat, fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", busyPort),
			fmt.Sprintf("cannot serve metrics on 0.0.0.0:%d: listen tcp 0.0.0.0:%d: bind: address already in use", busyPort, busyPort)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := gstEnv(t, c.tracer)
			if c.env != "" {
				env = append(env, c.env)
			}
			r := measure(t, env, "fakesrc num-buffers=10 ! fakesink")
			if n := countLines(r.Stderr, c.warning); n != 1 {
				t.Errorf("%d log lines %q, want 1:\n%s", n, c.warning, tail(r.Stderr))
			}
			if n := countLines(r.Stderr, " WARN "); n != 1 {
				t.Errorf("%d warnings, want 1:\n%s", n, tail(r.Stderr))
			}
			if countLines(r.Stderr, "serving metrics on") != 0 {
				t.Errorf("a server started:\n%s", tail(r.Stderr))
			}
			if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "fakesink0")); got != 10 {
				t.Errorf("buffers = %v, want 10", got)
			}
		})
	}
}

// A privileged port (80) is refused to an unprivileged process: a warning
// naming the reason. Root (or CAP_NET_BIND_SERVICE, or a lowered
// net.ipv4.ip_unprivileged_port_start) may bind it: then the server serves
// there. Which case applies is what a bind by this test process says.
func TestPrivilegedPort(t *testing.T) {
	const port = 80
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	env := gstEnv(t, fmt.Sprintf("prometheus-latency-tracer(port=%d,bind-address=127.0.0.1)", port))
	l, err := net.Listen("tcp", addr)
	switch {
	case errors.Is(err, syscall.EACCES):
		t.Logf("this process may not bind %s: the tracer must warn", addr)
		r := measure(t, env, "fakesrc num-buffers=10 ! fakesink")
		want := fmt.Sprintf("cannot serve metrics on %s: listen tcp %s: bind: permission denied", addr, addr)
		if countLines(r.Stderr, want) != 1 || countLines(r.Stderr, " WARN ") != 1 {
			t.Errorf("want one warning %q:\n%s", want, tail(r.Stderr))
		}
		if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "fakesink0")); got != 10 {
			t.Errorf("buffers = %v, want 10", got)
		}
	case err == nil:
		l.Close()
		t.Logf("this process may bind %s (uid %d): the tracer must serve there", addr, os.Getuid())
		p := startPipeline(t, env, liveDesc)
		body := waitHTTP(t, "http://"+addr+"/metrics")
		parseExposition(t, body)
		// The server answers before the tracer logs that it started.
		p.waitLog("serving metrics on http://" + addr + "/metrics")
		if log := p.stop(); countLines(log, "serving metrics on http://"+addr+"/metrics") != 1 || countLines(log, " WARN ") != 0 {
			t.Errorf("want the server announced and no warning:\n%s", tail(log))
		}
	default:
		t.Skipf("%s is not free here (%v)", addr, err)
	}
}

// bind-address restricts the server to loopback.
func TestBindAddress(t *testing.T) {
	port := freePort(t)
	p := startPipeline(t, gstEnv(t, fmt.Sprintf("prometheus-latency-tracer(port=%d,bind-address=127.0.0.1)", port)), liveDesc)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	// The server answers before the tracer logs that it started.
	p.waitLog(fmt.Sprintf("serving metrics on http://127.0.0.1:%d/metrics", port))
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
