// Command bench measures what gstscope costs a pipeline (make bench).
//
// Each pipeline runs under every configuration, interleaved (A B C ... A B
// C ...) so that drift of the machine hits all alike, and the table reports
// medians: wall and CPU time, ratios to no tracer and to the framework floor
// (a tracer with one hook that does nothing: what GStreamer itself charges as
// soon as any tracer is loaded), the marginal CPU per pad push over the
// floor, and peak RSS. Then the cost of one scrape of 100 and 1000 series,
// and peak RSS after 1M and 10M buffers. It prints Markdown.
//
//	go run ./bench -runs 5            # make bench
//	go run ./bench -scale 0.01 -runs 1  # a smoke run (the test suite does this)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gstscope/gstscope/internal/latency"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

type pipeline struct {
	name, desc string
	buffers    int // scaled
	pushes     int // pad pushes per buffer
	text       string
}

type config struct{ name, tracers string }

const bothTracers = "prometheus-latency-tracer(flags=pipeline+element+reported);pyroscope"

var configs = []config{
	{"none", ""},
	{"floor (noop tracer)", "noop"},
	{"latency: pipeline", "prometheus-latency-tracer(flags=pipeline)"},
	{"latency: element", "prometheus-latency-tracer(flags=element)"},
	{"latency: reported", "prometheus-latency-tracer(flags=reported)"},
	{"latency: all", "prometheus-latency-tracer(flags=pipeline+element+reported)"},
	{"pyroscope 100 Hz", "pyroscope"},
	{"both", "prometheus-latency-tracer(flags=pipeline+element+reported);pyroscope"},
	{"core latency tracer", "latency(flags=pipeline+element+reported)"},
}

func pipelines(scale float64) []pipeline {
	n := func(base int) int { return max(1, int(float64(base)*scale)) }
	return []pipeline{
		{name: "P1", buffers: n(1000000), pushes: 4, desc: "4 pad pushes per buffer, one thread",
			text: "fakesrc num-buffers=%d sizetype=empty ! identity ! identity ! identity ! fakesink sync=false"},
		{name: "P2", buffers: n(1000000), pushes: 5, desc: "P1 with a queue: two threads",
			text: "fakesrc num-buffers=%d sizetype=empty ! identity ! queue ! identity ! identity ! fakesink sync=false"},
		{name: "P3", buffers: n(3000), pushes: 5, desc: "realistic: convert and scale video",
			text: "videotestsrc num-buffers=%d ! video/x-raw,width=320,height=240 ! videoconvert ! videoscale ! video/x-raw,width=160,height=120 ! fakesink sync=false"},
		{name: "P4", buffers: n(200000), pushes: 5, desc: "a tee with two queued branches",
			text: "fakesrc num-buffers=%d sizetype=empty ! tee name=t t. ! queue ! fakesink sync=false t. ! queue ! fakesink sync=false"},
	}
}

type run struct {
	wall, cpu time.Duration
	rssKB     int64
}

type env struct {
	base []string // environment without GST_*
	dir  string   // registry
}

func (e env) launch(tracers, desc string) (run, error) {
	cmd := exec.Command("gst-launch-1.0", append([]string{"-q"}, strings.Fields(desc)...)...)
	cmd.Env = append(slices.Clone(e.base), "GST_REGISTRY="+filepath.Join(e.dir, "registry.bin"))
	if tracers != "" {
		cmd.Env = append(cmd.Env, "GST_TRACERS="+tracers)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("%s: %v\n%s", desc, err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return run{wall, cpu, ru.Maxrss}, nil
}

func median(xs []time.Duration) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianInt(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func main() {
	runs := flag.Int("runs", 5, "runs per configuration (the median is reported)")
	scale := flag.Float64("scale", 1, "multiply every pipeline's buffer count")
	only := flag.String("only", "", "comma-separated pipelines to run (P1,P2,...); empty: all")
	skip := flag.String("skip", "", "comma-separated configurations to leave out, by name prefix (\"core\")")
	plugin := flag.String("plugin", "build", "directory of libgstscope.so")
	testPlugin := flag.String("test-plugin", "build-test", "directory of the test plugin (noop tracer)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "gstscope-bench-")
	check(err)
	defer os.RemoveAll(dir)
	sink := uploadSink()
	e := env{dir: dir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GST_") {
			e.base = append(e.base, kv)
		}
	}
	abs := func(p string) string { a, err := filepath.Abs(p); check(err); return a }
	e.base = append(e.base,
		"GST_PLUGIN_PATH="+abs(*plugin)+":"+abs(*testPlugin),
		// The pyroscope tracer uploads to a server that only says 200.
		"GST_PYROSCOPE_SERVER_URL="+sink, "GST_PYROSCOPE_TRACER_NAME=bench")
	_, err = e.launch("noop", "fakesrc num-buffers=1 ! fakesink") // build the registry
	check(err)
	configs = slices.DeleteFunc(slices.Clone(configs), func(c config) bool {
		for _, p := range strings.Split(*skip, ",") {
			if p != "" && c.name != "none" && !strings.HasPrefix(c.name, "floor") && strings.HasPrefix(c.name, p) {
				return true
			}
		}
		return false
	})

	fmt.Printf("# gstscope benchmark\n\n")
	fmt.Printf("%s, %s, %d CPUs, %s; %d runs per configuration, interleaved; medians.\n\n",
		time.Now().UTC().Format("2006-01-02"), cpuModel(), runtime.NumCPU(), gstVersion(), *runs)

	for _, p := range pipelines(*scale) {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), p.name) {
			continue
		}
		desc := fmt.Sprintf(p.text, p.buffers)
		walls := make([][]time.Duration, len(configs))
		cpus := make([][]time.Duration, len(configs))
		rss := make([][]int64, len(configs))
		for r := 0; r < *runs; r++ {
			for i, c := range configs {
				res, err := e.launch(c.tracers, desc)
				check(err)
				walls[i] = append(walls[i], res.wall)
				cpus[i] = append(cpus[i], res.cpu)
				rss[i] = append(rss[i], res.rssKB)
			}
		}
		fmt.Printf("## %s: %s\n\n`%s` (%d pad pushes)\n\n", p.name, p.desc, desc, p.buffers*p.pushes)
		fmt.Println("| configuration | wall | CPU | CPU / none | CPU / floor | ns per push over floor | peak RSS |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		none, floor := median(cpus[0]), median(cpus[1])
		for i, c := range configs {
			cpu := median(cpus[i])
			over := "-"
			if i > 1 {
				over = fmt.Sprintf("%.0f", float64(cpu-floor)/float64(p.buffers*p.pushes))
			}
			fmt.Printf("| %s | %.3f s | %.3f s | %.3f | %.3f | %s | %.1f MB |\n", c.name,
				median(walls[i]).Seconds(), cpu.Seconds(), float64(cpu)/float64(none),
				float64(cpu)/float64(floor), over, float64(medianInt(rss[i]))/1024)
		}
		fmt.Println()
	}

	if *only == "" || strings.Contains(*only, "scrape") {
		fmt.Printf("## One scrape\n\nThe collector's exposition (what a scrape and request-metrics serve), all flags, timed in-process.\n\n")
		fmt.Println("| series | elements | time per scrape |")
		fmt.Println("| ---: | ---: | ---: |")
		for _, want := range []int{100, 1000} {
			series, elements, per := scrapeCost(want)
			fmt.Printf("| %d | %d | %.3f ms |\n", series, elements, float64(per)/1e6)
		}
		fmt.Println()
	}

	if *only == "" || strings.Contains(*only, "rss") {
		fmt.Printf("## Memory per buffer\n\nPeak RSS of P1 with both tracers, by number of buffers.\n\n")
		fmt.Println("| buffers | peak RSS |")
		fmt.Println("| ---: | ---: |")
		for _, n := range []int{1000000, 10000000} {
			n = max(1, int(float64(n)**scale))
			res, err := e.launch(bothTracers, fmt.Sprintf(pipelines(1)[0].text, n))
			check(err)
			fmt.Printf("| %d | %.1f MB |\n", n, float64(res.rssKB)/1024)
		}
		fmt.Println()
	}
}

// uploadSink is an HTTP server that accepts every profile and keeps none.
func uploadSink() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	return "http://" + l.Addr().String()
}

// scrapeCost times the collector over a synthetic snapshot of as many
// elements as it takes to reach want series.
func scrapeCost(want int) (series, elements int, per time.Duration) {
	bounds := []uint64{1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
		2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000,
		1000000000, 2500000000, 5000000000, 10000000000}
	snap := func(n int) *latency.Snapshot {
		s := &latency.Snapshot{BoundsNs: bounds, CPUSampled: true}
		for i := 0; i < n; i++ {
			h := latency.Hist{Counts: make([]uint64, len(bounds)+1), SumNs: uint64(i) * 1000}
			h.Counts[i%len(h.Counts)] = uint64(i + 1)
			name := fmt.Sprintf("element%d", i)
			s.Elements = append(s.Elements, latency.ElementStat{Pipeline: "pipeline0", Element: name, Factory: "identity",
				Processing: h, Latency: h, LastLatencyNs: 1000, Reported: true, ReportedMaxNs: latency.Unbounded, CPUNs: 1})
			for _, pad := range []string{"sink", "src"} {
				s.Pads = append(s.Pads, latency.PadStat{Pipeline: "pipeline0", Element: name, Pad: pad, Buffers: 1, Bytes: 1})
			}
		}
		return s
	}
	text := func(reg *prometheus.Registry) string {
		mfs, err := reg.Gather()
		check(err)
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			check(enc.Encode(mf))
		}
		return buf.String()
	}
	for elements = 1; ; elements++ {
		s := snap(elements)
		reg := prometheus.NewRegistry()
		reg.MustRegister(latency.NewCollector(latency.AllFlags, func() *latency.Snapshot { return s }))
		series = 0
		for _, l := range strings.Split(text(reg), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				series++
			}
		}
		if series >= want {
			res := testing.Benchmark(func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					text(reg)
				}
			})
			return series, elements, time.Duration(res.NsPerOp())
		}
	}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func gstVersion() string {
	out, err := exec.Command("gst-launch-1.0", "--version").Output()
	if err != nil {
		return "GStreamer ?"
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "GStreamer ") {
			return l
		}
	}
	return "GStreamer ?"
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
