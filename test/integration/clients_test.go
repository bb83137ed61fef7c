package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The server's deadlines (internal/server): the tests wait for the real ones.
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 10 * time.Second
)

// Stalled and hostile clients against the real plugin, all at once, while
// a live pipeline runs and a scraper scrapes every 300 ms: each is cut by
// the deadline that applies to it (the time the host holds its socket,
// read from /proc/net/tcp), every normal scrape is answered, and the
// pipeline's count is exact. The exposition is 5 MB (100 elements with
// 1000-character names), more than loopback's socket buffers hold, so
// that a client that never reads really blocks the server's write.
func TestHTTPSlowClients(t *testing.T) {
	const buffers = 130 // 13 s at 10 buffers a second
	long := strings.Repeat("x", 1000)
	desc := fmt.Sprintf("audiotestsrc is-live=true samplesperbuffer=4410 num-buffers=%d", buffers)
	for i := 0; i < 100; i++ {
		desc += fmt.Sprintf(" ! identity name=i%d_%s", i, long)
	}
	h := startHost(t, desc+" ! fakesink", "fakesink0:sink")
	port := h.port()
	ran := h.runAsync()
	waitFor(t, "the pipeline's series", func() bool {
		_, body, err := get(h.url)
		return err == nil && strings.Contains(body, `gstreamer_pad_buffers_total{direction="sink",element="fakesink0"`)
	})

	const req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
	type cut struct {
		what       string
		limit, got time.Duration
	}
	cuts := make(chan cut, 8)
	var wg sync.WaitGroup
	// act does what the client does and returns when the deadline started
	// (at the latest); connected is when the connection was made.
	client := func(what string, limit time.Duration, rcvbuf int, act func(c *net.TCPConn, connected time.Time) time.Time) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialBuf(port, rcvbuf)
			if err != nil {
				t.Error(err)
				return
			}
			connected := time.Now()
			defer c.Close()
			local := c.LocalAddr().(*net.TCPAddr).Port
			for t0 := time.Now(); !hostHolds(t, port, local); time.Sleep(time.Millisecond) {
				if time.Since(t0) > 5*time.Second {
					t.Errorf("%s: the host never accepted the connection", what)
					return
				}
			}
			t0 := act(c, connected)
			for hostHolds(t, port, local) && time.Since(t0) < limit+5*time.Second {
				time.Sleep(20 * time.Millisecond)
			}
			cuts <- cut{what, limit, time.Since(t0)}
			if rcvbuf > 0 {
				// What the host had sent before it gave up is all there is.
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Errorf("%s: %v", what, err)
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				t.Logf("%s: %d of %d bytes had been sent (%v)", what, n, resp.ContentLength, err)
				if n >= resp.ContentLength {
					t.Errorf("%s: the whole answer was sent", what)
				}
			}
		}()
	}
	// ReadHeaderTimeout runs from the accept, after the connection was made.
	client("silent", readHeaderTimeout, 0, func(_ *net.TCPConn, connected time.Time) time.Time { return connected })
	client("slowloris, a byte a second", readHeaderTimeout, 0, func(c *net.TCPConn, connected time.Time) time.Time {
		go func() {
			for _, b := range []byte(req) {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(time.Second)
			}
		}()
		return connected
	})
	// WriteTimeout runs from the end of the request's headers.
	client("never reads a 5 MB answer", writeTimeout, 4096, func(c *net.TCPConn, _ time.Time) time.Time {
		io.WriteString(c, req)
		return time.Now()
	})
	client("half-closed before a request", 0, 0, func(c *net.TCPConn, _ time.Time) time.Time {
		c.CloseWrite()
		return time.Now()
	})
	client("half-closed after its request", 0, 0, func(c *net.TCPConn, _ time.Time) time.Time {
		io.WriteString(c, req)
		c.CloseWrite()
		c.SetReadDeadline(time.Now().Add(writeTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("half-closed after its request: %v", err)
			return time.Now()
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 || err != nil || n != resp.ContentLength {
			t.Errorf("half-closed after its request: %d, %d of %d bytes, %v", resp.StatusCode, n, resp.ContentLength, err)
		}
		return time.Now() // the answer is complete: the host closes now
	})

	// Meanwhile, a scraper.
	stop := make(chan struct{})
	scraped := make(chan [2]int)
	go func() {
		var ok, failed int
		last := -1.0
		for {
			select {
			case <-stop:
				scraped <- [2]int{ok, failed}
				return
			case <-time.After(300 * time.Millisecond):
			}
			code, body, err := get(h.url)
			v := checkExposition([]byte(body))
			if err != nil || code != 200 || v.problem != "" || v.buffers < last {
				t.Errorf("a normal scrape failed: %d %v %s (buffers %v after %v)", code, err, v.problem, v.buffers, last)
				failed++
				continue
			}
			last = v.buffers
			ok++
		}
	}()

	wg.Wait()
	close(cuts)
	for c := range cuts {
		switch {
		case c.limit == 0 && c.got > 500*time.Millisecond:
			t.Errorf("%s: the host held the connection %v, want it closed at once", c.what, c.got)
		case c.limit > 0 && (c.got < c.limit-100*time.Millisecond || c.got > c.limit+1500*time.Millisecond):
			t.Errorf("%s: the host held the connection %v, want %v", c.what, c.got, c.limit)
		default:
			t.Logf("%s: the host let go after %v (limit %v)", c.what, c.got.Round(time.Millisecond), c.limit)
		}
	}
	close(stop)
	n := <-scraped
	t.Logf("%d normal scrapes meanwhile, %d failed", n[0], n[1])
	if n[0] < 10 && memoryChecker() == "" {
		t.Errorf("only %d normal scrapes answered in the meantime", n[0])
	}
	run := <-ran
	r := h.finish()
	if run.Buffers != buffers {
		t.Errorf("%d buffers reached the sink, want %d", run.Buffers, buffers)
	}
	if got := counter(t, r, loadFamily, loadSeries); got != buffers {
		t.Errorf("tracer counted %v buffers at the sink, want %d", got, buffers)
	}
}

func (h *host) port() int {
	u := strings.TrimSuffix(strings.TrimPrefix(h.url, "http://127.0.0.1:"), "/metrics")
	p, _ := strconv.Atoi(u)
	return p
}

// dialBuf connects to the port on loopback with a receive buffer of rcvbuf
// bytes (the kernel's default if 0).
func dialBuf(port, rcvbuf int) (*net.TCPConn, error) {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		if rcvbuf > 0 {
			c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
		return nil
	}}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// hostHolds says whether a process holds the server's end of the
// connection from local port client to port server: /proc/net/tcp lists
// the socket with an inode until its file descriptor is closed (tcp6: Go
// listens on 0.0.0.0 with a dual-stack socket).
func hostHolds(t *testing.T, server, client int) bool {
	var b []byte
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		more, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			return false
		}
		b = append(b, more...)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		if hexPort(f[1]) == server && hexPort(f[2]) == client && f[9] != "0" {
			return true
		}
	}
	return false
}

func hexPort(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	n, _ := strconv.ParseInt(p, 16, 32)
	return int(n)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawRequest sends req on a new connection to the port and reads the answer.
func rawRequest(t *testing.T, port int, req string) (*http.Response, string) {
	t.Helper()
	c, err := dialBuf(port, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%.60q: %v", req, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// rss is a process's resident memory in KB.
func rss(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// The port serves metrics and nothing else: GET and HEAD on / and /metrics
// (and the pipeline graph on /graph);
// every other method 405 with an Allow header, every other path 404 (no
// pprof, no expvar, no admin endpoint); headers beyond 8 KB 431; a request
// announcing a gigabyte of body is answered 405 at once without the body
// being read (the host's memory does not grow, the client cannot send
// more than socket buffers hold). None of it changes what is measured.
func TestHTTPServesOnlyMetrics(t *testing.T) {
	const buffers = 300 // 3 s
	h := startHost(t, fmt.Sprintf("audiotestsrc is-live=true samplesperbuffer=441 num-buffers=%d ! identity ! fakesink", buffers), "fakesink0:sink")
	port := h.port()
	ran := h.runAsync()
	var before string
	waitFor(t, "buffers at the sink", func() bool {
		_, before, _ = get(h.url)
		return checkExposition([]byte(before)).buffers >= 10
	})

	const host = "Host: x\r\n"
	for _, c := range []struct {
		req  string
		code int
	}{
		{"GET / HTTP/1.1\r\n" + host + "\r\n", 200},
		{"GET /metrics HTTP/1.1\r\n" + host + "\r\n", 200},
		{"HEAD /metrics HTTP/1.1\r\n" + host + "\r\n", 200},
		{"GET /metrics HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n", 431},
		{"POST /metrics HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nreset", 405},
		{"PUT /metrics HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", 405},
		{"DELETE /metrics HTTP/1.1\r\n" + host + "\r\n", 405},
		{"PATCH / HTTP/1.1\r\n" + host + "\r\n", 405},
		{"OPTIONS /metrics HTTP/1.1\r\n" + host + "\r\n", 405},
		{"TRACE /metrics HTTP/1.1\r\n" + host + "\r\n", 405},
		{"PROPFIND /metrics HTTP/1.1\r\n" + host + "\r\n", 405},
		{"OPTIONS * HTTP/1.1\r\n" + host + "\r\n", 404},
		{"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", 404},
		{"GET /debug/pprof/ HTTP/1.1\r\n" + host + "\r\n", 404},
		{"GET /debug/pprof/goroutine?debug=2 HTTP/1.1\r\n" + host + "\r\n", 404},
		{"GET /debug/vars HTTP/1.1\r\n" + host + "\r\n", 404},
		{"POST /-/reload HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", 404},
		{"GET /metrics/ HTTP/1.1\r\n" + host + "\r\n", 404},
		{"GET /%2e%2e/metrics HTTP/1.1\r\n" + host + "\r\n", 404},
		{"GET /favicon.ico HTTP/1.1\r\n" + host + "\r\n", 404},
		{"GET /graph HTTP/1.1\r\n" + host + "\r\n", 200},
		{"HEAD /graph HTTP/1.1\r\n" + host + "\r\n", 200},
		{"POST /graph HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nreset", 405},
		{"PUT /graph HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", 405},
		{"GET /graph/ HTTP/1.1\r\n" + host + "\r\n", 404},
		{"GET /graph.svg HTTP/1.1\r\n" + host + "\r\n", 404},
	} {
		resp, body := rawRequest(t, port, c.req)
		line, _, _ := strings.Cut(c.req, "\r\n")
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d, want %d", line, resp.StatusCode, c.code)
		}
		if allow := resp.Header.Get("Allow"); (c.code == 405) != (allow == "GET, HEAD") {
			t.Errorf("%s: Allow: %q", line, allow)
		}
		graph := strings.Contains(line, " /graph ")
		answered := c.code == 200 && !strings.HasPrefix(line, "HEAD")
		served := strings.Contains(body, "gstreamer_pad_buffers_total")
		if served != (answered && !graph) {
			t.Errorf("%s: the answer holds the exposition: %v", line, served)
		}
		if drawn := strings.HasPrefix(body, "digraph "); drawn != (answered && graph) {
			t.Errorf("%s: the answer holds the graph: %v", line, drawn)
		}
	}

	// A gigabyte announced: the answer comes while the body is being sent.
	pid := h.cmd.Process.Pid
	rss0 := rss(t, pid)
	c, err := dialBuf(port, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /metrics HTTP/1.1\r\n"+host+"Content-Length: 1073741824\r\n\r\n")
	sent := make(chan int64)
	go func() {
		chunk := make([]byte, 64<<10)
		var n int64
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		for n < 1<<30 {
			w, err := c.Write(chunk)
			n += int64(w)
			if err != nil {
				break
			}
		}
		sent <- n
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a POST while its body is sent: %v", err)
	}
	if resp.StatusCode != 405 || !resp.Close || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST of 1 GB: %d, close %v, Allow %q; want 405, close, GET, HEAD", resp.StatusCode, resp.Close, resp.Header.Get("Allow"))
	}
	n := <-sent
	grew := rss(t, pid) - rss0
	t.Logf("POST of 1 GB: answered %d; the client could send %d KB; the host's RSS grew %d KB", resp.StatusCode, n>>10, grew)
	if n > 32<<20 {
		t.Errorf("the client sent %d MB of its body: the host read it", n>>20)
	}
	if grew > 8<<10 {
		t.Errorf("the host's RSS grew %d KB during a POST of 1 GB", grew)
	}

	_, after, _ := get(h.url)
	run := <-ran
	r := h.finish()
	fb, fa := parseExposition(t, before), parseExposition(t, after)
	for name := range fb {
		if fa[name] == nil || len(fa[name].Metric) != len(fb[name].Metric) {
			t.Errorf("family %s changed shape: %d series before, %d after", name, len(fb[name].GetMetric()), len(fa[name].GetMetric()))
		}
	}
	if run.Buffers != buffers {
		t.Errorf("%d buffers reached the sink, want %d", run.Buffers, buffers)
	}
	if got := counter(t, r, loadFamily, loadSeries); got != buffers {
		t.Errorf("tracer counted %v buffers at the sink, want %d", got, buffers)
	}
}
