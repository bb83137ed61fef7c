package model

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

var nan = math.NaN()

// Read parses exposition text taken at at.
func Read(r io.Reader, at time.Time) (*Model, error) {
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(r)
	if err != nil && err != io.EOF {
		return nil, err
	}
	list := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		list = append(list, f)
	}
	return FromFamilies(list, at), nil
}

// IsURL says whether a view's input names a metrics endpoint rather than a
// file.
func IsURL(src string) bool { return strings.Contains(src, "://") }

// MetricsURL is the /metrics of an endpoint given by its base URL (with or
// without http://) or its /metrics.
func MetricsURL(u string) string {
	if !IsURL(u) {
		u = "http://" + u
	}
	if i := strings.Index(u, "://"); !strings.Contains(u[i+3:], "/") || strings.HasSuffix(u, "/") {
		u = strings.TrimRight(u, "/") + "/metrics"
	}
	return u
}

// Fetch scrapes url. The model's time is the response headers' arrival:
// the server answers once it has read the counters, and that is closer to
// it than the request's start (a first connection's setup would shorten
// the first interval).
func Fetch(c *http.Client, url string) (*Model, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	at := time.Now()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return Read(bytes.NewReader(body), at)
}

// Load reads a view's input: "-" is stdin, a URL is scraped (its /metrics
// when it names none; host:port without a scheme, unless it is a file), anything
// else is a file (GST_PROMETHEUS_TRACER_FILE).
func Load(src string) (*Model, error) {
	_, statErr := os.Stat(src)
	switch {
	case src == "-":
		return Read(os.Stdin, time.Now())
	case IsURL(src) || statErr != nil && strings.Contains(src, ":"):
		return Fetch(&http.Client{Timeout: 15 * time.Second}, MetricsURL(src))
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, time.Now())
}
