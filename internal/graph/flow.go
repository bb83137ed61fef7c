package graph

// Flow health on the graph: an element that dropped buffers in the window
// says "dropped N/s" in red; a queue shows each of its queues' level (now:
// a gauge) and the share of the window its upstream threads waited for
// room (a multiqueue's threads summed: above 100% when several wait).

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/gstscope/gstscope/internal/model"
)

// flow sets n's flow figures from me, its model over a window of seconds.
func (n *node) flow(me *model.Element, seconds float64) {
	n.levels = me.Levels()
	var blocked float64
	blocked, n.hasBlocked = me.Blocked()
	dropped, _ := me.Dropped()
	if seconds > 0 {
		n.blocked = blocked / seconds
		n.dropRate = dropped / seconds
	}
}

// queueLines are a queue's lines: its level (each queue's, named, in a
// multiqueue) and its blocked share.
func (n *node) queueLines() []string {
	var lines []string
	for _, l := range n.levels {
		s := "level " + levelText(l)
		if len(n.levels) > 1 {
			s = l.Queue + " " + levelText(l)
		}
		lines = append(lines, s)
	}
	if n.hasBlocked {
		lines = append(lines, fmt.Sprintf("blocked %.0f%%", 100*n.blocked))
	}
	return lines
}

// levelText is "200 buf, 950.00 ms"; a family the exposition lacks is left
// out.
func levelText(l model.Level) string {
	var parts []string
	if !math.IsNaN(l.Buffers) {
		parts = append(parts, fmt.Sprintf("%.0f buf", l.Buffers))
	}
	if !math.IsNaN(l.Seconds) {
		parts = append(parts, dur(l.Seconds))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// htmlLabel is a Graphviz HTML-like label of lines with red last in red:
// the one way to color part of a node's text. Names are escaped as HTML.
func htmlLabel(lines []string, red string) string {
	var b strings.Builder
	b.WriteString("<")
	for _, l := range lines {
		b.WriteString(html.EscapeString(l))
		b.WriteString("<BR/>")
	}
	fmt.Fprintf(&b, `<FONT COLOR="red">%s</FONT>>`, html.EscapeString(red))
	return b.String()
}
