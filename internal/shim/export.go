package shim

/*
#include <stdlib.h>
#include <glib.h>
#include "scope.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/gstscope/gstscope/internal/graph"
	"github.com/gstscope/gstscope/internal/latency"
	"github.com/gstscope/gstscope/internal/pyroscope"
)

// The entry points C calls. Each runs on a GStreamer or application thread,
// so each recovers: a panic here would take the host application down.

var (
	mu     sync.Mutex
	active *latency.Tracer
	// The request-graph signal's view; the HTTP server has its own, so
	// that each consumer's rates cover the time since its own last graph.
	signalGraph *graph.View
)

//export gstscopeLatencyStart
func gstscopeLatencyStart(obj unsafe.Pointer, params *C.char) (flags C.int) {
	log := logger{obj}
	flags = C.int(latency.AllFlags)
	defer func() {
		if r := recover(); r != nil {
			log.Problem(fmt.Sprintf("starting the latency tracer failed: %v", r))
		}
	}()
	cfg, warnings := latency.ParseConfig(parseParams(goString(params)), os.Getenv)
	log.ProblemAll(warnings)
	mu.Lock()
	defer mu.Unlock()
	if active != nil {
		active.Stop()
	}
	active = latency.Start(cfg, snapshot, graph.NewView(snapshot).DOT, log)
	signalGraph = graph.NewView(snapshot)
	flags = C.int(cfg.Flags)
	if cfg.File != "" {
		flags |= C.SCOPE_FLAG_FILE
	}
	return flags
}

// gstscopeLatencyCheckpoint writes the metrics file: a sink got EOS, a
// pipeline is shutting down, or the process exits. Called on the thread
// that triggered it, which holds none of our locks.
//
//export gstscopeLatencyCheckpoint
func gstscopeLatencyCheckpoint() {
	defer func() { _ = recover() }()
	mu.Lock()
	defer mu.Unlock()
	if active != nil {
		active.Checkpoint()
	}
}

//export gstscopeLatencyStop
func gstscopeLatencyStop() {
	defer func() { _ = recover() }()
	mu.Lock()
	defer mu.Unlock()
	if active != nil {
		active.Stop()
		active = nil
		signalGraph = nil
	}
}

//export gstscopeLatencyMetrics
func gstscopeLatencyMetrics() (text *C.gchar) {
	defer func() {
		if r := recover(); r != nil {
			text = gString("")
		}
	}()
	mu.Lock()
	t := active
	mu.Unlock()
	if t == nil {
		return gString("")
	}
	return gString(t.Text())
}

//export gstscopeLatencyGraph
func gstscopeLatencyGraph() (text *C.gchar) {
	defer func() {
		if r := recover(); r != nil {
			text = gString("")
		}
	}()
	mu.Lock()
	v := signalGraph
	mu.Unlock()
	if v == nil {
		return gString("")
	}
	return gString(string(v.DOT()))
}

// gString copies s into memory from g_malloc, which the signal's caller
// frees with g_free: no C copy (and no C strlen) of what Go wrote.
func gString(s string) *C.gchar {
	p := C.g_malloc(C.gsize(len(s) + 1))
	b := unsafe.Slice((*byte)(p), len(s)+1)
	copy(b, s)
	b[len(s)] = 0
	return (*C.gchar)(p)
}

var (
	profMu sync.Mutex
	prof   *pyroscope.Tracer
)

// gstscopePyroscopeStart returns bit 0 set when profiling started and bit 1
// when the tracer should stop it at dispose.
//
//export gstscopePyroscopeStart
func gstscopePyroscopeStart(obj unsafe.Pointer, params *C.char) (res C.int) {
	log := logger{obj}
	defer func() {
		if r := recover(); r != nil {
			log.Problem(fmt.Sprintf("starting the pyroscope tracer failed: %v", r))
			res = 0
		}
	}()
	cfg, warnings := pyroscope.ParseConfig(parseParams(goString(params)), os.Getenv)
	log.ProblemAll(warnings)
	profMu.Lock()
	defer profMu.Unlock()
	if prof != nil {
		prof.Stop()
	}
	t, err := pyroscope.Start(cfg, newStacks(), log)
	if err != nil {
		log.Problem(fmt.Sprintf("cannot start profiling: %v", err))
		return 0
	}
	prof = t
	res = 1
	if cfg.StopOnDispose {
		res |= 2
	}
	return res
}

// gstscopePyroscopeStop flushes the last profile (at most 2 s) and stops.
//
//export gstscopePyroscopeStop
func gstscopePyroscopeStop() {
	defer func() { _ = recover() }()
	profMu.Lock()
	defer profMu.Unlock()
	if prof != nil {
		prof.Stop()
		prof = nil
	}
}
