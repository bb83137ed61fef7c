package pyroscope

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gstscope/gstscope/internal/params"
)

// The environment variables of the seed README, plus authentication and
// the upload interval. Each has a tracer parameter of the same meaning
// (see keys), which wins over the environment.
const (
	EnvServerURL      = "GST_PYROSCOPE_SERVER_URL"
	EnvTracerName     = "GST_PYROSCOPE_TRACER_NAME"
	EnvSampleRate     = "GST_PYROSCOPE_SAMPLE_RATE"
	EnvStopOnDispose  = "GST_PYROSCOPE_STOP_AGENT_ON_DISPOSE"
	EnvTags           = "GST_PYROSCOPE_TAGS"
	EnvUploadInterval = "GST_PYROSCOPE_UPLOAD_INTERVAL"
	EnvUser           = "GST_PYROSCOPE_BASIC_AUTH_USER"
	EnvPassword       = "GST_PYROSCOPE_BASIC_AUTH_PASSWORD"
	EnvTenant         = "GST_PYROSCOPE_TENANT_ID"
)

// Defaults and limits.
const (
	DefaultServerURL      = "http://localhost:4040"
	DefaultTracerName     = "gstreamer"
	DefaultSampleRate     = 100
	MaxSampleRate         = 1000
	DefaultUploadInterval = 10 * time.Second
	MinUploadInterval     = time.Second
	MaxUploadInterval     = 10 * time.Minute
)

// Config is what the tracer was asked to do.
type Config struct {
	ServerURL      string // scheme and host, maybe a path prefix; "": none (not uploaded)
	TracerName     string // the application name in Pyroscope: service_name
	SampleRate     int    // Hz
	UploadInterval time.Duration
	StopOnDispose  bool
	Tags           []Tag // sorted by key
	User, Password string
	TenantID       string
}

// Tag is one label every profile carries.
type Tag struct{ Key, Value string }

// Redacted is the server URL as it may appear in a log.
func (c Config) Redacted() string {
	if c.ServerURL == "" {
		return "(no server)"
	}
	u, err := url.Parse(c.ServerURL)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

var keys = []string{
	"basic-auth-user", "flags", "sample-rate", "server-url",
	"stop-agent-on-dispose", "tags", "tenant-id", "tracer-name", "upload-interval",
}

var (
	// Pyroscope label names are Prometheus label names; names starting with
	// "__" are reserved, and the tracer sets service_name and pipeline.
	labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// Tags and the application name travel in the ingest "name" parameter,
	// app{k=v,...}, where these characters would change the meaning.
	special = "{}=,\"\\"
)

// ParseConfig validates params and the environment. Every problem becomes a
// warning that names the value and what is used instead; it never fails and
// no warning contains the password.
func ParseConfig(p params.Params, getenv func(string) string) (Config, []string) {
	cfg := Config{
		ServerURL:      DefaultServerURL,
		TracerName:     DefaultTracerName,
		SampleRate:     DefaultSampleRate,
		UploadInterval: DefaultUploadInterval,
		StopOnDispose:  true,
	}
	warn := p.Check(append(keys, "basic-auth-password")...)
	get := func(key, env string) (string, string, bool) { return p.Lookup(key, env, getenv) }

	if v, ok := p.Fields["flags"]; ok {
		for _, f := range strings.Split(v, "+") {
			if f = strings.TrimSpace(f); f != "element" && f != "" {
				warn = append(warn, fmt.Sprintf("unknown flag %q in flags=%q; the only flag is element (frames per element), which is always on", f, v))
			}
		}
	}
	if v, from, ok := get("server-url", EnvServerURL); ok {
		// A mistyped URL never sends profiles to another server (the
		// default one): the user meant a server, and it is not this one.
		if u, err := checkURL(v); err != nil {
			cfg.ServerURL = ""
			warn = append(warn, fmt.Sprintf("%s=%q: %v; profiles are not uploaded", from, redact(v), err))
		} else {
			cfg.ServerURL = u
		}
	}
	if v, from, ok := get("tracer-name", EnvTracerName); ok {
		v = strings.TrimSpace(v)
		if v == "" || strings.ContainsAny(v, special) || hasControl(v) {
			warn = append(warn, fmt.Sprintf("%s=%q is not a valid application name (empty, or contains one of %s); using %q", from, v, special, DefaultTracerName))
		} else {
			cfg.TracerName = v
		}
	}
	if v, from, ok := get("sample-rate", EnvSampleRate); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil || n < 1:
			warn = append(warn, fmt.Sprintf("%s=%q is not a positive number of samples per second; using %d", from, v, DefaultSampleRate))
		case n > MaxSampleRate:
			warn = append(warn, fmt.Sprintf("%s=%q is above the maximum; sampling at %d Hz", from, v, MaxSampleRate))
			cfg.SampleRate = MaxSampleRate
		default:
			cfg.SampleRate = n
		}
	}
	if v, from, ok := get("upload-interval", EnvUploadInterval); ok {
		d, err := parseDuration(v)
		switch {
		case err != nil:
			warn = append(warn, fmt.Sprintf("%s=%q is not a duration (10s, 1m, or seconds); using %v", from, v, DefaultUploadInterval))
		case d < MinUploadInterval:
			warn = append(warn, fmt.Sprintf("%s=%q is below the minimum; uploading every %v", from, v, MinUploadInterval))
			cfg.UploadInterval = MinUploadInterval
		case d > MaxUploadInterval:
			warn = append(warn, fmt.Sprintf("%s=%q is above the maximum; uploading every %v", from, v, MaxUploadInterval))
			cfg.UploadInterval = MaxUploadInterval
		default:
			cfg.UploadInterval = d
		}
	}
	if v, from, ok := get("stop-agent-on-dispose", EnvStopOnDispose); ok {
		b, err := parseBool(v)
		if err != nil {
			warn = append(warn, fmt.Sprintf("%s=%q is not a boolean (true or false); using true", from, v))
		} else {
			cfg.StopOnDispose = b
		}
	}
	if v, from, ok := get("tags", EnvTags); ok {
		cfg.Tags, warn = parseTags(v, from, warn)
	}
	if v, _, ok := get("basic-auth-user", EnvUser); ok {
		cfg.User = v
	}
	if _, ok := p.Fields["basic-auth-password"]; ok {
		warn = append(warn, fmt.Sprintf("the basic-auth-password parameter is ignored: GST_TRACERS appears in logs; set %s instead", EnvPassword))
	}
	cfg.Password = getenv(EnvPassword)
	if (cfg.User == "") != (cfg.Password == "") {
		warn = append(warn, fmt.Sprintf("basic authentication needs both %s (or basic-auth-user) and %s; sending none", EnvUser, EnvPassword))
		cfg.User, cfg.Password = "", ""
	}
	if v, from, ok := get("tenant-id", EnvTenant); ok {
		if hasControl(v) {
			warn = append(warn, fmt.Sprintf("%s contains control characters; sending no tenant id", from))
		} else {
			cfg.TenantID = v
		}
	}
	return cfg, warn
}

// checkURL accepts an http or https URL; a host without a scheme
// ("localhost:4040", "host/prefix") means http. Text that looks like a
// mistyped scheme ("http:host", "alice:pw@host") is not taken for a host.
func checkURL(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v != "" && !strings.Contains(v, "://") {
		if i := strings.IndexByte(v, ':'); i < 0 || (i+1 < len(v) && v[i+1] >= '0' && v[i+1] <= '9') {
			v = "http://" + v
		}
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("unsupported scheme %q (http or https)", u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("a server URL has no query or fragment")
	}
	return u.String(), nil
}

// redact hides the password of a URL that may not even parse, or parse
// without user information because it is mistyped (http//user:pw@host).
func redact(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	if i := strings.LastIndex(v, "@"); i >= 0 {
		return "xxxxx" + v[i:]
	}
	return v
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || f > MaxUploadInterval.Seconds() {
			return MaxUploadInterval + time.Second, nil // clamped by the caller
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

// parseTags reads k1=v1,k2=v2, dropping each bad tag with a warning.
func parseTags(v, from string, warn []string) ([]Tag, []string) {
	seen := map[string]bool{}
	var tags []Tag
	for _, kv := range strings.Split(v, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		switch {
		case !ok:
			warn = append(warn, fmt.Sprintf("%s: tag %q has no '=' (expected key=value); ignored", from, kv))
		case !labelName.MatchString(k) || strings.HasPrefix(k, "__"):
			warn = append(warn, fmt.Sprintf("%s: tag key %q is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __); ignored", from, k))
		case k == "service_name" || k == "pipeline":
			warn = append(warn, fmt.Sprintf("%s: tag %q is set by the tracer; ignored", from, k))
		case val == "" || strings.ContainsAny(val, special) || hasControl(val):
			warn = append(warn, fmt.Sprintf("%s: tag %s has an empty value or one containing %s; ignored", from, k, special))
		case seen[k]:
			warn = append(warn, fmt.Sprintf("%s: tag %s is given twice; the first value is used", from, k))
		default:
			seen[k] = true
			tags = append(tags, Tag{k, val})
		}
	}
	slices.SortFunc(tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return tags, warn
}
