package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// node is one frame of a flame graph read back from Pyroscope.
type node struct {
	name        string
	total, self int64
	children    []*node
}

// fetchProfileRange reads the merged CPU profile of service from one time
// to another, each in any form the server takes: now, now-1h, unix seconds
// or milliseconds.
func fetchProfileRange(server, service, from, until string) (*node, error) {
	return fetchProfileSelector(server, `{service_name="`+service+`"}`, from, until)
}

// selectorOf is the label selector of a service's profiles with tags, as
// GST_PYROSCOPE_TAGS writes them: k1=v1,k2=v2.
func selectorOf(service, tags string) (string, error) {
	sel := []string{`service_name="` + service + `"`}
	for _, kv := range strings.Split(tags, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k+v, "{}\",=") {
			return "", fmt.Errorf("tag %q is not key=value", kv)
		}
		sel = append(sel, k+`="`+v+`"`)
	}
	return "{" + strings.Join(sel, ",") + "}", nil
}

// fetchProfileSelector reads the merged CPU profile of the series that
// selector ({service_name="x",...}) picks.
func fetchProfileSelector(server, selector, from, until string) (*node, error) {
	q := url.Values{
		"query":  {`process_cpu:cpu:nanoseconds:cpu:nanoseconds` + selector},
		"from":   {from},
		"until":  {until},
		"format": {"json"},
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(strings.TrimRight(server, "/") + "/pyroscope/render?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	return decodeProfile(resp.Body)
}

// decodeProfile reads the render API's JSON answer into a tree.
func decodeProfile(r io.Reader) (*node, error) {
	var out struct {
		Flamebearer struct {
			Names  []string  `json:"names"`
			Levels [][]int64 `json:"levels"`
		} `json:"flamebearer"`
	}
	if err := json.NewDecoder(r).Decode(&out); err != nil {
		return nil, err
	}
	return buildTree(out.Flamebearer.Names, out.Flamebearer.Levels), nil
}

// buildTree decodes flamebearer levels: each node is [x delta, total, self,
// name index], x being its offset from the end of the previous node of the
// level; a node's parent is the node of the level above that spans its x.
func buildTree(names []string, levels [][]int64) *node {
	type placed struct {
		n    *node
		x, w int64
	}
	root := &node{name: "total"}
	var above []placed
	for li, level := range levels {
		var here []placed
		x := int64(0)
		for i := 0; i+3 < len(level); i += 4 {
			x += level[i]
			n := &node{total: level[i+1], self: level[i+2]}
			if k := level[i+3]; k >= 0 && int(k) < len(names) {
				n.name = names[k]
			}
			if li == 0 {
				root = n
			} else {
				for _, p := range above {
					if p.x <= x && x < p.x+p.w {
						p.n.children = append(p.n.children, n)
						break
					}
				}
			}
			here = append(here, placed{n, x, n.total})
			x += n.total
		}
		above = here
	}
	return root
}

// printTree prints frames holding at least min of the total, biggest first.
func printTree(w io.Writer, root *node, min float64) {
	if root.total == 0 {
		fmt.Fprintln(w, "(no profile data)")
		return
	}
	fmt.Fprintf(w, "%10s %7s %10s  %s\n", "CPU", "share", "self", "frame")
	var walk func(n *node, depth int)
	walk = func(n *node, depth int) {
		share := float64(n.total) / float64(root.total)
		if share < min {
			return
		}
		fmt.Fprintf(w, "%9.3fs %6.1f%% %9.3fs  %s%s\n", float64(n.total)/1e9, share*100,
			float64(n.self)/1e9, strings.Repeat("  ", depth), n.name)
		sortNodes(n.children)
		for _, c := range n.children {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
}

func sortNodes(ns []*node) {
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].total > ns[j].total })
}
