package shim

/*
#include "scope.h"
*/
import "C"

import (
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

// WarnAll writes one warning per message.
func (l logger) WarnAll(msgs []string) {
	for _, m := range msgs {
		l.Warn(m)
	}
}
