package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ferryBin is the binary built once for every end-to-end test.
var ferryBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ferryBin = filepath.Join(dir, "ferry")
	args := []string{"build", "-o", ferryBin}
	if os.Getenv("FERRY_RACE") == "1" {
		// The engine's concurrency runs in the binary, not in this test
		// process: build it with the race detector too (a race makes it
		// exit 66, which fails the test that ran it).
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ferry:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// upstream is a loopback HTTP file server that counts the bytes it serves
// per path and can throttle bodies.
type upstream struct {
	URL  string
	dir  string
	srv  *http.Server
	mu   sync.Mutex
	sent map[string]int64
	// bytesPerSecond throttles bodies when > 0; tests change it while
	// the server runs.
	bytesPerSecond atomic.Int64
}

func startUpstream(t *testing.T, dir string) *upstream {
	t.Helper()
	u := &upstream{dir: dir, sent: map[string]int64{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.URL = "http://" + ln.Addr().String()
	fsrv := http.FileServer(http.Dir(dir))
	u.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w, u: u, path: r.URL.Path}
		fsrv.ServeHTTP(cw, r)
	})}
	go u.srv.Serve(ln)
	t.Cleanup(func() { u.srv.Close() })
	return u
}

func (u *upstream) bytesSent(path string) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sent[path]
}

func (u *upstream) total() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	var n int64
	for _, v := range u.sent {
		n += v
	}
	return n
}

type countingWriter struct {
	http.ResponseWriter
	u    *upstream
	path string
}

func (c *countingWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		chunk := b
		bps := c.u.bytesPerSecond.Load()
		if bps > 0 && int64(len(chunk)) > bps/20 {
			chunk = b[:bps/20]
		}
		n, err := c.ResponseWriter.Write(chunk)
		written += n
		c.u.mu.Lock()
		c.u.sent[c.path] += int64(n)
		c.u.mu.Unlock()
		if err != nil {
			return written, err
		}
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		b = b[n:]
		if bps > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return written, nil
}

type result struct {
	stdout, stderr string
	code           int
}

// ferry runs the binary in dir with env added to a clean environment.
func ferry(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(ferryBin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running ferry %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// startFerry starts the binary in dir as ferry runs it, its output (stdout
// and stderr) into the buffer returned, for a test that kills it or runs
// others beside it. Read the buffer only after cmd.Wait.
func startFerry(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(ferryBin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func (r result) must(t *testing.T, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d; want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	for _, s := range contains {
		if !strings.Contains(all, s) {
			t.Fatalf("output lacks %q\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

// copyDir copies src into a new temp dir and returns it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// mirroredFiles lists the files under root (slash paths), ignoring ferry's
// temp directory, and fails on any leftover temp file there.
func mirroredFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, ".ferry-tmp/") {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	return out
}

func readState(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("state %s does not parse: %v", path, err)
	}
	return v
}

func stateKeys(t *testing.T, path, mirror string) []string {
	t.Helper()
	st := readState(t, path)
	ms, _ := st["mirrors"].(map[string]any)
	m, _ := ms[mirror].(map[string]any)
	arts, _ := m["artifacts"].(map[string]any)
	var keys []string
	for k := range arts {
		keys = append(keys, k)
	}
	return keys
}

func TestQuickstart(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}

	ferry(t, dir, env, "validate").must(t, 0, "The configuration is valid")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2,
		`+   mirror.tools["greeting/1.2.0/greeting-1.2.0.txt"]`,
		`mirror.tools["tool/2.0.0/linux-amd64/tool"]`,
		"Plan: 3 to add, 0 to replace, 0 to delete. 256.1 KiB to transfer.")
	if _, err := os.Stat(filepath.Join(dir, "ferry.state.json")); err == nil {
		t.Fatal("plan wrote a state file")
	}

	ferry(t, dir, env, "apply").must(t, 1, "no terminal")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")
	for _, f := range []string{"greeting/1.1.0/greeting-1.1.0.txt", "greeting/1.2.0/greeting-1.2.0.txt"} {
		if got, want := sha256File(t, filepath.Join(dir, "mirror", f)), sha256File(t, filepath.Join(dir, "upstream", filepath.Base(f))); got != want {
			t.Errorf("%s: sha256 %s; want %s", f, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mirror/greeting/1.0.0")); err == nil {
		t.Error("keep_last = 2 mirrored greeting 1.0.0")
	}

	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")

	// Drift: a mirrored file disappears.
	if err := os.Remove(filepath.Join(dir, "mirror/greeting/1.2.0/greeting-1.2.0.txt")); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "(missing at destination)", "Plan: 1 to add")
	ferry(t, dir, env, "plan", "-refresh=false", "-detailed-exitcode").must(t, 0, "No changes")
	before := up.total()
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 1 change applied")
	if got, want := up.total()-before, int64(83); got != want {
		t.Errorf("repair sent %d bytes; want %d (only the missing file)", got, want)
	}

	// Drift: a mirrored file is edited.
	if err := os.WriteFile(filepath.Join(dir, "mirror/greeting/1.1.0/greeting-1.1.0.txt"), []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan").must(t, 0, "-/+ mirror.tools[\"greeting/1.1.0/greeting-1.1.0.txt\"]", "(changed at destination")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "replaced")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")

	ferry(t, dir, env, "state", "list").must(t, 0, `mirror.tools["tool/2.0.0/linux-amd64/tool"]`)
	ferry(t, dir, env, "state", "show", `mirror.tools["tool/2.0.0/linux-amd64/tool"]`).must(t, 0, "size:           262144", "digest:         sha512:7190ff62")
	ferry(t, dir, env, "show").must(t, 0, "mirror.tools (http.tools -> dir.local), 3 artifacts")
}

func TestSavedPlan(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}

	// A first plan against no state can be applied once, never twice.
	ferry(t, dir, env, "plan", "-out", "first.json").must(t, 0, "Saved the plan to first.json")
	ferry(t, dir, env, "plan", "-out", "also-first.json").must(t, 0)
	ferry(t, dir, env, "show", "first.json").must(t, 0, "Plan: 3 to add")
	ferry(t, dir, env, "apply", "-target", "mirror.tools", "first.json").must(t, 1, "cannot be combined with a plan file")
	ferry(t, dir, env, "apply", "first.json").must(t, 0, "Apply complete: 3 changes applied")
	ferry(t, dir, env, "apply", "first.json").must(t, 1, "does not match the state")
	ferry(t, dir, env, "apply", "also-first.json").must(t, 1, "does not match the state")

	// A plan made before another apply is stale.
	os.Remove(filepath.Join(dir, "mirror/greeting/1.2.0/greeting-1.2.0.txt"))
	ferry(t, dir, env, "plan", "-out", "repair.json").must(t, 0, "Plan: 1 to add")
	ferry(t, dir, env, "plan", "-out", "repair2.json").must(t, 0, "Plan: 1 to add")
	ferry(t, dir, env, "apply", "repair.json").must(t, 0, "Apply complete")
	ferry(t, dir, env, "apply", "repair2.json").must(t, 1, "is stale: the state changed since it was made")

	// A plan made before a config change is stale.
	ferry(t, dir, env, "plan", "-out", "noop.json").must(t, 0, "No changes")
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	b, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, bytes.Replace(b, []byte("keep_last   = 2"), []byte("keep_last   = 1"), 1), 0o644)
	ferry(t, dir, env, "apply", "noop.json").must(t, 1, "configuration (or a non-sensitive variable) changed")

	// So is one whose variables changed.
	ferry(t, dir, env, "plan", "-out", "v.json").must(t, 0)
	ferry(t, dir, []string{"FERRY_VAR_upstream=" + up.URL + "/"}, "apply", "v.json").must(t, 1, "is stale")

	// A plan made with -var applies with the same -var, and only with it.
	os.WriteFile(cfgPath, b, 0o644)
	os.Remove(filepath.Join(dir, "mirror/greeting/1.2.0/greeting-1.2.0.txt"))
	ferry(t, dir, nil, "plan", "-var", "upstream="+up.URL, "-out", "withvar.json").must(t, 0, "Plan: 1 to add")
	ferry(t, dir, nil, "apply", "withvar.json").must(t, 1, "pass the same -var")
	ferry(t, dir, nil, "apply", "-var", "upstream="+up.URL, "withvar.json").must(t, 0, "Apply complete: 1 change applied")

	// A damaged plan file is refused with a clear message.
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"format_version":"99","tool_version":"9.9.9"}`), 0o644)
	ferry(t, dir, env, "apply", "bad.json").must(t, 1, `format version "99" (written by ferry 9.9.9) is not supported`)
}

func TestRetentionDeletesAndDryRun(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	orig, _ := os.ReadFile(cfgPath)
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")

	// keep_last 1 in dry-run: the delete is shown, marked, never executed.
	os.WriteFile(cfgPath, bytes.Replace(orig, []byte("keep_last   = 2"), []byte("keep_last   = 1\n    dry_run     = true"), 1), 0o644)
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0,
		`(-) mirror.tools["greeting/1.1.0/greeting-1.1.0.txt"]`, "[dry run: not executed]", "1 delete shown as dry run")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	if _, err := os.Stat(filepath.Join(dir, "mirror/greeting/1.1.0/greeting-1.1.0.txt")); err != nil {
		t.Fatalf("dry run deleted the file: %v", err)
	}

	// max_deletes below the count refuses the plan.
	os.WriteFile(cfgPath, bytes.Replace(bytes.Replace(orig, []byte("keep_last   = 2"), []byte("keep_last   = 1"), 1), []byte("max_deletes = 5"), []byte("max_deletes = 0"), 1), 0o644)
	ferry(t, dir, env, "plan").must(t, 1, "Too many deletes", "on main.ferry.hcl:53:5:")

	// For real: the old version goes, and only it.
	os.WriteFile(cfgPath, bytes.Replace(orig, []byte("keep_last   = 2"), []byte("keep_last   = 1"), 1), 0o644)
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "(retention: keep_last = 1)", "Plan: 0 to add, 0 to replace, 1 to delete")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "deleted")
	if _, err := os.Stat(filepath.Join(dir, "mirror/greeting/1.1.0")); !os.IsNotExist(err) {
		t.Fatalf("retention left greeting 1.1.0 behind (err=%v)", err)
	}

	// Files ferry does not own are never touched, even when the mirror goes.
	os.WriteFile(filepath.Join(dir, "mirror/greeting/not-ours.txt"), []byte("hands off"), 0o644)
	noMirror := bytes.Split(orig, []byte("mirror \"tools\" {"))[0]
	os.WriteFile(cfgPath, noMirror, 0o644)
	ferry(t, dir, env, "plan").must(t, 0, "(mirror removed from config)", "Plan: 0 to add, 0 to replace, 2 to delete")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	if got := mirroredFiles(t, filepath.Join(dir, "mirror")); len(got) != 1 || got[0] != "greeting/not-ours.txt" {
		t.Fatalf("after removing the mirror the destination holds %v; want only greeting/not-ours.txt", got)
	}
}

func TestChecksumMismatchNothingLands(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	// The upstream now serves other bytes for greeting 1.2.0.
	os.WriteFile(filepath.Join(dir, "upstream/greeting-1.2.0.txt"), []byte("evil bytes\n"), 0o644)
	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 1, `mirror.tools["greeting/1.2.0/greeting-1.2.0.txt"]: add failed`, "sha256 mismatch: want c4f28a3e30b10a036309c225a7ace0c8aa3f4aac4e59641702614b30285e4c1c")
	if _, err := os.Stat(filepath.Join(dir, "mirror/greeting/1.2.0/greeting-1.2.0.txt")); !os.IsNotExist(err) {
		t.Fatalf("a file with a bad digest landed (err=%v)", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(dir, "mirror/.ferry-tmp"))
	if len(tmp) != 0 {
		t.Fatalf("temp files left behind: %v", tmp)
	}
	keys := stateKeys(t, filepath.Join(dir, "ferry.state.json"), "tools")
	if len(keys) != 2 {
		t.Fatalf("state records %v; want the 2 good artifacts only", keys)
	}
	// The other artifacts landed; the next plan still wants the bad one.
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "Plan: 1 to add")
}

func TestKill9DuringApplyConverges(t *testing.T) {
	dir := t.TempDir()
	up := t.TempDir()
	const files = 8
	const size = 256 << 10
	var hcl strings.Builder
	hcl.WriteString("variable \"upstream\" {}\nsource \"http\" \"big\" {\n")
	for i := range files {
		b := bytes.Repeat([]byte{byte('a' + i)}, size)
		name := fmt.Sprintf("blob-%d.bin", i)
		os.WriteFile(filepath.Join(up, name), b, 0o644)
		s := sha256.Sum256(b)
		fmt.Fprintf(&hcl, "  artifact \"blob\" {\n    url = \"${var.upstream}/%s\"\n    sha256 = \"%x\"\n    version = \"1.%d.0\"\n  }\n", name, s, i)
	}
	hcl.WriteString("}\ndestination \"dir\" \"local\" {\n  path = \"mirror\"\n}\nmirror \"big\" {\n  from = source.http.big\n  to = destination.dir.local\n}\n")
	os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(hcl.String()), 0o644)
	srv := startUpstream(t, up)
	srv.bytesPerSecond.Store(1 << 20) // 1 MiB/s: 2 s for the whole set
	env := []string{"FERRY_VAR_upstream=" + srv.URL}

	cmd, _ := startFerry(t, dir, env, "apply", "-auto-approve", "-parallelism", "2")
	// Kill once at least two objects landed, well before all did.
	deadline := time.Now().Add(20 * time.Second)
	for len(mirroredFiles(t, filepath.Join(dir, "mirror"))) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	landed := mirroredFiles(t, filepath.Join(dir, "mirror"))
	if len(landed) < 2 || len(landed) == files {
		t.Fatalf("killed with %d of %d objects landed; the test wants a kill mid-way", len(landed), files)
	}
	// Whatever is visible is complete and correct.
	for _, f := range landed {
		want := sha256File(t, filepath.Join(up, filepath.Base(f)))
		if got := sha256File(t, filepath.Join(dir, "mirror", f)); got != want {
			t.Errorf("partial or corrupt object visible after kill -9: %s", f)
		}
	}
	// The state parses (it may lag the destination by one checkpoint).
	if _, err := os.Stat(filepath.Join(dir, "ferry.state.json")); err == nil {
		readState(t, filepath.Join(dir, "ferry.state.json"))
	}
	// The lock of the killed process is left behind; the next apply takes
	// it over (the process is gone from this host), with no `state unlock`.
	lockB, err := os.ReadFile(filepath.Join(dir, "ferry.state.json.lock"))
	if err != nil {
		t.Fatalf("the killed apply left no lock: %v", err)
	}
	var lock struct{ ID string }
	json.Unmarshal(lockB, &lock)

	srv.bytesPerSecond.Store(0)
	before := map[string]int64{}
	for i := range files {
		before[fmt.Sprintf("/blob-%d.bin", i)] = srv.bytesSent(fmt.Sprintf("/blob-%d.bin", i))
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete", "Warning: took over the state lock", "lock ID "+lock.ID, "process is gone")
	for _, f := range landed {
		p := "/" + filepath.Base(f)
		if got := srv.bytesSent(p) - before[p]; got != 0 {
			t.Errorf("re-apply sent %s again (%d bytes) although it had landed", p, got)
		}
	}
	if got := mirroredFiles(t, filepath.Join(dir, "mirror")); len(got) != files {
		t.Fatalf("after re-apply %d of %d objects present", len(got), files)
	}
	if keys := stateKeys(t, filepath.Join(dir, "ferry.state.json"), "big"); len(keys) != files {
		t.Fatalf("state records %d of %d artifacts", len(keys), files)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
}

func TestSensitiveValuesStayOut(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	const secret = "s3cr3t-t0ken-value"
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	b, _ := os.ReadFile(cfgPath)
	b = bytes.Replace(b, []byte(`url     = "${var.upstream}/greeting-1.2.0.txt"`), []byte(`url     = "${var.upstream}/greeting-1.2.0.txt?token=${var.token}"
    key     = "greeting/1.2.0/greeting-1.2.0.txt"`), 1)
	b = append(b, []byte("\nvariable \"token\" {\n  sensitive = true\n}\n")...)
	os.WriteFile(cfgPath, b, 0o644)
	hostPort := strings.TrimPrefix(up.URL, "http://")
	env := []string{"FERRY_VAR_upstream=http://ci:" + secret + "@" + hostPort, "FERRY_VAR_token=" + secret, "FERRY_LOG=trace"}

	var seen strings.Builder
	for _, args := range [][]string{{"plan", "-out", "p.json"}, {"plan", "-json"}, {"apply", "p.json"}, {"show"}, {"show", "-json"}, {"state", "show", `mirror.tools["greeting/1.2.0/greeting-1.2.0.txt"]`}} {
		r := ferry(t, dir, env, args...)
		seen.WriteString(r.stdout + r.stderr)
	}
	for _, f := range []string{"p.json", "ferry.state.json"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		seen.Write(b)
	}
	if strings.Contains(seen.String(), secret) {
		t.Fatalf("the secret appears in ferry's output, plan or state")
	}
	if !strings.Contains(seen.String(), "Apply complete") {
		t.Fatalf("the apply with credentials did not complete:\n%s", seen.String())
	}
}

func TestFmtAndInit(t *testing.T) {
	dir := t.TempDir()
	ferry(t, dir, nil, "plan").must(t, 1, "ferry init")
	ferry(t, dir, nil, "init").must(t, 0, "Wrote main.ferry.hcl")
	ferry(t, dir, nil, "validate").must(t, 0, "valid")
	ferry(t, dir, nil, "fmt", "-check").must(t, 0)
	os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte("mirror \"x\" {\nfrom = source.http.tools\n    to = destination.dir.local\n}\n"), 0o644)
	ferry(t, dir, nil, "fmt", "-check", "-diff").must(t, 3, "main.ferry.hcl", "+  from = source.http.tools")
	ferry(t, dir, nil, "fmt").must(t, 0)
	ferry(t, dir, nil, "fmt", "-check").must(t, 0)
	ferry(t, dir, nil, "validate").must(t, 1,
		"Error: Reference to undeclared source\n\n  on main.ferry.hcl:2:10:\n  2:   from = source.http.tools\n              ^^^^^^^^^^^^^^^^^",
		"on main.ferry.hcl:3:10:")
	r := ferry(t, dir, nil, "validate", "-json")
	r.must(t, 1)
	var v struct {
		Valid       bool `json:"valid"`
		Diagnostics []struct {
			Summary string
			Range   struct{ Filename string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Valid || len(v.Diagnostics) == 0 {
		t.Fatalf("validate -json: %v %+v\n%s", err, v, r.stdout)
	}
	_ = io.Discard
}

func TestCorruptStateIsNeverOverwritten(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	bad := []byte(`{"version": 1, "serial": 4, "lineage": "x", "mirrors": {`)
	statePath := filepath.Join(dir, "ferry.state.json")
	os.WriteFile(statePath, bad, 0o600)
	ferry(t, dir, env, "plan").must(t, 1, "state file", "is corrupt")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 1, "is corrupt")
	if got, _ := os.ReadFile(statePath); !bytes.Equal(got, bad) {
		t.Fatalf("a corrupt state file was modified:\n%s", got)
	}
	if files := mirroredFiles(t, filepath.Join(dir, "mirror")); len(files) != 0 {
		t.Fatalf("apply with a corrupt state transferred %v", files)
	}
	os.WriteFile(statePath, []byte(`{"version": 7, "tool_version": "9.1.0", "serial": 1, "lineage": "x", "mirrors": {}}`), 0o600)
	ferry(t, dir, env, "plan").must(t, 1, "format version 7", "9.1.0")
}

func TestJSONOutputStaysCleanWithTraceLogs(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL, "FERRY_LOG=trace"}
	r := ferry(t, dir, env, "plan", "-json")
	r.must(t, 0)
	var p struct {
		FormatVersion string `json:"format_version"`
		Summary       struct{ Add int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || p.FormatVersion != "2" || p.Summary.Add != 3 {
		t.Fatalf("plan -json stdout is not the plan (%v):\n%s", err, r.stdout)
	}
	if !strings.Contains(r.stderr, "[DEBUG]") && !strings.Contains(r.stderr, "[TRACE]") {
		t.Fatalf("FERRY_LOG=trace logged nothing to stderr:\n%s", r.stderr)
	}
}

func TestRenamedMirrorKeepsObjects(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	b, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, bytes.Replace(b, []byte(`mirror "tools" {`), []byte(`mirror "renamed" {`), 1), 0o644)
	sent := up.total()
	ferry(t, dir, env, "plan").must(t, 0, "Plan: 3 to add, 0 to replace, 0 to delete, 3 to forget. 0 B to transfer.",
		`=   mirror.tools["tool/2.0.0/linux-amd64/tool"]`, "already at destination")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "forgotten")
	if got := mirroredFiles(t, filepath.Join(dir, "mirror")); len(got) != 3 {
		t.Fatalf("after renaming the mirror the destination holds %v; want the 3 objects", got)
	}
	if up.total() != sent {
		t.Errorf("renaming a mirror transferred %d bytes", up.total()-sent)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")
}
