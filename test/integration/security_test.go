package integration

import (
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Credentials never show: with both tracers, the full GStreamer log
// (GST_DEBUG=*:9) and uploads that fail, neither the Pyroscope password
// (from the environment, or in the server URL), nor its base64 form in
// the Authorization header, nor any other variable of the environment
// appears in the log, in what the process prints, in the exposition served
// over HTTP (any encoding, any header) or returned by the signal. One
// Pyroscope server refuses uploads with 401 and echoes the credentials it
// got in its answer; it also proves the password was in use. The other is
// a closed port.
func TestSecretsNeverShown(t *testing.T) {
	nonce := make([]byte, 8)
	rand.Read(nonce)
	tag := hex.EncodeToString(nonce)
	pw, urlPw, token := "pw"+tag, "urlpw"+tag, "token"+tag
	auth := base64.StdEncoding.EncodeToString([]byte("alice:" + pw))
	secrets := []string{pw, urlPw, token, auth, "MY_APP_TOKEN"}

	var mu sync.Mutex
	var got []string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="pyroscope"`)
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		http.Error(w, "bad credentials: "+r.Header.Get("Authorization"), http.StatusUnauthorized)
	}))
	t.Cleanup(echo.Close)

	for _, c := range []struct{ name, server string }{
		{"401 echoing the credentials", strings.Replace(echo.URL, "http://", "http://bob:"+urlPw+"@", 1)},
		{"closed port", fmt.Sprintf("http://bob:%s@127.0.0.1:%d", urlPw, freePort(t))},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := freePort(t)
			env := gstEnv(t, "prometheus-latency-tracer;pyroscope",
				fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port),
				"GST_DEBUG=*:9",
				"GST_PYROSCOPE_SERVER_URL="+c.server,
				"GST_PYROSCOPE_BASIC_AUTH_USER=alice",
				"GST_PYROSCOPE_BASIC_AUTH_PASSWORD="+pw,
				"GST_PYROSCOPE_UPLOAD_INTERVAL=1",
				"MY_APP_TOKEN="+token)
			h := startHostEnv(t, env, port, "audiotestsrc is-live=true samplesperbuffer=441 num-buffers=300 ! "+
				"scopeburn cpu-us=1000 ! fakesink sync=true", "fakesink0:sink")
			ran := h.runAsync()
			var served strings.Builder
			for _, path := range []string{"/metrics", "/"} {
				for _, enc := range []string{"", "gzip"} {
					for _, method := range []string{"GET", "HEAD"} {
						served.WriteString(fetch(t, method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), enc))
					}
				}
			}
			// The pyroscope tracer's series appear with the sampler's first
			// charge; uploads (tried every second) go on meanwhile.
			waitExposition(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), "the pyroscope tracer's series",
				func(fams map[string]*dto.MetricFamily) bool {
					return fams["gstreamer_element_cpu_seconds_total"] != nil
				})
			served.WriteString(fetch(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/metrics", port), ""))
			run := <-ran
			r := h.finish()

			if !strings.Contains(served.String(), "gstreamer_element_cpu_seconds_total") {
				t.Errorf("the exposition lacks the pyroscope tracer's series: both tracers did not run")
			}
			if run.Buffers != 300 {
				t.Errorf("%d buffers, want 300", run.Buffers)
			}
			if countLines(r.Stderr, "cannot upload profiles") != 1 {
				t.Errorf("no upload failure logged: the upload path did not run")
			}
			for _, s := range secrets {
				for what, text := range map[string]string{
					"the GStreamer log":            r.Stderr,
					"the process's output":         h.stdout.String(),
					"the signal's exposition":      r.Metrics,
					"the HTTP answers and headers": served.String(),
				} {
					if i := strings.Index(text, s); i >= 0 {
						t.Errorf("%q appears in %s: ...%s...", s, what, text[max(0, i-200):min(len(text), i+100)])
					}
				}
			}
			t.Logf("%d bytes of log, %d of output, %d of HTTP answers checked", len(r.Stderr), h.stdout.Len(), served.Len())
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[0] != "Basic "+auth {
		t.Errorf("the echoing server got Authorization %q, want alice's password: the secret was not in use", got)
	}
}

// fetch returns an HTTP answer's status line, headers and (decoded) body.
func fetch(t *testing.T, method, url, encoding string) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return ""
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" && method != "HEAD" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "%s %s\n", resp.Proto, resp.Status)
	resp.Header.Write(&s)
	s.Write(b)
	return s.String()
}
