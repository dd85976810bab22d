// Package latencyproxy is an HTTP reverse proxy that holds every request
// for a fixed delay before passing it on, so that servers on 127.0.0.1
// answer as if they were a WAN round trip away (issue #16: sharded apply
// behind 20 ms a request).
//
// The delay is per HTTP request, not per byte or per connection: each
// request on a keep-alive connection waits again. Bodies stream both ways
// unbuffered (the response is flushed after every write), and the Host
// header the client sent is passed on unchanged, so S3 signatures still
// match and a registry's Location headers point back at the proxy.
package latencyproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// Proxy is the handler: it waits Delay, then forwards to the target.
type Proxy struct {
	delay    time.Duration
	rp       *httputil.ReverseProxy
	requests atomic.Int64
	errors   atomic.Int64
}

// New returns a proxy to target (scheme and host; a path is kept as the
// prefix of every forwarded path) that delays each request by delay.
func New(target *url.URL, delay time.Duration) *Proxy {
	p := &Proxy{delay: delay}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Many shards, each with its parallelism, go through one proxy: keep
	// their connections to the target instead of churning through
	// ephemeral ports (the default keeps 2 idle per host).
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
		// Flush after every write: a streamed body reaches the client as
		// the target sends it, never held back in a buffer.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.errors.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return p
}

// ServeHTTP waits the delay (or until the client gives up), then forwards.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	if p.delay > 0 {
		t := time.NewTimer(p.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	p.rp.ServeHTTP(w, r)
}

// Requests is how many requests the proxy received.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// Errors is how many requests could not be forwarded (or whose response
// broke off, e.g. a client that was killed).
func (p *Proxy) Errors() int64 { return p.errors.Load() }

// Server is a Proxy listening on a local address.
type Server struct {
	*Proxy
	// URL is http://HOST:PORT of the proxy; Host is HOST:PORT.
	URL, Host string
	srv       *http.Server
	done      chan error
}

// Start listens on addr ("127.0.0.1:0" for any free port) and serves a
// proxy to target with the delay.
func Start(addr, target string, delay time.Duration) (*Server, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("latency proxy target %q: %w", target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("latency proxy target %q: want http://HOST:PORT", target)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Proxy: New(u, delay), Host: ln.Addr().String(), done: make(chan error, 1)}
	s.URL = "http://" + s.Host
	s.srv = &http.Server{Handler: s.Proxy, ReadHeaderTimeout: 30 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Wait blocks until the server stops and returns why (nil after Close).
func (s *Server) Wait() error {
	if err := <-s.done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the server at once, breaking requests in flight.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops accepting and waits for requests in flight, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
