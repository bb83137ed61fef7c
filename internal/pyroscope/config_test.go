package pyroscope

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gstscope/gstscope/internal/params"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func fields(kv ...string) params.Params {
	p := params.Params{Fields: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Fields[kv[i]] = kv[i+1]
	}
	return p
}

func defaults() Config {
	return Config{
		ServerURL:      DefaultServerURL,
		TracerName:     DefaultTracerName,
		SampleRate:     DefaultSampleRate,
		UploadInterval: DefaultUploadInterval,
		StopOnDispose:  true,
	}
}

// checkWarnings wants exactly one warning per entry of want, in order, each
// containing every substring of its entry.
func checkWarnings(t *testing.T, got []string, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("warnings = %q, want %d", got, len(want))
	}
	for i, subs := range want {
		for _, s := range subs {
			if !strings.Contains(got[i], s) {
				t.Errorf("warning %q lacks %q", got[i], s)
			}
		}
	}
}

func TestParseConfigDefaults(t *testing.T) {
	got, warns := ParseConfig(params.Params{}, envOf(nil))
	if !reflect.DeepEqual(got, defaults()) {
		t.Errorf("config = %+v, want %+v", got, defaults())
	}
	if len(warns) != 0 {
		t.Errorf("warnings = %q, want none", warns)
	}
}

var allEnv = map[string]string{
	EnvServerURL:      "https://env.example:4040/prefix",
	EnvTracerName:     "envapp",
	EnvSampleRate:     "50",
	EnvStopOnDispose:  "false",
	EnvTags:           "region=eu,env=prod",
	EnvUploadInterval: "30s",
	EnvUser:           "envuser",
	EnvPassword:       "envpass",
	EnvTenant:         "envtenant",
}

func TestParseConfigEnv(t *testing.T) {
	got, warns := ParseConfig(params.Params{}, envOf(allEnv))
	want := Config{
		ServerURL:      "https://env.example:4040/prefix",
		TracerName:     "envapp",
		SampleRate:     50,
		UploadInterval: 30 * time.Second,
		StopOnDispose:  false,
		Tags:           []Tag{{"env", "prod"}, {"region", "eu"}},
		User:           "envuser",
		Password:       "envpass",
		TenantID:       "envtenant",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config = %+v, want %+v", got, want)
	}
	if len(warns) != 0 {
		t.Errorf("warnings = %q, want none", warns)
	}
}

func TestParseConfigParamsWinOverEnv(t *testing.T) {
	p := fields(
		"server-url", "http://param.example",
		"tracer-name", "paramapp",
		"sample-rate", "250",
		"stop-agent-on-dispose", "true",
		"tags", "a=1",
		"upload-interval", "2m",
		"basic-auth-user", "paramuser",
		"tenant-id", "paramtenant",
		"flags", "element",
	)
	got, warns := ParseConfig(p, envOf(allEnv))
	want := Config{
		ServerURL:      "http://param.example",
		TracerName:     "paramapp",
		SampleRate:     250,
		UploadInterval: 2 * time.Minute,
		StopOnDispose:  true,
		Tags:           []Tag{{"a", "1"}},
		User:           "paramuser",
		Password:       "envpass", // only ever from the environment
		TenantID:       "paramtenant",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config = %+v, want %+v", got, want)
	}
	if len(warns) != 0 {
		t.Errorf("warnings = %q, want none", warns)
	}
}

// noServer: a URL that cannot be used sends nothing anywhere.
func noServer(c *Config) { c.ServerURL = "" }

func TestParseConfigInvalid(t *testing.T) {
	cases := []struct {
		name   string
		params params.Params
		env    map[string]string
		want   func(*Config) // applied to the defaults
		warns  [][]string
	}{
		// Server URL.
		{"malformed URL", fields("server-url", "http://[::1"), nil, noServer,
			[][]string{{`server-url="http://[::1"`, "not a URL", "profiles are not uploaded"}}},
		{"ftp scheme", fields("server-url", "ftp://host:4040"), nil, noServer,
			[][]string{{`server-url="ftp://host:4040"`, `unsupported scheme "ftp"`, "profiles are not uploaded"}}},
		// No scheme means http, never the default server.
		{"no scheme", fields("server-url", "localhost:4140"), nil, func(c *Config) { c.ServerURL = "http://localhost:4140" }, nil},
		{"no scheme, with a prefix", fields("server-url", "host:4140/p"), nil, func(c *Config) { c.ServerURL = "http://host:4140/p" }, nil},
		{"no host", fields("server-url", "http:///ingest"), nil, noServer,
			[][]string{{`server-url="http:///ingest"`, "no host", "profiles are not uploaded"}}},
		{"query", fields("server-url", "http://host:4040/?tenant=x"), nil, noServer,
			[][]string{{`server-url="http://host:4040/?tenant=x"`, "no query", "profiles are not uploaded"}}},
		{"fragment", fields("server-url", "http://host:4040/#x"), nil, noServer,
			[][]string{{`server-url="http://host:4040/#x"`, "no query or fragment", "profiles are not uploaded"}}},
		{"bad env URL is named after the variable", params.Params{}, map[string]string{EnvServerURL: "ftp://h"}, noServer,
			[][]string{{`GST_PYROSCOPE_SERVER_URL="ftp://h"`, "profiles are not uploaded"}}},
		// A bad parameter is not replaced by the environment's value.
		{"bad param URL does not fall back to env", fields("server-url", "ftp://h"), map[string]string{EnvServerURL: "http://env:1"}, noServer,
			[][]string{{`server-url="ftp://h"`, "profiles are not uploaded"}}},
		{"URL is trimmed", fields("server-url", " http://host:1/p "), nil, func(c *Config) { c.ServerURL = "http://host:1/p" }, nil},

		// Sample rate.
		{"rate 0", fields("sample-rate", "0"), nil, nil,
			[][]string{{`sample-rate="0"`, "not a positive number", "using 100"}}},
		{"rate -5", fields("sample-rate", "-5"), nil, nil,
			[][]string{{`sample-rate="-5"`, "not a positive number", "using 100"}}},
		{"rate abc", fields("sample-rate", "abc"), nil, nil,
			[][]string{{`sample-rate="abc"`, "not a positive number", "using 100"}}},
		{"rate 5000 clamped", fields("sample-rate", "5000"), nil, func(c *Config) { c.SampleRate = MaxSampleRate },
			[][]string{{`sample-rate="5000"`, "above the maximum", "1000 Hz"}}},
		{"rate at the maximum", fields("sample-rate", "1000"), nil, func(c *Config) { c.SampleRate = 1000 }, nil},
		{"rate 1", fields("sample-rate", " 1 "), nil, func(c *Config) { c.SampleRate = 1 }, nil},
		{"env rate abc", params.Params{}, map[string]string{EnvSampleRate: "abc"}, nil,
			[][]string{{`GST_PYROSCOPE_SAMPLE_RATE="abc"`, "using 100"}}},

		// Upload interval.
		{"interval 500ms clamped", fields("upload-interval", "500ms"), nil, func(c *Config) { c.UploadInterval = time.Second },
			[][]string{{`upload-interval="500ms"`, "below the minimum", "every 1s"}}},
		{"interval 1h clamped", fields("upload-interval", "1h"), nil, func(c *Config) { c.UploadInterval = 10 * time.Minute },
			[][]string{{`upload-interval="1h"`, "above the maximum", "every 10m0s"}}},
		{"interval in seconds above max", fields("upload-interval", "3600"), nil, func(c *Config) { c.UploadInterval = 10 * time.Minute },
			[][]string{{`upload-interval="3600"`, "above the maximum"}}},
		{"interval abc", fields("upload-interval", "abc"), nil, nil,
			[][]string{{`upload-interval="abc"`, "not a duration", "using 10s"}}},
		{"interval 2 is seconds", fields("upload-interval", "2"), nil, func(c *Config) { c.UploadInterval = 2 * time.Second }, nil},
		{"interval 1.5 is seconds", fields("upload-interval", "1.5"), nil, func(c *Config) { c.UploadInterval = 1500 * time.Millisecond }, nil},
		{"interval 1m", fields("upload-interval", "1m"), nil, func(c *Config) { c.UploadInterval = time.Minute }, nil},
		{"interval bounds are inclusive", fields("upload-interval", "10m"), nil, func(c *Config) { c.UploadInterval = 10 * time.Minute }, nil},
		{"interval 0 clamped", fields("upload-interval", "0"), nil, func(c *Config) { c.UploadInterval = time.Second },
			[][]string{{`upload-interval="0"`, "below the minimum"}}},

		// Stop on dispose.
		{"stop false", fields("stop-agent-on-dispose", "false"), nil, func(c *Config) { c.StopOnDispose = false }, nil},
		{"stop 0", fields("stop-agent-on-dispose", "0"), nil, func(c *Config) { c.StopOnDispose = false }, nil},
		{"stop OFF", fields("stop-agent-on-dispose", " OFF "), nil, func(c *Config) { c.StopOnDispose = false }, nil},
		{"stop yes", fields("stop-agent-on-dispose", "yes"), map[string]string{EnvStopOnDispose: "false"}, nil, nil},
		{"stop maybe", fields("stop-agent-on-dispose", "maybe"), nil, nil,
			[][]string{{`stop-agent-on-dispose="maybe"`, "not a boolean", "using true"}}},

		// Tags.
		{"tags sorted", fields("tags", "k2=v2,k1=v1"), nil, func(c *Config) { c.Tags = []Tag{{"k1", "v1"}, {"k2", "v2"}} }, nil},
		{"tags trimmed, empty items skipped", fields("tags", " b = 2 ,, a=1 ,"), nil,
			func(c *Config) { c.Tags = []Tag{{"a", "1"}, {"b", "2"}} }, nil},
		{"tag without =", fields("tags", "novalue,k=v"), nil, func(c *Config) { c.Tags = []Tag{{"k", "v"}} },
			[][]string{{"tags:", `tag "novalue" has no '='`, "ignored"}}},
		{"tag with empty key", fields("tags", "=v"), nil, nil,
			[][]string{{`tag key ""`, "ignored"}}},
		{"tag key with __", fields("tags", "__name__=v"), nil, nil,
			[][]string{{`tag key "__name__"`, "no leading __", "ignored"}}},
		{"tag key starting with a digit", fields("tags", "1k=v"), nil, nil,
			[][]string{{`tag key "1k"`, "ignored"}}},
		{"tag service_name reserved", fields("tags", "service_name=x"), nil, nil,
			[][]string{{`tag "service_name" is set by the tracer`, "ignored"}}},
		{"tag pipeline reserved", fields("tags", "pipeline=x"), nil, nil,
			[][]string{{`tag "pipeline" is set by the tracer`, "ignored"}}},
		{"tag empty value", fields("tags", "k="), nil, nil,
			[][]string{{"tag k has an empty value", "ignored"}}},
		{"tag value with {", fields("tags", "k=a{b"), nil, nil,
			[][]string{{"tag k has an empty value or one containing", "ignored"}}},
		{"tag value with =", fields("tags", "k=a=b"), nil, nil,
			[][]string{{"tag k has an empty value or one containing", "ignored"}}},
		{"duplicate tag keeps the first", fields("tags", "k=first,k=second"), nil, func(c *Config) { c.Tags = []Tag{{"k", "first"}} },
			[][]string{{"tag k is given twice", "first value is used"}}},
		// A rejected first value does not count as the first.
		{"duplicate after a bad value", fields("tags", "k=,k=ok"), nil, func(c *Config) { c.Tags = []Tag{{"k", "ok"}} },
			[][]string{{"tag k has an empty value"}}},
		{"bad env tags name the variable", params.Params{}, map[string]string{EnvTags: "x"}, nil,
			[][]string{{"GST_PYROSCOPE_TAGS:", `tag "x"`}}},

		// Tracer name.
		{"tracer name trimmed", fields("tracer-name", " app "), nil, func(c *Config) { c.TracerName = "app" }, nil},
		{"empty tracer name", fields("tracer-name", ""), nil, nil,
			[][]string{{`tracer-name=""`, "not a valid application name", `using "gstreamer"`}}},
		{"tracer name with {", fields("tracer-name", "app{x}"), nil, nil,
			[][]string{{`tracer-name="app{x}"`, "not a valid application name", `using "gstreamer"`}}},
		{"tracer name with control character", fields("tracer-name", "a\tb"), nil, nil,
			[][]string{{"not a valid application name"}}},

		// Flags.
		{"flags element", fields("flags", "element"), nil, nil, nil},
		{"flags empty", fields("flags", ""), nil, nil, nil},
		{"flags bogus", fields("flags", "element+bogus"), nil, nil,
			[][]string{{`unknown flag "bogus"`, `flags="element+bogus"`, "always on"}}},

		// Authentication.
		{"user without password", fields("basic-auth-user", "alice"), nil, nil,
			[][]string{{"needs both", "sending none"}}},
		{"password without user", params.Params{}, map[string]string{EnvPassword: "hunter2"}, nil,
			[][]string{{"needs both", "sending none"}}},
		{"user param with env password", fields("basic-auth-user", "alice"), map[string]string{EnvPassword: "hunter2"},
			func(c *Config) { c.User, c.Password = "alice", "hunter2" }, nil},
		{"password param ignored", fields("basic-auth-password", "hunter2"), nil, nil,
			[][]string{{"basic-auth-password parameter is ignored", EnvPassword}}},
		{"tenant with control character", fields("tenant-id", "a\nb"), nil, nil,
			[][]string{{"tenant-id contains control characters", "no tenant id"}}},

		// The parameter string itself.
		{"unknown params", fields("sample_rate", "5", "port", "1"), nil, nil,
			[][]string{{`unknown parameter "port"`}, {`unknown parameter "sample_rate"`, "sample-rate"}}},
		{"unparsed", params.Params{Unparsed: true, Raw: "sample-rate=="}, nil, nil,
			[][]string{{"cannot parse tracer parameters", `"sample-rate=="`, "using the defaults"}}},
		{"several problems in order", fields("sample-rate", "0", "server-url", "ftp://h", "bogus", "1"), nil, noServer,
			[][]string{{`unknown parameter "bogus"`}, {`server-url="ftp://h"`}, {`sample-rate="0"`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := defaults()
			if c.want != nil {
				c.want(&want)
			}
			got, warns := ParseConfig(c.params, envOf(c.env))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config = %+v, want %+v", got, want)
			}
			checkWarnings(t, warns, c.warns)
		})
	}
}

// The password must reach neither a warning nor the logged server URL,
// whichever way it was given.
func TestParseConfigNeverShowsPassword(t *testing.T) {
	const secret = "hunter2"
	cases := []struct {
		name     string
		params   params.Params
		env      map[string]string
		redacted string // Config.Redacted()
		nwarn    int
	}{
		{"URL with credentials", fields("server-url", "http://alice:hunter2@host:4040"), nil,
			"http://alice:xxxxx@host:4040", 0},
		{"rejected URL with credentials", fields("server-url", "ftp://alice:hunter2@host"), nil,
			"(no server)", 1},
		{"malformed URL with credentials", fields("server-url", "http://alice:hunter2@[::1"), nil,
			"(no server)", 1},
		{"URL with credentials and a query", fields("server-url", "http://alice:hunter2@host/?q=1"), nil,
			"(no server)", 1},
		{"env URL with credentials and bad port", noParams, map[string]string{EnvServerURL: "http://alice:hunter2@host:port"},
			"(no server)", 1},
		{"password param", fields("basic-auth-password", secret, "basic-auth-user", "alice"), nil,
			DefaultServerURL, 2},
		{"env password without user", noParams, map[string]string{EnvPassword: secret}, DefaultServerURL, 1},
		{"env password with bad settings", fields("sample-rate", "x", "tags", "x", "tracer-name", "{"),
			map[string]string{EnvPassword: secret, EnvUser: "alice"}, DefaultServerURL, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, warns := ParseConfig(c.params, envOf(c.env))
			if len(warns) != c.nwarn {
				t.Errorf("warnings = %q, want %d", warns, c.nwarn)
			}
			for _, w := range warns {
				if strings.Contains(w, secret) {
					t.Errorf("warning shows the password: %q", w)
				}
			}
			if r := cfg.Redacted(); r != c.redacted {
				t.Errorf("Redacted() = %q, want %q", r, c.redacted)
			}
		})
	}
}

var noParams = params.Params{}

// The warning about a rejected URL still says where it pointed.
func TestParseConfigRedactsRejectedURL(t *testing.T) {
	for _, c := range []struct{ url, shown string }{
		{"ftp://alice:hunter2@host", `"ftp://alice:xxxxx@host"`},
		{"http://alice:hunter2@[::1", `"xxxxx@[::1"`},
		// Mistyped URLs that parse without user information.
		{"http//alice:hunter2@host", `"xxxxx@host"`},
		{"http:alice:hunter2@host", `"xxxxx@host"`},
		{"alice:hunter2@host:4040", `"xxxxx@host:4040"`},
	} {
		_, warns := ParseConfig(fields("server-url", c.url), envOf(nil))
		checkWarnings(t, warns, [][]string{{c.shown}})
	}
}

func TestRedacted(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"http://localhost:4040", "http://localhost:4040"},
		{"https://alice:pw@host/prefix", "https://alice:xxxxx@host/prefix"},
		{"http://alice@host", "http://alice@host"},
		{"http://[::1", "(invalid URL)"},
	} {
		if got := (Config{ServerURL: c.url}).Redacted(); got != c.want {
			t.Errorf("Redacted(%q) = %q, want %q", c.url, got, c.want)
		}
	}
}
