// Package model reads the prometheus-latency-tracer's exposition (a scrape,
// the request-metrics signal's text, a GST_PROMETHEUS_TRACER_FILE) into one
// model that every view renders: the table, top and the pipeline graph.
//
// The family and label names are the constants in names.go, which the
// collector (internal/latency) uses to build its descriptors, so a name
// cannot drift between what is written and what is read. Pad families carry
// a direction label: a pad is an input because GStreamer says it is a sink
// pad, never because of its name (mp4mux's video_0, rtpbin's
// recv_rtp_sink_0).
//
// A Model holds each element's families generically (a histogram, or a
// counter or gauge value by family name, and pad counters summed by
// direction), so a family added to the collector is in the model without a
// change here; the accessors name the families the views show. Since gives
// the observations between two models (rates, quantiles of an interval),
// and Histogram has the one quantile rule of every view: Prometheus's
// histogram_quantile.
package model
