// Package httpx is the one HTTP client every provider shares. It retries
// connection failures, 5xx (except 501) and 429 with exponential backoff and
// jitter, honours Retry-After, resumes interrupted downloads with Range
// requests, and keeps credentials out of every log line and error. It
// follows redirects by one policy (redirect.go): credentials stay within
// their origin or declared scope, and writes are never redirected. Every
// response body has an idle-read timeout (idle.go).
//
// Retries live here and nowhere else: the apply engine never retries.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/ferry-mirror/ferry/providers"
)

// Defaults used when an Options field is left at its zero value.
const (
	DefaultMaxRetries = 4
	DefaultMinBackoff = 200 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	DefaultTimeout    = 60 * time.Second
	// DefaultIdleTimeout is how long a response body may deliver no byte.
	DefaultIdleTimeout = 60 * time.Second

	// MaxRetryAfter caps how long a server's Retry-After header can make the
	// client wait before one retry, so that a hostile or misconfigured server
	// cannot stall a run forever. Longer requests are shortened to it.
	MaxRetryAfter = 60 * time.Second
)

// Options configure a Client.
type Options struct {
	// Logger receives request, retry and resume events (Debug and Trace).
	// If nil, logs are discarded.
	Logger hclog.Logger
	// MaxRetries bounds retries of one request, and separately the resumes
	// of one download. If <= 0, a default (currently 4) is used.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts. If <= 0, defaults (currently 200ms and 10s) are used.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds how long one attempt waits for response headers; it
	// never limits how long a body takes to stream. If <= 0, a default
	// (currently 60s) is used. It applies only to the default transport: a
	// caller-supplied Transport keeps its own timeouts.
	Timeout time.Duration
	// IdleTimeout bounds how long a response body may go without delivering
	// a byte while it is being read; then the read fails with an
	// *IdleTimeoutError and GetStream resumes as after any mid-stream
	// failure. It applies to every transport. If <= 0, a default
	// (currently 60s) is used.
	IdleTimeout time.Duration
	// UserAgent is sent when a request has no User-Agent of its own.
	UserAgent string
	// Transport performs single attempts. If nil, NewTransport(Timeout)
	// is used.
	Transport http.RoundTripper
}

// MaxIdleConnsPerHost is how many idle keep-alive connections NewTransport
// keeps per host: more than the transfers ferry runs at once, so that
// concurrent requests to one server reuse connections. net/http's default
// (2) closes all but two after every burst, and an apply of many small
// artifacts then dials a new connection for most requests.
const MaxIdleConnsPerHost = 64

// NewTransport is the transport a Client uses when Options.Transport is
// nil: http.DefaultTransport's settings with transparent decompression
// disabled (bodies arrive exactly as the server sent them), a response
// header timeout (<= 0: DefaultTimeout) and MaxIdleConnsPerHost.
func NewTransport(responseHeaderTimeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = responseHeaderTimeout
	if t.ResponseHeaderTimeout <= 0 {
		t.ResponseHeaderTimeout = DefaultTimeout
	}
	t.DisableCompression = true
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	return t
}

// Client is an HTTP client with bounded retries. It is safe for concurrent
// use.
type Client struct {
	rc         *retryablehttp.Client
	log        hclog.Logger
	maxRetries int
	userAgent  string

	// maxRetryAfter is MaxRetryAfter; tests shorten it.
	maxRetryAfter time.Duration
	// onBackoff, if set, observes every backoff decision (tests only).
	onBackoff func(attempt int, wait, retryAfter time.Duration)
}

// New returns a Client configured by opts.
func New(opts Options) *Client {
	c := &Client{
		log:           opts.Logger,
		maxRetries:    opts.MaxRetries,
		userAgent:     opts.UserAgent,
		maxRetryAfter: MaxRetryAfter,
	}
	if c.log == nil {
		c.log = hclog.NewNullLogger()
	}
	if c.maxRetries <= 0 {
		c.maxRetries = DefaultMaxRetries
	}
	minB, maxB := opts.MinBackoff, opts.MaxBackoff
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	if maxB < minB {
		maxB = minB
	}
	rt := opts.Transport
	if rt == nil {
		rt = NewTransport(opts.Timeout)
	}
	idle := opts.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	rt = idleTransport{next: rt, idle: idle}
	c.rc = &retryablehttp.Client{
		HTTPClient:      &http.Client{Transport: rt, CheckRedirect: c.checkRedirect},
		Logger:          leveledLogger{c.log},
		RetryWaitMin:    minB,
		RetryWaitMax:    maxB,
		RetryMax:        c.maxRetries,
		RequestLogHook:  c.requestHook,
		ResponseLogHook: c.responseHook,
		CheckRetry:      c.checkRetry,
		Backoff:         c.backoff,
		ErrorHandler:    giveUp,
	}
	return c
}

// reqState follows one logical request (all its attempts) through the
// retryablehttp callbacks, which only see the context or the response.
type reqState struct {
	display  string
	host     string
	attempts int
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

func (c *Client) display(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.display
	}
	return ""
}

// Do sends req, retrying as described in the package comment, and returns
// the final response whatever its status (like http.Client.Do) unless the
// retries were exhausted or the failure was not retryable; then it returns
// an *Error.
//
// A request with a body must set GetBody so every attempt can replay it
// (http.NewRequest does for in-memory bodies). User info in the URL is sent
// as basic authentication and never appears in logs or errors. Do closes
// req.Body.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	display, ok := displayFrom(req.Context())
	if !ok {
		display = Redact(req.URL)
	}
	st := &reqState{display: display, host: req.URL.Host}
	out := req.Clone(context.WithValue(requestContext(req.Context(), req.URL, display), stateKey{}, st))
	if u := out.URL.User; u != nil {
		// Move credentials out of the URL, which net/http and retryablehttp
		// quote in their errors and logs, into the header net/http would
		// have derived from them anyway.
		if out.Header.Get("Authorization") == "" {
			pass, _ := u.Password()
			out.SetBasicAuth(u.Username(), pass)
		}
		out.URL.User = nil
	}
	c.scopeCredentials(out, display)
	if c.userAgent != "" && out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", c.userAgent)
	}
	out.Body = nil
	rreq, err := retryablehttp.FromRequest(out)
	if err != nil {
		return nil, &Error{Method: req.Method, URL: display, Err: stripURLError(err)}
	}
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, &Error{Method: req.Method, URL: display,
				Err: errors.New("request body cannot be replayed for retries (GetBody is nil)")}
		}
		getBody := req.GetBody
		if err := rreq.SetBody(retryablehttp.ReaderFunc(func() (io.Reader, error) { return getBody() })); err != nil {
			return nil, &Error{Method: req.Method, URL: display, Err: err}
		}
		rreq.ContentLength = req.ContentLength // SetBody only knows in-memory lengths
	}

	resp, err := c.rc.Do(rreq)
	if err != nil {
		e := &Error{Method: req.Method, URL: display, Attempts: st.attempts}
		var g *gaveUp
		if errors.As(err, &g) {
			e.StatusCode, e.gaveUp = g.status, g.exhausted
			e.Err = g.err
		} else {
			e.Err = err // the context ended during a backoff wait
		}
		if e.Err != nil {
			e.Err = stripURLError(e.Err)
		}
		return nil, e
	}
	if err := refuseRedirect(out, resp); err != nil {
		return nil, &Error{Method: req.Method, URL: display, Attempts: st.attempts, Err: err}
	}
	return resp, nil
}

// StandardClient returns an *http.Client whose requests go through Do, for
// libraries that insist on one. Prefer Do: errors from an http.Client are
// *url.Error values that quote the request URL (net/http masks a password
// there but not a user name).
func (c *Client) StandardClient() *http.Client {
	return &http.Client{Transport: roundTripper{c}}
}

type roundTripper struct{ c *Client }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return rt.c.Do(req) }

// Error describes a request that failed for good.
type Error struct {
	Method string
	// URL is the request URL, redacted, or the display URL set with
	// WithDisplayURL.
	URL string
	// Attempts is how many times the request was sent.
	Attempts int
	// StatusCode is the last HTTP status, 0 if no response was received.
	StatusCode int
	// Err is the underlying cause: a transport error, the context's error,
	// or a sentinel such as providers.ErrNotFound. It may be nil.
	Err error

	gaveUp bool // retries were exhausted
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Method + " " + e.URL)
	if e.gaveUp {
		fmt.Fprintf(&b, ": giving up after %d attempts", e.Attempts)
	} else if e.Attempts > 1 {
		fmt.Fprintf(&b, " (%d attempts)", e.Attempts)
	}
	if e.StatusCode != 0 {
		if e.gaveUp {
			b.WriteString(": last status ")
		} else {
			b.WriteString(": status ")
		}
		b.WriteString(statusText(e.StatusCode))
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

// CheckResponse returns nil for a 2xx response. Otherwise it drains and
// closes the body and returns an *Error naming the status; it wraps
// providers.ErrNotFound for 404 and 410, and says authentication (401) or
// authorization (403) failed for the host, without any credentials.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	e := &Error{StatusCode: resp.StatusCode, Attempts: 1}
	host := ""
	if req := resp.Request; req != nil {
		e.Method = req.Method
		host = req.URL.Host
		if st := stateFrom(req.Context()); st != nil {
			e.URL, e.Attempts, host = st.display, st.attempts, st.host
		} else {
			e.URL = Redact(req.URL)
		}
	}
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		e.Err = providers.ErrNotFound
	case http.StatusUnauthorized:
		e.Err = fmt.Errorf("authentication failed for %s (check the credentials)", host)
	case http.StatusForbidden:
		e.Err = fmt.Errorf("authorization failed for %s (the credentials lack access)", host)
	}
	return e
}

// gaveUp carries retryablehttp's final failure to Do, which knows the
// display URL and builds the *Error.
type gaveUp struct {
	status    int
	exhausted bool
	err       error
}

func (g *gaveUp) Error() string { return "giving up" }

func giveUp(resp *http.Response, err error, _ int) (*http.Response, error) {
	g := &gaveUp{err: err}
	if resp != nil {
		g.status = resp.StatusCode
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
	}
	// retryablehttp reaches here with a nil error only when the last
	// attempt still asked for a retry; with an error when the error was not
	// retryable or the attempts ran out on a transport error.
	// (checkRetry returns the context's own error, compared by identity:
	// a header timeout also matches context.DeadlineExceeded with errors.Is.)
	g.exhausted = err == nil || (err != context.Canceled && err != context.DeadlineExceeded && retryableErr(err))
	return nil, g
}

func (c *Client) requestHook(_ retryablehttp.Logger, req *http.Request, attempt int) {
	st := stateFrom(req.Context())
	if st == nil {
		return
	}
	st.attempts++
	c.log.Debug("http request", "method", req.Method, "url", st.display, "attempt", attempt+1)
}

func (c *Client) responseHook(_ retryablehttp.Logger, resp *http.Response) {
	if resp.Request == nil {
		return
	}
	c.log.Trace("http response", "method", resp.Request.Method, "url", c.display(resp.Request.Context()),
		"status", resp.StatusCode)
}

// retryableErr reports whether a transport error is worth another attempt:
// everything except redirect loops, bad schemes or headers and certificate
// problems, which retryablehttp classifies.
func retryableErr(err error) bool {
	retry, _ := retryablehttp.ErrorPropagatedRetryPolicy(context.Background(), nil, err)
	return retry
}

func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	if err != nil {
		if !retryableErr(err) {
			return false, err
		}
		c.log.Debug("http attempt failed", "url", c.display(ctx), "error", stripURLError(err))
		return true, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests ||
		(resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented) {
		c.log.Debug("http attempt failed", "url", c.display(ctx), "status", resp.StatusCode)
		return true, nil
	}
	return false, nil
}

// backoff waits what Retry-After asks on 429 and 503 (capped at
// maxRetryAfter), and otherwise min·2^attempt capped at max, with "equal
// jitter": a random duration between half and all of that.
func (c *Client) backoff(minB, maxB time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			wait := min(ra, c.maxRetryAfter)
			url := ""
			if resp.Request != nil {
				url = c.display(resp.Request.Context())
			}
			c.log.Debug("honouring retry-after", "url", url, "retry_after", ra, "wait", wait)
			if c.onBackoff != nil {
				c.onBackoff(attempt, wait, ra)
			}
			return wait
		}
	}
	d := maxB
	if attempt < 32 {
		if e := minB << attempt; e > 0 && e < maxB {
			d = e
		}
	}
	wait := d/2 + rand.N(d/2+1)
	if c.onBackoff != nil {
		c.onBackoff(attempt, wait, 0)
	}
	return wait
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP-date.
// A date in the past means "now" (0). Negative or malformed values are
// ignored.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) { // avoid overflow; it is capped anyway
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// leveledLogger hands retryablehttp's own log lines to hclog at Trace level
// (the client logs the interesting events itself, at Debug). It drops the
// URL-carrying values and strips URLs from errors, since it cannot know
// which display URL the request uses.
type leveledLogger struct{ l hclog.Logger }

func (a leveledLogger) Error(msg string, kv ...any) { a.l.Trace(msg, scrubKV(kv)...) }
func (a leveledLogger) Warn(msg string, kv ...any)  { a.l.Trace(msg, scrubKV(kv)...) }
func (a leveledLogger) Info(msg string, kv ...any)  { a.l.Trace(msg, scrubKV(kv)...) }
func (a leveledLogger) Debug(msg string, kv ...any) { a.l.Trace(msg, scrubKV(kv)...) }

func scrubKV(kv []any) []any {
	out := make([]any, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		switch k, _ := kv[i].(string); k {
		case "url", "request":
			continue
		}
		v := kv[i+1]
		if err, ok := v.(error); ok {
			v = stripURLError(err)
		}
		out = append(out, kv[i], v)
	}
	return out
}

// DoOnce sends req once, without retries: for streaming bodies that cannot
// be replayed (an upload read straight from the source). Credentials in the
// URL move to the Authorization header and errors carry the redacted URL,
// as with Do. A failed streaming upload is retried by the next apply, not here.
func (c *Client) DoOnce(req *http.Request) (*http.Response, error) {
	display, ok := displayFrom(req.Context())
	if !ok {
		display = Redact(req.URL)
	}
	out := req.Clone(requestContext(req.Context(), req.URL, display))
	out.Body, out.GetBody, out.ContentLength = req.Body, nil, req.ContentLength
	if u := out.URL.User; u != nil {
		if out.Header.Get("Authorization") == "" {
			pass, _ := u.Password()
			out.SetBasicAuth(u.Username(), pass)
		}
		out.URL.User = nil
	}
	c.scopeCredentials(out, display)
	if c.userAgent != "" && out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", c.userAgent)
	}
	c.log.Debug("request", "method", req.Method, "url", display, "attempt", 1)
	resp, err := c.rc.HTTPClient.Do(out)
	if err != nil {
		return nil, &Error{Method: req.Method, URL: display, Attempts: 1, Err: stripURLError(err)}
	}
	if err := refuseRedirect(out, resp); err != nil {
		return nil, &Error{Method: req.Method, URL: display, Attempts: 1, Err: err}
	}
	return resp, nil
}
