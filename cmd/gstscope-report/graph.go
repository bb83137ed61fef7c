package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runGraph is `gstscope-report graph URL [-o FILE]`: it fetches the
// pipeline graph from the metrics server at URL (the base, as in
// http://localhost:9100, or its /graph) and writes it to FILE: as DOT for
// .dot and .gv, rendered by Graphviz's dot for .svg, .png and .pdf; without
// -o, the DOT goes to stdout.
func runGraph(args []string) int {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	out := fs.String("o", "", "write the graph to this file: .dot or .gv (DOT), .svg, .png or .pdf (rendered with Graphviz dot)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gstscope-report graph URL [-o pipeline.svg]")
		fs.PrintDefaults()
	}
	// The URL may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var url string
	if fs.NArg() > 0 {
		url = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return 2
		}
	}
	if url == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	dot, err := fetchGraph(url)
	if err == nil {
		err = writeGraph(dot, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gstscope-report graph:", err)
		return 1
	}
	return 0
}

// graphURL is the /graph of a metrics endpoint given by its base URL, its
// /metrics, or its /graph.
func graphURL(base string) string {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	base = strings.TrimRight(base, "/")
	if strings.HasSuffix(base, "/graph") {
		return base
	}
	return strings.TrimSuffix(base, "/metrics") + "/graph"
}

func fetchGraph(base string) ([]byte, error) {
	c := http.Client{Timeout: 15 * time.Second}
	resp, err := c.Get(graphURL(base))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: %s: %s", graphURL(base), resp.Status, bytes.TrimSpace(b))
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

func writeGraph(dot []byte, path string) error {
	if path == "" {
		_, err := os.Stdout.Write(dot)
		return err
	}
	switch ext := strings.TrimPrefix(filepath.Ext(path), "."); ext {
	case "dot", "gv":
		return os.WriteFile(path, dot, 0o644)
	case "svg", "png", "pdf":
		cmd := exec.Command("dot", "-T"+ext, "-o", path)
		cmd.Stdin = bytes.NewReader(dot)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("dot -T%s (Graphviz, from scripts/deps.sh): %v: %s", ext, err, bytes.TrimSpace(stderr.Bytes()))
		}
		return nil
	default:
		return fmt.Errorf("%s: unknown format %q; use .dot, .gv, .svg, .png or .pdf", path, ext)
	}
}
