package latency

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// maxKept bounds how many pipelines the file remembers, live or gone.
const maxKept = 100

// fileWriter keeps the exposition in a file for jobs that end before anyone
// scrapes them (a transcode, a test run): rewritten every interval, when a
// sink gets EOS, when a pipeline shuts down and when the process ends. Each
// write is atomic, a temporary file renamed over the old one (node_exporter's
// textfile-collector convention), so a reader never sees half a file.
//
// A pipeline's series are deleted when its elements go (an application
// destroying it, or exiting without stopping it); the file keeps each
// pipeline's series as last written, until a live pipeline of the same name
// replaces them: what a batch job measured is still there after it ended.
// Writes at EOS and at shutdown (PAUSED to READY) catch a pipeline's last
// figures before its elements go.
type fileWriter struct {
	path   string
	gather func() ([]*dto.MetricFamily, error)
	log    Logger

	mu      sync.Mutex
	known   map[string][]*dto.MetricFamily // each pipeline's last series
	order   []string                       // pipelines, first seen first
	failing bool

	stop chan struct{}
	done chan struct{}
}

func startFileWriter(path string, every time.Duration, gather func() ([]*dto.MetricFamily, error), log Logger) *fileWriter {
	w := &fileWriter{path: path, gather: gather, log: log, known: map[string][]*dto.MetricFamily{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(every)
	return w
}

func (w *fileWriter) run(every time.Duration) {
	defer close(w.done)
	defer func() { _ = recover() }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			w.write()
		case <-w.stop:
			return
		}
	}
}

// write rewrites the file with the live series and those of pipelines
// that are gone.
func (w *fileWriter) write() {
	w.mu.Lock()
	defer w.mu.Unlock()
	live, err := w.gather()
	if err != nil {
		w.log.Warn("gathering metrics for " + w.path + ": " + err.Error())
	}
	w.remember(live)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range w.merge(live) {
		if err := enc.Encode(mf); err != nil {
			w.log.Warn("encoding metrics: " + err.Error())
			return
		}
	}
	if err := writeAtomic(w.path, buf.Bytes()); err != nil {
		if !w.failing {
			w.log.Problem(fmt.Sprintf("cannot write metrics to %s: %v", w.path, err))
		}
		w.failing = true
		return
	}
	if w.failing {
		w.log.Info("writing metrics to " + w.path + " again")
	}
	w.failing = false
}

// remember keeps each live pipeline's series.
func (w *fileWriter) remember(live []*dto.MetricFamily) {
	byPipeline := map[string][]*dto.MetricFamily{}
	for _, mf := range live {
		split := map[string]*dto.MetricFamily{}
		for _, m := range mf.Metric {
			p := label(m, "pipeline")
			if split[p] == nil {
				split[p] = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type}
				byPipeline[p] = append(byPipeline[p], split[p])
			}
			split[p].Metric = append(split[p].Metric, m)
		}
	}
	for p, fams := range byPipeline {
		if _, ok := w.known[p]; !ok {
			w.order = append(w.order, p)
		}
		w.known[p] = fams
	}
	for len(w.order) > maxKept {
		delete(w.known, w.order[0])
		w.order = w.order[1:]
	}
}

// merge adds to live the pipelines that have no live series any more.
func (w *fileWriter) merge(live []*dto.MetricFamily) []*dto.MetricFamily {
	alive := map[string]bool{}
	byName := map[string]*dto.MetricFamily{}
	out := make([]*dto.MetricFamily, 0, len(live))
	for _, mf := range live {
		for _, m := range mf.Metric {
			alive[label(m, "pipeline")] = true
		}
		c := &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Metric: append([]*dto.Metric(nil), mf.Metric...)}
		byName[mf.GetName()] = c
		out = append(out, c)
	}
	for _, p := range w.order {
		if alive[p] {
			continue
		}
		for _, mf := range w.known[p] {
			c := byName[mf.GetName()]
			if c == nil {
				c = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type}
				byName[mf.GetName()] = c
				out = append(out, c)
			}
			c.Metric = append(c.Metric, mf.Metric...)
		}
	}
	return out
}

// close writes the file a last time and stops the timer.
func (w *fileWriter) close() {
	close(w.stop)
	<-w.done
	w.write()
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, renamed over it.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
