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

	"github.com/gstscope/gstscope/internal/model"
)

// commands are the subcommands, each run with the arguments after its name
// and returning the exit code.
var commands = map[string]func(args []string) int{"top": runTop, "graph": runGraph, "flame": runFlame}

const usage = `usage: gstscope-report [FILE | URL | -]       the latency table of an exposition (stdin by default)
       gstscope-report -pyroscope URL [-service NAME] [-from T -until T] [-tags k=v,...]
                                                 the CPU profile as a tree
       gstscope-report top URL [-interval 1s]     a live view of a metrics endpoint
       gstscope-report graph URL [-o FILE]        the pipeline graph with its numbers
       gstscope-report flame -pyroscope URL ...   the CPU profile as a flame graph SVG
       gstscope-report help                       this text

The exposition comes from the prometheus-latency-tracer: a file
(GST_PROMETHEUS_TRACER_FILE), its metrics URL (scraped), or stdin (curl
URL/metrics, the request-metrics signal). Every view reads it the same way:
buffers in are those through sink pads (the direction label), means are
exact, p95 is Prometheus's histogram_quantile (interpolated in its bucket). "gstscope-report COMMAND -h" lists a command's flags.
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
	if flag.NArg() == 1 && !strings.ContainsAny(flag.Arg(0), "./:") && flag.Arg(0) != "-" {
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
	// The exposition: a file (GST_PROMETHEUS_TRACER_FILE's), a URL, or stdin.
	src := "-"
	if flag.NArg() > 0 {
		src = flag.Arg(0)
	}
	m, err := model.Load(src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gstscope-report:", err)
		os.Exit(1)
	}
	if m.Empty() {
		fmt.Fprintln(os.Stderr, "gstscope-report: no metrics in the input")
		os.Exit(1)
	}
	printTable(os.Stdout, m)
}

// printTable prints each element's totals and each source-to-sink path's.
func printTable(out io.Writer, m *model.Model) {
	keys := make([]model.ElementKey, 0, len(m.Elements))
	for k := range m.Elements {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Pipeline != keys[j].Pipeline {
			return keys[i].Pipeline < keys[j].Pipeline
		}
		return keys[i].Element < keys[j].Element
	})
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "pipeline\telement\tfactory\tbuffers in\t"+tableFlowHeader+"processing mean\tp95\tlatency mean\tp95\treported min\treported max\tCPU\t")
	for _, k := range keys {
		e := m.Elements[k]
		in, _ := e.BuffersIn()
		proc, lat := e.Processing(), e.Latency()
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k.Pipeline, k.Element, e.Factory,
			count(in), tableCells(e), sec(proc.Mean()), sec(proc.Quantile(0.95)), sec(lat.Mean()), sec(lat.Quantile(0.95)),
			share(gauge(e, model.ElementReportedMin)), share(gauge(e, model.ElementReportedMax)),
			sec(gauge(e, model.ElementCPU)))
	}
	w.Flush()

	paths := make([]model.PathKey, 0, len(m.Paths))
	for k := range m.Paths {
		paths = append(paths, k)
	}
	sort.Slice(paths, func(i, j int) bool {
		a, b := paths[i], paths[j]
		if a.Pipeline != b.Pipeline {
			return a.Pipeline < b.Pipeline
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Sink < b.Sink
	})
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "pipeline\tsource\tsink\tbuffers\tsource-to-sink mean\tp95\t")
	for _, k := range paths {
		h := m.Paths[k]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\n", k.Pipeline, k.Source, k.Sink, count(h.Count()), sec(h.Mean()), sec(h.Quantile(0.95)))
	}
	w.Flush()
	fmt.Fprintln(out)
	fmt.Fprintln(out, quantileRule)
}

// quantileRule is the legend of every view's p95.
const quantileRule = "Means are exact; p95 is Prometheus's histogram_quantile(0.95): interpolated linearly within the bucket that holds it."

// isTerminal says whether f is a terminal (a character device), where
// reading an exposition from it would wait for the user silently.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func count(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

// sec formats seconds; NaN (no figure) is "-".
func sec(s float64) string {
	switch {
	case math.IsNaN(s):
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
	return sec(v)
}
