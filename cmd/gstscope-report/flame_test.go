package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

type svgFrame struct {
	title, text, fill string
	x, y, w           float64
}

// parseFrames reads the frames (<g class="f">) back from an SVG, failing
// the test when it is not well-formed XML.
func parseFrames(t *testing.T, svg []byte) []svgFrame {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var frames []svgFrame
	var cur *svgFrame
	var in string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range e.Attr {
				attr[a.Name.Local] = a.Value
			}
			switch {
			case e.Name.Local == "g" && attr["class"] == "f":
				frames = append(frames, svgFrame{})
				cur = &frames[len(frames)-1]
			case cur != nil && e.Name.Local == "rect":
				cur.fill = attr["fill"]
				cur.x, _ = strconv.ParseFloat(attr["x"], 64)
				cur.y, _ = strconv.ParseFloat(attr["y"], 64)
				cur.w, _ = strconv.ParseFloat(attr["width"], 64)
			}
			in = e.Name.Local
		case xml.CharData:
			if cur != nil && in == "title" {
				cur.title += string(e)
			} else if cur != nil && in == "text" {
				cur.text += string(e)
			}
		case xml.EndElement:
			in = ""
			if e.Name.Local == "g" {
				cur = nil
			}
		}
	}
	return frames
}

func TestFlameSVG(t *testing.T) {
	f, err := os.Open("testdata/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root, err := decodeProfile(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	writeFlame(&buf, root, `CPU of "test" <service>`, 1200)
	frames := parseFrames(t, buf.Bytes())
	byName := map[string]svgFrame{}
	for _, fr := range frames {
		name, _, _ := strings.Cut(fr.title, " (")
		byName[name] = fr
	}
	const burn = `bin1/scope<burn>&"1"`
	const long = "a-very-long-element-name-that-cannot-fit-in-its-frame"
	for _, n := range []string{"total", "pipeline0", "thread:gmain", "fakesrc0", burn, "identity0", long} {
		if _, ok := byName[n]; !ok {
			t.Errorf("no frame %q (titles must start with the full name); frames: %v", n, frames)
		}
	}
	if len(frames) != 7 {
		t.Errorf("%d frames, want 7", len(frames))
	}
	if t.Failed() {
		return
	}

	// The root is at the bottom, each frame one row above its parent.
	rootF := byName["total"]
	for _, c := range []struct{ child, parent string }{
		{"pipeline0", "total"}, {"thread:gmain", "total"}, {"fakesrc0", "pipeline0"},
		{burn, "fakesrc0"}, {"identity0", "fakesrc0"}, {long, "fakesrc0"},
	} {
		ch, p := byName[c.child], byName[c.parent]
		if ch.y != p.y-frameHeight {
			t.Errorf("%s at y=%v, want one row above %s (y=%v)", c.child, ch.y, c.parent, p.y)
		}
		if ch.x < p.x-0.01 || ch.x+ch.w > p.x+p.w+0.01 {
			t.Errorf("%s [%v, %v] is not within %s [%v, %v]", c.child, ch.x, ch.x+ch.w, c.parent, p.x, p.x+p.w)
		}
	}
	for _, fr := range frames {
		if fr.y > rootF.y {
			t.Errorf("%q is below the root", fr.title)
		}
	}

	// Widths are CPU; titles hold seconds and shares.
	for name, share := range map[string]float64{"total": 1, "pipeline0": 0.8, "thread:gmain": 0.2, burn: 0.6, "identity0": 0.145} {
		if got := byName[name].w / rootF.w; got < share-0.001 || got > share+0.001 {
			t.Errorf("%s is %.4f of the width, want %.3f", name, got, share)
		}
	}
	for name, want := range map[string]string{
		"total":        "total (total): 10.00 s, 100.00% of the total",
		burn:           burn + " (element): 6.00 s, 60.00% of the total; self 6.00 s",
		"identity0":    "identity0 (element): 1.45 s, 14.50% of the total",
		long:           long + " (element): 50.0 ms, 0.50% of the total",
		"thread:gmain": "thread:gmain (thread): 2.00 s, 20.00% of the total",
		"pipeline0":    "pipeline0 (pipeline): 8.00 s, 80.00% of the total; self 0.0 ms",
	} {
		if got := byName[name].title; !strings.HasPrefix(got, want) {
			t.Errorf("title %q, want it to start with %q", got, want)
		}
	}

	// Names are cut to their frame; wide frames show them whole.
	for _, fr := range frames {
		if float64(len([]rune(fr.text)))*charWidth > fr.w {
			t.Errorf("text %q does not fit its %.1f px frame", fr.text, fr.w)
		}
	}
	if got := byName[burn].text; got != burn {
		t.Errorf("the wide frame shows %q, want %q", got, burn)
	}
	if got := byName[long].text; got != "" && (!strings.HasSuffix(got, "..") || !strings.HasPrefix(long, strings.TrimSuffix(got, ".."))) {
		t.Errorf("the narrow frame shows %q, want a cut %q ending in ..", got, long)
	}

	// Colors by kind.
	for name, kind := range map[string]frameKind{"pipeline0": kindPipeline, "fakesrc0": kindElement, burn: kindElement, "thread:gmain": kindThread} {
		if got, want := byName[name].fill, color(kind, name); got != want {
			t.Errorf("%s filled %s, want the %s color %s", name, got, kind, want)
		}
	}
	if a, b := byName["pipeline0"].fill, byName["fakesrc0"].fill; a == b {
		t.Errorf("a pipeline and an element share the color %s", a)
	}
	if !strings.Contains(buf.String(), "CPU of &#34;test&#34; &lt;service&gt;") {
		t.Errorf("the title is not escaped:\n%s", buf.String()[:600])
	}
}

func TestFitText(t *testing.T) {
	for _, c := range []struct {
		name string
		px   float64
		want string
	}{
		{"identity0", 200, "identity0"},
		{"identity0", 6 + 5*charWidth, "ide.."},
		{"identity0", 6 + 2*charWidth, ""},
		{"élément", 6 + 4*charWidth, "él.."},
	} {
		if got := fitText(c.name, c.px); got != c.want {
			t.Errorf("fitText(%q, %v) = %q, want %q", c.name, c.px, got, c.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		name  string
		depth int
		want  frameKind
	}{
		{"total", 0, kindRoot}, {"pipeline0", 1, kindPipeline}, {"other (pipeline)", 1, kindPipeline},
		{"thread:gmain", 1, kindThread}, {"x264enc0", 3, kindElement}, {"thread:videotestsrc0:s", 4, kindThread},
	} {
		if got := kindOf(c.name, c.depth); got != c.want {
			t.Errorf("kindOf(%q, %d) = %v, want %v", c.name, c.depth, got, c.want)
		}
	}
}
