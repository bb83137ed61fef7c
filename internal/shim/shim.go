// Package shim is all of gstscope's C and cgo: the plugin descriptor, the
// tracer GObject types, and the per-buffer hooks with their aggregates.
// Go enters from C only at tracer construction and finalization and when
// metrics are requested (export.go); it reads the aggregates through one
// snapshot call (snapshot.go).
package shim

/*
#cgo pkg-config: gstreamer-1.0
#cgo CFLAGS: -O2 -Wall -Wno-unused-parameter
*/
import "C"
