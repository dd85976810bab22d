package main_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unsolicitedUpstream serves body at every path, and after each response
// writes bytes nobody asked for on the kept-alive connection: net/http's
// client reports them through the standard library's logger ("Unsolicited
// response received on idle HTTP channel"), quoting them.
func unsolicitedUpstream(t *testing.T, body, extra string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n", len(body))
		if r.Method != http.MethodHead {
			rw.WriteString(body)
		}
		rw.WriteString(extra)
		rw.Flush()
		// Keep the connection open until the client drops it.
		bufio.NewReader(conn).ReadByte()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestStdLogObeysFerryLog: lines of Go's standard logger (here net/http's
// report of an unsolicited response, which quotes upstream bytes) go through
// ferry's logger: FERRY_LOG=off silences them and FERRY_LOG_PATH captures
// them; they never reach stderr directly.
func TestStdLogObeysFerryLog(t *testing.T) {
	const body = "hello from upstream\n"
	const marker = "UNSOLICITED-MARKER"
	up := unsolicitedUpstream(t, body, "HTTP/1.1 200 OK\r\n\r\n"+marker)
	sum := sha256.Sum256([]byte(body))
	cfg := fmt.Sprintf(`
ferry {
  parallelism = 1
}
source "http" "s" {
  artifact "a" {
    url     = "%[1]s/a.txt"
    sha256  = "%[2]s"
    version = "1.0.0"
  }
  artifact "b" {
    url     = "%[1]s/b.txt"
    sha256  = "%[2]s"
    version = "1.0.0"
  }
  artifact "c" {
    url     = "%[1]s/c.txt"
    sha256  = "%[2]s"
    version = "1.0.0"
  }
}
destination "dir" "d" {
  path = "mirror"
}
mirror "m" {
  from = source.http.s
  to   = destination.dir.d
}
`, up, hex.EncodeToString(sum[:]))

	for _, tt := range []struct {
		name    string
		env     []string
		logPath bool
	}{
		{name: "FERRY_LOG=off", env: []string{"FERRY_LOG=off"}},
		{name: "FERRY_LOG_PATH", env: []string{"FERRY_LOG=warn"}, logPath: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			env := tt.env
			logFile := filepath.Join(dir, "ferry.log")
			if tt.logPath {
				env = append(env, "FERRY_LOG_PATH="+logFile)
			}
			r := ferry(t, dir, env, "apply", "-auto-approve")
			r.must(t, 0, "Apply complete")
			if strings.Contains(r.stderr+r.stdout, marker) || strings.Contains(r.stderr, "Unsolicited") {
				t.Errorf("a standard-library log line reached the terminal:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
			if tt.logPath {
				b, err := os.ReadFile(logFile)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), "Unsolicited") || !strings.Contains(string(b), marker) {
					t.Errorf("FERRY_LOG_PATH lacks the standard-library log line:\n%s", b)
				}
			}
		})
	}
}

// TestHostileNamesNeverReachTheTerminalRaw: a state whose mirror name and
// artifact key and version carry terminal escape sequences is shown by
// plan, state list, state show and in error messages with every control
// character escaped; the JSON output stays valid JSON with the exact names.
func TestHostileNamesNeverReachTheTerminalRaw(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	const mirror = "evil\x1b]0;pwned\x07"
	const key = "x\x1b[2J/y\u202e.txt"
	st := map[string]any{
		"version": 2, "tool_version": "0.1.0", "serial": 1,
		"lineage": "6a0c1e4e-5b8f-4c52-9d3c-1f2e0b7a9c11",
		"mirrors": map[string]any{
			mirror: map[string]any{
				"source": "http.tools", "destination": "dir.local",
				"artifacts": map[string]any{
					key: map[string]any{
						"key": key, "name": "x\x1b[2J", "version": "1.0.0\x1b[2J", "size": 3,
						"digests":  []string{"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
						"added_at": "2026-03-01T09:12:00Z",
					},
				},
			},
			"tools": map[string]any{
				"source": "http.tools", "destination": "dir.local",
				"artifacts": map[string]any{
					"k\x1b[2J": map[string]any{
						"key": "k\x1b[2J", "name": "k\x1b]0;pwned\x07", "version": "2.0.0\x1b[2J\u009b", "size": 3,
						"digests":  []string{"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
						"added_at": "2026-03-01T09:12:00Z",
					},
				},
			},
		},
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ferry.state.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"FERRY_VAR_upstream=" + up.URL, "FERRY_LOG=trace"}
	addr := "mirror." + mirror + `["x\u001b[2J/y\u202e.txt"]`
	for _, tt := range []struct {
		args []string
		// want is in the output: a hostile name, escaped.
		want string
	}{
		{args: []string{"plan"}, want: `mirror.evil\x1b]0;pwned\x07`},
		{args: []string{"state", "list"}, want: `mirror.evil\x1b]0;pwned\x07`},
		{args: []string{"show"}, want: `mirror.evil\x1b]0;pwned\x07`},
		{args: []string{"state", "show", `mirror.tools["k\u001b[2J"]`}, want: `2.0.0\x1b[2J\u009b`},
		// Not addresses (the name is no identifier): refused without echo.
		{args: []string{"state", "show", addr}},
		{args: []string{"plan", "-target", addr}},
	} {
		args := tt.args
		r := ferry(t, dir, env, args...)
		all := r.stdout + r.stderr
		if !strings.Contains(all, tt.want) {
			t.Errorf("%q lacks %s:\nstdout:\n%s\nstderr:\n%s", args, tt.want, r.stdout, r.stderr)
		}
		for i, c := range []byte(all) {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				t.Fatalf("%q wrote the raw control byte %#x at %d:\n%q", args, c, i, all)
			}
		}
		if strings.Contains(all, "\u202e") || strings.Contains(all, "\u009b") {
			t.Fatalf("%q wrote a raw bidi override or C1 control:\n%q", args, all)
		}
	}
	r := ferry(t, dir, env, "show", "-json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("show -json is not JSON: %v\n%s", err, r.stdout)
	}
	if _, ok := got["mirrors"].(map[string]any)[mirror]; !ok {
		t.Errorf("show -json lost the exact mirror name:\n%s", r.stdout)
	}
}
