package httpx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// staller serves content, but its first response (a 200) sends the headers
// and the first n bytes and then stalls until the test ends; later requests
// (Range resumes) are served normally.
type staller struct {
	content      []byte
	n            int
	acceptRanges bool
	done         chan struct{}
	mu           sync.Mutex
	calls        int
}

func (s *staller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	first := s.calls == 1
	s.mu.Unlock()
	w.Header().Set("ETag", `"v1"`)
	if !first {
		http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(s.content))
		return
	}
	if s.acceptRanges {
		w.Header().Set("Accept-Ranges", "bytes")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(s.content)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.content[:s.n])
	w.(http.Flusher).Flush()
	select {
	case <-s.done:
	case <-r.Context().Done():
	}
}

// A body that stalls after the headers and a few bytes is cut off after the
// idle timeout and resumed with a Range request.
func TestStalledBodyIsResumed(t *testing.T) {
	content := testContent(64 << 10)
	srv := &staller{content: content, n: 100, acceptRanges: true, done: make(chan struct{})}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer close(srv.done)
	c := New(Options{MaxRetries: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, IdleTimeout: 200 * time.Millisecond})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	rc, _, err := c.GetStream(ctx, ts.URL+"/blob", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading: %v (after %s)", err, time.Since(start))
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("got %d bytes, want the %d original bytes", len(got), len(content))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s, want about the 200ms idle timeout", d)
	}
}

// Without a way to resume, the stalled body fails with an error saying so,
// within the idle timeout rather than never.
func TestStalledBodyFailsClearly(t *testing.T) {
	content := testContent(64 << 10)
	srv := &staller{content: content, n: 100, done: make(chan struct{})}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer close(srv.done)
	c := New(Options{MaxRetries: 2, IdleTimeout: 200 * time.Millisecond})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	for _, stream := range []bool{true, false} {
		srv.mu.Lock()
		srv.calls = 0
		srv.mu.Unlock()
		var body io.ReadCloser
		if stream {
			rc, _, err := c.GetStream(ctx, ts.URL+"/blob", nil)
			if err != nil {
				t.Fatal(err)
			}
			body = rc
		} else {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/blob", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body = resp.Body
		}
		_, err := io.ReadAll(body)
		body.Close()
		var idle *IdleTimeoutError
		if !errors.As(err, &idle) || !strings.Contains(err.Error(), "no data received for 200ms") {
			t.Fatalf("stream=%v: error = %v, want an idle timeout", stream, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("stream=%v: the read was ended by the test's deadline, not the idle timeout", stream)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s, want about twice the 200ms idle timeout", d)
	}
}

// A reader that takes its time between reads is not cut off: the timeout
// counts only time spent waiting for the server.
func TestSlowReaderIsNotIdle(t *testing.T) {
	content := testContent(4 << 10)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(content)
	}))
	defer ts.Close()
	c := New(Options{MaxRetries: 1, IdleTimeout: 50 * time.Millisecond})
	rc, _, err := c.GetStream(t.Context(), ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []byte
	buf := make([]byte, 1024)
	for {
		time.Sleep(80 * time.Millisecond)
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("got %d bytes, want %d", len(got), len(content))
	}
}
