package pyroscope

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/pyroscope-go/upstream"
)

// fakeLog collects what the tracer would write to the GStreamer log.
type fakeLog struct {
	mu          sync.Mutex
	warns, info []string
}

func (l *fakeLog) Warn(msg string)    { l.mu.Lock(); l.warns = append(l.warns, msg); l.mu.Unlock() }
func (l *fakeLog) Info(msg string)    { l.mu.Lock(); l.info = append(l.info, msg); l.mu.Unlock() }
func (l *fakeLog) Problem(msg string) { l.Warn(msg) }

func (l *fakeLog) get() (warns, info []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.warns), slices.Clone(l.info)
}

func (l *fakeLog) all() []string {
	w, i := l.get()
	return append(w, i...)
}

func testJob() *upstream.UploadJob {
	return &upstream.UploadJob{
		Name:      "app",
		StartTime: time.Unix(1700000000, 0),
		EndTime:   time.Unix(1700000010, 0),
		Format:    upstream.FormatPprof,
		Profile:   []byte("x"),
	}
}

func startUploader(t *testing.T, cfg Config) (*uploader, *fakeLog) {
	t.Helper()
	if cfg.UploadInterval == 0 {
		cfg.UploadInterval = MinUploadInterval
	}
	log := &fakeLog{}
	u, err := newUploader(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return u, log
}

// uploadAll queues n profiles and waits until every one was answered.
func uploadAll(u *uploader, n int) {
	for range n {
		u.upload(testJob())
	}
	u.remote.Flush()
}

func wantMessages(t *testing.T, kind string, got []string, want ...[]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s messages = %q, want %d", kind, got, len(want))
	}
	for i, subs := range want {
		for _, s := range subs {
			if !strings.Contains(got[i], s) {
				t.Errorf("%s message %q lacks %q", kind, got[i], s)
			}
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	for _, c := range []struct{ interval, want time.Duration }{
		{time.Second, 2 * time.Second},
		{5 * time.Second, 5 * time.Second},
		{DefaultUploadInterval, 10 * time.Second},
		{MaxUploadInterval, 10 * time.Second},
	} {
		if got := requestTimeout(c.interval); got != c.want {
			t.Errorf("requestTimeout(%v) = %v, want %v", c.interval, got, c.want)
		}
	}
}

// An outage is one warning when it starts and one message when it ends,
// however many profiles it cost; the next outage warns again.
func TestUploaderOutageReportedOnce(t *testing.T) {
	var fail atomic.Bool
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/ingest" {
			t.Errorf("request to %s, want /ingest", r.URL.Path)
		}
		if fail.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	u, log := startUploader(t, Config{ServerURL: srv.URL})
	defer u.stop(time.Second)

	uploadAll(u, 1)
	fail.Store(true)
	uploadAll(u, 3)
	warns, info := log.get()
	wantMessages(t, "warning", warns, []string{"cannot upload profiles", srv.URL, "500 Internal Server Error"})
	wantMessages(t, "info", info)

	fail.Store(false)
	uploadAll(u, 2)
	warns, info = log.get()
	wantMessages(t, "warning", warns, []string{"cannot upload profiles"})
	wantMessages(t, "info", info, []string{"again", srv.URL, "3 were dropped"})

	fail.Store(true)
	uploadAll(u, 1)
	fail.Store(false)
	uploadAll(u, 1)
	warns, info = log.get()
	wantMessages(t, "warning", warns, []string{"cannot upload profiles"}, []string{"cannot upload profiles"})
	wantMessages(t, "info", info, []string{"3 were dropped"}, []string{"1 were dropped"})
	if n := requests.Load(); n != 8 {
		t.Errorf("server got %d requests, want 8", n)
	}
}

func TestUploaderConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	u, log := startUploader(t, Config{ServerURL: "http://" + addr})
	defer u.stop(time.Second)

	uploadAll(u, 4)
	warns, info := log.get()
	wantMessages(t, "warning", warns, []string{"cannot upload profiles", addr, "connection refused"})
	wantMessages(t, "info", info)
	// The request URL says nothing the server part does not.
	if strings.Contains(warns[0], "/ingest") {
		t.Errorf("warning %q shows the request URL", warns[0])
	}
}

// hangingServer accepts requests and answers none until the test ends or
// the client gives up; got receives one value per request.
func hangingServer(t *testing.T) (srv *httptest.Server, got chan struct{}) {
	release := make(chan struct{})
	got = make(chan struct{}, 100)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, got
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func receive(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestUploaderStopAbandonsHangingServer(t *testing.T) {
	srv, got := hangingServer(t)
	u, log := startUploader(t, Config{ServerURL: srv.URL})
	u.upload(testJob())
	receive(t, got, "the request")

	start := time.Now()
	u.stop(300 * time.Millisecond)
	if d := time.Since(start); d < 300*time.Millisecond || d > time.Second {
		t.Errorf("stop took %v, want 300ms to 1s", d)
	}
	// The cancelled request fails after stop; it is counted, not reported.
	waitFor(t, "the cancelled request", func() bool {
		u.mu.Lock()
		defer u.mu.Unlock()
		return u.dropped == 1
	})
	warns, info := log.get()
	wantMessages(t, "warning", warns, []string{"the last profiles did not reach", srv.URL, "300ms", "dropped"})
	wantMessages(t, "info", info)
}

// A flush that completes in time stops without a warning.
func TestUploaderStopFlushes(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer srv.Close()
	u, log := startUploader(t, Config{ServerURL: srv.URL})
	for range 5 {
		u.upload(testJob())
	}
	u.stop(5 * time.Second)
	if n := requests.Load(); n != 5 {
		t.Errorf("server got %d requests before stop returned, want 5", n)
	}
	if msgs := log.all(); len(msgs) != 0 {
		t.Errorf("messages = %q, want none", msgs)
	}
}

// A server slower than the profiles come costs one warning, not one per
// profile the full queue drops.
func TestUploaderQueueFull(t *testing.T) {
	srv, got := hangingServer(t)
	u, log := startUploader(t, Config{ServerURL: srv.URL})
	u.upload(testJob())
	receive(t, got, "the first request")
	for range 20 + 3 { // the queue holds 20
		u.upload(testJob())
	}
	warns, _ := log.get()
	wantMessages(t, "warning", warns, []string{"cannot upload profiles", "queue is full"})
	u.mu.Lock()
	dropped := u.dropped
	u.mu.Unlock()
	if dropped != 3 {
		t.Errorf("dropped = %d, want 3", dropped)
	}
	u.stop(10 * time.Millisecond)
}

func TestUploaderAuthHeaders(t *testing.T) {
	type seen struct{ user, pass, tenant string }
	reqs := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		reqs <- seen{user, pass, r.Header.Get("X-Scope-OrgID")}
	}))
	defer srv.Close()
	u, log := startUploader(t, Config{ServerURL: srv.URL, User: "alice", Password: "s3cret", TenantID: "tenant-1"})
	defer u.stop(time.Second)
	uploadAll(u, 1)
	if got, want := <-reqs, (seen{"alice", "s3cret", "tenant-1"}); got != want {
		t.Errorf("server saw %+v, want %+v", got, want)
	}
	if msgs := log.all(); len(msgs) != 0 {
		t.Errorf("messages = %q, want none", msgs)
	}
}

// rawServer answers every request with the given status line, which the
// client reports as the reason of the failure.
func rawServer(t *testing.T, status string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status)
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestUploaderHidesPassword(t *testing.T) {
	const secret = "s3cret"
	srv := rawServer(t, "500 bad password s3cret for alice")
	// The password is also in the URL, as a user might have written it.
	url := strings.Replace(srv.URL, "http://", "http://alice:"+secret+"@", 1)
	u, log := startUploader(t, Config{ServerURL: url, User: "alice", Password: secret})
	uploadAll(u, 2)
	u.stop(time.Second)
	warns, info := log.get()
	wantMessages(t, "warning", warns, []string{"cannot upload profiles", "alice:xxxxx@", "500 bad password xxxxx for alice"})
	wantMessages(t, "info", info)
	for _, m := range log.all() {
		if strings.Contains(m, secret) {
			t.Errorf("message shows the password: %q", m)
		}
	}
}

// A redirect would carry the credentials to another server.
func TestUploaderDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	u, log := startUploader(t, Config{ServerURL: srv.URL, User: "alice", Password: "s3cret"})
	uploadAll(u, 2)
	u.stop(time.Second)
	if n := followed.Load(); n != 0 {
		t.Errorf("redirect followed %d times", n)
	}
	warns, _ := log.get()
	wantMessages(t, "warning", warns, []string{"cannot upload profiles", "307 Temporary Redirect"})
}
