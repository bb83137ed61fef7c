package pyroscope

import (
	"os"
	"slices"
	"strings"
	"time"
)

// IP is an instruction address where a worker thread's CPU timer caught it.
type IP struct {
	TID  int32
	Addr uint64
}

// Workers samples threads that run no GStreamer hook: the threads codec
// libraries start for themselves (x264's and libav's frame threads,
// libvpx's). The shim's Stacks implements it; the sampler uses it when
// present.
type Workers interface {
	// Arm starts recording where thread tid runs: its CPU timer's signal
	// notes the instruction address it interrupts. False if it cannot.
	Arm(tid int32) bool
	// IPs appends the addresses recorded since the last call to buf.
	IPs(buf []IP) []IP
	// Charge adds ns to the element's CPU counter; false if the element
	// is gone.
	Charge(f Frame, ns uint64) bool
	// Plugins lists the loaded GStreamer plugins.
	Plugins() []Plugin
	// FactoryPlugin is the name of the plugin that provides the element
	// factory, "" if unknown.
	FactoryPlugin(factory string) string
}

const (
	// seenFor is how long an element stays a candidate owner of worker
	// threads after it was last on a streaming thread's stack.
	seenFor = 10 * time.Second
	// streamingFor is how long a streaming thread's name, which the
	// threads it creates inherit, marks other threads of that name as
	// worker threads to sample.
	streamingFor = 30 * time.Second
	// holdFor is how long the CPU of a worker thread not yet attributed
	// waits for its first telling sample before it goes to thread:<name>.
	holdFor = 2 * time.Second
	// armEvery spaces the attempts to arm a thread's timer.
	armEvery = time.Second
)

// worker is what the sampler knows of one thread that runs no hook but
// carries a streaming thread's name.
type worker struct {
	name    string
	armed   bool
	tried   time.Time      // the last attempt to arm it
	votes   map[string]int // plugin -> samples in its code
	plugin  string         // the plugin with the most votes
	pending uint64         // CPU ns not yet attributed
	since   time.Time      // when pending started
	step    uint64         // the last step that listed it
}

// seenElem is an element seen on the stacks of streaming threads, with the
// CPU charged to stacks holding it, in all and per thread name.
type seenElem struct {
	last   time.Time
	ns     uint64
	byName map[string]uint64
	// paths: the stacks that reach the element (it last), by CPU; its
	// workers are drawn under the one with the most.
	paths map[string]*seenPath
}

type seenPath struct {
	frames []Frame
	ns     uint64
}

// maxPaths bounds the stacks kept per element (an element under a tee
// reached through many branches); the least used goes first.
const maxPaths = 16

// workers attributes the CPU of worker threads to the element whose codec
// runs in them. Worker threads inherit the name of the streaming thread that
// created them, so only threads named like a streaming thread are sampled
// (which keeps the application's threads and Go's out). Each sample's
// address votes for the plugin whose code it is in (its own file, or a
// library only it links); a thread belongs to the plugin with the most
// votes, and all its CPU, its time in the C library included, to that
// plugin's element: among the elements of that plugin on the streaming
// threads' stacks, the one most seen on the stacks of the threads whose name
// it carries. Threads no plugin claims stay thread:<name>.
type workers struct {
	w         Workers
	libs      *libraries
	pid       int32
	threads   map[int32]*worker
	seen      map[Frame]*seenElem
	streaming map[string]time.Time // streaming threads' names, last seen
	factories map[string]string    // element factory -> plugin
	ips       []IP
	steps     uint64
	key       strings.Builder
	// lookups allows asking GStreamer (Plugins, FactoryPlugin): not in the
	// last sample, which may run while gst_deinit() disposes the tracer.
	lookups bool
}

func newWorkers(w Workers) *workers {
	return &workers{
		w: w, libs: newLibraries(w.Plugins), pid: int32(os.Getpid()),
		threads: map[int32]*worker{}, seen: map[Frame]*seenElem{},
		streaming: map[string]time.Time{}, factories: map[string]string{},
	}
}

// step follows one sample: threads and charges as Stacks.Read returned
// them. It takes the CPU of the worker threads it knows (zeroing their
// Other) and charges it to p; p nil is the baseline, which charges nothing.
func (ws *workers) step(now time.Time, p *period, threads []Thread, charges []Charge, final bool,
	name func(int32) string) {
	ws.lookups = !final
	ws.libs.frozen = final
	for _, c := range charges {
		if len(c.Frames) == 0 {
			continue
		}
		n := name(c.TID)
		ws.key.Reset()
		for i, f := range c.Frames {
			se := ws.seen[f]
			if se == nil {
				se = &seenElem{byName: map[string]uint64{}, paths: map[string]*seenPath{}}
				ws.seen[f] = se
			}
			se.last = now
			se.ns += c.NS
			se.byName[n] += c.NS
			ws.key.WriteString(f.Pipeline)
			ws.key.WriteByte(0)
			ws.key.WriteString(f.Element)
			ws.key.WriteByte(0)
			se.addPath(ws.key.String(), c.Frames[:i+1], c.NS)
		}
	}
	for i := range threads {
		if th := &threads[i]; th.Streams && !th.Gone {
			ws.streaming[name(th.TID)] = now
		}
	}
	ws.prune(now)

	ws.steps++
	for i := range threads {
		th := &threads[i]
		w := ws.threads[th.TID]
		if w != nil && (th.Gone || th.Reborn || th.Hooked) {
			// It exited, or runs hooks now (a task thread's stacks say
			// where its CPU goes), or its id is a new thread's.
			ws.flush(p, w, 0, now, true)
			delete(ws.threads, th.TID)
			w = nil
		}
		if th.Gone || th.Hooked || th.TID == ws.pid {
			continue
		}
		if w == nil {
			if th.Other == 0 {
				continue // idle: not worth reading its name
			}
			n := name(th.TID)
			if _, ok := ws.streaming[n]; !ok {
				continue
			}
			w = &worker{name: n, votes: map[string]int{}}
			ws.threads[th.TID] = w
		} else {
			w.name = name(th.TID)
		}
		w.step = ws.steps
		w.armed = th.Armed
		if !w.armed && (w.tried.IsZero() || now.Sub(w.tried) >= armEvery || now.Before(w.tried)) {
			w.tried = now
			w.armed = ws.w.Arm(th.TID)
		}
	}

	// A thread that exited between two listings is not listed again.
	for tid, w := range ws.threads {
		if w.step != ws.steps {
			ws.flush(p, w, 0, now, true)
			delete(ws.threads, tid)
		}
	}

	ws.ips = ws.w.IPs(ws.ips[:0])
	for _, ip := range ws.ips {
		if w := ws.threads[ip.TID]; w != nil {
			if pl := ws.libs.pluginOf(ip.Addr, now); pl != "" {
				w.vote(pl)
			}
		}
	}

	for i := range threads {
		th := &threads[i]
		w := ws.threads[th.TID]
		if w == nil || th.Hooked || th.Gone {
			continue
		}
		ns := th.Other
		th.Other = 0
		if p == nil {
			continue // the baseline: CPU used before profiling is dropped
		}
		ws.flush(p, w, ns, now, final)
	}
}

// vote counts one sample in plugin's code; the thread belongs to the plugin
// with the most (a tie keeps the current one).
func (w *worker) vote(plugin string) {
	w.votes[plugin]++
	if w.plugin == "" || w.votes[plugin] > w.votes[w.plugin] {
		w.plugin = plugin
	}
}

// flush charges the thread's pending CPU plus ns to its element if it has
// one; otherwise holds it for up to holdFor (all of it goes, with force, to
// thread:<name>).
func (ws *workers) flush(p *period, w *worker, ns uint64, now time.Time, force bool) {
	w.pending += ns
	if w.pending == 0 || p == nil {
		w.pending = 0
		return
	}
	if f, ok := ws.owner(w); ok {
		p.addWorker(ws.seen[f].path(f), w.pending)
		if !ws.w.Charge(f, w.pending) {
			delete(ws.seen, f)
		}
		w.pending, w.since = 0, time.Time{}
		return
	}
	if w.since.IsZero() {
		w.since = now
	}
	if force || now.Sub(w.since) >= holdFor || now.Before(w.since) {
		p.addThread(w.name, w.pending)
		w.pending, w.since = 0, time.Time{}
	}
}

// owner is the element the thread's CPU belongs to: of the elements of its
// plugin seen lately, the one most seen on the stacks of the streaming
// threads whose name it carries, else the one most seen anywhere.
func (ws *workers) owner(w *worker) (Frame, bool) {
	if w.plugin == "" {
		return Frame{}, false
	}
	var best Frame
	var bestName, bestAll uint64
	found := false
	for f, se := range ws.seen {
		if ws.factoryPlugin(f.Factory) != w.plugin {
			continue
		}
		byName := se.byName[w.name]
		better := !found || byName > bestName || byName == bestName && (se.ns > bestAll ||
			se.ns == bestAll && frameLess(f, best))
		if better {
			best, bestName, bestAll, found = f, byName, se.ns, true
		}
	}
	return best, found
}

func (se *seenElem) addPath(key string, frames []Frame, ns uint64) {
	if sp := se.paths[key]; sp != nil {
		sp.ns += ns
		return
	}
	if len(se.paths) >= maxPaths {
		var least string
		for k, sp := range se.paths {
			if least == "" || sp.ns < se.paths[least].ns || sp.ns == se.paths[least].ns && k < least {
				least = k
			}
		}
		delete(se.paths, least)
	}
	se.paths[key] = &seenPath{frames: slices.Clone(frames), ns: ns}
}

// path is the stack that reaches the element with the most CPU (ties: the
// first in key order), or the element alone.
func (se *seenElem) path(f Frame) []Frame {
	var best string
	for k, sp := range se.paths {
		if best == "" || sp.ns > se.paths[best].ns || sp.ns == se.paths[best].ns && k < best {
			best = k
		}
	}
	if best == "" {
		return []Frame{f}
	}
	return se.paths[best].frames
}

func frameLess(a, b Frame) bool {
	if c := strings.Compare(a.Pipeline, b.Pipeline); c != 0 {
		return c < 0
	}
	return a.Element < b.Element
}

func (ws *workers) factoryPlugin(factory string) string {
	if pl, ok := ws.factories[factory]; ok || !ws.lookups {
		return pl
	}
	pl := ws.w.FactoryPlugin(factory)
	if len(ws.factories) >= maxNames {
		clear(ws.factories)
	}
	ws.factories[factory] = pl
	return pl
}

// prune forgets elements not seen for seenFor and streaming names not seen
// for streamingFor.
func (ws *workers) prune(now time.Time) {
	for f, se := range ws.seen {
		if now.Sub(se.last) > seenFor {
			delete(ws.seen, f)
		}
	}
	for n, at := range ws.streaming {
		if now.Sub(at) > streamingFor {
			delete(ws.streaming, n)
		}
	}
}

// maxNames bounds the caches keyed by names an application may create
// forever.
const maxNames = 4096
