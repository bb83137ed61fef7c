package model

// The families of the prometheus-latency-tracer's exposition, shared by the
// collector that writes them and the views that read them.
const (
	Namespace = "gstreamer"

	ElementProcessing  = Namespace + "_element_processing_seconds"
	ElementLatency     = Namespace + "_element_latency_seconds"
	ElementLatencyLast = Namespace + "_element_latency_last_seconds"
	ElementReportedMin = Namespace + "_element_reported_latency_min_seconds"
	ElementReportedMax = Namespace + "_element_reported_latency_max_seconds"
	ElementCPU         = Namespace + "_element_cpu_seconds_total"
	PipelineLatency    = Namespace + "_pipeline_latency_seconds"
	PadBuffers         = Namespace + "_pad_buffers_total"
	PadBytes           = Namespace + "_pad_bytes_total"

	// Flow health (docs/flow-health.md): drops, a sink's lateness, queue
	// levels and backpressure.
	ElementDropped    = Namespace + "_element_dropped_buffers_total"
	SinkLateness      = Namespace + "_sink_lateness_seconds"
	QueueLevelBuffers = Namespace + "_queue_level_buffers"
	QueueLevelBytes   = Namespace + "_queue_level_bytes"
	QueueLevelSeconds = Namespace + "_queue_level_seconds"
	QueueBlocked      = Namespace + "_queue_blocked_seconds_total"
)

// Label names.
const (
	LabelPipeline  = "pipeline"
	LabelElement   = "element"
	LabelFactory   = "factory"
	LabelPad       = "pad"
	LabelDirection = "direction"
	LabelSource    = "source"
	LabelSink      = "sink"
	// LabelQueue names one queue of a queue element by its pads: "sink:src",
	// or a multiqueue's "sink_0:src_0".
	LabelQueue = "queue"
)

// The values of LabelDirection: GStreamer's GST_PAD_SINK (an input of its
// element) and GST_PAD_SRC (an output).
const (
	DirSink = "sink"
	DirSrc  = "src"
)
