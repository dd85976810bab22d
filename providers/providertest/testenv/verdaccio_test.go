package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// bearer sends one request with an optional bearer token.
func bearer(t *testing.T, method, rawURL string, body []byte, token string, header ...string) (*http.Response, []byte) {
	t.Helper()
	if token != "" {
		header = append(header, "Authorization", "Bearer "+token)
	}
	if body != nil {
		header = append(header, "Content-Type", "application/json")
	}
	return call(t, method, rawURL, body, "", "", header...)
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decoding %.200s: %v", body, err)
	}
	return m
}

func sri(data []byte) string {
	sum := sha512.Sum512(data)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestVerdaccio(t *testing.T) {
	v := StartVerdaccio(t, VerdaccioOptions{})
	if !strings.HasPrefix(v.Host, "127.0.0.1:") || v.URL != "http://"+v.Host {
		t.Errorf("URL %q, Host %q: want URL http://HOST with HOST on 127.0.0.1", v.URL, v.Host)
	}
	if v.Username == "" || v.Password == "" || v.Token == "" {
		t.Fatalf("no credentials: %q/%q token %q", v.Username, v.Password, v.Token)
	}
	resp, body := bearer(t, http.MethodGet, v.URL+"/-/whoami", nil, v.Token)
	wantStatus(t, resp, body, http.StatusOK)
	if got := decode(t, body)["username"]; got != v.Username {
		t.Errorf("whoami with the token: %s, want %s", body, v.Username)
	}

	for _, name := range []string{"ferry-plain", "@ferry/scoped"} {
		t.Run(name, func(t *testing.T) {
			esc := escapeNPMName(name)
			one := NPMTarball(t, name, "1.0.0", map[string]any{"dependencies": map[string]any{"left-pad": "^1.3.0"}})
			two := NPMTarball(t, name, "1.1.0", nil)
			v.Publish(t, one, "latest")
			v.Publish(t, two, "next")

			resp, body := call(t, http.MethodGet, v.URL+"/"+esc, nil, "", "")
			wantStatus(t, resp, body, http.StatusOK)
			doc := decode(t, body)
			if tags, _ := json.Marshal(doc["dist-tags"]); string(tags) != `{"latest":"1.0.0","next":"1.1.0"}` {
				t.Errorf("dist-tags %s", tags)
			}
			versions, _ := doc["versions"].(map[string]any)
			for ver, tgz := range map[string][]byte{"1.0.0": one, "1.1.0": two} {
				vdoc, _ := versions[ver].(map[string]any)
				dist, _ := vdoc["dist"].(map[string]any)
				sum := sha1.Sum(tgz)
				if dist["integrity"] != sri(tgz) || dist["shasum"] != hex.EncodeToString(sum[:]) {
					t.Errorf("%s dist %v: want integrity %s, shasum %x", ver, dist, sri(tgz), sum)
				}
				tarURL, _ := dist["tarball"].(string)
				if !strings.HasPrefix(tarURL, v.URL+"/"+name+"/-/") {
					t.Errorf("%s tarball URL %q, want it under %s/%s/-/", ver, tarURL, v.URL, name)
				}
				resp, body := call(t, http.MethodGet, tarURL, nil, "", "") // anonymous read
				wantStatus(t, resp, body, http.StatusOK)
				if !bytes.Equal(body, tgz) {
					t.Errorf("%s tarball: %d bytes, want the %d published", ver, len(body), len(tgz))
				}
			}
			if deps, _ := json.Marshal(versions["1.0.0"].(map[string]any)["dependencies"]); string(deps) != `{"left-pad":"^1.3.0"}` {
				t.Errorf("1.0.0 dependencies %s", deps)
			}
			if _, err := os.Stat(filepath.Join(v.Dir, filepath.FromSlash(name), "package.json")); err != nil {
				t.Errorf("package not stored under Dir: %v", err)
			}

			// Verdaccio refuses a version twice, and anonymous or wrongly
			// authenticated publishing.
			doc2, _, err := publishDocument(v.URL, one, "latest")
			if err != nil {
				t.Fatal(err)
			}
			resp, body = bearer(t, http.MethodPut, v.URL+"/"+esc, mustJSON(t, doc2), v.Token)
			wantStatus(t, resp, body, http.StatusConflict)
			doc3, _, err := publishDocument(v.URL, NPMTarball(t, name, "2.0.0", nil), "latest")
			if err != nil {
				t.Fatal(err)
			}
			for _, token := range []string{"", "not-a-token"} {
				resp, body = bearer(t, http.MethodPut, v.URL+"/"+esc, mustJSON(t, doc3), token)
				wantStatus(t, resp, body, http.StatusUnauthorized)
			}
		})
	}

	// With no dist-tags a new package still gets latest; later versions
	// published that way do not move it.
	v.Publish(t, NPMTarball(t, "ferry-untagged", "1.0.0", nil), "")
	v.Publish(t, NPMTarball(t, "ferry-untagged", "2.0.0", nil), "")
	resp, body = call(t, http.MethodGet, v.URL+"/-/package/ferry-untagged/dist-tags", nil, "", "")
	wantStatus(t, resp, body, http.StatusOK)
	if tags := decode(t, body); len(tags) != 1 || tags["latest"] != "1.0.0" {
		t.Errorf("dist-tags after untagged publishes: %s, want {latest: 1.0.0}", body)
	}
}

// TestVerdaccioNPMInstall: what Publish stores installs with the real npm
// client, and the lockfile records the published integrity.
func TestVerdaccioNPMInstall(t *testing.T) {
	v := StartVerdaccio(t, VerdaccioOptions{})
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skipf("npm client not on PATH (the server runs without it): %v", err)
	}
	dep := NPMTarball(t, "@ferry/dep", "1.2.3", nil)
	app := NPMTarball(t, "ferry-app", "0.1.0", map[string]any{"dependencies": map[string]any{"@ferry/dep": "^1.2.0"}})
	v.Publish(t, dep, "latest")
	v.Publish(t, app, "latest")

	dir := t.TempDir()
	// Keep the machine's own npm configuration out.
	npmrc, globalrc := filepath.Join(dir, "npmrc"), filepath.Join(dir, "global-npmrc")
	if err := os.WriteFile(npmrc, []byte("registry="+v.URL+"/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(globalrc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"consumer","version":"1.0.0","private":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), npm, "install", "ferry-app", "--registry", v.URL+"/",
		"--no-audit", "--no-fund", "--cache", filepath.Join(dir, "cache"), "--loglevel=error")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_userconfig="+npmrc, "npm_config_globalconfig="+globalrc, "npm_config_update_notifier=false")
	began := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install: %v\n%s", err, out)
	}
	t.Logf("npm install took %v", time.Since(began).Round(time.Millisecond))
	js, err := os.ReadFile(filepath.Join(dir, "node_modules", "@ferry", "dep", "index.js"))
	if err != nil || !strings.Contains(string(js), "@ferry/dep@1.2.3") {
		t.Errorf("installed @ferry/dep/index.js: %q, %v", js, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version, Resolved, Integrity string }
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatal(err)
	}
	for path, tgz := range map[string][]byte{"node_modules/@ferry/dep": dep, "node_modules/ferry-app": app} {
		if got := lock.Packages[path].Integrity; got != sri(tgz) {
			t.Errorf("lockfile %s integrity %q, want %q", path, got, sri(tgz))
		}
	}
}

func TestNPMTarball(t *testing.T) {
	extra := map[string]any{"dependencies": map[string]any{"a": "^1.0.0"}, "description": "x"}
	one := NPMTarball(t, "@s/p", "1.0.0", extra)
	if again := NPMTarball(t, "@s/p", "1.0.0", map[string]any{"description": "x", "dependencies": map[string]any{"a": "^1.0.0"}}); !bytes.Equal(one, again) {
		t.Error("same arguments, different bytes")
	}
	if other := NPMTarball(t, "@s/p", "1.0.1", extra); bytes.Equal(one, other) {
		t.Error("another version, same bytes")
	}

	zr, err := gzip.NewReader(bytes.NewReader(one))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header: mtime %v, name %q; want neither", zr.ModTime, zr.Name)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || h.Mode != 0o644 || h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(tarballTime) {
			t.Errorf("%s: type %c mode %o uid %d gid %d mtime %v", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		files[h.Name] = string(data)
	}
	if !slices.Equal(names, []string{"package/package.json", "package/index.js"}) {
		t.Errorf("entries %v", names)
	}
	const wantJSON = `{
  "name": "@s/p",
  "version": "1.0.0",
  "main": "index.js",
  "dependencies": {
    "a": "^1.0.0"
  },
  "description": "x"
}
`
	if files["package/package.json"] != wantJSON {
		t.Errorf("package.json:\n%s\nwant:\n%s", files["package/package.json"], wantJSON)
	}
	if !strings.Contains(files["package/index.js"], "@s/p@1.0.0") {
		t.Errorf("index.js %q does not name the package", files["package/index.js"])
	}

	// extra overrides the defaults; Publish reads the result back.
	m, err := tarballManifest(NPMTarball(t, "n", "1.0.0", map[string]any{"main": "lib.js"}))
	if err != nil || m["main"] != "lib.js" || m["name"] != "n" || m["version"] != "1.0.0" {
		t.Errorf("manifest %v, %v", m, err)
	}
	if _, _, err := publishDocument("http://x", []byte("not a tarball"), ""); err == nil {
		t.Error("publishDocument accepted garbage")
	}
}

func TestPublishDocument(t *testing.T) {
	tgz := NPMTarball(t, "@s/p", "2.0.0", nil)
	doc, id, err := publishDocument("http://127.0.0.1:1", tgz, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if id != "@s/p@2.0.0" || doc["_id"] != "@s/p" || doc["name"] != "@s/p" {
		t.Errorf("id %q, doc _id %v name %v", id, doc["_id"], doc["name"])
	}
	if tags, _ := json.Marshal(doc["dist-tags"]); string(tags) != `{"beta":"2.0.0"}` {
		t.Errorf("dist-tags %s", tags)
	}
	att, _ := doc["_attachments"].(map[string]any)["@s/p-2.0.0.tgz"].(map[string]any)
	if att == nil || att["data"] != base64.StdEncoding.EncodeToString(tgz) || att["length"] != len(tgz) {
		t.Errorf("attachments %v", doc["_attachments"])
	}
	ver, _ := doc["versions"].(map[string]any)["2.0.0"].(map[string]any)
	dist, _ := ver["dist"].(map[string]any)
	if ver["_id"] != "@s/p@2.0.0" || dist["integrity"] != sri(tgz) || dist["tarball"] != "http://127.0.0.1:1/@s/p/-/@s/p-2.0.0.tgz" {
		t.Errorf("version %v", ver)
	}
	if doc, _, _ := publishDocument("http://x", tgz, ""); len(doc["dist-tags"].(map[string]any)) != 0 {
		t.Errorf("tag \"\": dist-tags %v, want empty", doc["dist-tags"])
	}
	if got := escapeNPMName("@s/p"); got != "@s%2fp" {
		t.Errorf("escapeNPMName = %q", got)
	}
}

func TestFindVerdaccio(t *testing.T) {
	root := t.TempDir()
	home := func() (string, error) { return root, nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	node := func(p string) (string, error) {
		if p == "node" {
			return "/opt/node/bin/node", nil
		}
		return "", errors.New("not found")
	}
	noNode := func(string) (string, error) { return "", errors.New("not found") }
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	write := func(path, content string) string {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	shebang := "#!/usr/bin/env node\n\nrequire('../build/lib/cli');\n"

	// Nothing installed: the default path is named, with the hint.
	_, _, err := findVerdaccio(env(), home, node)
	want := filepath.Join(root, ".cache/ferry-testenv/npm/node_modules/.bin/verdaccio")
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "make setup") ||
		!strings.Contains(err.Error(), "bash .ci/install-test-servers") || !strings.Contains(err.Error(), EnvSkip) {
		t.Errorf("nothing installed: %v", err)
	}
	if _, _, err := findVerdaccio(env(), noHome, node); err == nil || !strings.Contains(err.Error(), EnvTestenvRoot) {
		t.Errorf("no home: %v", err)
	}

	// The default install under $HOME, run with node.
	bin := write(want, shebang)
	prog, pre, err := findVerdaccio(env(), home, node)
	if err != nil || prog != "/opt/node/bin/node" || !slices.Equal(pre, []string{bin}) {
		t.Errorf("default install: %q %q %v", prog, pre, err)
	}
	if _, _, err := findVerdaccio(env(), home, noNode); err == nil || !strings.Contains(err.Error(), "node not found") || !strings.Contains(err.Error(), "Node >= 20") {
		t.Errorf("no node: %v", err)
	}

	// FERRY_TESTENV_ROOT moves the default.
	other := t.TempDir()
	bin2 := write(filepath.Join(other, "npm/node_modules/.bin/verdaccio"), shebang)
	if prog, pre, err := findVerdaccio(env(EnvTestenvRoot, other), noHome, node); err != nil || prog != "/opt/node/bin/node" || !slices.Equal(pre, []string{bin2}) {
		t.Errorf("%s: %q %q %v", EnvTestenvRoot, prog, pre, err)
	}

	// FERRY_VERDACCIO wins; a .js file goes through node, a script
	// without a node #! line runs directly, a missing file fails.
	js := write(filepath.Join(other, "cli.js"), "require('x')\n")
	if prog, pre, err := findVerdaccio(env(EnvVerdaccioBin, js, EnvTestenvRoot, other), home, node); err != nil || prog != "/opt/node/bin/node" || !slices.Equal(pre, []string{js}) {
		t.Errorf("%s=%s: %q %q %v", EnvVerdaccioBin, js, prog, pre, err)
	}
	sh := write(filepath.Join(other, "wrapper"), "#!/bin/sh\nexec node cli.js \"$@\"\n")
	if prog, pre, err := findVerdaccio(env(EnvVerdaccioBin, sh), home, noNode); err != nil || prog != sh || len(pre) != 0 {
		t.Errorf("%s=%s: %q %q %v", EnvVerdaccioBin, sh, prog, pre, err)
	}
	if _, _, err := findVerdaccio(env(EnvVerdaccioBin, "/nonexistent/verdaccio"), home, node); err == nil ||
		!strings.Contains(err.Error(), EnvVerdaccioBin+"=/nonexistent/verdaccio") || !strings.Contains(err.Error(), ".ci/install-test-servers") {
		t.Errorf("missing override: %v", err)
	}
}

func TestVerdaccioConfig(t *testing.T) {
	dir := t.TempDir()
	storage := filepath.Join(dir, "st\"orage")
	cfg := filepath.Join(dir, "config.yaml")
	if err := writeVerdaccioConfig(cfg, dir, storage); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"storage: " + yamlString(storage) + "\n",
		"file: " + yamlString(filepath.Join(dir, "htpasswd")) + "\n",
		"uplinks: {}\n", "audit:\n    enabled: false\n", "web:\n  enable: false\n",
		"max_body_size: 100mb\n", "allow_offline: true\n", "level: warn",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, data)
		}
	}
	if fi, err := os.Stat(storage); err != nil || !fi.IsDir() {
		t.Errorf("storage directory not created: %v", err)
	}
}
