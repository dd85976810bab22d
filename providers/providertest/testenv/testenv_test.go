package testenv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// call sends one request and returns the response with its body read.
func call(t *testing.T, method, rawURL string, body []byte, user, pass string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, r)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, rawURL, err)
	}
	return resp, data
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d; body: %.500s", resp.Request.Method, resp.Request.URL, resp.Status, want, body)
	}
}

// pushBlob does a monolithic blob upload (POST, then PUT <Location>&digest=)
// and returns the digest.
func pushBlob(t *testing.T, reg *Registry, repo string, blob []byte) string {
	t.Helper()
	sum := sha256.Sum256(blob)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	resp, body := call(t, http.MethodPost, reg.URL+"/v2/"+repo+"/blobs/uploads/", nil, reg.Username, reg.Password)
	wantStatus(t, resp, body, http.StatusAccepted)
	loc, err := resp.Location() // resolved against the request URL
	if err != nil {
		t.Fatalf("upload POST: no usable Location: %v", err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	resp, body = call(t, http.MethodPut, loc.String(), blob, reg.Username, reg.Password, "Content-Type", "application/octet-stream")
	wantStatus(t, resp, body, http.StatusCreated)
	if got := resp.Header.Get("Docker-Content-Digest"); got != digest {
		t.Errorf("upload PUT: Docker-Content-Digest = %q, want %q", got, digest)
	}
	return digest
}

func checkBlob(t *testing.T, reg *Registry, repo, digest string, blob []byte) {
	t.Helper()
	resp, body := call(t, http.MethodGet, reg.URL+"/v2/"+repo+"/blobs/"+digest, nil, reg.Username, reg.Password)
	wantStatus(t, resp, body, http.StatusOK)
	if !bytes.Equal(body, blob) {
		t.Fatalf("GET blob: got %d bytes %.40q, want %d bytes %.40q", len(body), body, len(blob), blob)
	}
	resp, body = call(t, http.MethodHead, reg.URL+"/v2/"+repo+"/blobs/"+digest, nil, reg.Username, reg.Password)
	wantStatus(t, resp, body, http.StatusOK)
	if resp.ContentLength != int64(len(blob)) {
		t.Errorf("HEAD blob: Content-Length %d, want %d", resp.ContentLength, len(blob))
	}
}

func TestRegistry(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{})
	if reg.Username != "" || reg.Password != "" {
		t.Errorf("anonymous registry has credentials %q/%q", reg.Username, reg.Password)
	}
	if want := "http://" + reg.Host; reg.URL != want || !strings.HasPrefix(reg.Host, "127.0.0.1:") {
		t.Errorf("URL %q, Host %q: want URL http://HOST with HOST on 127.0.0.1", reg.URL, reg.Host)
	}
	resp, body := call(t, http.MethodGet, reg.URL+"/v2/", nil, "", "")
	wantStatus(t, resp, body, http.StatusOK)
	if v := resp.Header.Get("Docker-Distribution-Api-Version"); v != "registry/2.0" {
		t.Errorf("Docker-Distribution-Api-Version = %q", v)
	}

	blob := []byte("ferry testenv blob " + time.Now().String())
	digest := pushBlob(t, reg, "ferry/test", blob)
	checkBlob(t, reg, "ferry/test", digest, blob)

	// The filesystem driver stores it under StorageDir.
	data := filepath.Join(reg.StorageDir, "docker/registry/v2/blobs/sha256", digest[7:9], digest[7:], "data")
	if got, err := os.ReadFile(data); err != nil || !bytes.Equal(got, blob) {
		t.Errorf("blob on disk at %s: %q, %v", data, got, err)
	}

	// Deletes are enabled.
	resp, body = call(t, http.MethodDelete, reg.URL+"/v2/ferry/test/blobs/"+digest, nil, "", "")
	wantStatus(t, resp, body, http.StatusAccepted)
	resp, body = call(t, http.MethodGet, reg.URL+"/v2/ferry/test/blobs/"+digest, nil, "", "")
	wantStatus(t, resp, body, http.StatusNotFound)
}

func TestRegistryAuth(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{Auth: true})
	if reg.Username == "" || reg.Password == "" {
		t.Fatalf("auth registry without credentials: %q/%q", reg.Username, reg.Password)
	}
	resp, body := call(t, http.MethodGet, reg.URL+"/v2/", nil, "", "")
	wantStatus(t, resp, body, http.StatusUnauthorized)
	if h := resp.Header.Get("Www-Authenticate"); !strings.HasPrefix(h, "Basic ") {
		t.Errorf("anonymous GET /v2/: Www-Authenticate = %q, want Basic", h)
	}
	resp, body = call(t, http.MethodGet, reg.URL+"/v2/", nil, reg.Username, reg.Password+"x")
	wantStatus(t, resp, body, http.StatusUnauthorized)
	resp, body = call(t, http.MethodGet, reg.URL+"/v2/", nil, reg.Username, reg.Password)
	wantStatus(t, resp, body, http.StatusOK)

	// Anonymous push is refused; with the credentials it works.
	resp, body = call(t, http.MethodPost, reg.URL+"/v2/ferry/test/blobs/uploads/", nil, "", "")
	wantStatus(t, resp, body, http.StatusUnauthorized)
	blob := []byte("authenticated blob")
	digest := pushBlob(t, reg, "ferry/test", blob)
	checkBlob(t, reg, "ferry/test", digest, blob)
}

func TestWebDAV(t *testing.T) {
	dav := StartWebDAV(t, WebDAVOptions{})
	if !strings.HasPrefix(dav.URL, "http://127.0.0.1:") || !strings.HasSuffix(dav.URL, "/") {
		t.Errorf("URL %q: want http://127.0.0.1:PORT/", dav.URL)
	}
	const key = "pkg/a/b/1.0.0/object.bin"
	obj := dav.URL + key
	content := bytes.Repeat([]byte("ferry webdav\n"), 10_000)

	resp, body := call(t, http.MethodPut, obj, content, "", "")
	wantStatus(t, resp, body, http.StatusCreated)
	onDisk, err := os.ReadFile(filepath.Join(dav.Root, filepath.FromSlash(key)))
	if err != nil || !bytes.Equal(onDisk, content) {
		t.Fatalf("after PUT, Root/%s: %d bytes, %v; want the %d bytes sent", key, len(onDisk), err, len(content))
	}

	resp, body = call(t, http.MethodGet, obj, nil, "", "")
	wantStatus(t, resp, body, http.StatusOK)
	if !bytes.Equal(body, content) {
		t.Fatalf("GET: %d bytes, want the %d bytes PUT", len(body), len(content))
	}
	resp, body = call(t, http.MethodHead, obj, nil, "", "")
	wantStatus(t, resp, body, http.StatusOK)
	if resp.ContentLength != int64(len(content)) || resp.Header.Get("Content-Length") != fmt.Sprint(len(content)) {
		t.Errorf("HEAD: Content-Length %q (%d), want %d", resp.Header.Get("Content-Length"), resp.ContentLength, len(content))
	}

	// Overwrite, and an empty file.
	resp, body = call(t, http.MethodPut, obj, []byte("v2"), "", "")
	wantStatus(t, resp, body, http.StatusNoContent)
	resp, body = call(t, http.MethodGet, obj, nil, "", "")
	wantStatus(t, resp, body, http.StatusOK)
	if string(body) != "v2" {
		t.Errorf("GET after overwrite: %q, want %q", body, "v2")
	}
	resp, body = call(t, http.MethodPut, dav.URL+"empty", []byte{}, "", "")
	wantStatus(t, resp, body, http.StatusCreated)

	// Directory listing (JSON autoindex).
	resp, body = call(t, http.MethodGet, dav.URL+"pkg/a/b/1.0.0/", nil, "", "")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(string(body), `"name":"object.bin"`) {
		t.Errorf("directory listing: %s", body)
	}

	resp, body = call(t, http.MethodDelete, obj, nil, "", "")
	wantStatus(t, resp, body, http.StatusNoContent)
	if _, err := os.Stat(filepath.Join(dav.Root, filepath.FromSlash(key))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after DELETE, Root/%s: %v, want not found", key, err)
	}
	resp, body = call(t, http.MethodGet, obj, nil, "", "")
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = call(t, http.MethodDelete, obj, nil, "", "")
	wantStatus(t, resp, body, http.StatusNotFound)
}

func TestWebDAVAuth(t *testing.T) {
	dav := StartWebDAV(t, WebDAVOptions{Auth: true})
	if dav.Username == "" || dav.Password == "" {
		t.Fatalf("auth WebDAV without credentials: %q/%q", dav.Username, dav.Password)
	}
	obj := dav.URL + "secret/x.txt"
	resp, body := call(t, http.MethodPut, obj, []byte("anon"), "", "")
	wantStatus(t, resp, body, http.StatusUnauthorized)
	if _, err := os.Stat(filepath.Join(dav.Root, "secret")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("anonymous PUT left something on disk: %v", err)
	}
	resp, body = call(t, http.MethodPut, obj, []byte("anon"), dav.Username, "wrong")
	wantStatus(t, resp, body, http.StatusUnauthorized)

	resp, body = call(t, http.MethodPut, obj, []byte("ok"), dav.Username, dav.Password)
	wantStatus(t, resp, body, http.StatusCreated)
	resp, body = call(t, http.MethodGet, obj, nil, "", "")
	wantStatus(t, resp, body, http.StatusUnauthorized)
	resp, body = call(t, http.MethodGet, obj, nil, dav.Username, dav.Password)
	wantStatus(t, resp, body, http.StatusOK)
	if string(body) != "ok" {
		t.Errorf("GET: %q, want %q", body, "ok")
	}
}

// fakeTB records Fatal and Skip (ending the goroutine, like the real ones)
// and collects cleanups; everything else goes to the real test.
type fakeTB struct {
	testing.TB
	fatal, skipped string
	cleanups       []func()
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatal(args ...any)                 { f.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }
func (f *fakeTB) FailNow()                          { f.Fatal("FailNow") }
func (f *fakeTB) Skip(args ...any)                  { f.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Skipf(format string, args ...any)  { f.Skip(fmt.Sprintf(format, args...)) }
func (f *fakeTB) SkipNow()                          { f.Skip("SkipNow") }
func (f *fakeTB) Failed() bool                      { return f.fatal != "" }
func (f *fakeTB) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

// runFake runs fn with a fakeTB in its own goroutine and waits for it.
func runFake(t *testing.T, fn func(testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	t.Cleanup(f.runCleanups) // in case the test stops early
	return f
}

func TestSkipReason(t *testing.T) {
	for v, skip := range map[string]bool{"": false, "0": false, "false": false, "1": true, "true": true, "yes": true} {
		if got := skipReason(v); (got != "") != skip {
			t.Errorf("skipReason(%q) = %q, want skip=%v", v, got, skip)
		}
	}
}

func TestSkipIntegration(t *testing.T) {
	t.Setenv(EnvSkip, "1")
	t.Setenv(EnvRegistryBin, "/nonexistent/docker-registry") // skipping wins over a missing binary
	t.Setenv(EnvVerdaccioBin, "/nonexistent/verdaccio")
	t.Setenv(EnvVersityGWBin, "/nonexistent/versitygw")
	for name, start := range map[string]func(testing.TB){
		"s3":        func(tb testing.TB) { StartS3(tb, S3Options{}) },
		"registry":  func(tb testing.TB) { StartRegistry(tb, RegistryOptions{}) },
		"webdav":    func(tb testing.TB) { StartWebDAV(tb, WebDAVOptions{Auth: true}) },
		"verdaccio": func(tb testing.TB) { StartVerdaccio(tb, VerdaccioOptions{}) },
	} {
		f := runFake(t, start)
		if f.fatal != "" || !strings.Contains(f.skipped, EnvSkip+"=1") || len(f.cleanups) != 0 {
			t.Errorf("%s with %s=1: skipped %q, fatal %q, %d cleanups; want a skip naming the variable and nothing started",
				name, EnvSkip, f.skipped, f.fatal, len(f.cleanups))
		}
	}
}

func TestMissingBinaryFails(t *testing.T) {
	t.Setenv(EnvSkip, "")
	t.Setenv(EnvRegistryBin, "/nonexistent/docker-registry")
	t.Setenv(EnvNginxBin, "/nonexistent/nginx")
	t.Setenv(EnvVerdaccioBin, "/nonexistent/verdaccio")
	t.Setenv(EnvVersityGWBin, "/nonexistent/versitygw")
	for name, start := range map[string]func(testing.TB){
		"s3":        func(tb testing.TB) { StartS3(tb, S3Options{}) },
		"registry":  func(tb testing.TB) { StartRegistry(tb, RegistryOptions{}) },
		"webdav":    func(tb testing.TB) { StartWebDAV(tb, WebDAVOptions{}) },
		"verdaccio": func(tb testing.TB) { StartVerdaccio(tb, VerdaccioOptions{}) },
	} {
		f := runFake(t, start)
		if f.skipped != "" || !strings.Contains(f.fatal, ".ci/install-test-servers") || !strings.Contains(f.fatal, "/nonexistent/") {
			t.Errorf("%s with a missing binary: fatal %q, skipped %q; want a failure naming the binary and .ci/install-test-servers", name, f.fatal, f.skipped)
		} else {
			t.Logf("%s: %s", name, f.fatal)
		}
	}
}

func TestFindBinary(t *testing.T) {
	noEnv := func(string) string { return "" }
	only := func(paths ...string) func(string) (string, error) {
		return func(p string) (string, error) {
			for _, ok := range paths {
				if p == ok {
					return p, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	// Nothing installed: a clear error.
	for _, b := range []binary{registryBinary(), nginxBinary()} {
		_, err := b.find(noEnv, only())
		if err == nil || !strings.Contains(err.Error(), b.name+" not found") || !strings.Contains(err.Error(), "bash .ci/install-test-servers") || !strings.Contains(err.Error(), EnvSkip) {
			t.Errorf("%s missing: error %v", b.name, err)
		}
	}
	// nginx in /usr/sbin, which is not on PATH.
	if got, err := nginxBinary().find(noEnv, only("/usr/sbin/nginx")); err != nil || got != "/usr/sbin/nginx" {
		t.Errorf("nginx only in /usr/sbin: %q, %v", got, err)
	}
	// PATH first.
	if got, err := nginxBinary().find(noEnv, only("nginx", "/usr/sbin/nginx")); err != nil || got != "nginx" {
		t.Errorf("nginx on PATH: %q, %v", got, err)
	}
	// The override wins, and must exist.
	env := func(k string) string {
		if k == EnvRegistryBin {
			return "/opt/registry"
		}
		return ""
	}
	if got, err := registryBinary().find(env, only("/opt/registry", "docker-registry")); err != nil || got != "/opt/registry" {
		t.Errorf("override: %q, %v", got, err)
	}
	if _, err := registryBinary().find(env, only("docker-registry")); err == nil || !strings.Contains(err.Error(), EnvRegistryBin) {
		t.Errorf("missing override: error %v, want one naming %s", err, EnvRegistryBin)
	}
}

func TestFindVersityGW(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	only := func(paths ...string) func(string) (string, error) {
		return func(p string) (string, error) {
			for _, ok := range paths {
				if p == ok {
					return p, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name   string
		getenv func(string) string
		have   []string
		want   string // "" : an error naming the install script
	}{
		{name: "cache under home", getenv: env(), have: []string{"/home/u/.cache/ferry-testenv/bin/versitygw"}, want: "/home/u/.cache/ferry-testenv/bin/versitygw"},
		{name: "cache root from env", getenv: env(EnvTestenvRoot, "/ci"), have: []string{"/ci/bin/versitygw"}, want: "/ci/bin/versitygw"},
		{name: "PATH first", getenv: env(), have: []string{"versitygw", "/home/u/.cache/ferry-testenv/bin/versitygw"}, want: "versitygw"},
		{name: "override", getenv: env(EnvVersityGWBin, "/opt/vgw"), have: []string{"/opt/vgw", "versitygw"}, want: "/opt/vgw"},
		{name: "missing override", getenv: env(EnvVersityGWBin, "/opt/vgw"), have: []string{"versitygw"}},
		{name: "nothing installed", getenv: env()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findVersityGW(tt.getenv, home, only(tt.have...))
			switch {
			case tt.want != "" && (err != nil || got != tt.want):
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			case tt.want == "" && (err == nil || !strings.Contains(err.Error(), "bash .ci/install-test-servers")):
				t.Errorf("got %q, %v; want an error naming the install script", got, err)
			}
		})
	}
}

// TestCleanupStops checks that the servers are gone once the test's
// cleanups have run.
func TestCleanupStops(t *testing.T) {
	if reason := Skip(); reason != "" {
		t.Skip(reason)
	}
	var hosts []string
	f := runFake(t, func(tb testing.TB) {
		hosts = append(hosts, StartRegistry(tb, RegistryOptions{}).Host)
		u, err := url.Parse(StartWebDAV(tb, WebDAVOptions{}).URL)
		if err != nil {
			tb.Fatal(err)
		}
		hosts = append(hosts, u.Host)
		hosts = append(hosts, StartVerdaccio(tb, VerdaccioOptions{}).Host)
	})
	if f.fatal != "" || f.skipped != "" {
		t.Fatalf("start: fatal %q, skipped %q", f.fatal, f.skipped)
	}
	for _, h := range hosts {
		c, err := net.Dial("tcp", h)
		if err != nil {
			t.Fatalf("%s not listening while running: %v", h, err)
		}
		c.Close()
	}
	began := time.Now()
	f.runCleanups()
	t.Logf("stopped all in %v", time.Since(began).Round(time.Millisecond))
	for _, h := range hosts {
		if c, err := net.Dial("tcp", h); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after cleanup", h)
		}
	}
}

// TestConcurrentStarts starts several servers at once (parallel tests do).
func TestConcurrentStarts(t *testing.T) {
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			reg := StartRegistry(t, RegistryOptions{Auth: i%2 == 0})
			dav := StartWebDAV(t, WebDAVOptions{Auth: i%2 == 1})
			resp, body := call(t, http.MethodGet, reg.URL+"/v2/", nil, reg.Username, reg.Password)
			wantStatus(t, resp, body, http.StatusOK)
			resp, body = call(t, http.MethodPut, dav.URL+"x/y", []byte("z"), dav.Username, dav.Password)
			wantStatus(t, resp, body, http.StatusCreated)
		})
	}
}

// fakeServer writes a shell script that stands in for a server binary: it
// appends a line to a counter file, prints msg and exits 1.
func fakeServer(t *testing.T, msg string) (bin, counter string) {
	dir := t.TempDir()
	bin, counter = filepath.Join(dir, "fake-server"), filepath.Join(dir, "runs")
	script := fmt.Sprintf("#!/bin/sh\necho run >> '%s'\necho '%s' >&2\nexit 1\n", counter, msg)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, counter
}

func runs(t *testing.T, counter string) int {
	data, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "run\n")
}

// TestStartFailureShowsLog: a server that dies at start-up fails the test
// with the tail of its log, after one try; one whose port was taken is
// retried on other ports.
func TestStartFailureShowsLog(t *testing.T) {
	t.Setenv(EnvSkip, "")
	for _, tc := range []struct {
		name, msg string
		runs      int
	}{
		{"crash", "fake-server: bad configuration line 3", 1},
		{"port taken", "listen tcp 127.0.0.1:1: bind: address already in use", startTries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, counter := fakeServer(t, tc.msg)
			t.Setenv(EnvRegistryBin, bin)
			t.Setenv(EnvNginxBin, bin)
			t.Setenv(EnvVerdaccioBin, bin) // a shell script: run directly, not with node
			for name, start := range map[string]func(testing.TB){
				"registry":  func(tb testing.TB) { StartRegistry(tb, RegistryOptions{}) },
				"webdav":    func(tb testing.TB) { StartWebDAV(tb, WebDAVOptions{}) },
				"verdaccio": func(tb testing.TB) { StartVerdaccio(tb, VerdaccioOptions{}) },
			} {
				if err := os.WriteFile(counter, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				f := runFake(t, start)
				if !strings.Contains(f.fatal, tc.msg) || !strings.Contains(f.fatal, "last ") {
					t.Errorf("%s: fatal %q, want the log tail with %q", name, f.fatal, tc.msg)
				}
				if n := runs(t, counter); n != tc.runs {
					t.Errorf("%s: started %d times, want %d", name, n, tc.runs)
				}
			}
		})
	}
}

func TestParseGiteaToken(t *testing.T) {
	const tok = "64bffcfcc91bc2adf282a3d39b1917f274d182b7"
	tests := []struct {
		name, out string
		want      string
		wantErr   bool
	}{
		{name: "raw", out: tok + "\n", want: tok},
		{name: "log line after", out: tok + "\n2026/12/05 17:51:47 cmd/web.go:205 [W] Table system_setting\n", want: tok},
		{name: "log line before", out: "2026/12/05 [W] warning\n" + tok + "\n", want: tok},
		{name: "none", out: "Command error: CreateUser\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseGiteaToken(tc.out)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseGiteaToken(%q) = %q, %v; want %q, error %v", tc.out, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
