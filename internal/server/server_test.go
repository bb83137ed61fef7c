package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// gatherer numbers its gathers: each answer says which gather made it,
// in the gauge test_gather. filler adds that many series to the exposition
// (640 bytes each); gate, if set, holds every gather until it is closed or
// sent to; err and panics make it fail.
type gatherer struct {
	n      atomic.Int64
	graphs atomic.Int64 // graphs drawn, see graphOf
	filler atomic.Int64
	gate   chan struct{}
	err    error
	panics bool
}

func (g *gatherer) Gather() ([]*dto.MetricFamily, error) {
	n := g.n.Add(1)
	if g.gate != nil {
		<-g.gate
	}
	if g.panics {
		panic("collector bug")
	}
	mfs := []*dto.MetricFamily{{
		Name: proto.String("test_gather"), Help: proto.String("Which gather answered."),
		Type:   dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(float64(n))}}},
	}}
	if filler := int(g.filler.Load()); filler > 0 {
		f := &dto.MetricFamily{Name: proto.String("test_filler_total"), Help: proto.String("Bulk."),
			Type: dto.MetricType_COUNTER.Enum()}
		for i := 0; i < filler; i++ {
			f.Metric = append(f.Metric, &dto.Metric{
				Label:   []*dto.LabelPair{{Name: proto.String("series"), Value: proto.String(fmt.Sprintf("s%0600d", i))}},
				Counter: &dto.Counter{Value: proto.Float64(float64(i))},
			})
		}
		mfs = append(mfs, f)
	}
	return mfs, g.err
}

// graphOf is the graph of a test gatherer: it numbers its drawings in
// graphs, and waits, fails and panics as the gatherer's gathers do.
func graphOf(g prometheus.Gatherer) func() []byte {
	tg, ok := g.(*gatherer)
	if !ok {
		return nil
	}
	return func() []byte {
		n := tg.graphs.Add(1)
		if tg.gate != nil {
			<-tg.gate
		}
		if tg.panics {
			panic("graph bug")
		}
		return []byte(fmt.Sprintf("digraph test_graph { n%d; }\n", n))
	}
}

// short are limits a unit test can wait for. As in production, a request
// can wait for a gather longer than the pause between rounds can be.
var short = limits{
	readHeader: 300 * time.Millisecond, write: 500 * time.Millisecond, gather: maxPause + time.Second,
	idle: 400 * time.Millisecond, gatherDuty: GatherDuty, maxHeaderBytes: MaxHeaderBytes, maxConns: MaxConns,
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func startTest(t *testing.T, g prometheus.Gatherer, lim limits) (*Server, *logs) {
	t.Helper()
	l := &logs{}
	s, err := start("127.0.0.1:0", g, graphOf(g), l.logf, lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(time.Second) })
	return s, l
}

// scrape GETs url and returns the gather number that answered.
func scrape(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	return int(fams["test_gather"].GetMetric()[0].GetGauge().GetValue()), nil
}

// Requests that arrive while a gather is under way share the next one,
// not that one: no answer is older than its request, and 20 requests cost
// one gather.
func TestRequestsShareTheNextGather(t *testing.T) {
	g := &gatherer{gate: make(chan struct{})}
	s, _ := startTest(t, g, short)
	url := "http://" + s.Addr() + "/metrics"

	first := make(chan int)
	go func() { n, _ := scrape(http.DefaultClient, url); first <- n }()
	waitFor(t, "the first gather", func() bool { return g.n.Load() == 1 })

	const n = 20
	got := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			c := &http.Client{Transport: &http.Transport{}}
			v, err := scrape(c, url)
			if err != nil {
				t.Error(err)
			}
			got <- v
		}()
	}
	waitFor(t, "20 requests waiting", func() bool {
		s.scrapes.mu.Lock()
		defer s.scrapes.mu.Unlock()
		return s.scrapes.next != nil && s.scrapes.next.waiters == n
	})
	close(g.gate)
	if v := <-first; v != 1 {
		t.Errorf("the first request was answered by gather %d, want 1", v)
	}
	for i := 0; i < n; i++ {
		if v := <-got; v != 2 {
			t.Errorf("a request that arrived during gather 1 was answered by gather %d, want 2", v)
		}
	}
	if c := g.n.Load(); c != 2 {
		t.Errorf("%d gathers for 21 requests, want 2", c)
	}
}

// Under a flood, rounds come at most every minPause; a lone scrape after
// the flood does not wait for a pause.
func TestRoundsArePaced(t *testing.T) {
	g := &gatherer{}
	s, _ := startTest(t, g, short)
	url := "http://" + s.Addr() + "/metrics"
	const d = time.Second
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	var answers atomic.Int64
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}}
			for time.Now().Before(stop) {
				if _, err := scrape(c, url); err != nil {
					t.Error(err)
					return
				}
				answers.Add(1)
			}
		}()
	}
	wg.Wait()
	rounds := g.n.Load()
	t.Logf("%d answers from %d gathers in %v", answers.Load(), rounds, d)
	if max := int64(d/minPause) + 2; rounds > max {
		t.Errorf("%d gathers in %v, want at most %d", rounds, d, max)
	}
	if rounds < 5 || answers.Load() < 4*rounds {
		t.Errorf("%d answers from %d gathers: the flood did not share gathers", answers.Load(), rounds)
	}

	time.Sleep(2 * minPause)
	t0 := time.Now()
	if _, err := scrape(http.DefaultClient, url); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > minPause/2 {
		t.Errorf("a lone scrape took %v", took)
	}
}

// raw sends req on a new connection and reads the response.
func raw(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// Only GET and HEAD on / and /metrics; everything else is refused, and
// nothing but metrics is there (no pprof, no expvar).
func TestMethodsAndPaths(t *testing.T) {
	s, _ := startTest(t, &gatherer{}, short)
	for _, c := range []struct {
		req   string
		code  int
		allow bool // an Allow: GET, HEAD header
		body  bool // the exposition
	}{
		{"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, true},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, true},
		{"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, true},
		{"GET /metrics HTTP/1.0\r\n\r\n", 200, false, true},
		{"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, false},
		{"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, true, false},
		{"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, true, false},
		{"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, true, false},
		{"PATCH /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, true, false},
		{"OPTIONS /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, true, false},
		{"TRACE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, true, false},
		{"BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, true, false},
		{"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false},
		{"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 404, false, false},
		{"GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false},
		{"GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false},
		{"GET /debug/vars HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false},
		{"GET /../metrics HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false},
		{"GET http://x/other HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false},
		{"GET /graph HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, false},
		{"HEAD /graph HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, false},
		{"POST /graph HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, true, false},
		{"DELETE /graph HTTP/1.1\r\nHost: x\r\n\r\n", 405, true, false},
		{"GET /graph/ HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false},
		{"GET /graph.svg HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false},
	} {
		resp, body := raw(t, s.Addr(), c.req)
		line, _, _ := strings.Cut(c.req, "\r\n")
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d, want %d", line, resp.StatusCode, c.code)
		}
		if allow := resp.Header.Get("Allow"); c.allow && allow != "GET, HEAD" || !c.allow && allow != "" {
			t.Errorf("%s: Allow %q", line, allow)
		}
		if got := bytes.Contains(body, []byte("test_gather")); got != c.body {
			t.Errorf("%s: exposition in the body: %v, want %v", line, got, c.body)
		}
		graph := strings.Contains(line, " /graph ")
		if got := bytes.Contains(body, []byte("digraph test_graph")); got != (graph && c.code == 200 && !strings.HasPrefix(line, "HEAD")) {
			t.Errorf("%s: graph in the body: %v", line, got)
		}
		if ct := resp.Header.Get("Content-Type"); graph && c.code == 200 && ct != GraphType {
			t.Errorf("%s: Content-Type %q, want %q", line, ct, GraphType)
		}
		if strings.HasPrefix(line, "HEAD") && (resp.ContentLength <= 0 || len(body) != 0) {
			t.Errorf("HEAD: Content-Length %d and %d bytes of body, want a length and no body", resp.ContentLength, len(body))
		}
	}
}

// Headers beyond MaxHeaderBytes are answered 431.
func TestHeadersTooLarge(t *testing.T) {
	s, _ := startTest(t, &gatherer{}, short)
	big := "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", MaxHeaderBytes+4096) + "\r\n\r\n"
	if resp, _ := raw(t, s.Addr(), big); resp.StatusCode != 431 {
		t.Errorf("%d bytes of headers: %d, want 431", len(big), resp.StatusCode)
	}
	fits := "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", MaxHeaderBytes/2) + "\r\n\r\n"
	if resp, _ := raw(t, s.Addr(), fits); resp.StatusCode != 200 {
		t.Errorf("%d bytes of headers: %d, want 200", len(fits), resp.StatusCode)
	}
}

// A request with a body is answered (405) without reading the body, and
// the connection is closed: a client announcing a gigabyte gets its answer
// at once and cannot push more than the sockets' buffers.
func TestRequestBodyIsNotRead(t *testing.T) {
	s, _ := startTest(t, &gatherer{}, short)
	for _, head := range []string{
		"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n",
		"PUT /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n",
	} {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, head)
		sent := make(chan int64)
		go func() {
			chunk := make([]byte, 64<<10)
			var n int64
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			for n < 1<<30 {
				w, err := c.Write(chunk)
				n += int64(w)
				if err != nil {
					break
				}
			}
			sent <- n
		}()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer while sending the body: %v", err)
		}
		if resp.StatusCode != 405 || !resp.Close {
			t.Errorf("%d, Connection: close %v; want 405 and close", resp.StatusCode, resp.Close)
		}
		n := <-sent
		t.Logf("the client could send %d KB of its body", n>>10)
		if n > 32<<20 {
			t.Errorf("the client sent %d MB: the server read the body", n>>20)
		}
	}
}

// Gzip only when asked for; protobuf when asked for.
func TestEncodings(t *testing.T) {
	g := &gatherer{}
	g.filler.Store(100)
	s, _ := startTest(t, g, short)
	get := func(accept, encoding string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, c := range []struct {
		encoding string
		gzip     bool
	}{{"", false}, {"gzip", true}, {"br, gzip;q=0.5", true}, {"GZIP", true}, {"gzip;q=0", false}, {"deflate", false}} {
		resp, b := get("", c.encoding)
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != c.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", c.encoding, got, c.gzip)
			continue
		}
		if c.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(zr)
		}
		var p expfmt.TextParser
		fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
		if err != nil || len(fams["test_filler_total"].GetMetric()) != 100 {
			t.Errorf("Accept-Encoding %q: not the exposition (%v)", c.encoding, err)
		}
	}
	resp, _ := get("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.google.protobuf") {
		t.Errorf("protobuf asked for, got %q", ct)
	}
	if resp.Header.Get("Content-Length") == "" {
		t.Errorf("no Content-Length: a client cannot tell a cut answer")
	}
}

// A gather that fails, panics or hangs: 500 with the error, or 503 after
// the gather timeout, one log line, and the server goes on.
func TestGatherFaults(t *testing.T) {
	get := func(s *Server) (int, string) {
		resp, err := http.Get("http://" + s.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Collected metrics are served even if a collector failed.
	s, l := startTest(t, &gatherer{err: errors.New("one collector failed")}, short)
	for i := 0; i < 3; i++ {
		if code, body := get(s); code != 200 || !strings.Contains(body, "test_gather") {
			t.Errorf("partial gather: %d %q, want 200 and the metrics", code, body)
		}
		time.Sleep(minPause)
	}
	if lines := l.all(); len(lines) != 1 || !strings.Contains(lines[0], "one collector failed") {
		t.Errorf("log %q, want the error once", lines)
	}

	s, l = startTest(t, &gatherer{panics: true}, short)
	for i := 0; i < 2; i++ {
		if code, body := get(s); code != 500 || !strings.Contains(body, "collector bug") {
			t.Errorf("panicking gather: %d %q, want 500 naming the panic", code, body)
		}
	}
	if lines := l.all(); len(lines) != 1 {
		t.Errorf("log %q, want one line", lines)
	}

	g := &gatherer{gate: make(chan struct{})}
	lim := short
	lim.gather = 300 * time.Millisecond
	s, _ = startTest(t, g, lim)
	t0 := time.Now()
	if code, body := get(s); code != 503 || time.Since(t0) > lim.gather+200*time.Millisecond {
		t.Errorf("hanging gather: %d %q after %v, want 503 after %v", code, body, time.Since(t0), lim.gather)
	}
	close(g.gate)
	time.Sleep(maxPause) // the pause after a 300 ms gather
	if code, _ := get(s); code != 200 {
		t.Errorf("after the hang: %d, want 200", code)
	}
}

// openConns is how many connections the server holds.
func openConns(s *Server) int { return len(s.ln.slots) }

// waitClosed waits until the server holds no connection and says how long
// that took.
func waitClosed(t *testing.T, s *Server, t0 time.Time, within time.Duration) time.Duration {
	t.Helper()
	for openConns(s) > 0 {
		if time.Since(t0) > within {
			t.Fatalf("connection still open after %v", time.Since(t0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(t0)
}

// Clients that stall are cut by the deadline that applies to them, and
// only by it (it is measured from the client's side: at least the limit,
// at most the limit plus 300 ms).
func TestSlowClientsAreCut(t *testing.T) {
	s, _ := startTest(t, &gatherer{}, short)
	check := func(what string, took, limit time.Duration) {
		t.Helper()
		if took < limit-20*time.Millisecond || took > limit+300*time.Millisecond {
			t.Errorf("%s: cut after %v, want %v", what, took, limit)
		} else {
			t.Logf("%s: cut after %v (limit %v)", what, took, limit)
		}
	}
	const req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

	c := dial(t, s, 0)
	t0 := time.Now()
	check("silent", waitClosed(t, s, t0, 2*time.Second), short.readHeader)

	slow := dial(t, s, 0)
	t0 = time.Now()
	go func() {
		for _, b := range []byte(req) {
			if _, err := slow.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	check("slowloris (a byte every 20 ms)", waitClosed(t, s, t0, 2*time.Second), short.readHeader)

	c = dial(t, s, 0)
	io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive scrape: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	t0 = time.Now()
	// Silent after a scrape: a client gone without a FIN looks like this.
	check("idle after a scrape", waitClosed(t, s, t0, 2*time.Second), short.idle)

	c = dial(t, s, 0)
	io.WriteString(c, req)
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("half-closed after the request: %v", err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Errorf("half-closed after the request: answer cut: %v", err)
	}
	t0 = time.Now()
	if took := waitClosed(t, s, t0, time.Second); took > 100*time.Millisecond {
		t.Errorf("half-closed: closed %v after the answer, want at once", took)
	}

	c = dial(t, s, 0)
	c.(*net.TCPConn).CloseWrite()
	t0 = time.Now()
	if took := waitClosed(t, s, t0, time.Second); took > 100*time.Millisecond {
		t.Errorf("half-closed before a request: closed after %v, want at once", took)
	}

	// An answer larger than loopback's socket buffers hold (2.8 MB here),
	// to a client that never reads. The write deadline leaves the gather
	// (up to 300 ms under the race detector) time to finish first.
	g := &gatherer{}
	g.filler.Store(10_000) // 6.4 MB
	lim := short
	lim.write = time.Second
	s, _ = startTest(t, g, lim)
	c = dial(t, s, 4096)
	io.WriteString(c, req)
	t0 = time.Now()
	check("never reads a 6.4 MB answer", waitClosed(t, s, t0, 3*time.Second), lim.write)
	body, err := io.ReadAll(io.LimitReader(c, 64<<20))
	if err == nil && len(body) >= 6<<20 {
		t.Errorf("read %d bytes after the cut: the whole answer was sent", len(body))
	}
}

// dial connects to s, with a receive buffer of rcvbuf bytes if not 0, and
// waits until the server holds the connection.
func dial(t *testing.T, s *Server, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		if rcvbuf > 0 {
			c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
		return nil
	}}
	c, err := d.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	waitFor(t, "the server to accept", func() bool { return openConns(s) == 1 })
	return c
}

// The server holds at most maxConns connections. Kept-alive connections
// give way to a newcomer (their clients reconnect transparently); silent
// ones hold their slot until ReadHeaderTimeout.
func TestConnectionCap(t *testing.T) {
	lim := short
	lim.maxConns, lim.idle = 4, time.Minute
	s, _ := startTest(t, &gatherer{}, lim)
	url := "http://" + s.Addr() + "/metrics"

	var kept []*http.Client
	for i := 0; i < lim.maxConns; i++ {
		c := &http.Client{Transport: &http.Transport{}}
		if _, err := scrape(c, url); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, c)
	}
	if n := openConns(s); n != lim.maxConns {
		t.Fatalf("%d connections open, want %d idle ones", n, lim.maxConns)
	}
	t0 := time.Now()
	if _, err := scrape(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, url); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > 200*time.Millisecond {
		t.Errorf("a newcomer waited %v with %d idle connections open", took, lim.maxConns)
	}
	for i, c := range kept {
		if _, err := scrape(c, url); err != nil {
			t.Errorf("kept-alive client %d after its connection gave way: %v", i, err)
		}
	}
	if n := openConns(s); n > lim.maxConns {
		t.Errorf("%d connections open, more than %d", n, lim.maxConns)
	}

	for _, c := range kept {
		c.CloseIdleConnections()
	}
	waitFor(t, "no connection", func() bool { return openConns(s) == 0 })
	for i := 0; i < lim.maxConns; i++ {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	waitFor(t, "the silent connections", func() bool { return openConns(s) == lim.maxConns })
	t0 = time.Now()
	if _, err := scrape(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, url); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took < lim.readHeader-50*time.Millisecond || took > lim.readHeader+500*time.Millisecond {
		t.Errorf("with %d silent connections, a scrape took %v, want about %v", lim.maxConns, took, lim.readHeader)
	}
}

// A flood of connections never makes the server hold more than maxConns,
// and every request is answered.
func TestFloodStaysUnderCap(t *testing.T) {
	lim := short
	lim.maxConns = 8
	s, _ := startTest(t, &gatherer{}, lim)
	url := "http://" + s.Addr() + "/metrics"
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if n := int64(openConns(s)); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(keep bool) {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: !keep}}
			for j := 0; j < 3; j++ {
				if _, err := scrape(c, url); err != nil {
					t.Error(err)
				}
			}
		}(i%2 == 0)
	}
	wg.Wait()
	close(done)
	if p := peak.Load(); p > int64(lim.maxConns) {
		t.Errorf("%d connections open at once, more than %d", p, lim.maxConns)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// After Stop, a request still waiting for a round does not make the
// server read the tracer again.
func TestNoGatherAfterStop(t *testing.T) {
	g := &gatherer{gate: make(chan struct{})}
	s, err := start("127.0.0.1:0", g, nil, func(string) {}, short)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr() + "/metrics"
	go scrape(http.DefaultClient, url) // gather 1 hangs
	waitFor(t, "the first gather", func() bool { return g.n.Load() == 1 })
	go scrape(&http.Client{Transport: &http.Transport{}}, url) // waits for gather 2
	waitFor(t, "a request waiting", func() bool {
		s.scrapes.mu.Lock()
		defer s.scrapes.mu.Unlock()
		return s.scrapes.next != nil
	})
	s.Stop(100 * time.Millisecond)
	close(g.gate)
	time.Sleep(maxPause + 100*time.Millisecond)
	if n := g.n.Load(); n != 1 {
		t.Errorf("%d gathers, want 1: the server gathered after Stop", n)
	}
}

// Graph requests go through the scrapes' rounds: a crowd asking for the
// graph and the metrics together is paced as one (at most a round every
// minPause), a round draws the graph once for all its graph requests, and
// a round of graph requests alone gathers no metrics.
func TestGraphSharesRounds(t *testing.T) {
	g := &gatherer{}
	s, _ := startTest(t, g, short)
	base := "http://" + s.Addr()
	resp, err := http.Get(base + "/graph")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n, d := g.n.Load(), g.graphs.Load(); n != 0 || d != 1 {
		t.Errorf("a graph request: %d gathers and %d graphs, want 0 and 1", n, d)
	}
	const d = time.Second
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	var answers atomic.Int64
	for i := 0; i < 16; i++ {
		path := []string{"/metrics", "/graph"}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}}
			for time.Now().Before(stop) {
				resp, err := c.Get(base + path)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("%s: %d", path, resp.StatusCode)
					return
				}
				answers.Add(1)
			}
		}()
	}
	wg.Wait()
	s.scrapes.mu.Lock()
	rounds := s.scrapes.rounds - 1
	s.scrapes.mu.Unlock()
	graphs := g.graphs.Load() - 1
	t.Logf("%d answers from %d rounds (%d gathers, %d graphs) in %v", answers.Load(), rounds, g.n.Load(), graphs, d)
	if max := int(d/minPause) + 2; rounds > max {
		t.Errorf("%d rounds in %v, want at most %d", rounds, d, max)
	}
	if graphs > int64(rounds) || answers.Load() < 4*int64(rounds) {
		t.Errorf("%d answers, %d graphs from %d rounds: graph requests did not share rounds", answers.Load(), graphs, rounds)
	}
}

// A graph that panics is a 500, and the metrics are still served.
func TestGraphPanics(t *testing.T) {
	g := &gatherer{panics: true}
	s, l := startTest(t, g, short)
	resp, err := http.Get("http://" + s.Addr() + "/graph")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("a panicking graph: %d, want 500", resp.StatusCode)
	}
	if lines := l.all(); len(lines) != 1 || !strings.Contains(lines[0], "graph bug") {
		t.Errorf("log %q, want one line naming the panic", lines)
	}
}

// The graph is gzipped when asked, like the exposition.
func TestGraphGzip(t *testing.T) {
	s, _ := startTest(t, &gatherer{}, short)
	req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/graph", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("Content-Encoding %q: %v", resp.Header.Get("Content-Encoding"), err)
	}
	body, _ := io.ReadAll(zr)
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.HasPrefix(body, []byte("digraph test_graph")) {
		t.Errorf("Content-Encoding %q, body %q", resp.Header.Get("Content-Encoding"), body)
	}
}
