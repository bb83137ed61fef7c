package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make install, as the README says, into a fresh home: GStreamer finds the
// plugin by itself and gstscope-report runs from ~/.local/bin.
func TestMakeInstall(t *testing.T) {
	home := t.TempDir()
	make := exec.Command("make", "-C", "../..", "install", "HOME="+home)
	// Go's caches stay where they are (they default to under HOME).
	for _, v := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatal(err)
		}
		make.Env = append(make.Env, v+"="+strings.TrimSpace(string(out)))
	}
	make.Env = append(os.Environ(), make.Env...)
	if out, err := make.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, tail(string(out)))
	}
	report := filepath.Join(home, ".local", "bin", "gstscope-report")
	if out, err := exec.Command(report, "help").CombinedOutput(); err != nil || !strings.Contains(string(out), "usage:") {
		t.Errorf("%s help: %v\n%s", report, err, out)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GST_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_") {
			env = append(env, kv)
		}
	}
	inspect := exec.Command("gst-inspect-1.0", "scope")
	inspect.Env = append(env, "HOME="+home)
	out, err := inspect.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "prometheus-latency-tracer") || !strings.Contains(string(out), "pyroscope") {
		t.Errorf("gst-inspect-1.0 scope with the installed plugin: %v\n%s", err, out)
	}
}
