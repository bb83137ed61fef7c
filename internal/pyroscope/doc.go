// Package pyroscope is the Go side of the pyroscope tracer: continuous CPU
// profiles whose frames are GStreamer elements, pushed to a Pyroscope server.
//
// The C hooks keep, for every streaming thread, a stack of the elements
// whose chain or getrange function it is inside, and the element whose task
// runs it. At the sample rate (with jitter, so that a periodic pipeline is
// not aliased) a sampler reads every thread's CPU clock and charges the CPU
// it used since the previous sample to what its stack shows at that moment:
//
//	pipeline0 -> queue0 -> videoconvert0 -> videoscale0
//
// Worker threads a codec library starts (they run no hook) are sampled for
// the instruction addresses they run, which name the plugin whose library
// they are in: their CPU goes to that plugin's element, under a frame named
// after the thread (workers.go, dso.go). Threads in no element (the
// application's, the tracer's own, worker threads nobody claims) are
// charged to a frame named after the thread, so a profile adds up to the
// CPU time of the whole process.
//
// Every upload interval the aggregated stacks become one pprof profile
// (github.com/google/pprof/profile, type process_cpu:cpu:nanoseconds) that
// the Pyroscope client's uploader sends to the server's ingest API. A server
// that is down, failing or hanging costs one warning per outage and a
// bounded number of dropped profiles, never the pipeline's time.
package pyroscope
