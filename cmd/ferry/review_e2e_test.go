package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShowMarkdown: a saved plan renders as a pull-request comment.
func TestShowMarkdown(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}

	ferry(t, dir, env, "plan", "-out", "plan.json").must(t, 0)
	r := ferry(t, dir, env, "show", "-markdown", "plan.json")
	r.must(t, 0, "### ferry plan", "**Plan: 3 to add, 0 to replace, 0 to delete. 256.1 KiB to transfer.**",
		"| `mirror.tools` | 3 | 0 | 0 | 0 | 0 | 256.1 KiB |",
		"| `+` | `mirror.tools[\"greeting/1.2.0/greeting-1.2.0.txt\"]` |")
	if strings.Contains(r.stdout, "Truncated") {
		t.Errorf("a small plan was truncated:\n%s", r.stdout)
	}
	ferry(t, dir, env, "show", "-markdown").must(t, 1, "-markdown renders a saved plan")
	ferry(t, dir, env, "show", "-markdown", "-json", "plan.json").must(t, 1, "-markdown renders a saved plan")
}

// event is what every apply -json line must hold.
type event struct {
	Version int    `json:"ferry_events"`
	Type    string `json:"type"`
	Level   string `json:"@level"`
	Message string `json:"@message"`
	Change  *struct {
		Address string `json:"address"`
	} `json:"change"`
	Error   string                 `json:"error"`
	Start   *struct{ Changes int } `json:"start"`
	Summary *struct {
		Status  string `json:"status"`
		Applied int    `json:"applied"`
		Failed  int    `json:"failed"`
	} `json:"summary"`
}

// events parses apply -json's stdout: every line one event with the
// version and a type, opening with apply_started, closing with
// apply_summary.
func events(t *testing.T, stdout string) []event {
	t.Helper()
	var evs []event
	for line := range strings.Lines(stdout) {
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("apply -json line is not JSON: %v\n%s", err, line)
		}
		if ev.Version != 1 || ev.Type == "" || ev.Message == "" {
			t.Fatalf("apply -json line lacks ferry_events 1, a type or a message: %s", line)
		}
		evs = append(evs, ev)
	}
	if len(evs) < 2 || evs[0].Type != "apply_started" || evs[len(evs)-1].Type != "apply_summary" {
		t.Fatalf("apply -json stream does not run from apply_started to apply_summary:\n%s", stdout)
	}
	return evs
}

// TestApplyJSON: apply -json prints only events on stdout, a failed
// change as a change_failed event, and exits as apply does.
func TestApplyJSON(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	good, err := os.ReadFile(filepath.Join(dir, "upstream/greeting-1.2.0.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "upstream/greeting-1.2.0.txt"), []byte("evil bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ferry(t, dir, env, "apply", "-json").must(t, 1, "-json needs a saved plan file or -auto-approve")
	r := ferry(t, dir, env, "apply", "-json", "-auto-approve")
	r.must(t, 1)
	evs := events(t, r.stdout)
	const bad = `mirror.tools["greeting/1.2.0/greeting-1.2.0.txt"]`
	var failed, done int
	for _, ev := range evs {
		switch ev.Type {
		case "change_failed":
			failed++
			if ev.Change == nil || ev.Change.Address != bad || !strings.Contains(ev.Error, "sha256 mismatch") || ev.Level != "error" {
				t.Errorf("change_failed event %+v; want %s with its sha256 mismatch", ev, bad)
			}
		case "change_done":
			done++
		}
	}
	if failed != 1 || done != 2 {
		t.Errorf("%d change_failed and %d change_done events; want 1 and 2:\n%s", failed, done, r.stdout)
	}
	if s := evs[len(evs)-1].Summary; s == nil || s.Status != "failed" || s.Applied != 2 || s.Failed != 1 {
		t.Errorf("summary %+v; want failed, 2 applied, 1 failed", s)
	}
	if strings.Contains(r.stderr, "ferry_events") {
		t.Errorf("events on stderr:\n%s", r.stderr)
	}

	// The saved plan of the repair applies with -json and exits 0.
	if err := os.WriteFile(filepath.Join(dir, "upstream/greeting-1.2.0.txt"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan", "-out", "repair.json").must(t, 0, "Plan: 1 to add")
	r = ferry(t, dir, env, "apply", "-json", "repair.json")
	r.must(t, 0)
	evs = events(t, r.stdout)
	if s := evs[len(evs)-1].Summary; s == nil || s.Status != "ok" || s.Applied != 1 {
		t.Errorf("summary %+v; want ok, 1 applied", s)
	}

	// Nothing to do: the stream still opens and closes.
	ferry(t, dir, env, "plan", "-out", "noop.json").must(t, 0, "No changes")
	r = ferry(t, dir, env, "apply", "-json", "noop.json")
	r.must(t, 0)
	evs = events(t, r.stdout)
	if len(evs) != 2 || evs[0].Start == nil || evs[0].Start.Changes != 0 || evs[1].Summary.Status != "ok" {
		t.Errorf("apply -json of an empty plan:\n%s", r.stdout)
	}
}

// TestApplyJSONInterrupted: SIGINT in the middle of a transfer closes the
// stream with an apply_summary of status "interrupted", exit 1.
func TestApplyJSONInterrupted(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	up.bytesPerSecond.Store(32 << 10) // the 256 KiB tool takes about 8 s
	cmd := exec.Command(ferryBin, "apply", "-json", "-auto-approve")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "FERRY_VAR_upstream=" + up.URL}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the tool's bytes flow.
	deadline := time.Now().Add(20 * time.Second)
	for up.bytesSent("/tool-linux-amd64.bin") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("interrupted apply -json: %v; want exit 1\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	evs := events(t, out.String())
	if s := evs[len(evs)-1].Summary; s == nil || s.Status != "interrupted" {
		t.Errorf("summary %+v; want status interrupted\n%s", s, out.String())
	}
}

// TestApplyJSONProgress: a transfer of a few seconds reports progress,
// at most about once a second.
func TestApplyJSONProgress(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	up.bytesPerSecond.Store(96 << 10) // the 256 KiB tool takes about 3 s
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	start := time.Now()
	r := ferry(t, dir, env, "apply", "-json", "-auto-approve")
	elapsed := time.Since(start)
	r.must(t, 0)
	n := 0
	for _, ev := range events(t, r.stdout) {
		if ev.Type == "progress" {
			n++
		}
	}
	if n == 0 || n > int(elapsed/time.Second)+1 {
		t.Errorf("%d progress events in %s; want 1..%d\n%s", n, elapsed, int(elapsed/time.Second)+1, r.stdout)
	}
}
