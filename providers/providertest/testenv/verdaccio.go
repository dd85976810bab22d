package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment variables read by StartVerdaccio.
const (
	// EnvVerdaccioBin is the path of the verdaccio bin script (or of any
	// executable that starts Verdaccio) to use instead of the default.
	EnvVerdaccioBin = "FERRY_VERDACCIO"
	// EnvTestenvRoot is the directory .ci/install-test-servers installs
	// per-user servers into (default $HOME/.cache/ferry-testenv).
	EnvTestenvRoot = "FERRY_TESTENV_ROOT"
)

// VerdaccioVersion is the Verdaccio release .ci/install-test-servers
// installs (the newest that runs on Node 20).
const VerdaccioVersion = "6.8.0"

// VerdaccioInstallHint is what a test failing for a missing Verdaccio (or
// node) tells the reader to do.
const VerdaccioInstallHint = "run `make setup` or `bash .ci/install-test-servers` (installs Verdaccio " + VerdaccioVersion +
	" with npm into $" + EnvTestenvRoot + "/npm, default ~/.cache/ferry-testenv/npm; needs Node >= 20 and npm), " +
	"or set " + EnvSkip + "=1 to skip integration tests"

// Verdaccio is a running Verdaccio npm registry with filesystem storage in a
// temporary directory, no uplinks (nothing is fetched from or proxied to
// another registry), htpasswd auth and one user created at start. Reading
// is anonymous; publishing, dist-tag changes and unpublishing need the token.
// Plain HTTP only.
type Verdaccio struct {
	URL                string // http://127.0.0.1:PORT (no trailing slash)
	Host               string // 127.0.0.1:PORT
	Username, Password string // the user created at start
	Token              string // that user's bearer token (Authorization: Bearer <Token>)
	Dir                string // storage directory (one directory per package)
}

// VerdaccioOptions configures StartVerdaccio. It has no fields yet.
type VerdaccioOptions struct{}

// StartVerdaccio starts a fresh Verdaccio on a free 127.0.0.1 port, waits
// until GET /-/ping answers 200, creates a user with
// PUT /-/user/org.couchdb.user:<name> and stops the server when the test
// ends. It skips the test when FERRY_SKIP_INTEGRATION is set and fails it
// when Verdaccio or node is not installed.
//
// The binary is $FERRY_VERDACCIO, else
// ${FERRY_TESTENV_ROOT:-$HOME/.cache/ferry-testenv}/npm/node_modules/.bin/verdaccio.
// A JavaScript file (a name ending in .js, .cjs or .mjs, or a "#!" line
// naming node) is run as `node <bin>`, anything else directly.
func StartVerdaccio(t testing.TB, opts VerdaccioOptions) *Verdaccio {
	t.Helper()
	if reason := Skip(); reason != "" {
		t.Skip(reason)
	}
	bin, pre, err := findVerdaccio(os.Getenv, os.UserHomeDir, exec.LookPath)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verdaccio{
		Dir:      filepath.Join(t.TempDir(), "storage"),
		Username: "ferry-test",
		Password: rand.Text(),
	}
	port := launch(t, "verdaccio", bin,
		func(r *http.Response) bool { return r.StatusCode == http.StatusOK },
		func(dir string, port int) ([]string, string, []string, error) {
			cfg := filepath.Join(dir, "config.yaml")
			if err := writeVerdaccioConfig(cfg, dir, v.Dir); err != nil {
				return nil, "", nil, err
			}
			args := append(slices.Clone(pre), "--config", cfg, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
			return args, fmt.Sprintf("http://127.0.0.1:%d/-/ping", port), nil, nil
		})
	v.Host = "127.0.0.1:" + strconv.Itoa(port)
	v.URL = "http://" + v.Host
	v.Token = v.addUser(t)
	return v
}

// findVerdaccio returns the program to run and the arguments that come
// before Verdaccio's own: node and the bin script, or the bin itself.
func findVerdaccio(getenv func(string) string, home func() (string, error), lookPath func(string) (string, error)) (prog string, pre []string, err error) {
	bin := getenv(EnvVerdaccioBin)
	if bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", nil, fmt.Errorf("testenv: %s=%s: %v; %s", EnvVerdaccioBin, bin, err, VerdaccioInstallHint)
		}
	} else {
		root := getenv(EnvTestenvRoot)
		if root == "" {
			h, err := home()
			if err != nil {
				return "", nil, fmt.Errorf("testenv: verdaccio: no %s and no home directory (%v); %s", EnvTestenvRoot, err, VerdaccioInstallHint)
			}
			root = filepath.Join(h, ".cache", "ferry-testenv")
		}
		bin = filepath.Join(root, "npm", "node_modules", ".bin", "verdaccio")
		if _, err := os.Stat(bin); err != nil {
			return "", nil, fmt.Errorf("testenv: verdaccio not found at %s: %s", bin, VerdaccioInstallHint)
		}
	}
	if !isNodeScript(bin) {
		return bin, nil, nil
	}
	node, err := lookPath("node")
	if err != nil {
		return "", nil, fmt.Errorf("testenv: node not found in $PATH (needed to run %s): %s", bin, VerdaccioInstallHint)
	}
	return node, []string{bin}, nil
}

// isNodeScript reports whether path is a JavaScript file: its name ends in
// .js, .cjs or .mjs, or its "#!" line names node.
func isNodeScript(path string) bool {
	switch filepath.Ext(path) {
	case ".js", ".cjs", ".mjs":
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	line, _, _ := bytes.Cut(head[:n], []byte("\n"))
	return bytes.HasPrefix(line, []byte("#!")) && bytes.Contains(line, []byte("node"))
}

// writeVerdaccioConfig writes a config.yaml with storage in storageDir and
// the htpasswd file in dir. Everything is local: no uplinks, and the audit
// middleware (which proxies to registry.npmjs.org) and web UI are off.
func writeVerdaccioConfig(path, dir, storageDir string) error {
	if err := os.MkdirAll(storageDir, 0o755); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`# Generated by ferry's testenv.StartVerdaccio.
storage: %s
auth:
  htpasswd:
    file: %s
    max_users: 1000
    algorithm: bcrypt
uplinks: {}
packages:
  '@*/*':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
  '**':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
middlewares:
  audit:
    enabled: false
web:
  enable: false
max_body_size: 100mb
server:
  keepAliveTimeout: 60
log: { type: stdout, format: json, level: warn }
publish:
  allow_offline: true
`, yamlString(storageDir), yamlString(filepath.Join(dir, "htpasswd")))
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// addUser registers v.Username with v.Password and returns the token.
func (v *Verdaccio) addUser(t testing.TB) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"_id":      "org.couchdb.user:" + v.Username,
		"name":     v.Username,
		"password": v.Password,
		"email":    v.Username + "@example.invalid",
		"type":     "user",
		"roles":    []string{},
		"date":     time.Now().UTC().Format(time.RFC3339),
	})
	if err != nil {
		t.Fatal(err)
	}
	status, resp := v.do(t, http.MethodPut, "/-/user/org.couchdb.user:"+v.Username, body, "")
	var out struct {
		Token string `json:"token"`
	}
	if status != http.StatusCreated || json.Unmarshal(resp, &out) != nil || out.Token == "" {
		t.Fatalf("testenv: verdaccio: creating user %s: status %d, body %.500s", v.Username, status, resp)
	}
	return out.Token
}

// do sends one request to the registry (with the bearer token unless token
// is "") and returns the status and body.
func (v *Verdaccio) do(t testing.TB, method, path string, body []byte, token string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, v.URL+path, r)
	if err != nil {
		t.Fatalf("testenv: verdaccio: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("testenv: verdaccio: %s %s: %v", method, req.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testenv: verdaccio: %s %s: reading the response: %v", method, req.URL, err)
	}
	return resp.StatusCode, data
}

// escapeNPMName escapes a package name for a registry URL path the way npm
// does: "@scope/name" becomes "@scope%2fname"; unscoped names are unchanged.
func escapeNPMName(name string) string {
	return strings.Replace(name, "/", "%2f", 1)
}

// Publish publishes the package version in tarball (an npm .tgz whose
// package/package.json names it) the way `npm publish` does: one
// PUT /<escaped name> with the version's package.json plus _id and dist
// (integrity sha512 and shasum sha1 of the tarball), the tarball as the one
// attachment "<name>-<version>.tgz", and dist-tags {tag: version}. With tag ""
// dist-tags is sent empty ({}). It fails the test unless Verdaccio answers
// 2xx.
func (v *Verdaccio) Publish(t testing.TB, tarball []byte, tag string) {
	t.Helper()
	doc, id, err := publishDocument(v.URL, tarball, tag)
	if err != nil {
		t.Fatalf("testenv: verdaccio: publish: %v", err)
	}
	status, resp := v.do(t, http.MethodPut, "/"+escapeNPMName(doc["name"].(string)), mustJSON(t, doc), v.Token)
	if status/100 != 2 {
		t.Fatalf("testenv: verdaccio: publishing %s: status %d, body %.1000s", id, status, resp)
	}
}

// publishDocument builds the body of an npm publish request (libnpmpublish's
// shape) for tarball and returns it with "name@version". registryURL (no
// trailing slash) goes into dist.tarball, which registries regenerate
// anyway. With tag "" dist-tags is empty.
func publishDocument(registryURL string, tarball []byte, tag string) (doc map[string]any, id string, err error) {
	manifest, err := tarballManifest(tarball)
	if err != nil {
		return nil, "", err
	}
	name, _ := manifest["name"].(string)
	version, _ := manifest["version"].(string)
	if name == "" || version == "" {
		return nil, "", fmt.Errorf("package.json in the tarball has no name or version")
	}
	sha := sha512.Sum512(tarball)
	sum := sha1.Sum(tarball)
	file := name + "-" + version + ".tgz"
	manifest["_id"] = name + "@" + version
	manifest["dist"] = map[string]any{
		"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sha[:]),
		"shasum":    hex.EncodeToString(sum[:]),
		"tarball":   registryURL + "/" + name + "/-/" + file,
	}
	tags := map[string]any{}
	if tag != "" {
		tags[tag] = version
	}
	return map[string]any{
		"_id":       name,
		"name":      name,
		"dist-tags": tags,
		"versions":  map[string]any{version: manifest},
		"_attachments": map[string]any{
			file: map[string]any{
				"content_type": "application/octet-stream",
				"data":         base64.StdEncoding.EncodeToString(tarball),
				"length":       len(tarball),
			},
		},
	}, name + "@" + version, nil
}

// tarballManifest reads <top>/package.json from a gzip'd tar.
func tarballManifest(tarball []byte) (map[string]any, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tarball))
	if err != nil {
		return nil, fmt.Errorf("tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("tarball has no package/package.json")
		}
		if err != nil {
			return nil, fmt.Errorf("tarball: %w", err)
		}
		dir, file, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if !ok || dir == "" || file != "package.json" {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("tarball: %s: %w", h.Name, err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("tarball: %s: %w", h.Name, err)
		}
		return m, nil
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tarballTime is the fixed mtime of every entry NPMTarball writes, the one
// `npm pack` uses.
var tarballTime = time.Date(1985, 10, 26, 8, 15, 0, 0, time.UTC)

// NPMTarball builds an npm package tarball: a gzip'd tar with
// package/package.json and package/index.js (one line naming
// name@version). package.json holds "name", "version" and "main":
// "index.js", then the keys of extra (e.g. "dependencies"), which override
// those three if they repeat them. Entries have a fixed mtime, uid/gid 0 and
// mode 0644, and the gzip header no time, so the same arguments always give
// the same bytes.
func NPMTarball(t testing.TB, name, version string, extra map[string]any) []byte {
	t.Helper()
	data, err := npmTarball(name, version, extra)
	if err != nil {
		t.Fatalf("testenv: NPMTarball(%s, %s): %v", name, version, err)
	}
	return data
}

func npmTarball(name, version string, extra map[string]any) ([]byte, error) {
	fields := map[string]any{"name": name, "version": version, "main": "index.js"}
	keys := []string{"name", "version", "main"}
	extraKeys := make([]string, 0, len(extra))
	for k := range extra {
		if _, ok := fields[k]; !ok {
			extraKeys = append(extraKeys, k)
		}
	}
	slices.Sort(extraKeys)
	keys = append(keys, extraKeys...)
	for k, val := range extra {
		fields[k] = val
	}
	var pj bytes.Buffer
	pj.WriteString("{\n")
	for i, k := range keys {
		kj, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vj, err := json.MarshalIndent(fields[k], "  ", "  ")
		if err != nil {
			return nil, fmt.Errorf("package.json %q: %w", k, err)
		}
		fmt.Fprintf(&pj, "  %s: %s", kj, vj)
		if i < len(keys)-1 {
			pj.WriteString(",")
		}
		pj.WriteString("\n")
	}
	pj.WriteString("}\n")
	js := fmt.Sprintf("module.exports = %q;\n", "ferry test package "+name+"@"+version)

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // zero ModTime: no time in the header
	tw := tar.NewWriter(zw)
	for _, f := range []struct {
		name string
		data []byte
	}{{"package/package.json", pj.Bytes()}, {"package/index.js", []byte(js)}} {
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.name,
			Size:     int64(len(f.data)),
			Mode:     0o644,
			ModTime:  tarballTime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
