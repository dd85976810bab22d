package httpx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// IdleTimeoutError is the read error of a response body that delivered no
// byte for the idle timeout. It is a transport failure like a reset
// connection: GetStream's bodies resume after it (see GetStream).
type IdleTimeoutError struct {
	Idle time.Duration
}

func (e *IdleTimeoutError) Error() string {
	return fmt.Sprintf("no data received for %s (the server stalled)", e.Idle)
}

// Timeout reports true, as a net.Error does for a timed-out read.
func (e *IdleTimeoutError) Timeout() bool { return true }

// idleTransport gives every response body an idle-read timeout: a body that
// delivers no byte for idle while it is being read is cut off, so a server
// that stalls after the headers cannot hang a run (and the state lock) for
// ever. Time the reader spends elsewhere between reads does not count.
type idleTransport struct {
	next http.RoundTripper
	idle time.Duration
}

func (t idleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil || resp.Body == nil || resp.Body == http.NoBody {
		cancel(nil)
		return resp, err
	}
	b := &idleBody{body: resp.Body, idle: t.idle, cancel: cancel}
	b.timer = time.AfterFunc(time.Hour, b.expire)
	b.timer.Stop()
	resp.Body = b
	return resp, nil
}

type idleBody struct {
	body   io.ReadCloser
	idle   time.Duration
	cancel context.CancelCauseFunc
	timer  *time.Timer
	fired  atomic.Bool
}

func (b *idleBody) expire() {
	b.fired.Store(true)
	b.cancel(&IdleTimeoutError{Idle: b.idle})
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.fired.Load() {
		return 0, &IdleTimeoutError{Idle: b.idle}
	}
	b.timer.Reset(b.idle)
	n, err := b.body.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && b.fired.Load() {
		// The transport reports the cancellation in its own words.
		err = &IdleTimeoutError{Idle: b.idle}
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}
