package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mediaSet is the media the real-media tests play, made by the tests
// themselves once per test binary run (removed by TestMain), and the
// GStreamer registry their processes share (filled while making it, so no
// measured run pays for a plugin scan).
type mediaSet struct {
	dir      string
	mp4      string // H.264 + AAC in MP4, 2 s
	mkv      string // the same streams in Matroska
	registry string
}

// The media's length, and what its streams hold.
const (
	mediaFrames      = 60 // 320x240 at 30 fps
	mediaAudioFrames = 86 // 1024-sample buffers at 44.1 kHz: 2 s
)

var media struct {
	once sync.Once
	set  *mediaSet
	err  error
}

// mediaFiles makes the media on first use.
func mediaFiles(t *testing.T) *mediaSet {
	t.Helper()
	media.once.Do(func() {
		// Stays the error if makeMedia fails the test that first asked.
		media.err = fmt.Errorf("making it failed in an earlier test")
		media.set, media.err = makeMedia(t, gstEnv(t, "")), nil
	})
	if media.err != nil {
		t.Fatalf("making the test media: %v", media.err)
	}
	return media.set
}

func removeMedia() {
	if media.set != nil {
		os.RemoveAll(media.set.dir)
	}
}

func makeMedia(t *testing.T, env []string) *mediaSet {
	t.Helper()
	dir, err := os.MkdirTemp("", "gstscope-media-")
	if err != nil {
		t.Fatal(err)
	}
	m := &mediaSet{dir: dir, mp4: filepath.Join(dir, "av.mp4"), mkv: filepath.Join(dir, "av.mkv"),
		registry: filepath.Join(dir, "registry.bin")}
	media.set = m // removed by TestMain, whatever happens here
	env = append(env, "GST_REGISTRY="+m.registry)
	// x264enc's defaults (B-frames, so PTS reorder), and AAC from
	// gst-libav's avenc_aac (voaacenc would do as well; fdkaacenc and faac
	// are not packaged in Debian's GStreamer).
	streams := fmt.Sprintf("videotestsrc num-buffers=%d ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "+
		"! x264enc key-int-max=30 ! h264parse ! queue ! mux. "+
		"audiotestsrc num-buffers=%d samplesperbuffer=1024 ! audio/x-raw,rate=44100,channels=2 "+
		"! avenc_aac ! aacparse ! queue ! mux. ", mediaFrames, mediaAudioFrames)
	for file, mux := range map[string]string{m.mp4: "mp4mux", m.mkv: "matroskamux"} {
		runPipeline(t, env, "-q "+streams+mux+" name=mux ! filesink location="+file)
		if st, err := os.Stat(file); err != nil || st.Size() < 10000 {
			t.Fatalf("%s: no media written (%v)", file, err)
		}
	}
	return m
}

// mediaRun is how one process of the suite ended.
type mediaRun struct {
	code   int           // exit code; -1 when it was killed
	wall   time.Duration // start to exit (or kill)
	hung   string        // why it was killed; "" when it exited by itself
	stacks string        // its threads' stacks when it hung (gdb), if gdb is installed
	stdout string
	stderr string
}

// runBounded runs cmd until it exits, or until it is hung: still running
// past bound and either idle (no CPU for idleFor) or still running at
// hard. A hung process's stacks are taken with gdb, then its process group
// is killed. Never blocks longer than hard plus the stack dump.
func runBounded(cmd *exec.Cmd, bound, hard time.Duration) mediaRun {
	const idleFor = 3 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return mediaRun{code: -1, hung: "did not start: " + err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var r mediaRun
	lastCPU, idleSince := time.Duration(-1), time.Time{}
	for r.hung == "" {
		select {
		case err := <-done:
			r.wall = time.Since(start)
			r.code = 0
			if err != nil {
				r.code = -1
				if ee, ok := err.(*exec.ExitError); ok {
					r.code = ee.ExitCode()
				}
			}
			r.stdout, r.stderr = out.String(), errb.String()
			return r
		case now := <-tick.C:
			el := now.Sub(start)
			if el < bound {
				continue
			}
			if el >= hard {
				r.hung = fmt.Sprintf("still running at the hard timeout %v (bound %v)", hard.Round(time.Millisecond), bound.Round(time.Millisecond))
				break
			}
			cpu, ok := processCPU(cmd.Process.Pid)
			if !ok {
				continue
			}
			// Idle: under 1% of a core since the last busy moment.
			if lastCPU < 0 || cpu-lastCPU > idleFor/100 {
				lastCPU, idleSince = cpu, now
			} else if now.Sub(idleSince) >= idleFor {
				r.hung = fmt.Sprintf("deadlocked: still running %v after start (bound %v) and idle (no CPU) for %v",
					el.Round(time.Millisecond), bound.Round(time.Millisecond), now.Sub(idleSince).Round(time.Millisecond))
			}
		}
	}
	r.stacks = threadStacks(cmd.Process.Pid)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	r.wall, r.code = time.Since(start), -1
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

// processCPU is the user+system CPU time of process pid, all threads.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command name (which may hold spaces), from
	// field 3: utime and stime are fields 14 and 15, in clock ticks.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const clkTck = 100 // USER_HZ, the same on every Linux architecture we run on
	return time.Duration(ut+st) * time.Second / clkTck, true
}

var (
	gdbThread = regexp.MustCompile(`^Thread \d+ \(.*?\(LWP (\d+)\)(?: "([^"]*)")?\)`)
	gdbFrame  = regexp.MustCompile(`^#\d+\s+(?:0x[0-9a-f]+ in )?(\S*) \(.*?(?: (?:at|from) \S*/([^/\s]+))?$`)
)

// threadStacks is one line per thread of process pid: its name and the
// functions on its stack, innermost first (gdb's "thread apply all bt",
// 40 frames; "?libfoo.so" is a function without symbols in that file,
// repeats folded).
// Empty when gdb is not installed or cannot attach.
func threadStacks(pid int) string {
	if _, err := exec.LookPath("gdb"); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "gdb", "-p", strconv.Itoa(pid), "-batch", "-nx",
		"-ex", "set pagination off", "-ex", "thread apply all bt 40").Output()
	var lines []string
	var cur []string
	name, idleGo := "", 0
	flush := func() {
		switch {
		case name == "":
		case len(cur) > 0 && strings.HasPrefix(cur[0], "runtime.") && !strings.Contains(strings.Join(cur, " "), "crosscall2"):
			idleGo++ // a Go runtime thread, not inside a call from C
		default:
			lines = append(lines, name+": "+strings.Join(cur, " < "))
		}
		name, cur = "", nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if m := gdbThread.FindStringSubmatch(l); m != nil {
			flush()
			name = fmt.Sprintf("LWP %s %q", m[1], m[2])
		} else if m := gdbFrame.FindStringSubmatch(l); m != nil && name != "" {
			f := m[1]
			if (f == "" || f == "??") && m[2] != "" {
				f = "?" + m[2] // a library without symbols
			}
			if len(cur) == 0 || cur[len(cur)-1] != f {
				cur = append(cur, f)
			}
		}
	}
	flush()
	if idleGo > 0 {
		lines = append(lines, fmt.Sprintf("(and %d Go runtime threads)", idleGo))
	}
	return strings.Join(lines, "\n")
}
