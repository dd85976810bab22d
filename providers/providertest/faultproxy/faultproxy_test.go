package faultproxy_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/providers/providertest/faultproxy"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// startNginx serves one 100 KiB file, blob.bin, from a real nginx (WebDAV,
// so uploads work too) behind a proxy.
func startNginx(t *testing.T) (*testenv.WebDAV, *faultproxy.Proxy, []byte) {
	t.Helper()
	dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{})
	body := make([]byte, 100<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dav.Root, "blob.bin"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	return dav, faultproxy.Start(t, strings.TrimSuffix(dav.URL, "/")), body
}

// get fetches path through a client without keep-alives or retries.
func get(t *testing.T, p *faultproxy.Proxy, path string) (*http.Response, []byte, error) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	resp, err := c.Get(p.URL + path)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func put(t *testing.T, p *faultproxy.Proxy, path string, body []byte) (*http.Response, error) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodPut, p.URL+path, bytes.NewReader(body))
	resp, err := c.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestPassThrough(t *testing.T) {
	dav, p, body := startNginx(t)
	resp, got, err := get(t, p, "/blob.bin")
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("GET through the proxy: err %v, status %v, %d bytes equal=%v", err, resp, len(got), bytes.Equal(got, body))
	}
	if resp.ContentLength != int64(len(body)) || resp.Header.Get("ETag") == "" {
		t.Errorf("headers not passed through: Content-Length %d, ETag %q", resp.ContentLength, resp.Header.Get("ETag"))
	}
	if resp, err := put(t, p, "/up/new.bin", body); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT through the proxy: %v %v", resp, err)
	}
	if stored, _ := os.ReadFile(filepath.Join(dav.Root, "up/new.bin")); !bytes.Equal(stored, body) {
		t.Fatal("PUT through the proxy stored other bytes")
	}
	if n := p.Count(faultproxy.Match("", "*")); n != 2 {
		t.Errorf("recorded %d requests; want 2", n)
	}
}

func TestScriptedStatusThenPass(t *testing.T) {
	_, p, body := startNginx(t)
	p.Script(faultproxy.Match(http.MethodGet, "/blob.bin"),
		faultproxy.Fault{Kind: faultproxy.Status, Status: 503, RetryAfter: "2"},
		faultproxy.Fault{Kind: faultproxy.Status, Status: 500})
	resp, _, _ := get(t, p, "/blob.bin")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("first request: %d Retry-After %q; want 503 with Retry-After 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp, _, _ = get(t, p, "/blob.bin")
	if resp.StatusCode != 500 || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("second request: %d; want 500 without Retry-After", resp.StatusCode)
	}
	resp, got, err := get(t, p, "/blob.bin")
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("third request (script used up): %v %v", resp.StatusCode, err)
	}
	// Other paths are not affected by the rule.
	p.Always(faultproxy.Match(http.MethodGet, "/other*"), faultproxy.Fault{Kind: faultproxy.Status, Status: 429})
	if resp, _, _ := get(t, p, "/blob.bin"); resp.StatusCode != 200 {
		t.Fatalf("a rule for /other* hit /blob.bin: %d", resp.StatusCode)
	}
	for range 2 {
		if resp, _, _ := get(t, p, "/other/x"); resp.StatusCode != 429 {
			t.Fatalf("Always rule: %d; want 429 every time", resp.StatusCode)
		}
	}
	recs := p.Records()
	if len(recs) != 6 || recs[0].Fault.Status != 503 || recs[2].Fault.Kind != faultproxy.Pass {
		t.Fatalf("records: %+v", recs)
	}
}

func TestBodyFaults(t *testing.T) {
	_, p, body := startNginx(t)
	const at = 12345
	m := faultproxy.Match(http.MethodGet, "/blob.bin")

	p.Script(m, faultproxy.Fault{Kind: faultproxy.Reset, After: at})
	_, got, err := get(t, p, "/blob.bin")
	if !errors.Is(err, syscall.ECONNRESET) || len(got) != at || !bytes.Equal(got, body[:at]) {
		t.Fatalf("reset: %d bytes, err %v; want the first %d bytes and a connection reset", len(got), err, at)
	}

	p.Script(m, faultproxy.Fault{Kind: faultproxy.Truncate, After: at})
	resp, got, err := get(t, p, "/blob.bin")
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != at || resp.ContentLength != int64(len(body)) {
		t.Fatalf("truncate: %d bytes, err %v, Content-Length %d; want %d bytes and an unexpected EOF", len(got), err, resp.ContentLength, at)
	}

	p.Script(m, faultproxy.Fault{Kind: faultproxy.TruncateClean, After: at})
	resp, got, err = get(t, p, "/blob.bin")
	if err != nil || resp.ContentLength != -1 || !bytes.Equal(got, body[:at]) {
		t.Fatalf("clean truncate: %d bytes, err %v, Content-Length %d; want %d bytes, no error, no length", len(got), err, resp.ContentLength, at)
	}

	p.Script(m, faultproxy.Fault{Kind: faultproxy.FlipBit, After: at})
	_, got, err = get(t, p, "/blob.bin")
	if err != nil || len(got) != len(body) {
		t.Fatalf("flip: %d bytes, err %v", len(got), err)
	}
	if diff := diffBits(got, body); len(diff) != 1 || diff[0] != at {
		t.Fatalf("flip: bytes differ at %v; want exactly offset %d", diff, at)
	}

	// Slow: the bytes are right and take at least size/rate to arrive.
	const bps = 400 << 10
	p.Script(m, faultproxy.Fault{Kind: faultproxy.Slow, BytesPerSecond: bps})
	start := time.Now()
	_, got, err = get(t, p, "/blob.bin")
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("slow: %d bytes, err %v", len(got), err)
	}
	if min := time.Duration(len(body)) * time.Second / bps * 9 / 10; time.Since(start) < min {
		t.Fatalf("slow body arrived in %v; at %d B/s it takes at least %v", time.Since(start), bps, min)
	}
}

func TestRequestBodyFaults(t *testing.T) {
	dav, p, body := startNginx(t)
	p.Script(faultproxy.Match(http.MethodPut, "/up/flipped.bin"), faultproxy.Fault{Kind: faultproxy.FlipBit, After: 7, OnRequest: true})
	if resp, err := put(t, p, "/up/flipped.bin", body); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT with a flipped bit: %v %v", resp, err)
	}
	stored, _ := os.ReadFile(filepath.Join(dav.Root, "up/flipped.bin"))
	if diff := diffBits(stored, body); len(diff) != 1 || diff[0] != 7 {
		t.Fatalf("stored upload differs at %v; want exactly offset 7", diff)
	}

	p.Script(faultproxy.Match(http.MethodPut, "/up/reset.bin"), faultproxy.Fault{Kind: faultproxy.Reset, After: 4096, OnRequest: true})
	if _, err := put(t, p, "/up/reset.bin", body); err == nil {
		t.Fatal("PUT through a reset connection succeeded")
	}
	if _, err := os.Stat(filepath.Join(dav.Root, "up/reset.bin")); !os.IsNotExist(err) {
		t.Fatalf("a reset upload reached the server (err=%v)", err)
	}
}

func TestRandomIsReproducible(t *testing.T) {
	_, p, _ := startNginx(t)
	kinds := []faultproxy.Kind{faultproxy.Status, faultproxy.Reset, faultproxy.FlipBit, faultproxy.Truncate}
	run := func(seed uint64) []string {
		p.Clear()
		p.Random(t, faultproxy.Match(http.MethodGet, "*"), seed, 0.5, kinds...)
		before := len(p.Records())
		for range 12 {
			get(t, p, "/blob.bin")
		}
		var out []string
		for _, r := range p.Records()[before:] {
			out = append(out, r.Fault.String())
		}
		return out
	}
	a, b, c := run(42), run(42), run(43)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if strings.Join(a, ",") == strings.Join(c, ",") {
		t.Fatalf("seeds 42 and 43 gave the same faults: %v", a)
	}
	faulted := 0
	for _, f := range a {
		if f != "pass" {
			faulted++
		}
	}
	if faulted == 0 || faulted == len(a) {
		t.Fatalf("rate 0.5 faulted %d of %d requests: %v", faulted, len(a), a)
	}
}

// diffBits returns the offsets where a and b differ (lengths must match).
func diffBits(a, b []byte) []int {
	if len(a) != len(b) {
		return []int{-1}
	}
	var out []int
	for i := range a {
		if a[i] != b[i] {
			if x := a[i] ^ b[i]; x&(x-1) != 0 {
				out = append(out, -2) // more than one bit
			}
			out = append(out, i)
		}
	}
	return out
}
