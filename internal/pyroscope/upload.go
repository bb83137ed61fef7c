package pyroscope

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/grafana/pyroscope-go/upstream"
	"github.com/grafana/pyroscope-go/upstream/remote"
)

// Logger writes to the GStreamer debug log.
type Logger interface {
	Warn(msg string)
	Info(msg string)
	// Problem is a problem the user must see without GST_DEBUG (also
	// printed on stderr, once).
	Problem(msg string)
}

// uploader sends profiles with the Pyroscope client's remote uploader (one
// worker, a queue of 20 profiles) and watches every answer through the HTTP
// client it hands to it, so that an outage is reported once when it starts
// and once when it ends, instead of once per profile.
type uploader struct {
	remote *remote.Remote
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	log    Logger
	server string // redacted
	secret string // never logged

	mu      sync.Mutex
	failing bool
	dropped int
	stopped bool
}

// requestTimeout bounds one upload: no longer than the upload interval
// (within 2-10 s), so that a hanging server does not pile profiles up.
func requestTimeout(interval time.Duration) time.Duration {
	return min(max(interval, 2*time.Second), 10*time.Second)
}

func newUploader(cfg Config, log Logger) (*uploader, error) {
	u := &uploader{log: log, server: cfg.Redacted(), secret: cfg.Password}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.client = &http.Client{
		Timeout: requestTimeout(cfg.UploadInterval),
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			TLSHandshakeTimeout:   2 * time.Second,
			ResponseHeaderTimeout: requestTimeout(cfg.UploadInterval),
			MaxConnsPerHost:       1,
			IdleConnTimeout:       time.Minute,
		},
		// A redirect would carry the credentials elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	r, err := remote.NewRemote(remote.Config{
		Address:           cfg.ServerURL,
		BasicAuthUser:     cfg.User,
		BasicAuthPassword: cfg.Password,
		TenantID:          cfg.TenantID,
		Threads:           1,
		Timeout:           requestTimeout(cfg.UploadInterval),
		Logger:            remoteLogger{u},
		HTTPClient:        u,
	})
	if err != nil {
		return nil, err
	}
	u.remote = r
	r.Start()
	return u, nil
}

// Do is the HTTP client of the remote uploader.
func (u *uploader) Do(req *http.Request) (*http.Response, error) {
	resp, err := u.client.Do(req.WithContext(u.ctx))
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the request URL is long and says nothing new
		}
		u.failed(err.Error())
	case resp.StatusCode != http.StatusOK:
		u.failed("the server answered " + resp.Status)
	default:
		u.succeeded()
	}
	return resp, err
}

func (u *uploader) failed(reason string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.dropped++
	if u.failing || u.stopped {
		return
	}
	u.failing = true
	if u.secret != "" {
		reason = strings.ReplaceAll(reason, u.secret, "xxxxx")
	}
	u.log.Problem(fmt.Sprintf("cannot upload profiles to %s: %s; profiles are dropped until it answers (no further warning until then)", u.server, reason))
}

func (u *uploader) succeeded() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failing {
		u.log.Info(fmt.Sprintf("uploading profiles to %s again; %d were dropped", u.server, u.dropped))
	}
	u.failing, u.dropped = false, 0
}

// upload queues a profile; it never blocks.
func (u *uploader) upload(job *upstream.UploadJob) {
	u.mu.Lock()
	stopped := u.stopped
	u.mu.Unlock()
	if !stopped {
		u.remote.Upload(job)
	}
}

// stop waits up to d for the queued profiles to be sent, then abandons the
// rest and any request in flight.
func (u *uploader) stop(d time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		u.remote.Flush()
	}()
	select {
	case <-done:
	case <-time.After(d):
		u.log.Warn(fmt.Sprintf("the last profiles did not reach %s within %v and are dropped", u.server, d))
	}
	u.mu.Lock()
	u.stopped = true
	u.mu.Unlock()
	// Cancelling makes the queued uploads fail at once: the flush then
	// ends, and only then may the worker stop (stopping it first would
	// leave the flush waiting for jobs nobody runs).
	u.cancel()
	go func() {
		defer func() { _ = recover() }()
		<-done
		u.remote.Stop()
	}()
}

// remoteLogger receives the remote uploader's messages. Failed uploads are
// already seen by Do; a full queue means the server is too slow.
type remoteLogger struct{ u *uploader }

func (l remoteLogger) Infof(string, ...any)  {}
func (l remoteLogger) Debugf(string, ...any) {}
func (l remoteLogger) Errorf(format string, args ...any) {
	if strings.Contains(format, "queue is full") {
		l.u.failed("the server is too slow: the upload queue is full")
	}
}
