package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A smoke run of make bench's program: every pipeline, configuration and
// section is there. The numbers of so short a run mean nothing and are not
// checked: benchmarks are not timed tests.
func TestBenchSmoke(t *testing.T) {
	if memoryChecker() != "" {
		t.Skip("the benchmark does not run under a memory checker")
	}
	cmd := exec.Command("go", "run", "../../bench", "-scale", "0.001", "-runs", "1",
		"-plugin", pluginDir, "-test-plugin", testPluginDir)
	cmd.Dir = "."
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := runWithTimeout(cmd, 3*time.Minute); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"## P1", "## P2", "## P3", "## P4", "## One scrape", "## Memory per buffer"} {
		if !strings.Contains(text, want) {
			t.Errorf("no section %q in:\n%s", want, text)
		}
	}
	for _, c := range []string{"| none |", "| floor (noop tracer) |", "| latency: all |", "| pyroscope 100 Hz |", "| both |", "| core latency tracer |"} {
		if n := strings.Count(text, c); n != 4 {
			t.Errorf("%q appears in %d pipeline tables, want 4", c, n)
		}
	}
}
