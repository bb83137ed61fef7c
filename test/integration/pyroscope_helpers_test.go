package integration

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// One real Pyroscope server (scripts/pyroscope-server.sh, loopback only)
// serves every test of the package; each test pushes under its own
// service name.
var pyro struct {
	once sync.Once
	url  string
	dir  string
	cmd  *exec.Cmd
	err  error
}

func pyroscopeURL(t *testing.T) string {
	t.Helper()
	pyro.once.Do(func() { pyro.url, pyro.err = startPyroscope() })
	if pyro.err != nil {
		t.Fatalf("Pyroscope server: %v", pyro.err)
	}
	return pyro.url
}

func startPyroscope() (string, error) {
	port, err := freePorts(3)
	if err != nil {
		return "", err
	}
	if pyro.dir, err = os.MkdirTemp("", "gstscope-pyroscope-"); err != nil {
		return "", err
	}
	logf, err := os.Create(filepath.Join(pyro.dir, "server.log"))
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd := exec.Command("../../scripts/pyroscope-server.sh", fmt.Sprint(port), pyro.dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	pyro.cmd = cmd
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The script builds the server first if it is not cached (minutes).
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, nil
			}
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(logf.Name())
	return "", fmt.Errorf("not ready at %s:\n%s", base, tail(string(b)))
}

func stopPyroscope() {
	if pyro.cmd != nil && pyro.cmd.Process != nil {
		_ = syscall.Kill(-pyro.cmd.Process.Pid, syscall.SIGKILL)
		_ = pyro.cmd.Wait()
	}
	if pyro.dir != "" {
		os.RemoveAll(pyro.dir)
	}
}

// pyroscopeFault is a Pyroscope URL that fails one way, and how long a
// process pushing to it may take between EOS and exit (measured from EOS:
// the process's startup is not counted).
type pyroscopeFault struct {
	name, url string
	exit      time.Duration
}

// pyroscopeFaults makes servers that are down, answer 500 or hang.
func pyroscopeFaults(t *testing.T) []pyroscopeFault {
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(hang) })
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	return []pyroscopeFault{
		{"down", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), 1500 * time.Millisecond},
		{"500", failing.URL, 1500 * time.Millisecond},
		{"hanging", hanging.URL, 3500 * time.Millisecond},
	}
}

// freePorts finds n consecutive free ports on 127.0.0.1.
func freePorts(n int) (int, error) {
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		base := l.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{l}
		ok := base+n <= 65535
		for i := 1; i < n && ok; i++ {
			li, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			ok = err == nil
			if ok {
				ls = append(ls, li)
			}
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports", n)
}

// uniqueName is a service name no other test or run uses.
func uniqueName(what string) string {
	return fmt.Sprintf("gstscope-test-%s-%d", what, time.Now().UnixNano())
}

const cpuType = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

// flame is a merged profile read back from Pyroscope's render API.
type flame struct {
	Total int64
	Self  map[string]int64 // CPU ns per frame name, summed over the tree
	Roots map[string]int64 // CPU ns of each top-level frame
	Paths map[string]int64 // self CPU ns per stack, "root;child;leaf"
}

func (f flame) names() []string {
	var n []string
	for k := range f.Self {
		n = append(n, k)
	}
	return n
}

// render queries the server for selector ({service_name="x",...}).
func render(t *testing.T, base, selector string) flame {
	t.Helper()
	q := url.Values{"query": {cpuType + selector}, "from": {"now-1h"}, "until": {"now"}, "format": {"json"}}
	resp, err := http.Get(base + "/pyroscope/render?" + q.Encode())
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Flamebearer struct {
			Names  []string  `json:"names"`
			Levels [][]int64 `json:"levels"`
		} `json:"flamebearer"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("render %s: %s", selector, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("render %s: %v", selector, err)
	}
	f := flame{Self: map[string]int64{}, Roots: map[string]int64{}, Paths: map[string]int64{}}
	// Each level lists nodes as [x offset, total, self, name index], the
	// offset counted from the end of the level's previous node; a node's
	// parent is the node of the level above whose span holds its x.
	type node struct {
		x, total int64
		path     string
	}
	var above []node
	for li, level := range out.Flamebearer.Levels {
		var here []node
		var end int64
		for i := 0; i+3 < len(level); i += 4 {
			name := out.Flamebearer.Names[level[i+3]]
			x := end + level[i]
			end = x + level[i+1]
			f.Self[name] += level[i+2]
			switch li {
			case 0:
				f.Total += level[i+1]
			case 1:
				f.Roots[name] += level[i+1]
			}
			path := name
			if li == 0 {
				path = ""
			}
			for _, p := range above {
				if p.x <= x && x < p.x+p.total {
					if p.path != "" {
						path = p.path + ";" + name
					}
					break
				}
			}
			here = append(here, node{x, level[i+1], path})
			if path != "" {
				f.Paths[path] += level[i+2]
			}
		}
		above = here
	}
	return f
}

// waitFlame polls until the server has ingested everything for selector:
// data is there and unchanged over a second (ingestion is asynchronous).
func waitFlame(t *testing.T, base, selector string) flame {
	t.Helper()
	var last flame
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		f := render(t, base, selector)
		if f.Total > 0 && f.Total == last.Total {
			return f
		}
		last = f
		time.Sleep(time.Second)
	}
	t.Fatalf("no stable profile for %s within 30s (last total %d)", selector, last.Total)
	return last
}

// waitFlameFor polls until the profile for selector has what the test then
// asserts on (cond: a frame it checks is there, or has at least the lower
// bound of its tolerance: data only grows as the server ingests it), and
// returns it. At the deadline it returns the last profile if there is one,
// for the test's own assertion to fail with its numbers.
func waitFlameFor(t *testing.T, base, selector string, cond func(flame) bool) flame {
	t.Helper()
	var last flame
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if last = render(t, base, selector); last.Total > 0 && cond(last) {
			return last
		}
	}
	if last.Total == 0 {
		t.Fatalf("no profile for %s within 30s", selector)
	}
	return last
}

// atLeast is the lower bound of near's tolerance around want.
func atLeast(want, rel, abs float64) float64 {
	return want - math.Max(abs, rel*math.Abs(want))
}

// countLines counts the GStreamer log's lines that contain substr: not the
// lines gstscope prints on stderr for the user (problemLines).
func countLines(log, substr string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "gstscope: ") {
			n++
		}
	}
	return n
}
