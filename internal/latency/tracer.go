package latency

import (
	"bytes"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/gstscope/gstscope/internal/server"
)

// Logger writes to the GStreamer debug log.
type Logger interface {
	Warn(msg string)
	Info(msg string)
	// Problem is a problem the user must see without GST_DEBUG (also
	// printed on stderr, once).
	Problem(msg string)
}

// Tracer is the running Go side of one prometheus-latency-tracer.
type Tracer struct {
	cfg  Config
	reg  *prometheus.Registry
	srv  *server.Server
	file *fileWriter
	log  Logger
}

// Start registers the collector and starts the HTTP server if a port is
// configured, serving graph at /graph. A server that cannot start is a
// warning; the tracer and its signals keep working.
func Start(cfg Config, snapshot func() *Snapshot, graph func() []byte, log Logger) *Tracer {
	t := &Tracer{cfg: cfg, reg: prometheus.NewRegistry(), log: log}
	log.Info(fmt.Sprintf("measuring flags=%v", cfg.Flags))
	t.reg.MustRegister(NewCollector(cfg.Flags, snapshot))
	if addr := cfg.Addr(); addr != "" {
		srv, err := server.Start(addr, t.reg, graph, log.Warn)
		if err != nil {
			log.Problem(fmt.Sprintf("cannot serve metrics on %s: %v; metrics are not served over HTTP (the request-metrics signal still works)", addr, err))
		} else {
			t.srv = srv
			log.Info("serving metrics on http://" + srv.Addr() + "/metrics")
		}
	}
	if cfg.File != "" {
		t.file = startFileWriter(cfg.File, cfg.FileInterval, t.reg.Gather, log)
		log.Info(fmt.Sprintf("writing metrics to %s every %v, at each EOS and at exit", cfg.File, cfg.FileInterval))
	}
	return t
}

// Checkpoint writes the file now, if there is one: a sink got EOS, or a
// pipeline is shutting down.
func (t *Tracer) Checkpoint() {
	if t.file != nil {
		t.file.write()
	}
}

// Text is the exposition the HTTP server would serve now.
func (t *Tracer) Text() string {
	mfs, err := t.reg.Gather()
	if err != nil {
		t.log.Warn("gathering metrics: " + err.Error())
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.log.Warn("encoding metrics: " + err.Error())
			break
		}
	}
	return buf.String()
}

// Stop shuts the HTTP server down, waiting at most a second for scrapes in
// flight so that the host's exit is not held up.
func (t *Tracer) Stop() {
	if t.srv != nil {
		t.srv.Stop(time.Second)
		t.srv = nil
	}
	if t.file != nil {
		t.file.close()
		t.file = nil
	}
}
