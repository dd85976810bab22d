package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/state"
)

// TestConfigErrorDoesNotWaitForTheStateLock: plan reads the state beside
// the decoding of the source blocks. A configuration error is reported at
// once, not after a -lock-timeout wait for a lock someone else holds, and
// that lock stays its holder's.
func TestConfigErrorDoesNotWaitForTheStateLock(t *testing.T) {
	dir := t.TempDir()
	cfg := `source "http" "up" {
  artifacts_file = "missing.jsonl"
}

destination "dir" "out" {
  path = "out"
}

mirror "m" {
  from = source.http.up
  to   = destination.dir.out
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(dir, "ferry.state.json")
	held, err := state.Lock(context.Background(), statePath, "apply", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	t.Chdir(dir)

	var out, errb bytes.Buffer
	start := time.Now()
	code := Execute(context.Background(), []string{"plan", "-lock-timeout", "30s"}, Streams{Out: &out, Err: &errb}, nil)
	elapsed := time.Since(start)
	if code != ExitError || !strings.Contains(errb.String(), "Failed to read artifacts_file") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and the configuration error", code, errb.String(), ExitError)
	}
	if strings.Contains(errb.String(), "locked") {
		t.Errorf("stderr speaks of the lock, want only the configuration error:\n%s", errb.String())
	}
	if elapsed > 10*time.Second {
		t.Errorf("plan took %v: it waited for the lock instead of reporting the configuration error", elapsed)
	}
	if l, err := state.ReadLock(statePath); err != nil || l.ID != held.Info().ID {
		t.Errorf("lock after the plan = %+v, %v; want the holder's %s", l, err, held.Info().ID)
	}
}
