package integration

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The pipeline behind the dashboard tests: a live source, CPU in a burner,
// a tee, a syncing sink with qos (its lateness), and a branch whose identity
// holds each buffer 0.6 s (above the example alert's 0.5 s) behind a leaky
// queue, which drops most buffers (the drop alert); and apart, a source that
// fills a queue (full) before an identity slower than it (stall).
const dashPipeline = "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=50/1 ! tee name=t " +
	"t. ! queue name=q1 ! scopeburn name=burn cpu-us=2000 ! videoconvert ! fakesink name=display sync=true qos=true " +
	"t. ! queue name=q2 leaky=downstream max-size-buffers=1 ! identity name=slow sleep-time=600000 ! fakesink name=slowsink sync=false " +
	"videotestsrc ! video/x-raw,width=64,height=48 ! queue name=full max-size-buffers=3 ! identity name=stall sleep-time=30000 ! fakesink sync=false"

const tracersBoth = "prometheus-latency-tracer(flags=pipeline+element+reported);pyroscope(flags=element)"

// startLaunch runs gst-launch-1.0 -e on a pipeline until the test ends
// (startPipeline); its String is the log so far.
func startLaunch(t *testing.T, env []string, desc string) *pipeline {
	t.Helper()
	return startPipeline(t, env, "-e "+desc)
}

// grafanaVars are the dashboard's template variables as the test sets them;
// Grafana's own ($__rate_interval is at least four scrape intervals).
func grafanaVars(pipeline, element, service string) *strings.Replacer {
	return strings.NewReplacer(
		"$__rate_interval", "5s", "${__rate_interval}", "5s",
		"$__interval", "1s", "${__interval}", "1s",
		"$__range", "1m", "${__range}", "1m",
		"${pipeline}", pipeline, "$pipeline", pipeline,
		"${element}", element, "$element", element,
		"${service}", service, "$service", service,
	)
}

type dashQuery struct {
	where, expr string
	labels      string // label_values: the label asked for; else ""
}

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

// dashboardQueries is every PromQL expression of the dashboard: each
// target's expr, in panels and rows, and each query variable.
func dashboardQueries(t *testing.T, dash map[string]any) (qs []dashQuery, flames []map[string]any) {
	t.Helper()
	var walkPanels func(ps []any)
	walkPanels = func(ps []any) {
		for _, p := range ps {
			p := p.(map[string]any)
			if sub, ok := p["panels"].([]any); ok {
				walkPanels(sub)
			}
			targets, _ := p["targets"].([]any)
			for _, tg := range targets {
				tg := tg.(map[string]any)
				if e, ok := tg["expr"].(string); ok {
					qs = append(qs, dashQuery{where: fmt.Sprintf("panel %q %v", p["title"], tg["refId"]), expr: e})
				} else if p["type"] == "flamegraph" {
					flames = append(flames, tg)
				} else {
					t.Errorf("panel %q has a target without expr: %v", p["title"], tg)
				}
			}
		}
	}
	walkPanels(dash["panels"].([]any))
	for _, v := range dash["templating"].(map[string]any)["list"].([]any) {
		v := v.(map[string]any)
		if v["type"] != "query" {
			continue
		}
		q := v["query"]
		if m, ok := q.(map[string]any); ok {
			q = m["query"]
		}
		s, _ := q.(string)
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable %v: query %q is not label_values(series, label)", v["name"], s)
			continue
		}
		qs = append(qs, dashQuery{where: fmt.Sprintf("variable %v", v["name"]), expr: m[1], labels: m[2]})
	}
	return qs, flames
}

type promResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   json.RawMessage
}

// promAPI gets a Prometheus API path and decodes the answer's data.
func promAPI(base, path string, q url.Values, data any) error {
	code, body, err := get(base + path + "?" + q.Encode())
	if err != nil {
		return err
	}
	var r promResult
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return fmt.Errorf("%d: %v: %s", code, err, body)
	}
	if r.Status != "success" {
		return fmt.Errorf("%d: %s", code, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

// Every PromQL expression of dashboards/gstscope.json and dashboards/rules.yml
// returns data from a real Prometheus scraping a real pipeline traced by both
// tracers (and evaluating the rules), the example alert goes pending for the
// slow element, and the flame graph panel's query returns the profile from
// the real Pyroscope server.
func TestDashboardQueries(t *testing.T) {
	if memoryChecker() != "" {
		t.Skip("the dashboard's queries run no plugin code that the other tests do not run under the checker")
	}
	rules, err := filepath.Abs("../../dashboards/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("promtool", "check", "rules", rules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	raw, err := os.ReadFile("../../dashboards/gstscope.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	queries, flames := dashboardQueries(t, dash)
	if len(queries) < 12 || len(flames) != 1 {
		t.Fatalf("%d PromQL queries and %d flame graph targets found, want at least 12 and 1", len(queries), len(flames))
	}

	pyroBase := pyroscopeURL(t)
	service := uniqueName("dashboard")
	port := freePort(t)
	gstLog := startLaunch(t, gstEnv(t, tracersBoth,
		fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", port), "GST_PYROSCOPE_SERVER_URL="+pyroBase,
		"GST_PYROSCOPE_TRACER_NAME="+service, "GST_PYROSCOPE_UPLOAD_INTERVAL=1s"), dashPipeline)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))

	promBase, promLog := startPrometheus(t, port, fmt.Sprintf("  evaluation_interval: 1s\nrule_files: [%q]\n", rules))

	// The rules as Prometheus loaded them: all of the file, healthy.
	type rule struct {
		Name, Query, Type, Health, State, LastError string
	}
	var loaded struct {
		Groups []struct{ Rules []rule }
	}
	var rulesList []rule
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := promAPI(promBase, "/api/v1/rules", nil, &loaded); err != nil {
			t.Fatalf("rules API: %v", err)
		}
		rulesList = rulesList[:0]
		for _, g := range loaded.Groups {
			rulesList = append(rulesList, g.Rules...)
		}
		healthy := len(rulesList) > 0
		for _, r := range rulesList {
			healthy = healthy && r.Health == "ok"
		}
		if healthy || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	ruleFile, _ := os.ReadFile(rules)
	if n := strings.Count(string(ruleFile), "expr:"); len(rulesList) != n {
		t.Errorf("Prometheus loaded %d rules, the file has %d", len(rulesList), n)
	}
	for _, r := range rulesList {
		if r.Health != "ok" {
			t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
		}
		queries = append(queries, dashQuery{where: "rule " + r.Name, expr: r.Query})
		if r.Type == "recording" {
			queries = append(queries, dashQuery{where: "recorded series", expr: r.Name})
		}
	}

	// Each query with the variables at "All" and at one pipeline and two
	// elements (Grafana writes a multi-value selection as (a|b)).
	type check struct {
		dashQuery
		vars, query string
	}
	var checks []check
	// videotestsrc0 is selected for the reported latency panel: only
	// elements that add to the LATENCY answer have a share (the live source
	// its frame); q2 for the drops, display for the lateness, full for the
	// queue panels.
	for _, vs := range [][2]string{{".*", ".*"}, {"pipeline0", "(burn|slow|videotestsrc0|q2|display|full)"}} {
		r := grafanaVars(vs[0], vs[1], service)
		for _, q := range queries {
			e := r.Replace(q.expr)
			if strings.Contains(e, "$") {
				t.Errorf("%s: a variable is left in %s", q.where, e)
				continue
			}
			checks = append(checks, check{q, fmt.Sprintf("pipeline=%s element=%s", vs[0], vs[1]), e})
		}
	}
	pending := append([]check(nil), checks...)
	deadline = time.Now().Add(40 * time.Second)
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []check
		for _, c := range pending {
			var n int
			var err error
			if c.labels != "" {
				var values []string
				err = promAPI(promBase, "/api/v1/label/"+c.labels+"/values", url.Values{"match[]": {c.query}}, &values)
				n = len(values)
			} else {
				var res struct{ Result []json.RawMessage }
				err = promAPI(promBase, "/api/v1/query", url.Values{"query": {c.query}}, &res)
				n = len(res.Result)
			}
			if err != nil {
				t.Errorf("%s (%s): %s: %v", c.where, c.vars, c.query, err)
			} else if n == 0 {
				still = append(still, c)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(time.Second)
		}
	}
	// A reported maximum is exported only where an element's share is
	// bounded and above zero, which no element of this pipeline has (its
	// sources answer an unbounded maximum): such a query may be empty while
	// the tracer exports no series of its family, and must not be once it
	// does.
	_, exposition, _ := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	for _, c := range pending {
		if strings.Contains(c.query, reportedMax) && !strings.Contains(exposition, reportedMax+"{") {
			t.Logf("%s (%s): no data, and no %s series exported", c.where, c.vars, reportedMax)
			continue
		}
		t.Errorf("%s (%s): no data for %s", c.where, c.vars, c.query)
	}
	t.Logf("%d queries of the dashboard and the rules returned data", len(checks)-len(pending))

	// The queue panels show the full queue as full: at its 3 buffers
	// (within one: the scrape may fall between an output and the next
	// input) and blocked most of the time.
	for _, q := range []struct {
		expr   string
		lo, hi float64
	}{
		{`gstreamer_queue_level_buffers{element="full"}`, 2, 3},
		{`rate(gstreamer_queue_blocked_seconds_total{element="full"}[5s])`, 0.75, 1.05},
	} {
		var res struct {
			Result []struct{ Value [2]any }
		}
		if err := promAPI(promBase, "/api/v1/query", url.Values{"query": {q.expr}}, &res); err != nil || len(res.Result) != 1 {
			t.Errorf("%s: %v %v", q.expr, res, err)
			continue
		}
		v, _ := strconv.ParseFloat(fmt.Sprint(res.Result[0].Value[1]), 64)
		if v < q.lo || v > q.hi {
			t.Errorf("%s = %g, want %g..%g", q.expr, v, q.lo, q.hi)
		}
	}

	// The example alerts are pending (their for: 5m is longer than the
	// test): the latency alert for the slow element and not for the others,
	// the drop alert for the leaky queue in front of it (on a loaded
	// machine display's frames may come late and videoconvert drop some on
	// QoS: those are drops too).
	var alerts struct {
		Alerts []struct {
			Labels map[string]string
			State  string
		}
	}
	slow, leaky := false, false
	for deadline = time.Now().Add(15 * time.Second); !(slow && leaky) && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if err := promAPI(promBase, "/api/v1/alerts", nil, &alerts); err != nil {
			t.Fatalf("alerts API: %v", err)
		}
		slow, leaky = false, false
		for _, a := range alerts.Alerts {
			slow = slow || a.Labels["alertname"] == "GStreamerElementLatencyHigh" && a.Labels["element"] == "slow" && a.State == "pending"
			leaky = leaky || a.Labels["alertname"] == "GStreamerElementDroppingBuffers" && a.Labels["element"] == "q2" && a.State == "pending"
		}
	}
	for _, a := range alerts.Alerts {
		if a.Labels["alertname"] == "GStreamerElementDroppingBuffers" {
			t.Logf("alert %s for %s: %s", a.Labels["alertname"], a.Labels["element"], a.State)
			if e := a.Labels["element"]; e == "q1" || e == "burn" || e == "slow" {
				t.Errorf("the drop alert is %s for %s, which passes on all it gets", a.State, e)
			}
		}
		if a.Labels["alertname"] != "GStreamerElementLatencyHigh" {
			continue
		}
		t.Logf("alert %s for %s: %s", a.Labels["alertname"], a.Labels["element"], a.State)
		if e := a.Labels["element"]; e == "burn" || e == "display" || e == "videoconvert0" {
			t.Errorf("the alert is %s for %s, a fast element", a.State, a.Labels["element"])
		}
	}
	if !slow {
		t.Errorf("GStreamerElementLatencyHigh is not pending for the slow element: %+v", alerts.Alerts)
	}
	if !leaky {
		t.Errorf("GStreamerElementDroppingBuffers is not pending for the leaky queue q2: %+v", alerts.Alerts)
	}

	// The flame graph panel: its profile type is what the tracer uploads,
	// and its label selector finds the profile.
	fl := flames[0]
	if fl["profileTypeId"] != cpuType || fl["queryType"] != "profile" {
		t.Errorf("flame graph target %v, want queryType profile and profileTypeId %s", fl, cpuType)
	}
	sel := grafanaVars(".*", ".*", service).Replace(fl["labelSelector"].(string))
	// The pipeline still runs and uploads every second: wait for what is
	// asserted, not for the profile to stop changing.
	f := waitFlameFor(t, pyroBase, sel, func(f flame) bool { return f.Self["burn"] > 0 })
	if f.Self["burn"] == 0 {
		t.Errorf("the flame graph panel's query %s%s has no CPU in burn: %v", cpuType, sel, f.names())
	}
	if t.Failed() {
		t.Logf("gst-launch-1.0:\n%s\nprometheus:\n%s", tail(gstLog.String()), tail(promLog.String()))
	}
}
