package integration

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Headless Chromium (Debian's chromium, scripts/deps.sh) opens what the
// views write, as a person's browser would: a screenshot that must not be
// blank and the rendered document's text.

// chromium runs headless Chromium on target (a file path or a URL) with the
// extra arguments, in a fresh profile, and returns its stdout.
func chromium(t *testing.T, target string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Fatalf("chromium is not installed (scripts/deps.sh installs it): %v", err)
	}
	if !strings.Contains(target, "://") {
		abs, err := filepath.Abs(target)
		if err != nil {
			t.Fatal(err)
		}
		target = "file://" + abs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--user-data-dir=" + t.TempDir(), "--window-size=1200,800"}, args...)
	cmd := exec.CommandContext(ctx, "chromium", append(all, target)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", target, err, tail(errb.String()))
	}
	return out.Bytes()
}

// chromiumScreenshot renders target at 1200x800 and checks that the picture
// is not blank: at least minColors distinct colors and 1% of the pixels not
// (near) white. It returns the PNG's path.
func chromiumScreenshot(t *testing.T, target string, minColors int) string {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "screenshot.png")
	chromium(t, target, "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colors := map[[3]uint32]bool{}
	inked, all := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r>>8 < 235 || g>>8 < 235 || bl>>8 < 235 {
				inked++
			}
			all++
		}
	}
	t.Logf("screenshot of %s: %dx%d, %d colors, %.1f%% of the pixels inked", target, b.Dx(), b.Dy(), len(colors), 100*float64(inked)/float64(all))
	if len(colors) < minColors || inked*100 < all {
		t.Errorf("the screenshot of %s looks blank: %d colors (want %d), %d of %d pixels inked", target, len(colors), minColors, inked, all)
	}
	return shot
}

// chromiumDOM is the document as Chromium rendered it (--dump-dom).
func chromiumDOM(t *testing.T, target string) string {
	t.Helper()
	return string(chromium(t, target, "--dump-dom"))
}

var svgText = regexp.MustCompile(`(?s)<text[^>]*>(.*?)</text>`)

// renderedTexts are the contents of the <text> elements of a dumped SVG
// document: what is drawn, unlike <title>s, which are tooltips.
func renderedTexts(dom string) []string {
	var out []string
	for _, m := range svgText.FindAllStringSubmatch(dom, -1) {
		out = append(out, m[1])
	}
	return out
}
