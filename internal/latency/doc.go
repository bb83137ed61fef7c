// Package latency is the Go half of the prometheus-latency-tracer: it parses
// the tracer's parameters and environment, turns the C hooks' aggregates
// into Prometheus metrics at scrape time, and serves them.
//
// Nothing here runs per buffer. The hooks in internal/shim keep counters and
// histograms in C; a Snapshot is one copy of them, taken when someone asks
// (an HTTP scrape or the request-metrics signal).
package latency
