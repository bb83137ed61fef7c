package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gstscope-report")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "gstscope-report")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errb.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

// The command behaves like a Unix tool: usage on request and on mistakes,
// exit 2 for a usage error, 1 when there is nothing to show.
func TestCLIUsageAndExitCodes(t *testing.T) {
	sample, err := os.ReadFile("testdata/top-live-1.prom")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string // in stdout or stderr
	}{
		{"help", "", []string{"help"}, 0, "gstscope-report top URL"},
		{"-h", "", []string{"-h"}, 0, "gstscope-report flame -pyroscope URL"},
		{"help lists graph", "", []string{"--help"}, 0, "gstscope-report graph URL"},
		{"unknown command", "", []string{"tpo", "http://127.0.0.1:1"}, 2, "usage:"},
		{"unknown command alone", "", []string{"tpo"}, 2, `unknown command "tpo"`},
		{"unknown flag", "", []string{"-bogus"}, 2, "flag provided but not defined"},
		{"unknown flag of a command", "", []string{"top", "-bogus", "http://127.0.0.1:1"}, 2, "flag provided but not defined"},
		{"missing file", "", []string{"./no-such.prom"}, 1, "no such file"},
		{"empty input", "\n", nil, 1, "no metrics in the input"},
		{"a file", "", []string{"testdata/top-live-1.prom"}, 0, "source-to-sink"},
		{"stdin", string(sample), []string{"-"}, 0, "source-to-sink"},
		{"bad tags", "", []string{"-pyroscope", "http://127.0.0.1:1", "-tags", "novalue"}, 2, `tag "novalue" is not key=value`},
		{"unreachable Pyroscope", "", []string{"-pyroscope", "http://127.0.0.1:1"}, 1, "connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := run(t, c.stdin, c.args...)
			if code != c.code || !strings.Contains(out+errs, c.want) {
				t.Errorf("exit %d (want %d), output lacks %q?\nstdout:\n%s\nstderr:\n%s", code, c.code, c.want, out, errs)
			}
		})
	}
}
