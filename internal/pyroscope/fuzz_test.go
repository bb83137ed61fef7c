package pyroscope

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gstscope/gstscope/internal/params"
)

// Whatever the parameters and GST_PYROSCOPE_* say, ParseConfig returns a
// configuration within its limits, and no warning shows the password.
// Seeds are in testdata/fuzz/FuzzParseConfig; `make test` fuzzes briefly.
func FuzzParseConfig(f *testing.F) {
	f.Add("http://localhost:4040", "gstreamer", "100", "true", "k1=v1,k2=v2", "10s", "user", "secret", "tenant", "element")
	f.Fuzz(func(t *testing.T, server, name, rate, stop, tags, interval, user, password, tenant, flags string) {
		env := map[string]string{
			EnvServerURL: server, EnvTracerName: name, EnvSampleRate: rate,
			EnvStopOnDispose: stop, EnvTags: tags, EnvUploadInterval: interval,
			EnvUser: user, EnvPassword: password, EnvTenant: tenant,
		}
		// The same values once as parameters, once from the environment.
		asParams := params.Params{Fields: map[string]string{
			"server-url": server, "tracer-name": name, "sample-rate": rate,
			"stop-agent-on-dispose": stop, "tags": tags, "upload-interval": interval,
			"basic-auth-user": user, "tenant-id": tenant, "flags": flags,
		}}
		for _, p := range []params.Params{{}, asParams} {
			cfg, warns := ParseConfig(p, func(k string) string { return env[k] })
			// The password may appear in the warnings only where another
			// value or the text itself has it: compare with another one.
			other := maps.Clone(env)
			other[EnvPassword] = "\x00another"
			baseCfg, base := ParseConfig(p, func(k string) string { return other[k] })
			check(t, cfg, warns, password, strings.Join(append(base, baseCfg.Redacted()), "\n"))
		}
	})
}

func check(t *testing.T, cfg Config, warns []string, password, elsewhere string) {
	t.Helper()
	if cfg.SampleRate < 1 || cfg.SampleRate > MaxSampleRate {
		t.Fatalf("sample rate %d", cfg.SampleRate)
	}
	if cfg.UploadInterval < MinUploadInterval || cfg.UploadInterval > MaxUploadInterval {
		t.Fatalf("upload interval %v", cfg.UploadInterval)
	}
	// A server to upload to, or none when the URL given could not be used.
	u, err := url.Parse(cfg.ServerURL)
	if cfg.ServerURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		t.Fatalf("server URL %q", cfg.ServerURL)
	}
	if cfg.TracerName == "" || strings.ContainsAny(cfg.TracerName, special) {
		t.Fatalf("tracer name %q", cfg.TracerName)
	}
	if !slices.IsSortedFunc(cfg.Tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) }) {
		t.Fatalf("tags not sorted: %v", cfg.Tags)
	}
	for i, tag := range cfg.Tags {
		if !labelName.MatchString(tag.Key) || tag.Value == "" || strings.ContainsAny(tag.Value, special) ||
			(i > 0 && cfg.Tags[i-1].Key == tag.Key) {
			t.Fatalf("bad tag accepted: %v", cfg.Tags)
		}
	}
	if (cfg.User == "") != (cfg.Password == "") {
		t.Fatalf("user %q without password or the reverse", cfg.User)
	}
	if password != "" && !strings.Contains(elsewhere, password) && !strings.Contains("xxxxx", password) {
		for _, w := range warns {
			if strings.Contains(w, password) {
				t.Fatalf("warning shows the password %q: %q", password, w)
			}
		}
		if strings.Contains(cfg.Redacted(), password) {
			t.Fatalf("Redacted() shows the password: %q", cfg.Redacted())
		}
	}
}
