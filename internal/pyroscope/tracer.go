package pyroscope

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/grafana/pyroscope-go/upstream"
)

// FlushTimeout bounds how long stopping waits for the last profile.
const FlushTimeout = 2 * time.Second

// Tracer is the running Go side of one pyroscope tracer.
type Tracer struct {
	cfg  Config
	log  Logger
	up   *uploader
	s    *sampler
	name string // the ingest name: app{tag=value,...}

	every    time.Duration // how often the sampler wakes up
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// sampleEvery is how often the sampler wakes up. With the CPU timers, the
// signals decide where CPU is charged and the sampler only collects: every
// 16 samples' worth (half a ring), 10-100 ms. Without them it looks where
// threads are, at the sample rate.
func sampleEvery(rate int, timers bool) time.Duration {
	if !timers {
		return time.Second / time.Duration(rate)
	}
	return min(max(16*time.Second/time.Duration(rate), 10*time.Millisecond), 100*time.Millisecond)
}

// Start begins sampling and uploading. It does not wait for the server: an
// unreachable one is a warning at the first upload.
func Start(cfg Config, stacks Stacks, log Logger) (*Tracer, error) {
	cfg.SampleRate = min(max(cfg.SampleRate, 1), MaxSampleRate)
	cfg.UploadInterval = max(cfg.UploadInterval, MinUploadInterval)
	var up *uploader
	if cfg.ServerURL != "" {
		var err error
		if up, err = newUploader(cfg, log); err != nil {
			return nil, err
		}
	}
	t := &Tracer{
		cfg: cfg, log: log, up: up, s: newSampler(stacks), name: ingestName(cfg),
		done: make(chan struct{}), stop: make(chan struct{}),
	}
	how := "CPU timers on every streaming thread"
	err := stacks.Start(cfg.SampleRate)
	if err != nil {
		how = "where threads are at each sample (less precise for threads that work in bursts)"
		log.Warn(fmt.Sprintf("cannot use per-thread CPU timers: %v; charging CPU to %s", err, how))
	}
	t.every = sampleEvery(cfg.SampleRate, err == nil)
	started := make(chan struct{})
	go t.run(started)
	<-started
	log.Info(fmt.Sprintf("profiling at %d Hz from %s, uploading every %v to %s as %s",
		cfg.SampleRate, how, cfg.UploadInterval, cfg.Redacted(), t.name))
	return t, nil
}

func ingestName(cfg Config) string {
	if len(cfg.Tags) == 0 {
		return cfg.TracerName
	}
	tags := make([]string, len(cfg.Tags))
	for i, tag := range cfg.Tags {
		tags[i] = tag.Key + "=" + tag.Value
	}
	return cfg.TracerName + "{" + strings.Join(tags, ",") + "}"
}

// run samples every t.every until stopped, then sends the last period.
func (t *Tracer) run(started chan struct{}) {
	var startOnce sync.Once
	signalStarted := func() { startOnce.Do(func() { close(started) }) }
	defer close(t.done)
	defer signalStarted()
	defer func() {
		if r := recover(); r != nil {
			t.log.Warn(fmt.Sprintf("the profiler stopped: %v", r))
		}
	}()
	// The sampler is an ordinary goroutine. Locked to a thread of its own
	// (to give it a name in the profile) it cost ten times as much: every
	// wake-up was a handoff between two threads.
	now := time.Now()
	if err := t.s.sample(now, nil, true); err != nil {
		t.log.Warn(fmt.Sprintf("cannot read the process's threads: %v; no profiles", err))
		return
	}
	signalStarted()
	p := newPeriod(now)
	failed := false
	timer := time.NewTimer(jitter(t.every))
	defer timer.Stop()
	for {
		select {
		case <-t.stop:
			now := time.Now()
			_ = t.s.sample(now, p, true)
			t.send(p, now)
			return
		case <-timer.C:
		}
		timer.Reset(jitter(t.every))
		now := time.Now()
		if err := t.s.sample(now, p, false); err != nil && !failed {
			t.log.Warn(fmt.Sprintf("sampling failed: %v", err))
			failed = true
		}
		if now.Sub(p.start) >= t.cfg.UploadInterval {
			t.send(p, now)
			p = newPeriod(now)
		}
	}
}

// jitter spreads samples uniformly over [d/2, 3d/2): a pipeline doing the
// same thing every 10 ms would otherwise always be caught at the same step.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d)
}

func (t *Tracer) send(p *period, end time.Time) {
	if p.empty() {
		return
	}
	var buf bytes.Buffer
	if err := p.profile(end, t.cfg.SampleRate).Write(&buf); err != nil {
		t.log.Warn("encoding a profile: " + err.Error())
		return
	}
	if t.up == nil {
		return
	}
	t.up.upload(&upstream.UploadJob{
		Name:            t.name,
		StartTime:       p.start,
		EndTime:         end,
		SpyName:         "gstscope",
		SampleRate:      uint32(t.cfg.SampleRate),
		Units:           "nanoseconds",
		AggregationType: "sum",
		Format:          upstream.FormatPprof,
		Profile:         buf.Bytes(),
	})
}

// Stop samples one last time and sends the partial period, waiting at most
// FlushTimeout in all. Calling it again does nothing.
func (t *Tracer) Stop() {
	t.stopOnce.Do(func() {
		deadline := time.Now().Add(FlushTimeout)
		close(t.stop)
		select {
		case <-t.done:
		case <-time.After(FlushTimeout):
		}
		t.s.stacks.Stop()
		if t.up != nil {
			t.up.stop(max(time.Until(deadline), 0))
		}
	})
}
