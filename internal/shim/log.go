package shim

/*
#include "scope.h"
*/
import "C"

import (
	"os"
	"strings"
	"sync"
	"unsafe"
)

// logger writes into the GStreamer debug log, category "gstscope", on
// behalf of a tracer object.
type logger struct{ obj unsafe.Pointer }

func (l logger) log(level C.gint, msg string) {
	cs := C.CString(msg)
	defer C.free(unsafe.Pointer(cs))
	C.scope_log(level, C.gpointer(l.obj), cs)
}

func (l logger) Warn(msg string) { l.log(C.GST_LEVEL_WARNING, msg) }
func (l logger) Info(msg string) { l.log(C.GST_LEVEL_INFO, msg) }

// Problem is a problem with the user's configuration or surroundings (a bad
// parameter, a busy port, an unreachable server): a warning in the
// GStreamer log, and one line on stderr, "gstscope: ...", printed once per
// process whatever GST_DEBUG says, so that a mistake is never silent.
func (l logger) Problem(msg string) {
	l.Warn(msg)
	msg = "gstscope: " + strings.Join(strings.Fields(msg), " ")
	problemsMu.Lock()
	defer problemsMu.Unlock()
	if problems[msg] || len(problems) >= 100 {
		return
	}
	problems[msg] = true
	os.Stderr.WriteString(msg + "\n")
}

var (
	problemsMu sync.Mutex
	problems   = map[string]bool{}
)

// ProblemAll reports each message as a Problem.
func (l logger) ProblemAll(msgs []string) {
	for _, m := range msgs {
		l.Problem(m)
	}
}
