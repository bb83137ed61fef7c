// Package shim is all of gstscope's C and cgo: the plugin descriptor, the
// tracer GObject types, the per-buffer hooks with their aggregates, and the
// thread stacks the profiler samples. Go enters from C only at tracer
// construction, finalization and process exit and when metrics are
// requested (export.go); it reads the aggregates through one snapshot call
// (snapshot.go) and the thread stacks through one sample call (stacks.go).
package shim

/*
#cgo pkg-config: gstreamer-1.0
#cgo CFLAGS: -O2 -Wall -Wno-unused-parameter
#include <stdlib.h>
#include <string.h>
*/
import "C"

// goString copies a C string. C's strlen finds its end rather than Go's
// vectorized scan, which reads whole aligned words past the terminator:
// harmless, but memory checkers report it against our allocations.
func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoStringN(p, C.int(C.strlen(p)))
}
