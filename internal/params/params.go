// Package params holds a tracer's parameters, the text inside the
// parentheses of GST_TRACERS='name(key=value,...)', as GStreamer parsed
// them, and the checks every gstscope tracer applies to them.
package params

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Params are field name to value text. Unparsed is set when the string was
// not a valid structure; Raw keeps it for the warning.
type Params struct {
	Fields   map[string]string
	Unparsed bool
	Raw      string
}

// Check returns a warning for an unparsable string and one for each key
// not in known.
func (p Params) Check(known ...string) []string {
	var warn []string
	if p.Unparsed {
		warn = append(warn, fmt.Sprintf("cannot parse tracer parameters %q (expected key=value,...); using the defaults", p.Raw))
	}
	keys := make([]string, 0, len(p.Fields))
	for k := range p.Fields {
		if !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		warn = append(warn, fmt.Sprintf("unknown parameter %q ignored; valid parameters are %s", k, strings.Join(known, ", ")))
	}
	return warn
}

// Lookup returns the parameter key if it is set, else the environment
// variable env: a parameter overrides the environment. from names where the
// value came from, for warnings.
func (p Params) Lookup(key, env string, getenv func(string) string) (value, from string, ok bool) {
	if v, ok := p.Fields[key]; ok {
		return v, key, true
	}
	if env != "" {
		if v := getenv(env); v != "" {
			return v, env, true
		}
	}
	return "", "", false
}
