package integration

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// A user's mistake is never silent: with GST_DEBUG unset, every problem with
// the configuration is one line on stderr, "gstscope: ...", and the pipeline
// runs on to its normal exit code.
func TestMisconfigurationOnStderr(t *testing.T) {
	busyPort := takePort(t)
	const lat = "prometheus-latency-tracer"
	for _, c := range []struct {
		name, tracers string
		env           []string
		want          []string // in the one stderr line
	}{
		{"unknown flag", lat + "(flags=element+latncy)", nil,
			[]string{`unknown flag "latncy"`, "valid flags are pipeline, element, reported"}},
		{"unknown parameter", lat + "(prot=9095)", nil, []string{`unknown parameter "prot"`}},
		{"port out of range", lat, []string{"GST_PROMETHEUS_TRACER_PORT=99999"},
			[]string{`GST_PROMETHEUS_TRACER_PORT="99999"`, "no HTTP server"}},
		// Two jobs on one port: the second says so.
		{"busy port", lat, []string{fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", busyPort)},
			[]string{fmt.Sprintf("cannot serve metrics on 0.0.0.0:%d", busyPort), "address already in use", "metrics are not served"}},
		{"URL that cannot be used", "pyroscope", []string{"GST_PYROSCOPE_SERVER_URL=ftp://127.0.0.1:9"},
			[]string{`GST_PYROSCOPE_SERVER_URL="ftp://127.0.0.1:9"`, "profiles are not uploaded"}},
		{"unreachable server", "pyroscope", []string{"GST_PYROSCOPE_SERVER_URL=http://127.0.0.1:9", "GST_PYROSCOPE_UPLOAD_INTERVAL=1"},
			[]string{"cannot upload profiles to http://127.0.0.1:9", "connection refused"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := append(withoutDebug(gstEnv(t, c.tracers)), c.env...)
			l := gstLaunch(t, env, 0, strings.Fields("-q audiotestsrc num-buffers=150 samplesperbuffer=441 is-live=true ! identity ! fakesink")...)
			code, stderr := l.code, l.out
			if code != 0 {
				t.Errorf("exit code %d, want 0 as untraced:\n%s", code, tail(stderr))
			}
			lines := problemLines(stderr)
			if len(lines) != 1 {
				t.Fatalf("%d gstscope: lines on stderr, want 1:\n%s", len(lines), tail(stderr))
			}
			for _, w := range c.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("stderr line %q lacks %q", lines[0], w)
				}
			}
		})
	}
}

// A correct configuration prints nothing of ours.
func TestNoProblemNoLine(t *testing.T) {
	env := withoutDebug(gstEnv(t, "prometheus-latency-tracer(flags=element)", fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", freePort(t))))
	l := gstLaunch(t, env, 0, strings.Fields("-q fakesrc num-buffers=20 ! identity ! fakesink")...)
	code, stderr := l.code, l.out
	if code != 0 || len(problemLines(stderr)) != 0 {
		t.Errorf("exit code %d, stderr:\n%s", code, tail(stderr))
	}
}

// A Pyroscope URL without a scheme means http:// on that host, never the
// default server: the profile arrives where the user pointed.
func TestPyroscopeURLWithoutScheme(t *testing.T) {
	base := pyroscopeURL(t)
	name := uniqueName("noscheme")
	env := withoutDebug(gstEnv(t, "pyroscope",
		"GST_PYROSCOPE_SERVER_URL="+strings.TrimPrefix(base, "http://"),
		"GST_PYROSCOPE_TRACER_NAME="+name))
	l := gstLaunch(t, env, 0, strings.Fields("-q fakesrc num-buffers=100 ! scopeburn cpu-us=2000 ! fakesink")...)
	code, stderr := l.code, l.out
	if code != 0 || len(problemLines(stderr)) != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, tail(stderr))
	}
	f := waitFlame(t, base, `{service_name="`+name+`"}`)
	if f.Self["scopeburn0"] == 0 {
		t.Errorf("the profile that arrived has no scopeburn0: %v", f.Self)
	}
}

// takePort listens on a free port of all interfaces until the test ends:
// a port another job already serves on.
func takePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// The lines gstscope printed on stderr for the user (gstLaunch mixes in
// stdout, which -q keeps empty).
func problemLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "gstscope: ") {
			out = append(out, l)
		}
	}
	return out
}

func withoutDebug(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GST_DEBUG=") {
			out = append(out, kv)
		}
	}
	return out
}
