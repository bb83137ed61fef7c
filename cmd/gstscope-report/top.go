package main

// `gstscope-report top URL`: a live view of a running process's metrics
// endpoint, refreshed every interval. On a terminal it is a full-screen
// bubbletea program; otherwise (a pipe, a script) it prints one plain frame
// per interval. The figures come from rates.go; this file fetches, keeps
// the state between scrapes and draws.

import (
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/term"

	"github.com/gstscope/gstscope/internal/model"
)

func runTop(args []string) int {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	interval := fs.Duration("interval", time.Second, "refresh interval (also the scrape timeout)")
	frames := fs.Int("n", 0, "stop after this many frames (0: until q or ctrl-c)")
	key := fs.String("sort", "name", "initial order of the elements: name, latency (p95), cpu, throughput, drops (per second), fill (the fullest queue's level), blocked (share), lateness (a sink's p95); or the first letter, s for lateness")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gstscope-report top [-interval 1s] [-n frames] [-sort name|latency|cpu|throughput|drops|fill|blocked|lateness] URL")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	order, ok := sortKeys[*key]
	if fs.NArg() != 1 || *interval <= 0 || *frames < 0 || !ok {
		fs.Usage()
		return 2
	}
	st := &topState{
		url:      model.MetricsURL(fs.Arg(0)),
		interval: *interval,
		sort:     order,
		client:   &http.Client{Timeout: *interval},
	}
	if !term.IsTerminal(os.Stdout.Fd()) {
		plainTop(os.Stdout, st, *frames)
		return 0
	}
	p := tea.NewProgram(&topModel{st: st, max: *frames}, tea.WithAltScreen())
	if _, err := p.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "gstscope-report top:", err)
		return 1
	}
	return 0
}

// topState is what top knows between scrapes.
type topState struct {
	url      string
	interval time.Duration
	sort     sortKey
	client   *http.Client

	prev     *model.Model // the last good scrape, nil after a failed one
	lastGood time.Time    // when it was taken; zero: never
	frame    frame        // the last frame computed (stale while err is set)
	hasFrame bool
	err      error // the last scrape's failure, nil when it worked
}

func (st *topState) fetch() (*model.Model, error) { return model.Fetch(st.client, st.url) }

// observe takes one scrape's outcome. A failure forgets the previous scrape:
// the process may have restarted while it was unreachable, so the next good
// scrape has no rates (one blank interval), never a difference across it.
func (st *topState) observe(s *model.Model, err error) {
	st.err = err
	if err != nil {
		st.prev = nil
		return
	}
	st.frame, st.hasFrame = diff(st.prev, s), true
	sortRows(&st.frame, st.sort)
	st.prev, st.lastGood = s, s.At
}

func (st *topState) setSort(k sortKey) {
	st.sort = k
	if st.hasFrame {
		sortRows(&st.frame, k)
	}
}

var sortNames = map[sortKey]string{byName: "name", byLatency: "latency", byCPU: "CPU", byThroughput: "throughput",
	byDrops: "drops", byFill: "queue level", byBlocked: "blocked", byLateness: "lateness"}

// status is the line under the header: what is wrong, or what the figures
// cover.
func (st *topState) status() string {
	switch {
	case st.err != nil:
		last := "never"
		if !st.lastGood.IsZero() {
			last = st.lastGood.Format("15:04:05")
		}
		return fmt.Sprintf("error: %v (last good scrape: %s; retrying every %v)", st.err, last, st.interval)
	case !st.hasFrame:
		return "waiting for the first scrape"
	case st.frame.reset:
		return "counters went down: the process restarted; rates again from the next scrape"
	case st.frame.interval == 0:
		return "first scrape: rates and quantiles from the next one"
	}
	return fmt.Sprintf("over the last %.1fs", st.frame.interval.Seconds())
}

// render is the whole screen but the header: status, elements, pairs.
func (st *topState) render() string {
	var b strings.Builder
	b.WriteString(st.status())
	b.WriteString("\n\n")
	if st.hasFrame {
		writeTables(&b, st.frame)
		b.WriteString("\n" + quantileRule + "\n")
	}
	return b.String()
}

func writeTables(out io.Writer, f frame) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "pipeline\telement\tfactory\tin/s\tout/s\t"+topFlowHeader+"proc mean\tproc p95\tlatency mean\tlatency p95\tCPU\treported min\treported max\t")
	for _, r := range f.elems {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Pipeline, r.Element, r.factory,
			perSec(r.inRate), perSec(r.outRate), r.flow.topCells(), sec(r.procMean), sec(r.procP95), sec(r.latMean), sec(r.latP95),
			pct(r.cpuPct), share(r.repMin), share(r.repMax))
	}
	w.Flush()
	if len(f.pairs) == 0 {
		return
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "pipeline\tsource\tsink\tbuffers/s\tsource-to-sink mean\tp95\t")
	for _, r := range f.pairs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Pipeline, r.Source, r.Sink, perSec(r.rate), sec(r.mean), sec(r.p95))
	}
	w.Flush()
}

func perSec(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", v)
}

func (st *topState) header(now time.Time) string {
	return fmt.Sprintf("gstscope top  %s  %s  every %v  sorted by %s", st.url, now.Format("2006-01-02 15:04:05"), st.interval, sortNames[st.sort])
}

// plainTop prints a frame per interval until frames have been printed (0:
// forever). The first frame waits one interval, so that it has rates.
func plainTop(out io.Writer, st *topState, frames int) {
	next := time.Now()
	st.observe(st.fetch())
	for i := 0; frames == 0 || i < frames; i++ {
		if next = next.Add(st.interval); time.Until(next) < 0 {
			next = time.Now() // a scrape took the whole interval: no burst of frames to catch up
		}
		time.Sleep(time.Until(next))
		st.observe(st.fetch())
		fmt.Fprintf(out, "%s\n%s\n", st.header(time.Now()), st.render())
	}
}

// The bubbletea view: a tick every interval starts a scrape (unless one is
// still running: it times out at the interval), its result redraws.
type topModel struct {
	st            *topState
	max, frames   int
	inflight      bool
	width, height int
}

type tickMsg struct{}
type scrapeMsg struct {
	s   *model.Model
	err error
}

func (m *topModel) tick() tea.Cmd {
	return tea.Tick(m.st.interval, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *topModel) scrape() tea.Cmd {
	m.inflight = true
	return func() tea.Msg {
		s, err := m.st.fetch()
		return scrapeMsg{s, err}
	}
}

func (m *topModel) Init() tea.Cmd { return tea.Batch(m.scrape(), m.tick()) }

func (m *topModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch k := msg.String(); k {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		case "l", "c", "t", "n", "d", "f", "b", "s":
			m.st.setSort(sortKeys[k])
		}
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tickMsg:
		if m.inflight {
			return m, m.tick()
		}
		return m, tea.Batch(m.scrape(), m.tick())
	case scrapeMsg:
		m.inflight = false
		m.st.observe(msg.s, msg.err)
		if m.frames++; m.max > 0 && m.frames >= m.max {
			return m, tea.Quit
		}
	}
	return m, nil
}

func (m *topModel) View() string {
	text := m.st.header(time.Now()) + "\n" + m.st.render()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	keys := "keys: l latency  c CPU  t throughput  d drops  f queue level  b blocked  s lateness  n name  q quit"
	if m.height > 1 && len(lines) > m.height-1 {
		lines = lines[:m.height-1]
	}
	lines = append(lines, keys)
	for i, l := range lines {
		if m.width > 0 && len([]rune(l)) > m.width {
			lines[i] = string([]rune(l)[:m.width])
		}
	}
	return strings.Join(lines, "\n")
}
