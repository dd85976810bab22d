// Package testenv starts real servers on 127.0.0.1 for ferry's integration
// tests: an OCI registry (Debian's docker-registry, i.e. distribution 2.8.2)
// and a WebDAV server (nginx with ngx_http_dav_module). Each Start function
// runs a fresh server on a free port with its state in t.TempDir(), waits
// until it answers, and stops it (SIGTERM, then SIGKILL) in t.Cleanup.
//
// # Installing the servers
//
// The servers come from Debian packages; on Debian bookworm, as root, run
//
//	bash .ci/install-test-servers
//
// from the repository root. It is idempotent and returns at once when
// everything is already installed. Without the servers, tests that start one
// FAIL with a message naming that script; they do not skip silently.
//
// # Skipping integration tests
//
// Set FERRY_SKIP_INTEGRATION=1 (any value strconv.ParseBool reads as true;
// unreadable non-empty values count as true too) to skip every test that
// starts a server. Skip reports whether, and why, that is the case.
//
// # Overriding the binaries
//
// By default the binaries are found with exec.LookPath ("docker-registry",
// "nginx"), falling back to /usr/bin/docker-registry and /usr/sbin/nginx
// (/usr/sbin is often not on a normal user's PATH). Set
// FERRY_TESTENV_REGISTRY_BIN or FERRY_TESTENV_NGINX_BIN to a path to use that
// binary instead; a path that does not exist fails the test (that is how this
// package's own tests check the "missing binary" message).
//
// Both servers work when the tests run as root (nginx gets `user root;`) and
// as a normal user. Nothing is written outside the test's temporary
// directories: no /var/log/nginx, /run or /var/lib/nginx.
package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	// EnvSkip, when true, makes every Start function skip its test.
	EnvSkip = "FERRY_SKIP_INTEGRATION"
	// EnvRegistryBin overrides the docker-registry binary.
	EnvRegistryBin = "FERRY_TESTENV_REGISTRY_BIN"
	// EnvNginxBin overrides the nginx binary.
	EnvNginxBin = "FERRY_TESTENV_NGINX_BIN"
)

// InstallHint is what a test failing for a missing server binary tells the
// reader to do.
const InstallHint = "run `bash .ci/install-test-servers` as root (Debian bookworm: installs docker-registry and nginx), " +
	"or set " + EnvSkip + "=1 to skip integration tests"

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 3 // a free port can be taken between FreePort and bind
	logTailLines = 40
)

// Skip reports why integration tests are skipped: it returns a non-empty
// reason when FERRY_SKIP_INTEGRATION is set to a true value, and "" when
// they run. The Start functions call t.Skip with it; a test that needs no
// server of its own can do the same:
//
//	if reason := testenv.Skip(); reason != "" {
//		t.Skip(reason)
//	}
func Skip() string {
	return skipReason(os.Getenv(EnvSkip))
}

func skipReason(v string) string {
	if v == "" {
		return ""
	}
	if b, err := strconv.ParseBool(v); err == nil && !b {
		return ""
	}
	return fmt.Sprintf("integration test skipped: %s=%s is set", EnvSkip, v)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("testenv: closing port probe: %v", err)
	}
	return port
}

// binary describes how to find one server program.
type binary struct {
	name      string   // for exec.LookPath and messages
	envVar    string   // override with an explicit path
	fallbacks []string // absolute paths tried after $PATH
}

func registryBinary() binary {
	return binary{name: "docker-registry", envVar: EnvRegistryBin, fallbacks: []string{"/usr/bin/docker-registry"}}
}

func nginxBinary() binary {
	return binary{name: "nginx", envVar: EnvNginxBin, fallbacks: []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"}}
}

// find locates b using getenv and lookPath (os.Getenv and exec.LookPath
// outside tests). The error names the install script.
func (b binary) find(getenv func(string) string, lookPath func(string) (string, error)) (string, error) {
	if p := getenv(b.envVar); p != "" {
		if _, err := lookPath(p); err != nil {
			return "", fmt.Errorf("testenv: %s=%s: %v; %s", b.envVar, p, err, InstallHint)
		}
		return p, nil
	}
	if p, err := lookPath(b.name); err == nil {
		return p, nil
	}
	for _, p := range b.fallbacks {
		if _, err := lookPath(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("testenv: %s not found (looked in $PATH and %s): %s",
		b.name, strings.Join(b.fallbacks, ", "), InstallHint)
}

// require skips the test when integration tests are off, and otherwise
// returns the binary's path or fails the test.
func require(t testing.TB, b binary) string {
	t.Helper()
	if reason := Skip(); reason != "" {
		t.Skip(reason)
	}
	p, err := b.find(os.Getenv, exec.LookPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// process is one running server.
type process struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
	logs    []string      // files whose tails explain a failure
}

func startProcess(name, bin string, args []string, outFile string, logs []string) (*process, error) {
	out, err := os.OpenFile(outFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	p := &process{name: name, cmd: cmd, done: make(chan struct{}), logs: append([]string{outFile}, logs...)}
	// Start and Wait on one locked OS thread that lives exactly as long as
	// the child: Pdeathsig (see sysProcAttr) fires when the thread that
	// started the child ends, and this one ends only after the child has.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to stopTimeout, then SIGKILLs. Idempotent.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// logTail returns the last lines of the process's log files.
func (p *process) logTail() string {
	var b strings.Builder
	for _, f := range p.logs {
		data, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			fmt.Fprintf(&b, "--- %s: %v\n", f, err)
			continue
		}
		lines := tail(data, logTailLines)
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "--- last %d lines of %s:\n", len(lines), f)
		for _, l := range lines {
			b.WriteString("    " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(logs are empty)\n"
	}
	return b.String()
}

func tail(data []byte, n int) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

func (p *process) logContains(s string) bool {
	for _, f := range p.logs {
		if data, err := os.ReadFile(f); err == nil && bytes.Contains(bytes.ToLower(data), []byte(strings.ToLower(s))) {
			return true
		}
	}
	return false
}

// errPortTaken means the server could not bind its port; try another.
var errPortTaken = errors.New("address already in use")

// waitReady polls url until ready accepts a response, the process exits or
// readyTimeout passes.
func (p *process) waitReady(url string, ready func(*http.Response) bool) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	var last string
	for {
		if p.exited() {
			if p.logContains("address already in use") {
				return errPortTaken
			}
			status := "exit status 0"
			if p.waitErr != nil {
				status = p.waitErr.Error()
			}
			return fmt.Errorf("%s exited before it was ready (%s)", p.name, status)
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if ready(resp) {
				return nil
			}
			last = "GET " + url + ": " + resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v (last: %s)", p.name, readyTimeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// launch starts a server with up to startTries ports. setup writes the
// configuration for a port into a fresh directory and returns the command
// line, the readiness URL and extra log files. On success the process is
// stopped in t.Cleanup; on failure the test fails with the logs' tails.
func launch(t testing.TB, name, bin string, ready func(*http.Response) bool,
	setup func(dir string, port int) (args []string, readyURL string, logs []string, err error)) int {
	t.Helper()
	base := t.TempDir()
	var lastErr error
	for try := 1; try <= startTries; try++ {
		dir := filepath.Join(base, fmt.Sprintf("run%d", try))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		port := FreePort(t)
		args, readyURL, logs, err := setup(dir, port)
		if err != nil {
			t.Fatalf("testenv: configuring %s: %v", name, err)
		}
		began := time.Now()
		p, err := startProcess(name, bin, args, filepath.Join(dir, name+".out"), logs)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		err = p.waitReady(readyURL, ready)
		if err == nil {
			t.Logf("testenv: %s ready on 127.0.0.1:%d in %v (pid %d)", name, port, time.Since(began).Round(time.Millisecond), p.cmd.Process.Pid)
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					t.Logf("testenv: %s logs (the test failed):\n%s", name, p.logTail())
				}
			})
			return port
		}
		p.stop()
		lastErr = fmt.Errorf("%w\n%s", err, p.logTail())
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("testenv: starting %s (%s): %v", name, bin, lastErr)
	return 0
}
