package main

// gstscope-report flame: the element flame graph of a service as a
// self-contained SVG, drawn from the profile tree a Pyroscope server
// returns (fetchProfileRange), for servers without a UI and for reports.
//
//	gstscope-report flame -pyroscope http://localhost:4040 -service gstreamer -o flame.svg
//
// Plain SVG in the style of Brendan Gregg's flame graphs: the root (all
// CPU) at the bottom, each frame above its parent, widths proportional to
// CPU time, siblings in alphabetical order; every frame's full name, CPU
// seconds and share of the total in its <title> (the browser's tooltip),
// its name cut to the frame's width. Colors tell the frame kinds apart:
// pipelines blue, elements warm, thread:<name> frames green-gray.

import (
	"bufio"
	"encoding/xml"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sort"
	"strings"
)

func runFlame(args []string) int {
	fs := flag.NewFlagSet("flame", flag.ContinueOnError)
	server := fs.String("pyroscope", "", "the Pyroscope server (required)")
	service := fs.String("service", "gstreamer", "the profiled application's service name (GST_PYROSCOPE_TRACER_NAME)")
	from := fs.String("from", "now-1h", "start of the time range, as Pyroscope takes it: now-1h, now-15m, unix seconds")
	until := fs.String("until", "now", "end of the time range, same forms")
	out := fs.String("o", "flame.svg", "the SVG file to write (- for stdout)")
	width := fs.Int("width", 1200, "image width in pixels")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gstscope-report flame -pyroscope URL [-service NAME] [-from T -until T] [-o flame.svg]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *server == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	root, err := fetchProfileRange(*server, *service, *from, *until)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gstscope-report flame:", err)
		return 1
	}
	if root.total == 0 {
		fmt.Fprintf(os.Stderr, "gstscope-report flame: no profile data for service %q from %s until %s\n", *service, *from, *until)
		return 1
	}
	title := fmt.Sprintf("CPU of %s, %s to %s", *service, *from, *until)
	w := io.Writer(os.Stdout)
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintln(os.Stderr, "gstscope-report flame:", err)
			return 1
		}
		w = f
	}
	bw := bufio.NewWriter(w)
	writeFlame(bw, root, title, *width)
	err = bw.Flush()
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gstscope-report flame:", err)
		return 1
	}
	return 0
}

// Layout, in pixels. charWidth is an average glyph of 12 px Verdana/DejaVu
// Sans, on the wide side so that cut names fit.
const (
	frameHeight = 17
	sidePad     = 10
	topPad      = 40 // the title
	bottomPad   = 30 // the legend
	fontSize    = 12
	charWidth   = 7.2
	minFrame    = 0.1 // frames narrower than this are not drawn
)

type frameKind int

const (
	kindRoot frameKind = iota
	kindPipeline
	kindElement
	kindThread
)

func (k frameKind) String() string {
	return [...]string{"total", "pipeline", "element", "thread"}[k]
}

// kindOf tells a frame's kind from its name and depth (0 is the root):
// thread:<name> frames anywhere, an element's workers:<element> frame (its
// codec's own threads) as threads, pipelines at depth 1, elements above.
func kindOf(name string, depth int) frameKind {
	switch {
	case depth == 0:
		return kindRoot
	case strings.HasPrefix(name, "thread:"), strings.HasPrefix(name, "workers:"):
		return kindThread
	case depth == 1:
		return kindPipeline
	}
	return kindElement
}

// color is a frame's fill: a hue range per kind, the shade from the name so
// that neighbours differ and a name keeps its color across graphs.
func color(k frameKind, name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	a, b := int(v%55), int(v/55%55)
	switch k {
	case kindRoot:
		return "rgb(200,200,200)"
	case kindPipeline:
		return fmt.Sprintf("rgb(%d,%d,235)", 80+a, 140+b)
	case kindThread:
		return fmt.Sprintf("rgb(%d,%d,%d)", 140+a/2, 175+b/2, 140+a/2)
	}
	return fmt.Sprintf("rgb(235,%d,%d)", 100+a*2, 30+b)
}

// esc is s escaped for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// fitText is name cut to fit px pixels ("" when not even two characters
// fit), ending in ".." when cut.
func fitText(name string, px float64) string {
	n := int((px-6)/charWidth + 1e-9)
	r := []rune(name)
	switch {
	case len(r) <= n:
		return name
	case n < 3:
		return ""
	}
	return string(r[:n-2]) + ".."
}

func seconds(ns int64) string {
	s := float64(ns) / 1e9
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f ms", s*1e3)
}

func depthOf(n *node) int {
	d := 0
	for _, c := range n.children {
		if cd := depthOf(c); cd > d {
			d = cd
		}
	}
	return d + 1
}

// writeFlame writes root's flame graph as an SVG document width pixels wide.
func writeFlame(w io.Writer, root *node, title string, width int) {
	levels := depthOf(root)
	height := topPad + levels*frameHeight + bottomPad
	scale := 0.0
	if root.total > 0 {
		scale = float64(width-2*sidePad) / float64(root.total)
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Verdana, DejaVu Sans, sans-serif" font-size="%d">
<style>rect.f { stroke: white; stroke-width: 0.5; } g.f:hover rect { stroke: black; stroke-width: 1; } text { pointer-events: none; }</style>
<rect x="0" y="0" width="100%%" height="100%%" fill="rgb(250,250,242)"/>
<text x="%d" y="24" font-size="16" text-anchor="middle">%s</text>
<text x="%d" y="24" text-anchor="end">total %s</text>
`, width, height, width, height, fontSize, width/2, esc(title), width-sidePad, esc(seconds(root.total)))
	var draw func(n *node, depth int, x float64)
	draw = func(n *node, depth int, x float64) {
		fw := float64(n.total) * scale
		if fw < minFrame {
			return
		}
		y := float64(height - bottomPad - (depth+1)*frameHeight)
		k := kindOf(n.name, depth)
		share := 100 * float64(n.total) / float64(root.total)
		tip := fmt.Sprintf("%s (%s): %s, %.2f%% of the total; self %s", n.name, k, seconds(n.total), share, seconds(n.self))
		fmt.Fprintf(w, `<g class="f"><title>%s</title><rect class="f" x="%.2f" y="%.0f" width="%.2f" height="%d" rx="2" fill="%s"/>`,
			esc(tip), x, y, fw, frameHeight-1, color(k, n.name))
		if t := fitText(n.name, fw); t != "" {
			fmt.Fprintf(w, `<text x="%.2f" y="%.0f">%s</text>`, x+3, y+frameHeight-5, esc(t))
		}
		fmt.Fprintln(w, "</g>")
		kids := append([]*node(nil), n.children...)
		sort.SliceStable(kids, func(i, j int) bool { return kids[i].name < kids[j].name })
		for _, c := range kids {
			draw(c, depth+1, x)
			x += float64(c.total) * scale
		}
	}
	draw(root, 0, sidePad)
	lx := sidePad
	ly := height - 10
	for _, k := range []frameKind{kindPipeline, kindElement, kindThread} {
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			lx, ly-11, color(k, k.String()), lx+16, ly, k)
		lx += 110
	}
	fmt.Fprintf(w, `<text x="%d" y="%d">width: CPU time; hover a frame for its name, seconds and share</text>`+"\n", lx, ly)
	fmt.Fprintln(w, "</svg>")
}
