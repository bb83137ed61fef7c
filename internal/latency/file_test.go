package latency

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

type quietLog struct {
	mu       sync.Mutex
	problems []string
}

func (l *quietLog) Warn(string) {}
func (l *quietLog) Info(string) {}
func (l *quietLog) Problem(m string) {
	l.mu.Lock()
	l.problems = append(l.problems, m)
	l.mu.Unlock()
}

func buffers(pipeline string, n float64) *dto.Metric {
	return &dto.Metric{
		Label:   []*dto.LabelPair{{Name: proto.String("pipeline"), Value: proto.String(pipeline)}},
		Counter: &dto.Counter{Value: proto.Float64(n)},
	}
}

func family(ms ...*dto.Metric) []*dto.MetricFamily {
	return []*dto.MetricFamily{{Name: proto.String("gstreamer_pad_buffers_total"), Help: proto.String("Buffers."),
		Type: dto.MetricType_COUNTER.Enum(), Metric: ms}}
}

func readFile(t *testing.T, path string) map[string]float64 {
	t.Helper()
	got := readFileOrNil(path)
	if got == nil {
		t.Fatalf("%s is missing or does not parse", path)
	}
	return got
}

// A pipeline's series stay in the file after they are deleted, until a
// live pipeline of the same name replaces them.
func TestFileKeepsShutDownPipelines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	var live []*dto.MetricFamily
	w := startFileWriter(path, time.Hour, func() ([]*dto.MetricFamily, error) { return live, nil }, &quietLog{})
	defer w.close()

	live = family(buffers("a", 10), buffers("b", 5))
	w.write()
	live = family(buffers("b", 7))
	w.write()
	if got := readFile(t, path); got["a"] != 10 || got["b"] != 7 || len(got) != 2 {
		t.Errorf("file = %v, want a 10 (kept), b 7 (live)", got)
	}
	live = family(buffers("a", 1), buffers("b", 8))
	w.write()
	if got := readFile(t, path); got["a"] != 1 || got["b"] != 8 {
		t.Errorf("file = %v, want the live a 1 replacing the kept one", got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// The file is rewritten every interval, and a last time at close.
func TestFileInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	var mu sync.Mutex
	n := 0.0
	w := startFileWriter(path, 20*time.Millisecond, func() ([]*dto.MetricFamily, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return family(buffers("p", n)), nil
	}, &quietLog{})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && readFileOrNil(path)["p"] < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	w.close()
	mu.Lock()
	last := n
	mu.Unlock()
	if got := readFile(t, path)["p"]; got != last {
		t.Errorf("after close the file has %v, want the last gather's %v", got, last)
	}
}

func readFileOrNil(path string) map[string]float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		return nil
	}
	got := map[string]float64{}
	for _, m := range fams["gstreamer_pad_buffers_total"].GetMetric() {
		got[label(m, "pipeline")] = m.GetCounter().GetValue()
	}
	return got
}

// A file that cannot be written is one problem for the user, not one per
// write.
func TestFileUnwritable(t *testing.T) {
	log := &quietLog{}
	w := startFileWriter("/nonexistent-dir/m.prom", time.Hour, func() ([]*dto.MetricFamily, error) { return family(buffers("p", 1)), nil }, log)
	w.write()
	w.write()
	w.close()
	if len(log.problems) != 1 || !strings.Contains(log.problems[0], "cannot write metrics to /nonexistent-dir/m.prom") {
		t.Errorf("problems = %q, want one naming the file", log.problems)
	}
}
