package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A batch job (a transcode run by gst-launch-1.0, gone when it ends) leaves
// its figures in GST_PROMETHEUS_TRACER_FILE: a lint-clean exposition whose
// counts are the buffers the job sent, which gstscope-report renders.
func TestBatchJobFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "job.prom")
	env := append(withoutDebug(gstEnv(t, "prometheus-latency-tracer")), "GST_PROMETHEUS_TRACER_FILE="+file)
	l := gstLaunch(t, env, 0, strings.Fields(fmt.Sprintf("-q videotestsrc num-buffers=60 ! video/x-raw,width=320,height=240 "+
		"! x264enc speed-preset=ultrafast ! h264parse ! mp4mux ! filesink location=%s", filepath.Join(dir, "out.mp4")))...)
	if l.code != 0 || len(problemLines(l.out)) != 0 {
		t.Fatalf("exit code %d:\n%s", l.code, tail(l.out))
	}
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the job left no file: %v", err)
	}
	lint := exec.Command("promtool", "check", "metrics")
	lint.Stdin = strings.NewReader(string(text))
	if out, err := lint.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	r := &result{Fams: parseExposition(t, string(text))}
	for _, c := range []struct{ element, pad string }{
		{"videotestsrc0", "src"}, {"x264enc0", "sink"}, {"x264enc0", "src"}, {"h264parse0", "src"}, {"mp4mux0", "video_0"},
	} {
		// videotestsrc num-buffers=60: 60 frames in, 60 encoded out.
		if got := counter(t, r, "gstreamer_pad_buffers_total", labels("pipeline", "pipeline0", "element", c.element, "pad", c.pad)); got != 60 {
			t.Errorf("%s:%s counted %v buffers in the file, want 60", c.element, c.pad, got)
		}
	}
	out, err := exec.Command(buildReport(t), file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "mp4mux0") || !strings.Contains(string(out), "x264enc0") {
		t.Errorf("gstscope-report %s: %v\n%s", file, err, out)
	}
}

// An application that exits without gst_deinit() and with its pipelines
// still PLAYING leaves its figures too (written at exit).
func TestBatchFileAtExit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "app.prom")
	cmd := exec.Command("/usr/bin/python3", "../apps/exit_playing.py",
		"audiotestsrc num-buffers=50 ! identity name=id ! fakesink name=sink", "audiotestsrc is-live=true ! fakesink")
	cmd.Env = append(gstEnv(t, "prometheus-latency-tracer"), "GST_PROMETHEUS_TRACER_FILE="+file, "GST_PROMETHEUS_TRACER_FILE_INTERVAL=1h")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exit_playing.py: %v\n%s", err, tail(string(out)))
	}
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no file after exit: %v", err)
	}
	r := &result{Fams: parseExposition(t, string(text))}
	if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "id", "pad", "src")); got != 50 {
		t.Errorf("id:src counted %v buffers in the file, want 50", got)
	}
}

// While a job runs the file is rewritten every file-interval.
func TestBatchFileWhileRunning(t *testing.T) {
	file := filepath.Join(t.TempDir(), "live.prom")
	env := append(gstEnv(t, "prometheus-latency-tracer(file-interval=1)"), "GST_PROMETHEUS_TRACER_FILE="+file)
	stop := livePipeline(t, env, 10)
	defer stop()
	read := func() float64 {
		text, err := os.ReadFile(file)
		if err != nil {
			return -1
		}
		r := &result{Fams: parseExposition(t, string(text))}
		if m := find(r.Fams, "gstreamer_pad_buffers_total", labels("element", "identity0", "pad", "src")); m != nil {
			return m.GetCounter().GetValue()
		}
		return -1
	}
	var first float64 = -1
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) && first <= 0 {
		first = read()
		time.Sleep(200 * time.Millisecond)
	}
	if first <= 0 {
		t.Fatalf("no file with identity0's count within 8 s")
	}
	for time.Now().Before(deadline) {
		if read() > first {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("the file was not rewritten with a newer count (first %v)", first)
}
