package main_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
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
