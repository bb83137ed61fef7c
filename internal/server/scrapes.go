package server

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// scrapes shares gathers between concurrent requests, in rounds. A request
// joins the next round, one that starts after it arrived: no answer
// predates its request. Rounds run one at a time; each gathers once and
// encodes once per format its requests asked for; and after a round, the
// next waits at least minPause and (1/duty - 1) times the CPU time the
// round took (its thread's CPU clock: on a busy host the wall time of a
// round is mostly waiting for a core, which costs the host nothing).
// A crowd of scrapers thus costs the host at most duty of one core in
// gathering and encoding, and at most MaxConns answers per round, however
// many they are; a lone scraper waits for nothing.
//
// Graph requests join the same rounds: a round draws the graph once for
// all of them (and gathers only if a scrape is waiting too), and its time
// counts in the pacing like a gather's.
type scrapes struct {
	g     prometheus.Gatherer
	graph func() []byte // nil: no graph
	logf  func(string)
	duty  float64

	mu      sync.Mutex
	running bool   // a goroutine runs rounds
	next    *round // the round requests arriving now join
	warned  bool
	stopped bool // the server stopped: no more gathers
	rounds  int  // rounds run, for the tests
}

var errStopped = errors.New("the metrics server is stopping")

// Bounds of the pause between rounds: at most 20 rounds a second, so at
// most 20 × MaxConns answers a second; and after a slow gather, scrapers
// wait at most a second more.
const (
	minPause = 50 * time.Millisecond
	maxPause = time.Second
)

// round is one gather and its encodings.
type round struct {
	want    map[encoding]bool // set before the round starts
	waiters int               // requests that joined it
	done    chan struct{}     // closed when the fields below are set
	mfs     []*dto.MetricFamily
	err     error
	body    map[encoding][]byte
	errs    map[encoding]error
	dot     []byte // the graph, if a request asked for it
	dotErr  error
}

// encoding is an answer's form: the exposition in a format, or the graph
// (format unset); gzipped or not.
type encoding struct {
	format expfmt.Format
	gzip   bool
	graph  bool
}

// join returns the round that will answer a request arriving now in
// encoding e, and starts running rounds if none are.
func (s *scrapes) join(e encoding) *round {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = &round{want: map[encoding]bool{}, done: make(chan struct{})}
	}
	r := s.next
	r.want[e] = true
	r.waiters++
	if !s.running {
		s.running = true
		go s.run()
	}
	return r
}

// run runs rounds until one finds no request waiting, on one thread, whose
// CPU clock measures what each round cost.
func (s *scrapes) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var notBefore time.Time
	for {
		time.Sleep(time.Until(notBefore))
		s.mu.Lock()
		r, stopped := s.next, s.stopped
		s.next = nil
		s.running = r != nil
		if r != nil {
			s.rounds++
		}
		s.mu.Unlock()
		if r == nil {
			return
		}
		if stopped {
			r.err, r.dotErr = errStopped, errStopped
			close(r.done)
			continue
		}
		start, cpu := time.Now(), threadCPU()
		s.gather(r)
		close(r.done)
		took := time.Since(start)
		if c := threadCPU(); cpu > 0 && c > cpu {
			took = min(took, c-cpu)
		}
		pause := time.Duration(float64(took) * (1/s.duty - 1))
		notBefore = time.Now().Add(min(max(pause, minPause), maxPause))
	}
}

// threadCPU is the calling thread's CPU time, 0 if unknown.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func (s *scrapes) gather(r *round) {
	r.body, r.errs = map[encoding][]byte{}, map[encoding]error{}
	var metrics, graph bool
	for e := range r.want {
		metrics, graph = metrics || !e.graph, graph || e.graph
	}
	if graph {
		s.draw(r)
	}
	if metrics {
		s.gatherMetrics(r)
	}
	for e := range r.want {
		// What could not be collected is left out, as promhttp's
		// ContinueOnError does; nothing at all is an error.
		if e.graph || r.err == nil || len(r.mfs) > 0 {
			r.body[e], r.errs[e] = r.encode(e)
		}
	}
}

func (s *scrapes) gatherMetrics(r *round) {
	defer func() {
		if p := recover(); p != nil {
			r.mfs, r.err = nil, fmt.Errorf("gathering metrics panicked: %v", p)
		}
		if r.err != nil {
			s.warnOnce(r.err)
		}
	}()
	r.mfs, r.err = s.g.Gather()
}

func (s *scrapes) draw(r *round) {
	defer func() {
		if p := recover(); p != nil {
			r.dot, r.dotErr = nil, fmt.Errorf("drawing the graph panicked: %v", p)
			s.warnOnce(r.dotErr)
		}
	}()
	r.dot = s.graph()
}

// stop makes the rounds still to come fail instead of gathering: a
// stopped tracer is not read again.
func (s *scrapes) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// warnOnce logs the first gather error: under load the same error would
// otherwise be logged a hundred times a second.
func (s *scrapes) warnOnce(err error) {
	s.mu.Lock()
	first := !s.warned
	s.warned = true
	s.mu.Unlock()
	if first {
		s.logf("gathering metrics: " + err.Error())
	}
}

// result is the answer to a request of the round in encoding e.
func (r *round) result(e encoding) ([]byte, error) {
	if e.graph {
		if r.dotErr != nil {
			return nil, r.dotErr
		}
		return r.body[e], r.errs[e]
	}
	if r.err != nil && len(r.mfs) == 0 {
		return nil, r.err
	}
	return r.body[e], r.errs[e]
}

func (r *round) encode(e encoding) ([]byte, error) {
	if e.gzip {
		plain, err := r.encode(encoding{format: e.format, graph: e.graph})
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(plain)
		err = zw.Close()
		return buf.Bytes(), err
	}
	if e.graph {
		return r.dot, r.dotErr
	}
	if b, ok := r.body[e]; ok {
		return b, nil
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, e.format)
	for _, mf := range r.mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("encoding metrics: %w", err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			return nil, fmt.Errorf("encoding metrics: %w", err)
		}
	}
	r.body[e] = buf.Bytes()
	return buf.Bytes(), nil
}
