package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// fileServer serves a directory over HTTP on 127.0.0.1 (a plain net/http
// FileServer, sendfile included) and counts the body bytes it sends.
type fileServer struct {
	URL   string
	bytes atomic.Int64
	reqs  atomic.Int64
	srv   *http.Server
}

func startFileServer(dir string) (*fileServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fs := &fileServer{URL: "http://" + ln.Addr().String()}
	h := http.FileServer(http.Dir(dir))
	fs.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fs.reqs.Add(1)
			h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &fs.bytes}, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go fs.srv.Serve(ln)
	return fs, nil
}

func (fs *fileServer) Close() { fs.srv.Close() }

// countingWriter counts body bytes and keeps the sendfile path
// (io.ReaderFrom) of the underlying writer.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		c.n.Add(n)
		return n, err
	}
	n, err := io.Copy(struct{ io.Writer }{c.ResponseWriter}, r)
	c.n.Add(n)
	return n, err
}

// registry is a docker-registry (distribution v2) process with filesystem
// storage, started the way providers/providertest/testenv does it.
type registry struct {
	Host string // 127.0.0.1:PORT
	URL  string
	dir  string
	cmd  *exec.Cmd
}

// startRegistry starts docker-registry storing under dir, emptied first:
// blobs and tags an earlier harness run left in a reused -work directory
// would be skipped or adopted as already there.
func startRegistry(dir string) (*registry, error) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		if _, err2 := os.Stat("/usr/bin/docker-registry"); err2 != nil {
			return nil, fmt.Errorf("docker-registry not found: run `sudo bash .ci/install-test-servers` (Debian package docker-registry)")
		}
		bin = "/usr/bin/docker-registry"
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := testenv.RegistryConfig(filepath.Join(dir, "storage"), port, "error")
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &registry{Host: "127.0.0.1:" + strconv.Itoa(port), dir: dir, cmd: cmd}
	r.URL = "http://" + r.Host
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Close()
	log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	return nil, fmt.Errorf("docker-registry did not answer on %s: %s", r.URL, log)
}

func (r *registry) Close() {
	if r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// countingProxy is a reverse proxy in front of the registry that counts
// request and response body bytes (what went over the wire to and from it).
type countingProxy struct {
	Host          string
	sent, recv    atomic.Int64 // request bodies (uploads), response bodies
	reqs, uploads atomic.Int64
	srv           *http.Server
}

func startCountingProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{Host: ln.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		resp.Body = &countingReader{ReadCloser: resp.Body, n: &p.recv}
		return nil
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.reqs.Add(1)
			if r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch {
				p.uploads.Add(1)
			}
			if r.Body != nil {
				r.Body = &countingReader{ReadCloser: r.Body, n: &p.sent}
			}
			// Location headers must keep pointing at the proxy.
			r.Host = p.Host
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *countingProxy) Close() { p.srv.Close() }

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.n.Add(int64(n))
	return n, err
}
