// Command gstscope-report shows what gstscope saw in a form a person can
// read. Without a command it reads Prometheus exposition text from the
// prometheus-latency-tracer (the request-metrics signal or a scrape) on
// stdin and prints a per-element table; with -pyroscope it instead prints
// the CPU profile of a service from a Pyroscope server as a tree of frames.
// The commands (first argument) are the other views, each in its own file:
// top is a live view of a metrics endpoint, graph renders the annotated
// pipeline graph, flame writes the profile's flame graph as an SVG.
//
//	examples/request-metrics.py "..." | go run ./cmd/gstscope-report
//	go run ./cmd/gstscope-report metrics.prom   # GST_PROMETHEUS_TRACER_FILE
//	go run ./cmd/gstscope-report -pyroscope http://localhost:4040 -service gstreamer
//	go run ./cmd/gstscope-report top http://localhost:9100
//	go run ./cmd/gstscope-report graph http://localhost:9100 -o pipeline.svg
//	go run ./cmd/gstscope-report flame -pyroscope http://localhost:4040 -service gstreamer -o flame.svg
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type row struct {
	buffers         float64
	procN, procMean float64
	latN, latMean   float64
	procP95, latP95 float64
	repMin, repMax  float64
	cpu             float64
	hasCPU          bool
	factory         string
	hasRep          bool
}

// commands are the subcommands, each run with the arguments after its name
// and returning the exit code.
var commands = map[string]func(args []string) int{"top": runTop, "graph": runGraph, "flame": runFlame}

const usage = `usage: gstscope-report [FILE | -]             the latency table of an exposition (stdin by default)
       gstscope-report -pyroscope URL [-service NAME] [-from T -until T] [-tags k=v,...]
                                                 the CPU profile as a tree
       gstscope-report top URL [-interval 1s]     a live view of a metrics endpoint
       gstscope-report graph URL [-o FILE]        the pipeline graph with its numbers
       gstscope-report flame -pyroscope URL ...   the CPU profile as a flame graph SVG
       gstscope-report help                       this text

The exposition comes from the prometheus-latency-tracer: a file
(GST_PROMETHEUS_TRACER_FILE), a scrape (curl URL/metrics) or the
request-metrics signal. "gstscope-report COMMAND -h" lists a command's flags.
Exit status: 0, 1 when there is nothing to show or the source fails, 2 for
a usage error.

`

func main() {
	if len(os.Args) > 1 {
		if run, ok := commands[os.Args[1]]; ok {
			os.Exit(run(os.Args[2:]))
		}
		if a := os.Args[1]; a == "help" || a == "-h" || a == "-help" || a == "--help" {
			fmt.Print(usage)
			flag.CommandLine.SetOutput(os.Stdout)
			flag.PrintDefaults()
			os.Exit(0)
		}
	}
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	server := flag.String("pyroscope", "", "print the CPU profile from this Pyroscope server instead")
	service := flag.String("service", "gstreamer", "the profiled application's service name (GST_PYROSCOPE_TRACER_NAME)")
	from := flag.String("from", "now-1h", "with -pyroscope: start of the time range (now-1h, now-15m, unix seconds)")
	until := flag.String("until", "now", "with -pyroscope: end of the time range, same forms")
	tags := flag.String("tags", "", "with -pyroscope: only profiles with these labels, k=v,... (GST_PYROSCOPE_TAGS)")
	min := flag.Float64("min", 0.005, "hide frames below this share of the total")
	flag.Parse()
	if flag.NArg() > 1 || (flag.NArg() == 1 && *server != "") {
		flag.Usage()
		os.Exit(2)
	}
	if *server != "" {
		selector, err := selectorOf(*service, *tags)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gstscope-report:", err)
			os.Exit(2)
		}
		root, err := fetchProfileSelector(*server, selector, *from, *until)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gstscope-report:", err)
			os.Exit(1)
		}
		if root.total == 0 {
			fmt.Fprintf(os.Stderr, "gstscope-report: no profile data for %s from %s until %s\n", selector, *from, *until)
			os.Exit(1)
		}
		printTree(os.Stdout, root, *min)
		return
	}
	// A command name mistyped is not a file to read.
	if flag.NArg() == 1 && !strings.ContainsAny(flag.Arg(0), "./") && flag.Arg(0) != "-" {
		if _, err := os.Stat(flag.Arg(0)); err != nil {
			fmt.Fprintf(os.Stderr, "gstscope-report: unknown command %q\n\n", flag.Arg(0))
			flag.Usage()
			os.Exit(2)
		}
	}
	// Nothing to read on a terminal: the user wants to know how to use it.
	if flag.NArg() == 0 && isTerminal(os.Stdin) {
		flag.Usage()
		os.Exit(2)
	}
	// The exposition: a file (GST_PROMETHEUS_TRACER_FILE's), or stdin.
	in := io.Reader(os.Stdin)
	if flag.NArg() > 0 && flag.Arg(0) != "-" {
		f, err := os.Open(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, "gstscope-report:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(in)
	if err != nil && err != io.EOF {
		fmt.Fprintln(os.Stderr, "gstscope-report: cannot parse metrics:", err)
		os.Exit(1)
	}
	if len(fams) == 0 {
		fmt.Fprintln(os.Stderr, "gstscope-report: no metrics in the input")
		os.Exit(1)
	}
	rows := map[[2]string]*row{}
	get := func(m *dto.Metric) *row {
		l := lbls(m)
		k := [2]string{l["pipeline"], l["element"]}
		if rows[k] == nil {
			rows[k] = &row{repMin: math.NaN(), repMax: math.NaN()}
		}
		if f := l["factory"]; f != "" {
			rows[k].factory = f
		}
		return rows[k]
	}
	each(fams, "gstreamer_pad_buffers_total", func(m *dto.Metric) {
		if lbls(m)["pad"] == "sink" || strings.HasPrefix(lbls(m)["pad"], "sink") {
			get(m).buffers += m.GetCounter().GetValue()
		} else {
			get(m) // sources: known, no input
		}
	})
	each(fams, "gstreamer_element_processing_seconds", func(m *dto.Metric) {
		r := get(m)
		r.procN, r.procMean, r.procP95 = summarize(m.GetHistogram())
	})
	each(fams, "gstreamer_element_latency_seconds", func(m *dto.Metric) {
		r := get(m)
		r.latN, r.latMean, r.latP95 = summarize(m.GetHistogram())
	})
	each(fams, "gstreamer_element_reported_latency_min_seconds", func(m *dto.Metric) {
		r := get(m)
		r.repMin, r.hasRep = m.GetGauge().GetValue(), true
	})
	each(fams, "gstreamer_element_reported_latency_max_seconds", func(m *dto.Metric) {
		get(m).repMax = m.GetGauge().GetValue()
	})
	each(fams, "gstreamer_element_cpu_seconds_total", func(m *dto.Metric) {
		r := get(m)
		r.cpu, r.hasCPU = r.cpu+m.GetCounter().GetValue(), true
	})

	keys := make([][2]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "pipeline\telement\tfactory\tbuffers in\tprocessing mean\tp95 <=\tlatency mean\tp95 <=\treported min\treported max\tCPU\t")
	for _, k := range keys {
		r := rows[k]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k[0], k[1], r.factory,
			count(r.buffers), dur(r.procMean, r.procN), dur(r.procP95, r.procN),
			dur(r.latMean, r.latN), dur(r.latP95, r.latN), share(r.repMin), share(r.repMax),
			rep(r.cpu, r.hasCPU))
	}
	w.Flush()

	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "pipeline\tsource\tsink\tbuffers\tsource-to-sink mean\tp95 <=\t")
	each(fams, "gstreamer_pipeline_latency_seconds", func(m *dto.Metric) {
		l := lbls(m)
		n, mean, p95 := summarize(m.GetHistogram())
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\n", l["pipeline"], l["source"], l["sink"], count(n), dur(mean, n), dur(p95, n))
	})
	w.Flush()
}

func each(fams map[string]*dto.MetricFamily, name string, f func(*dto.Metric)) {
	if fam := fams[name]; fam != nil {
		for _, m := range fam.Metric {
			f(m)
		}
	}
}

func lbls(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.Label {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// summarize returns count, mean and the upper bound of the bucket holding
// the 95th percentile.
// isTerminal says whether f is a terminal (a character device), where
// reading an exposition from it would wait for the user silently.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func summarize(h *dto.Histogram) (n, mean, p95 float64) {
	n = float64(h.GetSampleCount())
	if n == 0 {
		return 0, 0, 0
	}
	p95 = math.Inf(1)
	for _, b := range h.Bucket {
		if float64(b.GetCumulativeCount()) >= 0.95*n {
			p95 = b.GetUpperBound()
			break
		}
	}
	return n, h.GetSampleSum() / n, p95
}

func count(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func dur(s, n float64) string {
	switch {
	case n == 0:
		return "-"
	case math.IsInf(s, 1):
		return "inf"
	case s < 1e-3:
		return fmt.Sprintf("%.1f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.2f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}

// share formats an element's share of the reported latency: blank where
// it adds nothing or its maximum is unbounded (gstscope exports neither;
// older versions exported 0 and +Inf, "0.0 µs" and "inf" on most rows).
func share(v float64) string {
	if math.IsNaN(v) || v <= 0 || math.IsInf(v, 1) {
		return ""
	}
	return dur(v, 1)
}

func rep(v float64, ok bool) string {
	if !ok || math.IsNaN(v) {
		return "-"
	}
	return dur(v, 1)
}
