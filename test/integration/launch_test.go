package integration

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The one way the tests start gst-launch-1.0: startPipeline for a pipeline
// that runs beside the test (stopped at the latest when the test ends),
// runPipeline for one the test waits out. desc is gst-launch-1.0's
// arguments as one string, split on spaces ("-e videotestsrc ! ...").
// env nil is this process's environment, without the plugin (to make
// media); gstEnv gives one that loads it.

// pipeline is a gst-launch-1.0 process started by startPipeline.
type pipeline struct {
	t      *testing.T
	desc   string
	cmd    *exec.Cmd
	out    lockedBuffer // stdout and stderr, as written
	done   chan struct{}
	err    error     // Wait's, once done is closed
	exited time.Time // when Wait returned, once done is closed
}

// lockedBuffer is a bytes.Buffer that the process's output copier writes
// while the test reads it; it keeps when each write arrived.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes []written
}

type written struct {
	end int // the buffer's length after the write
	at  time.Time
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	b.writes = append(b.writes, written{b.buf.Len(), time.Now()})
	return n, err
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// at is when the output first held substr, or the zero time.
func (b *lockedBuffer) at(substr string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := bytes.Index(b.buf.Bytes(), []byte(substr))
	if i < 0 {
		return time.Time{}
	}
	for _, w := range b.writes {
		if w.end >= i+len(substr) {
			return w.at
		}
	}
	return time.Time{}
}

// startPipeline starts gst-launch-1.0 desc with env and returns at once;
// the process is killed when the test ends, if it has not ended before.
func startPipeline(t *testing.T, env []string, desc string) *pipeline {
	t.Helper()
	p := &pipeline{t: t, desc: desc, done: make(chan struct{})}
	p.cmd = exec.Command("gst-launch-1.0", strings.Fields(desc)...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("gst-launch-1.0 %s: %v", desc, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// stop kills the process, if it still runs, and returns its output.
func (p *pipeline) stop() string {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
	return p.out.String()
}

// String is the process's output so far.
func (p *pipeline) String() string { return p.out.String() }

// wait waits up to d for the process to exit by itself; it returns its
// exit code, or fails the test (a crash, or still running at d: killed).
func (p *pipeline) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("gst-launch-1.0 %s: still running after %v\n%s", p.desc, d, tail(p.stop()))
	}
	var exit *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &exit) && exit.Exited():
		return exit.ExitCode()
	}
	p.t.Fatalf("gst-launch-1.0 %s: %v\n%s", p.desc, p.err, tail(p.out.String()))
	return -1
}

// exitedAfter is how long the process took to exit after its output first
// held substr ("Execution ended after": from the end of its run, without
// its startup); 0 when it never did. Valid once wait has returned.
func (p *pipeline) exitedAfter(substr string) time.Duration {
	at := p.out.at(substr)
	if at.IsZero() {
		return 0
	}
	return p.exited.Sub(at)
}

// waitLog waits until the process's output has a line containing substr,
// and fails the test if it has none within 20 s.
func (p *pipeline) waitLog(substr string) {
	p.t.Helper()
	waitFor(p.t, "gst-launch-1.0 to log "+substr, func() bool { return strings.Contains(p.out.String(), substr) })
}

// runPipeline runs gst-launch-1.0 desc to its end, and returns its output;
// an exit code other than 0, or a run over 2 minutes, fails the test.
func runPipeline(t *testing.T, env []string, desc string) string {
	t.Helper()
	p := startPipeline(t, env, desc)
	if code := p.wait(2 * time.Minute); code != 0 {
		t.Fatalf("gst-launch-1.0 %s: exit code %d\n%s", desc, code, tail(p.String()))
	}
	return p.String()
}

// lineApp is a test app driven line by line (views.py, flow.py): it prints
// "ready", then answers each command on its stdin with one line.
type lineApp struct {
	t     *testing.T
	name  string
	stdin io.WriteCloser
	lines *bufio.Scanner
	err   *lockedBuffer
}

// startLineApp starts ../apps/script with args in env and waits for its
// "ready"; at the test's end its stdin closes and it must exit within 20 s.
func startLineApp(t *testing.T, env []string, script string, args ...string) *lineApp {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", append([]string{"../apps/" + script}, args...)...)
	cmd.Env = env
	a := &lineApp{t: t, name: script, err: &lockedBuffer{}}
	cmd.Stderr = a.err
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.stdin, a.lines = stdin, bufio.NewScanner(stdout)
	t.Cleanup(func() {
		stdin.Close()
		if err := waitStarted(cmd, 20*time.Second); err != nil {
			t.Errorf("%s: %v\n%s", script, err, tail(a.err.String()))
		}
	})
	if line := a.next("ready"); line != "ready" {
		t.Fatalf("%s did not start: %q\n%s", script, line, tail(a.err.String()))
	}
	return a
}

// next is the app's next line (what: what it should be, for the failure).
func (a *lineApp) next(what string) string {
	a.t.Helper()
	if !a.lines.Scan() {
		a.t.Fatalf("%s: no %s\n%s", a.name, what, tail(a.err.String()))
	}
	return a.lines.Text()
}

// ask sends cmd and returns the app's answer.
func (a *lineApp) ask(cmd string) string {
	a.t.Helper()
	io.WriteString(a.stdin, cmd+"\n")
	return a.next("answer to " + cmd)
}
