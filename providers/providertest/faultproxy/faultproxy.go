// Package faultproxy is an HTTP proxy for tests that sits in front of a real
// server and injects the faults a real server will not produce on demand:
// 5xx answers, 429 with Retry-After, connections reset in the middle of a
// body, slow bodies, truncated bodies and bodies with one bit flipped.
//
// Faults are chosen per request, either from a script (the n-th request a
// rule matches gets the rule's n-th fault) or at random from a seeded
// generator, so a failing run can be reproduced from its seed. Every request
// is recorded with the fault it got.
//
// Response-body faults act on what the upstream answers (a download);
// request-body faults (Fault.OnRequest) act on what the client sends (an
// upload), before it reaches the upstream.
package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind is a kind of fault.
type Kind int

// The faults. The zero Kind passes the request through untouched.
const (
	// Pass forwards the request and the response untouched.
	Pass Kind = iota
	// Status answers Fault.Status (500, 503, 429, ...) without contacting
	// the upstream, with a Retry-After header when Fault.RetryAfter is set.
	// A request body is drained first.
	Status
	// Reset forwards the request, sends the response headers and the first
	// Fault.After bytes of the body, then resets the connection (TCP RST).
	// With OnRequest it reads Fault.After bytes of the request body and
	// resets the connection before anything reaches the upstream.
	Reset
	// Truncate forwards the request and sends the response headers (with
	// the upstream's Content-Length) and the first Fault.After bytes of the
	// body, then closes the connection normally: the client sees an
	// unexpected EOF.
	Truncate
	// TruncateClean is Truncate without a Content-Length: the body is sent
	// chunked and ends cleanly after Fault.After bytes, so the transport
	// cannot tell it is short. Only a size or digest check can.
	TruncateClean
	// Slow streams the body at Fault.BytesPerSecond.
	Slow
	// FlipBit flips the lowest bit of the byte at offset Fault.After of the
	// response body (of the request body with OnRequest); a body shorter
	// than that gets its last byte flipped.
	FlipBit
)

var kindNames = [...]string{"pass", "status", "reset", "truncate", "truncate-clean", "slow", "flip-bit"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is what happens to one request.
type Fault struct {
	Kind Kind
	// Status is the status code for Kind Status.
	Status int
	// RetryAfter is the Retry-After header value sent with Kind Status
	// (e.g. "1"); empty sends none.
	RetryAfter string
	// After is the body offset in bytes where Reset, Truncate and
	// TruncateClean cut and where FlipBit flips.
	After int64
	// BytesPerSecond is the rate for Kind Slow (at least 1).
	BytesPerSecond int64
	// OnRequest applies Reset and FlipBit to the request body instead of
	// the response body.
	OnRequest bool
}

func (f Fault) String() string {
	s := f.Kind.String()
	switch f.Kind {
	case Status:
		s += " " + strconv.Itoa(f.Status)
		if f.RetryAfter != "" {
			s += " retry-after=" + f.RetryAfter
		}
	case Reset, Truncate, TruncateClean, FlipBit:
		s += " at=" + strconv.FormatInt(f.After, 10)
	case Slow:
		s += " bps=" + strconv.FormatInt(f.BytesPerSecond, 10)
	}
	if f.OnRequest {
		s += " (request body)"
	}
	return s
}

// Matcher selects requests.
type Matcher func(*http.Request) bool

// Match returns a Matcher for a method ("" for any) and a path: exact, or a
// prefix when it ends in "*" ("" or "*" for any).
func Match(method, path string) Matcher {
	return func(r *http.Request) bool {
		if method != "" && r.Method != method {
			return false
		}
		if prefix, ok := strings.CutSuffix(path, "*"); ok {
			return strings.HasPrefix(r.URL.Path, prefix)
		}
		return path == "" || r.URL.Path == path
	}
}

// Record is one request the proxy handled.
type Record struct {
	Method, Path, Range string
	Fault               Fault
	Time                time.Time
}

type rule struct {
	match  Matcher
	script []Fault
	always *Fault
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL (http://127.0.0.1:PORT, no slash).
	URL string
	// Host is 127.0.0.1:PORT.
	Host string

	upstream  *url.URL
	transport *http.Transport
	srv       *httptest.Server

	mu      sync.Mutex
	rules   []*rule
	rng     *rand.Rand
	rate    float64
	kinds   []Kind
	randOK  Matcher
	records []Record
}

// Start starts a proxy to upstream (a base URL such as http://127.0.0.1:5000)
// on a free 127.0.0.1 port and stops it when the test ends. Requests keep
// their Host header, so servers that build absolute URLs from it (a
// registry's upload Location) point clients back at the proxy.
func Start(t testing.TB, upstream string) *Proxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		t.Fatalf("faultproxy: bad upstream URL %q: %v", upstream, err)
	}
	p := &Proxy{
		upstream: u,
		transport: &http.Transport{
			DisableCompression:  true,
			Proxy:               nil,
			MaxIdleConnsPerHost: 16,
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	p.Host = p.srv.Listener.Addr().String()
	t.Cleanup(func() {
		p.srv.CloseClientConnections()
		p.srv.Close()
		p.transport.CloseIdleConnections()
	})
	return p
}

// Script gives the n-th request m matches the n-th of faults; later ones
// pass (or fall to later rules and random faults). Rules are consulted in
// the order they were added.
func (p *Proxy) Script(m Matcher, faults ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &rule{match: m, script: append([]Fault(nil), faults...)})
}

// Always gives every request m matches fault f.
func (p *Proxy) Always(m Matcher, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &rule{match: m, always: &f})
}

// Random gives each request that m matches (and no rule claimed) a fault
// with probability rate, of a kind drawn from kinds, with offsets and
// statuses drawn from a generator seeded with seed. The sequence is
// reproducible for a given seed and order of requests (one request at a
// time). Random logs the seed on t so a failing run can be replayed.
func (p *Proxy) Random(t testing.TB, m Matcher, seed uint64, rate float64, kinds ...Kind) {
	t.Helper()
	t.Logf("faultproxy: random faults with seed %d, rate %.2f, kinds %v", seed, rate, kinds)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p.rate, p.kinds, p.randOK = rate, kinds, m
}

// Clear removes every rule and the random faults (records stay).
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules, p.rng, p.kinds, p.randOK = nil, nil, nil, nil
}

// Records returns the requests handled so far, in order of arrival.
func (p *Proxy) Records() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Record(nil), p.records...)
}

// Count is how many requests m matches were handled.
func (p *Proxy) Count(m Matcher) int {
	n := 0
	for _, r := range p.Records() {
		req := &http.Request{Method: r.Method, URL: &url.URL{Path: r.Path}}
		if m(req) {
			n++
		}
	}
	return n
}

// pick chooses the fault for r and records it.
func (p *Proxy) pick(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, found := Fault{}, false
	for _, ru := range p.rules {
		if !ru.match(r) {
			continue
		}
		if ru.always != nil {
			f, found = *ru.always, true
			break
		}
		if len(ru.script) > 0 {
			f, found = ru.script[0], true
			ru.script = ru.script[1:]
			break
		}
	}
	if !found && p.rng != nil && len(p.kinds) > 0 && p.randOK(r) && p.rng.Float64() < p.rate {
		f = p.randomFault()
	}
	p.records = append(p.records, Record{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), Fault: f, Time: time.Now()})
	return f
}

func (p *Proxy) randomFault() Fault {
	k := p.kinds[p.rng.IntN(len(p.kinds))]
	f := Fault{Kind: k}
	switch k {
	case Status:
		codes := []int{500, 502, 503, 429}
		f.Status = codes[p.rng.IntN(len(codes))]
		if f.Status == 429 || f.Status == 503 {
			f.RetryAfter = "0"
		}
	case Reset, Truncate, TruncateClean, FlipBit:
		f.After = p.rng.Int64N(64 << 10)
	case Slow:
		f.BytesPerSecond = 256<<10 + p.rng.Int64N(768<<10)
	}
	return f
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	f := p.pick(r)
	if f.Kind == Status {
		_, _ = io.Copy(io.Discard, r.Body)
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		http.Error(w, fmt.Sprintf("faultproxy: injected %d", f.Status), f.Status)
		return
	}
	body := io.Reader(r.Body)
	if f.OnRequest {
		switch f.Kind {
		case Reset:
			// Take the first bytes of the upload, then drop the connection.
			_, _ = io.CopyN(io.Discard, r.Body, f.After)
			resetConn(w)
			return
		case FlipBit:
			body = &flipReader{r: r.Body, at: f.After, size: r.ContentLength}
		}
	}

	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target(r.URL), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		http.Error(w, "faultproxy: upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()

	if !f.OnRequest && (f.Kind == Reset || f.Kind == Truncate) {
		p.cutResponse(w, resp, f)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	src := io.Reader(resp.Body)
	switch {
	case f.OnRequest:
	case f.Kind == TruncateClean:
		w.Header().Del("Content-Length")
		src = io.LimitReader(resp.Body, f.After)
	case f.Kind == FlipBit:
		src = &flipReader{r: resp.Body, at: f.After, size: resp.ContentLength}
		if resp.ContentLength >= 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
		}
	default:
		if resp.ContentLength >= 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
		}
	}
	w.WriteHeader(resp.StatusCode)
	if f.Kind == Slow && !f.OnRequest {
		copySlow(w, src, max(f.BytesPerSecond, 1))
		return
	}
	_, _ = io.Copy(flushWriter{w}, src)
}

func (p *Proxy) target(u *url.URL) string {
	t := *p.upstream
	t.Path = strings.TrimSuffix(p.upstream.Path, "/") + u.Path
	t.RawPath = ""
	if u.RawPath != "" {
		t.RawPath = strings.TrimSuffix(p.upstream.EscapedPath(), "/") + u.RawPath
	}
	t.RawQuery = u.RawQuery
	return t.String()
}

// cutResponse writes resp's status, headers (Content-Length kept) and the
// first f.After bytes of its body on the raw connection, then closes it: with
// an RST for Reset, normally for Truncate.
func (p *Proxy) cutResponse(w http.ResponseWriter, resp *http.Response, f Fault) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic("faultproxy: cannot hijack: " + err.Error())
	}
	defer conn.Close()
	bw := bufio.NewWriter(conn)
	_ = buf // the request was read in full before the upstream answered
	fmt.Fprintf(bw, "HTTP/1.1 %s\r\n", resp.Status)
	h := resp.Header.Clone()
	for _, k := range hopHeaders {
		h.Del(k)
	}
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	h.Set("Connection", "close")
	_ = h.Write(bw)
	bw.WriteString("\r\n")
	_, _ = io.CopyN(bw, resp.Body, f.After)
	_ = bw.Flush()
	if f.Kind == Reset {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // Close sends RST
		}
	} else if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// resetConn drops the client connection with an RST.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic("faultproxy: cannot hijack: " + err.Error())
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	_ = http.NewResponseController(f.w).Flush()
	return n, err
}

func copySlow(w http.ResponseWriter, r io.Reader, bps int64) {
	const tick = 20 * time.Millisecond
	chunk := max(bps*int64(tick)/int64(time.Second), 1)
	buf := make([]byte, chunk)
	fw := flushWriter{w}
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, werr := fw.Write(buf[:n]); werr != nil {
				return
			}
			time.Sleep(tick)
		}
		if err != nil {
			return
		}
	}
}

// flipReader flips the lowest bit of the byte at offset at. With a known
// size shorter than at, it flips the last byte; with an unknown size and a
// short body, nothing.
type flipReader struct {
	r    io.Reader
	at   int64
	size int64 // -1 or 0: unknown
	n    int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	at := f.at
	if f.size > 0 && at >= f.size {
		at = f.size - 1
	}
	if at >= f.n && at < f.n+int64(n) {
		p[at-f.n] ^= 1
	}
	f.n += int64(n)
	return n, err
}
