// Command gstscope is the GStreamer plugin library libgstscope.so, built with
// -buildmode=c-shared. All of it is in internal/shim; main is required by
// the build mode and never runs.
package main

import _ "github.com/gstscope/gstscope/internal/shim"

func main() {}
