// Package server serves Prometheus metrics over HTTP from inside a host
// process: read-only, GET and HEAD only, on "/" and "/metrics", and the
// pipeline graph on "/graph". Whatever
// clients do, the host must not notice: every connection has deadlines,
// connections are capped, and concurrent scrapes share one gather.
package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Deadlines and limits. A scraper sends its request at once and reads the
// answer at once; a client that does neither is stalled or hostile.
const (
	// ReadHeaderTimeout bounds the time from accepting a connection (or,
	// on a kept-alive one, from the first byte of the next request) to the
	// end of the request's headers: slowloris clients are cut here.
	ReadHeaderTimeout = 5 * time.Second
	// WriteTimeout bounds the time from the end of the headers to the end
	// of the response, waiting for the gather included. It is Prometheus's
	// default scrape_timeout: a scraper has given up by then anyway.
	WriteTimeout = 10 * time.Second
	// GatherTimeout bounds the wait for a gather; then the answer is 503.
	GatherTimeout = WriteTimeout / 2
	// IdleTimeout closes kept-alive connections between requests. It is
	// longer than Prometheus's default one-minute scrape interval, and idle
	// connections give way to new ones when the server is full.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's headers (a scrape's are a few
	// hundred bytes); more is answered 431.
	MaxHeaderBytes = 8 << 10
	// GatherDuty is the share of one core that a crowd of scrapers can make
	// the server spend gathering and encoding (see scrapes).
	GatherDuty = 0.05
	// MaxConns bounds the open connections, each a file descriptor of the
	// host. More wait in the kernel's accept queue.
	MaxConns = 32
)

// limits are the constants above, shortened by the unit tests.
type limits struct {
	readHeader, write, gather, idle time.Duration
	gatherDuty                      float64
	maxHeaderBytes, maxConns        int
}

var defaultLimits = limits{ReadHeaderTimeout, WriteTimeout, GatherTimeout, IdleTimeout,
	GatherDuty, MaxHeaderBytes, MaxConns}

// Server is a running metrics endpoint.
type Server struct {
	srv     *http.Server
	ln      *limitListener
	scrapes *scrapes
	lim     limits
	done    chan struct{}
}

// Start listens on addr and serves g, and graph's DOT text at /graph
// (graph nil: 404 there). A bind error is returned at once (a busy port
// must not go unnoticed); errors after that go to logf.
func Start(addr string, g prometheus.Gatherer, graph func() []byte, logf func(string)) (*Server, error) {
	return start(addr, g, graph, logf, defaultLimits)
}

func start(addr string, g prometheus.Gatherer, graph func() []byte, logf func(string), lim limits) (*Server, error) {
	inner, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ln := newLimitListener(inner, lim.maxConns)
	s := &Server{
		ln:      ln,
		scrapes: &scrapes{g: g, graph: graph, logf: logf, duty: lim.gatherDuty},
		lim:     lim,
		done:    make(chan struct{}),
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: lim.readHeader,
		ReadTimeout:       lim.readHeader, // bodies are never read
		WriteTimeout:      lim.write,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    lim.maxHeaderBytes,
		ConnState:         ln.connState,
		// "OPTIONS *" would otherwise get a 200 from net/http itself.
		DisableGeneralOptionsHandler: true,
		// net/http's own complaints go to the GStreamer log, not to the
		// host's stderr, and at most one a second.
		ErrorLog: log.New(&rateLimited{logf: logf, every: time.Second}, "metrics server: ", 0),
	}
	go func() {
		defer close(s.done)
		defer func() {
			if r := recover(); r != nil {
				logf(fmt.Sprintf("metrics server stopped after a panic: %v", r))
			}
		}()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("metrics server stopped: " + err.Error())
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop closes the listener and waits up to timeout for requests in flight.
func (s *Server) Stop(timeout time.Duration) {
	s.scrapes.stop()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}

// GraphType is the Content-Type of /graph: Graphviz DOT text.
const GraphType = "text/vnd.graphviz; charset=utf-8"

// ServeHTTP answers GET and HEAD on / and /metrics with the exposition and
// on /graph with the graph, 404 elsewhere and 405 to any other method. A
// request body is never read: the connection is closed after the answer
// instead. The graph goes through the same rounds as the exposition, so it
// shares their pacing and their deadline.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
	graph := r.URL.Path == "/graph" && s.scrapes.graph != nil
	if r.URL.Path != "/" && r.URL.Path != "/metrics" && !graph {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	e := encoding{gzip: acceptsGzip(r.Header), graph: graph}
	if !graph {
		e.format = expfmt.Negotiate(r.Header)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.lim.gather)
	defer cancel()
	rd := s.scrapes.join(e)
	select {
	case <-rd.done:
	case <-ctx.Done():
		if r.Context().Err() == nil {
			http.Error(w, fmt.Sprintf("metrics not gathered within %v", s.lim.gather), http.StatusServiceUnavailable)
		}
		return
	}
	body, err := rd.result(e)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if graph {
		h.Set("Content-Type", GraphType)
		h.Set("Vary", "Accept-Encoding")
	} else {
		h.Set("Content-Type", string(e.format))
		h.Set("Vary", "Accept, Accept-Encoding")
	}
	if e.gzip {
		h.Set("Content-Encoding", "gzip")
	}
	w.Write(body)
}

// acceptsGzip is whether Accept-Encoding lists gzip with a non-zero q.
func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !ok {
				return true
			}
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
	}
	return false
}

// rateLimited passes at most one line per period to logf and drops the
// rest: a flood of connection errors must not become a flood of log lines.
type rateLimited struct {
	mu    sync.Mutex
	logf  func(string)
	every time.Duration
	last  time.Time
}

func (l *rateLimited) Write(p []byte) (int, error) {
	l.mu.Lock()
	now := time.Now()
	pass := now.Sub(l.last) >= l.every
	if pass {
		l.last = now
	}
	l.mu.Unlock()
	if pass {
		l.logf(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
