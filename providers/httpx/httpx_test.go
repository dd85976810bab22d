package httpx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
)

// syncBuffer collects log output from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestClient returns a client with tiny backoffs whose Trace-level log
// goes to the returned buffer.
func newTestClient(t *testing.T, maxRetries int) (*Client, *syncBuffer) {
	t.Helper()
	var buf syncBuffer
	c := New(Options{
		Logger:     hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace}),
		MaxRetries: maxRetries,
		MinBackoff: time.Millisecond,
		MaxBackoff: 5 * time.Millisecond,
		Timeout:    5 * time.Second,
		UserAgent:  "ferry-test",
	})
	c.maxRetryAfter = 5 * time.Millisecond
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("client log:\n%s", buf.String())
		}
	})
	return c, &buf
}

func testContent(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// cut writes a raw response head and only the first n bytes of body, then
// resets the connection: a fault a well-behaved server never produces.
func cut(t *testing.T, w http.ResponseWriter, status int, hdr http.Header, body []byte, n int) {
	t.Helper()
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	defer conn.Close()
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Connection", "close")
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = hdr.Write(buf)
	buf.WriteString("\r\n")
	buf.Write(body[:n])
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with RST: "connection reset by peer"
	}
}

// hangUp closes the connection without any response.
func hangUp(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

func get(t *testing.T, c *Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

func TestDoRetries(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []int // per request; the last repeats forever
		maxRetries int
		wantCalls  int32
		wantStatus int    // final status when Do succeeds
		wantErr    string // substring of the error when Do fails
	}{
		{name: "503 twice then 200", statuses: []int{503, 503, 200}, maxRetries: 4, wantCalls: 3, wantStatus: 200},
		{name: "429 then 200", statuses: []int{429, 200}, maxRetries: 4, wantCalls: 2, wantStatus: 200},
		{name: "502 504 then 200", statuses: []int{502, 504, 200}, maxRetries: 4, wantCalls: 3, wantStatus: 200},
		{name: "500 forever is bounded", statuses: []int{500}, maxRetries: 3, wantCalls: 4,
			wantErr: "giving up after 4 attempts: last status 500 Internal Server Error"},
		{name: "429 forever is bounded", statuses: []int{429}, maxRetries: 2, wantCalls: 3,
			wantErr: "giving up after 3 attempts: last status 429"},
		{name: "501 is not retried", statuses: []int{501}, maxRetries: 4, wantCalls: 1, wantStatus: 501},
		{name: "404 is not retried", statuses: []int{404}, maxRetries: 4, wantCalls: 1, wantStatus: 404},
		{name: "400 is not retried", statuses: []int{400}, maxRetries: 4, wantCalls: 1, wantStatus: 400},
		{name: "403 is not retried", statuses: []int{403}, maxRetries: 4, wantCalls: 1, wantStatus: 403},
		{name: "503 then 404", statuses: []int{503, 404}, maxRetries: 4, wantCalls: 2, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(calls.Add(1)) - 1
				w.WriteHeader(tc.statuses[min(i, len(tc.statuses)-1)])
			}))
			defer srv.Close()
			c, _ := newTestClient(t, tc.maxRetries)

			resp, err := get(t, c, srv.URL+"/x")
			if tc.wantErr != "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("Do succeeded with %d, want error %q", resp.StatusCode, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error = %q, want it to contain %q", err, tc.wantErr)
				}
				var he *Error
				if !errors.As(err, &he) || he.Attempts != int(tc.wantCalls) {
					t.Errorf("error = %#v, want *Error with Attempts %d", err, tc.wantCalls)
				}
			} else {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
				}
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		retryAfter     string
		wantRetryAfter time.Duration
	}{
		{name: "429 seconds", status: 429, retryAfter: "1", wantRetryAfter: time.Second},
		{name: "503 seconds", status: 503, retryAfter: "2", wantRetryAfter: 2 * time.Second},
		{name: "hostile value is capped", status: 429, retryAfter: "86400", wantRetryAfter: 24 * time.Hour},
		{name: "500 ignores Retry-After", status: 500, retryAfter: "1", wantRetryAfter: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					w.WriteHeader(tc.status)
					return
				}
				io.WriteString(w, "ok")
			}))
			defer srv.Close()
			c, _ := newTestClient(t, 4)
			type backoff struct{ wait, retryAfter time.Duration }
			var got []backoff
			c.onBackoff = func(_ int, wait, retryAfter time.Duration) { got = append(got, backoff{wait, retryAfter}) }

			resp, err := get(t, c, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if n := calls.Load(); n != 2 {
				t.Errorf("server saw %d requests, want 2", n)
			}
			if len(got) != 1 {
				t.Fatalf("saw %d backoffs, want 1", len(got))
			}
			if got[0].retryAfter != tc.wantRetryAfter {
				t.Errorf("retry-after = %v, want %v", got[0].retryAfter, tc.wantRetryAfter)
			}
			if got[0].wait > c.maxRetryAfter {
				t.Errorf("waited %v, want at most the cap %v", got[0].wait, c.maxRetryAfter)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{name: "seconds", value: "120", want: 2 * time.Minute, wantOK: true},
		{name: "zero", value: "0", want: 0, wantOK: true},
		{name: "http date", value: "Sun, 01 Mar 2026 12:00:30 GMT", want: 30 * time.Second, wantOK: true},
		{name: "date in the past", value: "Sun, 01 Mar 2026 11:00:00 GMT", want: 0, wantOK: true},
		{name: "rfc850 date", value: "Sunday, 01-Mar-26 12:01:00 GMT", want: time.Minute, wantOK: true},
		{name: "negative", value: "-5", wantOK: false},
		{name: "garbage", value: "soon", wantOK: false},
		{name: "empty", value: "", wantOK: false},
		{name: "huge", value: "99999999999999999", want: 24 * time.Hour, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.value, now)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestBackoffIsBoundedWithJitter(t *testing.T) {
	c := New(Options{})
	minB, maxB := 100*time.Millisecond, 2*time.Second
	for attempt := range 40 {
		base := maxB
		if attempt < 5 {
			base = minB << attempt
		}
		for range 20 {
			got := c.backoff(minB, maxB, attempt, nil)
			if got < base/2 || got > base {
				t.Fatalf("backoff(attempt %d) = %v, want within [%v, %v]", attempt, got, base/2, base)
			}
		}
	}
}

func TestConnectionErrorsAreRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			hangUp(t, w)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c, _ := newTestClient(t, 4)
	resp, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := calls.Load(); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
}

func TestConnectionRefusedIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := newTestClient(t, 2)
	_, err := get(t, c, url+"/gone")
	if err == nil {
		t.Fatal("Do succeeded against a closed port")
	}
	if !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Errorf("error = %q, want it to say how many attempts", err)
	}
}

func TestHeaderTimeoutIsPerAttempt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer srv.Close()
	c := New(Options{MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Timeout: 50 * time.Millisecond})
	if _, err := get(t, c, srv.URL); err == nil || !strings.Contains(err.Error(), "giving up after 2 attempts") {
		t.Errorf("error = %v, want a timeout after 2 attempts", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

func TestContextCancelStopsRetrying(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		cancel()
		w.WriteHeader(503)
	}))
	defer srv.Close()
	c := New(Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestDoReplaysBodyAndSetsUserAgent(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var bodies, agents []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		agents = append(agents, r.UserAgent())
		mu.Unlock()
		if calls.Add(1) == 1 {
			w.WriteHeader(502)
		}
	}))
	defer srv.Close()
	c, _ := newTestClient(t, 4)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL, strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(bodies, ",") != "payload,payload" {
		t.Errorf("server saw bodies %q, want the payload twice", bodies)
	}
	if agents[0] != "ferry-test" {
		t.Errorf("User-Agent = %q, want ferry-test", agents[0])
	}
}

func TestDoRefusesUnreplayableBody(t *testing.T) {
	c, _ := newTestClient(t, 4)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://127.0.0.1:1/x", io.MultiReader(strings.NewReader("x")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(req); err == nil || !strings.Contains(err.Error(), "GetBody") {
		t.Errorf("error = %v, want a complaint about GetBody", err)
	}
}

func TestGetStreamStatusErrors(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		wantNotFound bool
		wantMsg      string
	}{
		{name: "404", status: 404, wantNotFound: true, wantMsg: "status 404 Not Found"},
		{name: "410", status: 410, wantNotFound: true, wantMsg: "status 410 Gone"},
		{name: "401", status: 401, wantMsg: "authentication failed for 127.0.0.1"},
		{name: "403", status: 403, wantMsg: "authorization failed for 127.0.0.1"},
		{name: "400", status: 400, wantMsg: "status 400 Bad Request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			c, _ := newTestClient(t, 4)
			_, _, err := c.GetStream(t.Context(), srv.URL+"/pkg", nil)
			if err == nil {
				t.Fatal("GetStream succeeded")
			}
			if got := errors.Is(err, providers.ErrNotFound); got != tc.wantNotFound {
				t.Errorf("errors.Is(%q, ErrNotFound) = %v, want %v", err, got, tc.wantNotFound)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantMsg)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("server saw %d requests, want 1 (no retry)", n)
			}
		})
	}
}

// resumeServer serves content with a strong ETag. The first `cuts` responses
// (whole or ranged) are reset after a third of their bytes; later requests
// are answered by http.ServeContent, which implements Range and If-Range.
type resumeServer struct {
	t            *testing.T
	content      []byte
	cuts         int32
	acceptRanges bool
	etags        []string // ETag per request; the last repeats
	calls        atomic.Int32
	rangeCalls   atomic.Int32
}

func (s *resumeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := s.calls.Add(1)
	etag := s.etags[min(int(i), len(s.etags))-1]
	w.Header().Set("ETag", etag)
	rng := r.Header.Get("Range")
	if rng != "" {
		s.rangeCalls.Add(1)
	}
	if i > s.cuts {
		http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(s.content))
		return
	}
	hdr := http.Header{"Etag": {etag}}
	if s.acceptRanges {
		hdr.Set("Accept-Ranges", "bytes")
	}
	status, start := http.StatusOK, 0
	if rng != "" {
		v := strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-")
		n, err := strconv.Atoi(v)
		if err != nil {
			s.t.Errorf("unexpected Range %q", rng)
		}
		status, start = http.StatusPartialContent, n
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(s.content)-1, len(s.content)))
	}
	part := s.content[start:]
	cut(s.t, w, status, hdr, part, len(part)/3)
}

func TestGetStreamResumes(t *testing.T) {
	content := testContent(300 << 10)
	srv := &resumeServer{t: t, content: content, cuts: 3, acceptRanges: true, etags: []string{`"v1"`}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, _ := newTestClient(t, 4)

	rc, resp, err := c.GetStream(t.Context(), ts.URL+"/blob", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if resp.StatusCode != 200 || resp.Body != rc {
		t.Errorf("response = %d with body %T, want 200 with the returned reader", resp.StatusCode, resp.Body)
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("got %d bytes, want the %d original bytes", len(got), len(content))
	}
	if n := srv.rangeCalls.Load(); n != 3 {
		t.Errorf("server saw %d Range requests, want 3", n)
	}
}

func TestGetStreamResumesAreBounded(t *testing.T) {
	content := testContent(64 << 10)
	srv := &resumeServer{t: t, content: content, cuts: 1000, acceptRanges: true, etags: []string{`"v1"`}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, _ := newTestClient(t, 2)

	rc, _, err := c.GetStream(t.Context(), ts.URL+"/blob", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	if err == nil || !strings.Contains(err.Error(), "giving up after 2 resumes") {
		t.Errorf("error = %v, want giving up after 2 resumes", err)
	}
	if n := srv.rangeCalls.Load(); n != 2 {
		t.Errorf("server saw %d Range requests, want 2", n)
	}
}

func TestGetStreamFailsWithoutRanges(t *testing.T) {
	content := testContent(64 << 10)
	srv := &resumeServer{t: t, content: content, cuts: 1, acceptRanges: false, etags: []string{`"v1"`}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, _ := newTestClient(t, 4)

	rc, _, err := c.GetStream(t.Context(), ts.URL+"/blob", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err == nil {
		t.Fatalf("read %d of %d bytes without an error: silent truncation", len(got), len(content))
	}
	if !strings.Contains(err.Error(), "Accept-Ranges") {
		t.Errorf("error = %q, want it to explain that ranges are not supported", err)
	}
	if n := srv.rangeCalls.Load(); n != 0 {
		t.Errorf("server saw %d Range requests, want 0", n)
	}
}

func TestGetStreamRefusesChangedResource(t *testing.T) {
	content := testContent(64 << 10)
	// The ETag changes after the first response: If-Range no longer
	// matches, so ServeContent answers 200 with the whole (new) resource.
	srv := &resumeServer{t: t, content: content, cuts: 1, acceptRanges: true, etags: []string{`"v1"`, `"v2"`}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, _ := newTestClient(t, 4)

	rc, _, err := c.GetStream(t.Context(), ts.URL+"/blob", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	if err == nil || !strings.Contains(err.Error(), "instead of 206") {
		t.Errorf("error = %v, want a refusal to splice a changed resource", err)
	}
}

// Credentials in a URL (user info, a token in the query, or a whole URL
// marked sensitive) must reach the server but never an error or a log line.
func TestCredentialsNeverLeak(t *testing.T) {
	secrets := []string{"s3cretpw", "t0kenuser", "qs3cret", "PATHs3cret"}
	var authOK atomic.Int32
	mux := http.NewServeMux()
	check := func(r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "user" && p == "s3cretpw" {
			authOK.Add(1)
		}
	}
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { check(r); io.WriteString(w, "ok") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { check(r); w.WriteHeader(500) })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	mux.HandleFunc("/denied", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) })
	mux.HandleFunc("/hangup", func(w http.ResponseWriter, r *http.Request) { hangUp(t, w) })
	content := testContent(8 << 10)
	mux.Handle("/cut", &resumeServer{t: t, content: content, cuts: 1, etags: []string{`"v1"`}})
	mux.HandleFunc("/PATHs3cret/file", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	closed := httptest.NewServer(mux)
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()

	c, logs := newTestClient(t, 1)
	var errs []string
	for _, u := range []string{
		"http://user:s3cretpw@" + host + "/ok?token=qs3cret",
		"http://user:s3cretpw@" + host + "/fail?access_token=qs3cret",
		"http://t0kenuser@" + host + "/missing",
		"http://user:s3cretpw@" + host + "/denied",
		"http://user:s3cretpw@" + host + "/hangup?sig=qs3cret",
		"http://user:s3cretpw@" + closedHost + "/x?X-Amz-Signature=qs3cret",
		"http://user:s3cretpw@" + host + "/cut",
		"http://user:s3cretpw@bad host/x",
	} {
		rc, _, err := c.GetStream(t.Context(), u, nil)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
		req, rerr := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader("body"))
		if rerr != nil {
			continue
		}
		if resp, err := c.Do(req); err != nil {
			errs = append(errs, err.Error())
		} else {
			resp.Body.Close()
		}
	}
	// A URL that is secret as a whole is shown only as its display form.
	ctx := WithDisplayURL(t.Context(), "(sensitive)")
	if _, _, err := c.GetStream(ctx, srv.URL+"/PATHs3cret/file", nil); err != nil {
		errs = append(errs, err.Error())
	} else {
		t.Error("GetStream of a 503 succeeded")
	}
	if len(errs) < 10 {
		t.Errorf("only %d errors collected, want at least 10:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	if authOK.Load() == 0 {
		t.Error("the server never received the basic-auth credentials from the URL")
	}
	all := strings.Join(errs, "\n")
	out := logs.String()
	if !strings.Contains(out, "http request") {
		t.Errorf("log has no request lines:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q appears in an error:\n%s", s, all)
		}
		if strings.Contains(out, s) {
			t.Errorf("secret %q appears in the log:\n%s", s, out)
		}
	}
	t.Logf("errors:\n%s\nlog:\n%s", all, out)
}

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://example.org/jq", "https://example.org/jq"},
		{"https://user:pw@example.org/jq", "https://xxxxx@example.org/jq"},
		{"https://ghp_token@example.org/jq", "https://xxxxx@example.org/jq"},
		{"https://example.org/jq?version=1&token=abc", "https://example.org/jq?token=xxxxx&version=1"},
		{"https://s3/b?X-Amz-Credential=a&X-Amz-Signature=b", "https://s3/b?X-Amz-Credential=xxxxx&X-Amz-Signature=xxxxx"},
		{"https://example.org/jq?a=1&b=2", "https://example.org/jq?a=1&b=2"},
		{"http://user:pw@bad host/", "(invalid URL)"},
	}
	for _, tc := range tests {
		if got := RedactString(tc.in); got != tc.want {
			t.Errorf("RedactString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStandardClient(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c, _ := newTestClient(t, 4)
	resp, err := c.StandardClient().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(bufio.NewReader(resp.Body))
	resp.Body.Close()
	if string(b) != "ok" || calls.Load() != 2 {
		t.Errorf("got %q after %d requests, want ok after 2", b, calls.Load())
	}
}

// TestConcurrentRequestsReuseConnections: bursts of concurrent requests to
// one server reuse their keep-alive connections instead of dialing anew
// after each burst (net/http's default keeps only 2 idle per host).
func TestConcurrentRequestsReuseConnections(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(Options{})
	const workers, rounds = 8, 20
	for range rounds {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
	}
	if n := dials.Load(); n > 2*workers {
		t.Errorf("%d rounds of %d concurrent requests opened %d connections, want at most %d", rounds, workers, n, 2*workers)
	}
}
