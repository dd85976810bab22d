package main_test

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostileConfig is one http artifact (no declared size) from url into ./mirror,
// with the given ferry block settings.
func hostileConfig(t *testing.T, url, settings string) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`ferry {
%s
}

source "http" "up" {
  artifact "big" {
    url     = %q
    sha256  = "ac0386797b8374b0884c0d8686bc629550737e6ba8fbd34521f85566aba10fc0"
    version = "1.0.0"
  }
}

destination "dir" "local" {
  path = "mirror"
}

mirror "m" {
  from = source.http.up
  to   = destination.dir.local
}
`, settings, url)
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nothingLanded fails the test if any file is in the mirror (temp files
// included) or the state records anything.
func nothingLanded(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(filepath.Join(dir, "mirror"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left in the mirror: %s", p)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dir, "ferry.state.json")); err == nil {
		if keys := stateKeys(t, filepath.Join(dir, "ferry.state.json"), "m"); len(keys) != 0 {
			t.Errorf("state records %v", keys)
		}
	}
}

// An upstream body that never ends (here: until the test's 64 MiB bound)
// for an artifact of unknown size fails the apply at max_artifact_size,
// with a message that says what to do, and leaves nothing behind.
func TestEndlessUpstreamBodyIsBounded(t *testing.T) {
	var written atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			return // no Content-Length: the size stays unknown
		}
		chunk := make([]byte, 32<<10)
		for written.Load() < 64<<20 {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer up.Close()
	dir := hostileConfig(t, up.URL+"/big.bin", `  max_artifact_size = "1MiB"`)

	r := ferry(t, dir, nil, "apply", "-auto-approve")
	r.must(t, 1, `mirror.m["big/1.0.0/big.bin"]: add failed`,
		"is larger than max_artifact_size 1.0 MiB (1048576 bytes) (its size is unknown upstream); raise max_artifact_size in the ferry block")
	up.Close()
	if n := written.Load(); n >= 64<<20 {
		t.Errorf("ferry read the whole %d-byte body", n)
	}
	nothingLanded(t, dir)
}

// An upstream that sends the headers and a few bytes and then stalls fails
// the apply after http_idle_timeout instead of hanging it (and the state
// lock) for ever; the next command gets the lock.
func TestStalledUpstreamBodyTimesOut(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write([]byte(strings.Repeat("x", 10)))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	dir := hostileConfig(t, up.URL+"/big.bin", `  http_idle_timeout = "1s"`)

	start := time.Now()
	r := ferry(t, dir, nil, "apply", "-auto-approve")
	r.must(t, 1, `mirror.m["big/1.0.0/big.bin"]: add failed`, "no data received for 1s (the server stalled)")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("apply took %s with a 1s idle timeout", d)
	}
	nothingLanded(t, dir)
	ferry(t, dir, nil, "plan").must(t, 0, "Plan: 1 to add")
}
