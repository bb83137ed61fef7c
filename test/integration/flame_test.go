package integration

import (
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gstscope-report flame draws the profile of a pipeline with known elements
// from the real Pyroscope server; headless Chromium renders the SVG (not
// blank) with the elements' names drawn, and their full names, seconds and
// shares in the tooltips.
func TestFlameSVGRendered(t *testing.T) {
	base := pyroscopeURL(t)
	name := uniqueName("flame")
	env := gstEnv(t, "pyroscope(flags=element)",
		"GST_PYROSCOPE_SERVER_URL="+base, "GST_PYROSCOPE_TRACER_NAME="+name)
	const pipeline = "fakesrc num-buffers=200 ! scopeburn name=burnA cpu-us=3000 ! identity name=passB ! scopeburn name=burnC cpu-us=1500 ! fakesink name=sinkD"
	runPipeline(t, env, pipeline)
	f := waitFlameFor(t, base, `{service_name="`+name+`"}`, func(f flame) bool { return f.Self["burnA"] > 0 && f.Self["burnC"] > 0 })
	if f.Self["burnA"] == 0 || f.Self["burnC"] == 0 {
		t.Fatalf("the profile lacks the burners: %v", f.Self)
	}

	dir := t.TempDir()
	report := reportBin(t)
	svg := filepath.Join(dir, "flame.svg")
	out, err := exec.Command(report, "flame", "-pyroscope", base, "-service", name,
		"-from", "now-15m", "-until", "now", "-o", svg).CombinedOutput()
	if err != nil {
		t.Fatalf("gstscope-report flame: %v\n%s", err, out)
	}
	// Unix seconds work as Pyroscope takes them.
	from := fmt.Sprint(time.Now().Add(-15 * time.Minute).Unix())
	if out, err := exec.Command(report, "flame", "-pyroscope", base, "-service", name,
		"-from", from, "-until", fmt.Sprint(time.Now().Add(time.Minute).Unix()), "-o", filepath.Join(dir, "unix.svg")).CombinedOutput(); err != nil {
		t.Errorf("flame -from %s (unix seconds): %v\n%s", from, err, out)
	}
	// No data is an error, not an empty picture.
	if out, err := exec.Command(report, "flame", "-pyroscope", base, "-service", name+"-none", "-o", filepath.Join(dir, "none.svg")).CombinedOutput(); err == nil {
		t.Errorf("flame for a service without data succeeded: %s", out)
	}

	chromiumScreenshot(t, svg, 8)
	dom := chromiumDOM(t, svg)
	if strings.Contains(dom, "error on line") || !strings.Contains(dom, "<svg") {
		t.Fatalf("Chromium did not render the SVG:\n%s", tail(dom))
	}
	drawn := strings.Join(renderedTexts(dom), "\n")
	for _, n := range []string{"total", "pipeline0", "fakesrc0", "burnA", "passB", "burnC"} {
		if !strings.Contains("\n"+drawn+"\n", "\n"+n+"\n") {
			t.Errorf("%s is not drawn; the frames' texts:\n%s", n, drawn)
		}
	}
	// Every frame the tree has above 0.5% is in a tooltip with its share.
	src, _ := os.ReadFile(svg)
	text := html.UnescapeString(string(src))
	for frame, ns := range f.Self {
		if float64(ns) < 0.005*float64(f.Total) {
			continue
		}
		if !strings.Contains(text, "<title>"+frame+" (") {
			t.Errorf("no tooltip for %s", frame)
		}
	}
	if !strings.Contains(text, "<title>burnA (element): ") || !strings.Contains(text, "% of the total") {
		t.Errorf("burnA's tooltip lacks its seconds and share:\n%s", tail(text))
	}
}
