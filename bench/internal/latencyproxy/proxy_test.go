package latencyproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// start serves h behind a proxy with delay; it returns the proxy.
func start(t *testing.T, h http.Handler, delay time.Duration) *Server {
	t.Helper()
	backend := httptest.NewServer(h)
	t.Cleanup(backend.Close)
	p, err := Start("127.0.0.1:0", backend.URL, delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Every request waits the delay, also the second and third on one
// keep-alive connection; a proxy without delay answers well under it.
func TestDelayPerRequest(t *testing.T) {
	const delay = 60 * time.Millisecond
	tests := []struct {
		name    string
		delay   time.Duration
		atLeast time.Duration
		below   time.Duration
	}{
		{name: "delayed", delay: delay, atLeast: delay, below: 10 * delay},
		{name: "no delay", delay: 0, atLeast: 0, below: delay},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}), tc.delay)
			var conns atomic.Int64
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conns.Add(1)
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			for i := range 3 {
				t0 := time.Now()
				resp, err := c.Get(p.URL + "/x")
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				took := time.Since(t0)
				if err != nil || string(b) != "ok" {
					t.Fatalf("request %d: body %q, %v", i, b, err)
				}
				if took < tc.atLeast || took >= tc.below {
					t.Errorf("request %d took %v, want ≥ %v and < %v", i, took, tc.atLeast, tc.below)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("client dialled %d connections, want 1 (keep-alive)", n)
			}
			if n := p.Requests(); n != 3 {
				t.Errorf("proxy counted %d requests, want 3", n)
			}
		})
	}
}

// Request and response bodies, status, headers and the client's Host pass
// through unchanged.
func TestBodiesIntact(t *testing.T) {
	up := make([]byte, 3<<20+17)
	down := make([]byte, 5<<20+3)
	rand.Read(up)
	rand.Read(down)
	var gotHost string
	p := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Host
		h := sha256.New()
		if _, err := io.Copy(h, r.Body); err != nil {
			t.Errorf("backend reading the body: %v", err)
		}
		w.Header().Set("X-Body-Sha256", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("Location", "http://"+r.Host+"/v2/next")
		w.WriteHeader(http.StatusCreated)
		w.Write(down)
	}), time.Millisecond)

	req, err := http.NewRequest(http.MethodPut, p.URL+"/bucket/key?x=1", bytes.NewReader(up))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(up)
	if want := hex.EncodeToString(sum[:]); resp.Header.Get("X-Body-Sha256") != want {
		t.Errorf("backend received a request body with sha256 %s, want %s", resp.Header.Get("X-Body-Sha256"), want)
	}
	if !bytes.Equal(got, down) {
		t.Errorf("response body: %d bytes, differs from the %d sent", len(got), len(down))
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status %d, want 201", resp.StatusCode)
	}
	if gotHost != p.Host {
		t.Errorf("backend saw Host %q, want the proxy's %q (signatures and Location headers)", gotHost, p.Host)
	}
	if want := p.URL + "/v2/next"; resp.Header.Get("Location") != want {
		t.Errorf("Location %q, want %q", resp.Header.Get("Location"), want)
	}
}

// The proxy streams: the first part of a response reaches the client while
// the backend has not finished it, and the first part of a request body
// reaches the backend while the client has not finished sending it.
func TestStreams(t *testing.T) {
	const wait = 5 * time.Second
	t.Run("response", func(t *testing.T) {
		release := make(chan struct{})
		p := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "first")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(2 * wait):
			}
			io.WriteString(w, "second")
		}), time.Millisecond)
		// The clock runs from the request on: a buffering proxy would
		// not even send the headers before the backend finished.
		type part struct {
			resp *http.Response
			b    []byte
			err  error
		}
		first := make(chan part, 1)
		go func() {
			resp, err := http.Get(p.URL + "/")
			if err != nil {
				first <- part{err: err}
				return
			}
			b := make([]byte, 5)
			_, err = io.ReadFull(resp.Body, b)
			first <- part{resp, b, err}
		}()
		var resp *http.Response
		select {
		case f := <-first:
			if f.resp != nil {
				defer f.resp.Body.Close()
			}
			if f.err != nil || string(f.b) != "first" {
				close(release)
				t.Fatalf("first part %q, %v", f.b, f.err)
			}
			resp = f.resp
		case <-time.After(wait):
			close(release)
			t.Fatal("the first part of the response did not arrive while the backend held the rest: the proxy buffers")
		}
		close(release)
		rest, err := io.ReadAll(resp.Body)
		if err != nil || string(rest) != "second" {
			t.Fatalf("rest %q, %v", rest, err)
		}
	})
	t.Run("request", func(t *testing.T) {
		gotFirst := make(chan struct{})
		p := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 5)
			if _, err := io.ReadFull(r.Body, b); err != nil || string(b) != "first" {
				t.Errorf("backend read %q, %v", b, err)
				return
			}
			close(gotFirst)
			rest, _ := io.ReadAll(r.Body)
			io.WriteString(w, string(b)+string(rest))
		}), time.Millisecond)
		pr, pw := io.Pipe()
		type result struct {
			body string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := http.Post(p.URL+"/", "application/octet-stream", pr)
			if err != nil {
				done <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			done <- result{string(b), err}
		}()
		if _, err := io.WriteString(pw, "first"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-gotFirst:
		case <-time.After(wait):
			pw.CloseWithError(io.ErrUnexpectedEOF)
			t.Fatal("the backend did not get the first part of the request body while the client held the rest: the proxy buffers")
		}
		io.WriteString(pw, "second")
		pw.Close()
		r := <-done
		if r.err != nil || r.body != "firstsecond" {
			t.Fatalf("response %q, %v", r.body, r.err)
		}
	})
}
