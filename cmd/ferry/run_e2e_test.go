package main_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/cmd/ferry/internal/daemon/pagetest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// runFixture is a config of http artifacts served from up into ./mirror.
type runFixture struct {
	dir, up string
	srv     *upstream
}

func newRunFixture(t *testing.T) *runFixture {
	t.Helper()
	f := &runFixture{dir: t.TempDir(), up: t.TempDir()}
	f.srv = startUpstream(t, f.up)
	return f
}

// upstreamFile writes name with content at the upstream.
func (f *runFixture) upstreamFile(t *testing.T, name string, content []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.up, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// configure writes the config declaring artifacts (name to the sha256 it
// declares) atomically, so that a reload never reads half of it.
func (f *runFixture) configure(t *testing.T, artifacts map[string][32]byte) {
	t.Helper()
	var hcl strings.Builder
	hcl.WriteString("variable \"upstream\" {}\nsource \"http\" \"up\" {\n")
	for _, name := range slices.Sorted(maps.Keys(artifacts)) {
		fmt.Fprintf(&hcl, "  artifact %q {\n    url = \"${var.upstream}/%s\"\n    sha256 = \"%x\"\n    version = \"1.0.0\"\n  }\n", strings.TrimSuffix(name, ".bin"), name, artifacts[name])
	}
	hcl.WriteString("}\ndestination \"dir\" \"local\" {\n  path = \"mirror\"\n}\nmirror \"files\" {\n  from = source.http.up\n  to = destination.dir.local\n}\n")
	tmp := filepath.Join(f.dir, ".main.ferry.hcl.tmp")
	if err := os.WriteFile(tmp, []byte(hcl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(f.dir, "main.ferry.hcl")); err != nil {
		t.Fatal(err)
	}
}

// waitSent waits until the upstream sent n bytes (a transfer is under way).
func (f *runFixture) waitSent(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for f.srv.total() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the upstream sent %d bytes in 30 s; want %d", f.srv.total(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *runFixture) env() []string { return []string{"FERRY_VAR_upstream=" + f.srv.URL} }

// freeAddr is a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads /metrics into sample lines ("name{labels}") and values.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// waitMetric waits until the sample reaches want, failing after 60 s.
func waitMetric(t *testing.T, addr, sample string, want float64, out *bytes.Buffer) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := scrape(t, addr)
		if m[sample] >= want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 60 s; want %v\nmetrics: %v", sample, m[sample], want, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// TestRunContinuousMetrics runs ferry run for three iterations with an
// upstream change before each, scraping /metrics for exact counter values
// after each: the counters add up across iterations, never reset.
func TestRunContinuousMetrics(t *testing.T) {
	f := newRunFixture(t)
	a, b := bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 2000)
	f.upstreamFile(t, "a.bin", a)
	f.upstreamFile(t, "b.bin", b)
	f.configure(t, map[string][32]byte{"a.bin": sum(a), "b.bin": sum(b)})
	addr := freeAddr(t)
	cmd, out := startFerry(t, f.dir, f.env(), "run", "-interval", "300ms", "-jitter", "0", "-listen", addr)
	defer cmd.Process.Kill()

	const (
		transferred = `ferry_artifacts_transferred_total{mirror="files",result="success"}`
		failed      = `ferry_artifacts_transferred_total{mirror="files",result="failure"}`
		bytesTotal  = `ferry_transferred_bytes_total{mirror="files"}`
		deleted     = `ferry_artifacts_deleted_total{mirror="files",result="success"}`
		owned       = `ferry_owned_artifacts{mirror="files"}`
		drift       = `ferry_drift_artifacts{mirror="files"}`
		applies     = `ferry_apply_duration_seconds_count`
	)
	type sample struct{ Transferred, Failed, Bytes, Deleted, Owned, Drift, Applies float64 }
	pick := func(m map[string]float64) sample {
		return sample{m[transferred], m[failed], m[bytesTotal], m[deleted], m[owned], m[drift], m[applies]}
	}

	// Iteration 1: both artifacts land.
	m := waitMetric(t, addr, applies, 1, out)
	if diff := cmp.Diff(sample{Transferred: 2, Bytes: 3000, Owned: 2, Applies: 1}, pick(m)); diff != "" {
		t.Errorf("after the first apply (-want +got):\n%s", diff)
	}

	// Upstream change: c is published, a withdrawn (the source no longer
	// lists it, so its mirrored copy is deleted).
	c := bytes.Repeat([]byte("c"), 4000)
	f.upstreamFile(t, "c.bin", c)
	f.configure(t, map[string][32]byte{"b.bin": sum(b), "c.bin": sum(c)})
	m = waitMetric(t, addr, applies, 2, out)
	if diff := cmp.Diff(sample{Transferred: 3, Bytes: 7000, Deleted: 1, Owned: 2, Applies: 2}, pick(m)); diff != "" {
		t.Errorf("after the second apply (-want +got):\n%s", diff)
	}

	// Drift and an upstream change: b is removed at the destination
	// behind ferry's back, and c gets a new release.
	if err := os.Remove(filepath.Join(f.dir, "mirror", "b/1.0.0/b.bin")); err != nil {
		t.Fatalf("removing a mirrored file: %v (mirror holds %v)", err, mirroredFiles(t, filepath.Join(f.dir, "mirror")))
	}
	c2 := bytes.Repeat([]byte("C"), 8000)
	f.upstreamFile(t, "c.bin", c2)
	f.configure(t, map[string][32]byte{"b.bin": sum(b), "c.bin": sum(c2)})
	m = waitMetric(t, addr, transferred, 5, out)
	// The drift gauge says what the last plan found: by now a later plan
	// may have found none. The repair and the release may land in one
	// apply or in two, as the iterations fall.
	m[drift] = 0
	if m[applies] == 4 {
		m[applies] = 3
	}
	if diff := cmp.Diff(sample{Transferred: 5, Bytes: 17000, Deleted: 1, Owned: 2, Applies: 3}, pick(m)); diff != "" {
		t.Errorf("after the third apply (-want +got):\n%s", diff)
	}
	if m[`ferry_runs_total{result="failure"}`] != 0 || m[`ferry_last_successful_apply_timestamp_seconds{mirror="files"}`] < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("runs failed or the last success is stale: %v", m)
	}
	// The lock is held only while applying: an operator's plan gets it
	// while ferry run is between iterations.
	ferry(t, f.dir, f.env(), "plan", "-detailed-exitcode", "-lock-timeout", "10s").must(t, 0, "No changes")

	// A broken configuration is reported and the last good one kept.
	if err := os.WriteFile(filepath.Join(f.dir, "main.ferry.hcl"), []byte("mirror \"files\" {\n  from = \n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m = waitMetric(t, addr, `ferry_runs_total{result="config_error"}`, 1, out)
	if m[`ferry_config_last_reload_successful`] != 0 || m[transferred] != 5 || m[deleted] != 1 {
		t.Errorf("after a broken config: %v; want the reload failure and no change", m)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", path, resp, err)
		} else {
			resp.Body.Close()
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if code := exitCode(err); code != 130 {
		t.Fatalf("exit %d after SIGTERM; want 130 (interrupted)\n%s", code, out)
	}
	if !strings.Contains(out.String(), "using the last good configuration") {
		t.Errorf("the broken configuration was not reported:\n%s", out)
	}
	f.configure(t, map[string][32]byte{"b.bin": sum(b), "c.bin": sum(c2)})
	ferry(t, f.dir, f.env(), "plan", "-detailed-exitcode").must(t, 0, "No changes")
}

// TestMetricsFile: one-shot plan and apply write the same metrics to
// -metrics-file, in the textfile collector's format.
func TestMetricsFile(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	ferry(t, dir, env, "apply", "-auto-approve", "-metrics-file", "apply.prom").must(t, 0, "Apply complete")
	ferry(t, dir, env, "plan", "-metrics-file", "plan.prom").must(t, 0, "No changes")
	ferry(t, dir, env, "apply", "-auto-approve", "-metrics-file", "noop.prom").must(t, 0, "No changes")
	for file, lines := range map[string][]string{
		"apply.prom": {
			`ferry_artifacts_transferred_total{mirror="tools",result="success"} 3`,
			`ferry_transferred_bytes_total{mirror="tools"} 262297`,
			`ferry_owned_artifacts{mirror="tools"} 3`,
			"ferry_plan_duration_seconds_count 1",
			"ferry_apply_duration_seconds_count 1",
			`ferry_last_successful_apply_timestamp_seconds{mirror="tools"} `,
		},
		"plan.prom": {
			`ferry_artifacts_transferred_total{mirror="tools",result="success"} 0`,
			`ferry_drift_artifacts{mirror="tools"} 0`,
			`ferry_owned_artifacts{mirror="tools"} 3`,
			"ferry_plan_duration_seconds_count 1",
			"ferry_apply_duration_seconds_count 0",
		},
		"noop.prom": {
			`ferry_owned_artifacts{mirror="tools"} 3`,
			"ferry_apply_duration_seconds_count 0",
			`ferry_last_successful_apply_timestamp_seconds{mirror="tools"} `,
		},
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range lines {
			if !strings.HasSuffix(line, " ") { // a whole line, else a prefix
				line += "\n"
			}
			if !strings.Contains(string(b), line) {
				t.Errorf("%s lacks %q:\n%s", file, line, b)
			}
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestRunSIGTERMMidTransfer: SIGTERM while transfers are in flight lets
// them finish, starts no other, saves the state and exits 130; a second
// signal aborts at once; nothing partial is ever visible, the state
// records exactly what landed, and the next start converges.
func TestRunSIGTERMMidTransfer(t *testing.T) {
	for _, tt := range []struct {
		name    string
		signals int
	}{
		{name: "one signal: in-flight transfers finish", signals: 1},
		{name: "two signals: abort at once", signals: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newRunFixture(t)
			const files = 6
			const size = 192 << 10
			arts := map[string][32]byte{}
			for i := range files {
				content := bytes.Repeat([]byte{byte('a' + i)}, size)
				name := fmt.Sprintf("blob%d.bin", i)
				f.upstreamFile(t, name, content)
				arts[name] = sum(content)
			}
			f.configure(t, arts)
			f.srv.bytesPerSecond.Store(256 << 10) // two in flight: about 1.5 s each
			addr := freeAddr(t)
			cmd, out := startFerry(t, f.dir, f.env(), "run", "-interval", "1h", "-grace", "30s", "-parallelism", "2", "-listen", addr)
			defer cmd.Process.Kill()
			// Signal once the first bytes flow, well before anything landed.
			f.waitSent(t, 32<<10)
			began := time.Now()
			cmd.Process.Signal(syscall.SIGTERM)
			if tt.signals == 2 {
				time.Sleep(200 * time.Millisecond)
				cmd.Process.Signal(syscall.SIGTERM)
			}
			err := cmd.Wait()
			took := time.Since(began)
			if code := exitCode(err); code != 130 {
				t.Fatalf("exit %d; want 130 (interrupted)\n%s", code, out)
			}
			landed := mirroredFiles(t, filepath.Join(f.dir, "mirror"))
			for _, l := range landed {
				if got, want := sha256File(t, filepath.Join(f.dir, "mirror", l)), sha256File(t, filepath.Join(f.up, filepath.Base(l))); got != want {
					t.Errorf("partial or corrupt object visible: %s", l)
				}
			}
			switch tt.signals {
			case 1:
				// The two in flight finished; nothing else started.
				if len(landed) != 2 {
					t.Errorf("%d objects landed; want the 2 in flight at SIGTERM\n%s", len(landed), out)
				}
			case 2:
				if len(landed) != 0 || took > 10*time.Second {
					t.Errorf("%d objects landed, exit after %s; want an abort at once, nothing landed\n%s", len(landed), took, out)
				}
			}
			var keys []string
			if _, err := os.Stat(filepath.Join(f.dir, "ferry.state.json")); err == nil {
				keys = stateKeys(t, filepath.Join(f.dir, "ferry.state.json"), "files")
			}
			slices.Sort(keys)
			// The dir destination stores each key at its path.
			if diff := cmp.Diff(landed, keys); diff != "" {
				t.Errorf("state keys differ from what landed (-landed +state):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(f.dir, "ferry.state.json.lock")); err == nil {
				t.Error("the state lock was left behind")
			}
			if !strings.Contains(out.String(), "Stopped by a signal") {
				t.Errorf("output lacks the stop message:\n%s", out)
			}

			// The next start converges, sending nothing twice.
			f.srv.bytesPerSecond.Store(0)
			addr = freeAddr(t)
			cmd, out = startFerry(t, f.dir, f.env(), "run", "-interval", "1h", "-listen", addr)
			defer cmd.Process.Kill()
			m := waitMetric(t, addr, `ferry_apply_duration_seconds_count`, 1, out)
			if got, want := m[`ferry_artifacts_transferred_total{mirror="files",result="success"}`], float64(files-len(landed)); got != want {
				t.Errorf("the next start transferred %v; want %v (only what had not landed)", got, want)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			ferry(t, f.dir, f.env(), "plan", "-detailed-exitcode").must(t, 0, "No changes")
		})
	}
}

// TestRunStatusPageInChromium loads ferry run's status page in headless
// Chromium (Debian's chromium): the DOM Chromium built shows both mirrors
// and the failure injected on purpose (an artifact whose upstream bytes do
// not match its declared digest), and a screenshot is kept in bin/ for
// people to look at (CI keeps bin/).
func TestRunStatusPageInChromium(t *testing.T) {
	if reason := testenv.Skip(); reason != "" {
		t.Skip(reason)
	}
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: " + testenv.InstallHint)
	}
	f := newRunFixture(t)
	good, bad := []byte("good bytes\n"), []byte("not what was declared\n")
	f.upstreamFile(t, "good.bin", good)
	f.upstreamFile(t, "bad.bin", bad)
	hcl := fmt.Sprintf(`variable "upstream" {}
source "http" "good" {
  artifact "good" {
    url     = "${var.upstream}/good.bin"
    sha256  = "%x"
    version = "1.0.0"
  }
}
source "http" "bad" {
  artifact "bad" {
    url     = "${var.upstream}/bad.bin"
    sha256  = "%x"
    version = "1.0.0"
  }
}
destination "dir" "local" {
  path = "mirror"
}
mirror "healthy" {
  from = source.http.good
  to   = destination.dir.local
}
mirror "broken" {
  from = source.http.bad
  to   = destination.dir.local
}
`, sum(good), sum([]byte("the bytes the upstream promised\n")))
	if err := os.WriteFile(filepath.Join(f.dir, "main.ferry.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd, out := startFerry(t, f.dir, f.env(), "run", "-interval", "500ms", "-jitter", "0", "-listen", addr)
	defer cmd.Process.Kill()
	waitMetric(t, addr, `ferry_artifacts_transferred_total{mirror="broken",result="failure"}`, 2, out)

	profile := t.TempDir()
	chrome := func(args ...string) []byte {
		t.Helper()
		c := exec.Command(browser, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--user-data-dir=" + profile, "--window-size=1100,700", "--hide-scrollbars"}, args...)...)
		c.Env = append(os.Environ(), "HOME="+profile)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}
	dom := chrome("--dump-dom", "http://"+addr+"/")
	page, err := pagetest.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	rows, failures, bars := page.Rows, page.Failures, page.Bars
	if len(rows) != 2 {
		t.Fatalf("the page shows mirrors %v; want healthy and broken\n%s", slices.Sorted(maps.Keys(rows)), dom)
	}
	for _, want := range []string{"http.good → dir.local", "1 applied", "ago"} {
		if !strings.Contains(rows["healthy"], want) {
			t.Errorf("row of healthy lacks %q: %q", want, rows["healthy"])
		}
	}
	for _, want := range []string{"1 failed", "never"} {
		if !strings.Contains(rows["broken"], want) {
			t.Errorf("row of broken lacks %q: %q", want, rows["broken"])
		}
	}
	if len(failures) != 1 || !strings.Contains(failures[0], `mirror.broken["bad/1.0.0/bad.bin"]`) || !strings.Contains(failures[0], "sha256") {
		t.Errorf("failures on the page: %q; want the digest mismatch of mirror.broken", failures)
	}
	if bars < 2 {
		t.Errorf("the chart shows %d runs; want at least 2", bars)
	}

	shot := filepath.Join(t.TempDir(), "status-page.png")
	chrome("--screenshot="+shot, "http://"+addr+"/")
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("no screenshot: %v", err)
	}
	// Kept beside the binary for CI to archive (bin/ is ignored by git).
	if err := os.MkdirAll("../../bin", 0o755); err == nil {
		os.WriteFile("../../bin/status-page.png", png, 0o644)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// TestApplySIGINTCancels: a one-shot apply is still cancelled by the first
// signal (ferry run's gentle stop is its own): transfers in flight are
// aborted, nothing partial lands, exit 1 with "apply interrupted".
func TestApplySIGINTCancels(t *testing.T) {
	f := newRunFixture(t)
	content := bytes.Repeat([]byte("z"), 512<<10)
	f.upstreamFile(t, "big.bin", content)
	f.configure(t, map[string][32]byte{"big.bin": sum(content)})
	f.srv.bytesPerSecond.Store(128 << 10) // 4 s
	cmd, out := startFerry(t, f.dir, f.env(), "apply", "-auto-approve")
	defer cmd.Process.Kill()
	f.waitSent(t, 16<<10)
	began := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if code := exitCode(err); code != 1 || time.Since(began) > 3*time.Second || !strings.Contains(out.String(), "apply interrupted") {
		t.Fatalf("exit %d after %s; want 1 at once with \"apply interrupted\"\n%s", code, time.Since(began), out)
	}
	if landed := mirroredFiles(t, filepath.Join(f.dir, "mirror")); len(landed) != 0 {
		t.Errorf("objects visible after an interrupted transfer: %v", landed)
	}
}
