package shim

/*
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/gstscope/gstscope/internal/latency"
)

// The entry points C calls. Each runs on a GStreamer or application thread,
// so each recovers: a panic here would take the host application down.

var (
	mu     sync.Mutex
	active *latency.Tracer
)

//export gstscopeLatencyStart
func gstscopeLatencyStart(obj unsafe.Pointer, params *C.char) (flags C.int) {
	log := logger{obj}
	flags = C.int(latency.AllFlags)
	defer func() {
		if r := recover(); r != nil {
			log.Warn(fmt.Sprintf("starting the latency tracer failed: %v", r))
		}
	}()
	raw := ""
	if params != nil {
		raw = C.GoString(params)
	}
	cfg, warnings := latency.ParseConfig(parseParams(raw), os.Getenv)
	for _, w := range warnings {
		log.Warn(w)
	}
	mu.Lock()
	defer mu.Unlock()
	if active != nil {
		active.Stop()
	}
	active = latency.Start(cfg, snapshot, log)
	return C.int(cfg.Flags)
}

//export gstscopeLatencyStop
func gstscopeLatencyStop() {
	defer func() { _ = recover() }()
	mu.Lock()
	defer mu.Unlock()
	if active != nil {
		active.Stop()
		active = nil
	}
}

//export gstscopeLatencyMetrics
func gstscopeLatencyMetrics() (text *C.char) {
	defer func() {
		if r := recover(); r != nil {
			text = C.CString("")
		}
	}()
	mu.Lock()
	t := active
	mu.Unlock()
	if t == nil {
		return C.CString("")
	}
	return C.CString(t.Text())
}
