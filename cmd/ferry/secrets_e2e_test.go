package main_test

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// secretsConfig uses every credential ferry accepts: a URL with user info
// (non-sensitive variable: redaction), a sensitive query token, basic auth
// for the http and oci destinations, a bearer token for the npm destination
// and a .npmrc token (expanded from the environment) for the npm source.
const secretsConfig = `
variable "upstream" {
  type = string # carries user info: shown redacted, never sensitive here
}
variable "plain_upstream" {
  type = string
}
variable "token" {
  type      = string
  sensitive = true
}
variable "dav_url" {
  type = string
}
variable "dav_user" {
  type = string
}
variable "dav_password" {
  type      = string
  sensitive = true
}
variable "registry" {
  type = string
}
variable "registry_user" {
  type = string
}
variable "registry_password" {
  type      = string
  sensitive = true
}
variable "npm_up" {
  type = string
}
variable "npm_down" {
  type = string
}
variable "npm_token" {
  type      = string
  sensitive = true
}

source "http" "files" {
  artifact "greeting" {
    url     = "${var.upstream}/greeting-1.1.0.txt"
    sha256  = "25be25e73b6de307f7b73ff0c5613bf699ed8b135c51c16aa1ce8a1b65212d4d"
    version = "1.1.0"
  }
  artifact "greeting" {
    url     = "${var.plain_upstream}/greeting-1.2.0.txt?token=${var.token}"
    key     = "greeting/1.2.0/greeting-1.2.0.txt"
    sha256  = "c4f28a3e30b10a036309c225a7ace0c8aa3f4aac4e59641702614b30285e4c1c"
    version = "1.2.0"
  }
}

source "npm" "up" {
  registry = var.npm_up
  npmrc    = true
  packages = ["greet"]
  versions {
    semver = ">= 1.0.0"
  }
}

destination "http" "dav" {
  url      = var.dav_url
  username = var.dav_user
  password = var.dav_password
}

destination "oci" "reg" {
  registry   = var.registry
  repository = "ferry/secrets"
  plain_http = true
  username   = var.registry_user
  password   = var.registry_password
}

destination "npm" "down" {
  registry = var.npm_down
  token    = var.npm_token
}

mirror "dav" {
  from = source.http.files
  to   = destination.http.dav
}

mirror "oci" {
  from = source.http.files
  to   = destination.oci.reg
}

mirror "npm" {
  from = source.npm.up
  to   = destination.npm.down
}
`

// authUpstream serves dir, but only to basic auth user:password, and
// greeting-1.2.0.txt only with ?token=token as well; anything else is 401.
// While *slow is set, each answer waits 300 ms first.
func authUpstream(t *testing.T, dir, user, password, token string, slow *atomic.Bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fsrv := http.FileServer(http.Dir(dir))
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond)
		}
		if strings.HasSuffix(r.URL.Path, "greeting-1.2.0.txt") {
			if !eq(r.URL.Query().Get("token"), token) {
				http.Error(w, "bad token", http.StatusUnauthorized)
				return
			}
		} else if u, p, ok := r.BasicAuth(); !ok || !eq(u, user) || !eq(p, password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		fsrv.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// secretForms are the ways a secret could appear in bytes ferry writes:
// plain, hex, percent-encoded, and base64 (standard and URL alphabets,
// padded and raw). Base64 of a secret embedded in a longer string (a basic
// auth header, a JSON blob) depends on its offset modulo 3, so for each
// offset the characters determined by the secret's bytes alone are
// searched too.
func secretForms(secret string) map[string]string {
	forms := map[string]string{
		"plain":         secret,
		"hex":           hex.EncodeToString([]byte(secret)),
		"HEX":           strings.ToUpper(hex.EncodeToString([]byte(secret))),
		"base64":        base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64url":     base64.URLEncoding.EncodeToString([]byte(secret)),
		"base64raw":     base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"base64url-raw": base64.RawURLEncoding.EncodeToString([]byte(secret)),
	}
	for off := 0; off < 3; off++ {
		for name, enc := range map[string]*base64.Encoding{"base64": base64.RawStdEncoding, "base64url": base64.RawURLEncoding} {
			s := enc.EncodeToString(append(bytes.Repeat([]byte{0}, off), secret...))
			start := 0
			if off > 0 {
				start = 4 // the first group mixes in bytes before the secret
			}
			end := len(s) - 4 // the last group may mix in bytes after it
			if end-start >= 12 {
				forms[fmt.Sprintf("%s@offset%d", name, off)] = s[start:end]
			}
		}
	}
	return forms
}

// leakScanner looks for every form of every secret.
type leakScanner struct {
	needles map[string]string // form → description
}

func newLeakScanner(secrets map[string]string, basicAuth map[string][2]string) *leakScanner {
	s := &leakScanner{needles: map[string]string{}}
	for name, secret := range secrets {
		if len(secret) < 8 {
			panic("secret " + name + " too short to search for")
		}
		for form, v := range secretForms(secret) {
			s.needles[v] = name + " (" + form + ")"
		}
	}
	for name, up := range basicAuth {
		pair := up[0] + ":" + up[1]
		for form, v := range secretForms(pair) {
			s.needles[v] = "basic auth " + name + " user:password (" + form + ")"
		}
	}
	return s
}

// scan reports each secret form found in data, named where.
func (s *leakScanner) scan(where string, data []byte) []string {
	var found []string
	for needle, what := range s.needles {
		if i := bytes.Index(data, []byte(needle)); i >= 0 {
			lo, hi := max(i-60, 0), min(i+len(needle)+60, len(data))
			found = append(found, fmt.Sprintf("%s in %s at byte %d: …%q…", what, where, i, data[lo:hi]))
		}
	}
	return found
}

// scanTree scans every file under root except those skip accepts.
func (s *leakScanner) scanTree(t *testing.T, root, label string, skip func(rel string) bool) (found []string, files int) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if skip != nil && skip(rel) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		found = append(found, s.scan(label+"/"+rel, b)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found, files
}

func TestSecretFormsFindEmbeddedSecrets(t *testing.T) {
	const secret = "QWERTYUIOPASDFGHJKLZXCVBNM"
	s := newLeakScanner(map[string]string{"pw": secret}, map[string][2]string{"x": {"ferry-test", secret}})
	for off := 0; off < 3; off++ {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
			b := []byte("Authorization: Basic " + enc.EncodeToString([]byte(strings.Repeat("u", off)+":"+secret+"!")))
			if len(s.scan("header", b)) == 0 {
				t.Errorf("offset %d: base64 of an embedded secret not found in %s", off, b)
			}
		}
	}
	if len(s.scan("x", []byte("ok "+hex.EncodeToString([]byte(secret))))) == 0 {
		t.Error("hex form not found")
	}
	if got := s.scan("x", []byte("nothing secret here")); len(got) != 0 {
		t.Errorf("false positive: %v", got)
	}
}

// TestSecretsNeverLeak runs every command with credentials of every kind
// configured against real servers, including runs with wrong credentials
// and trace logging, and scans every byte ferry wrote for every secret.
func TestSecretsNeverLeak(t *testing.T) {
	dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{Auth: true})
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	npmUp := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	npmDown := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})

	dir := t.TempDir()
	for _, f := range []string{"greet-1.0.0.tgz", "greet-1.1.0.tgz"} {
		b, err := os.ReadFile(filepath.Join("../../examples/npm/upstream", f))
		if err != nil {
			t.Fatal(err)
		}
		npmUp.Publish(t, b, "latest")
	}

	secrets := map[string]string{
		"upstream user-info password": "UpstreamPw-" + randText(),
		"upstream query token":        "QueryTok-" + randText(),
		"dav password":                dav.Password,
		"registry password":           reg.Password,
		"npm destination token":       npmDown.Token,
		"npm source .npmrc token":     npmUp.Token,
		"npm source user password":    npmUp.Password,
		"npm destination password":    npmDown.Password,
		// Wrong credentials of the failing-auth runs.
		"wrong upstream password": "WrongUpPw-" + randText(),
		"wrong query token":       "WrongTok-" + randText(),
		"wrong dav password":      "WrongDav-" + randText(),
		"wrong registry password": "WrongReg-" + randText(),
		"wrong npm token":         "WrongNpm-" + randText(),
	}
	const upUser = "ci"
	basic := map[string][2]string{
		"upstream":       {upUser, secrets["upstream user-info password"]},
		"dav":            {dav.Username, dav.Password},
		"registry":       {reg.Username, reg.Password},
		"wrong upstream": {upUser, secrets["wrong upstream password"]},
		"wrong dav":      {dav.Username, secrets["wrong dav password"]},
		"wrong registry": {reg.Username, secrets["wrong registry password"]},
	}
	scanner := newLeakScanner(secrets, basic)

	var slow atomic.Bool // keeps an apply (and its lock file) around long enough to copy the lock
	upURL := authUpstream(t, "../../examples/quickstart/upstream", upUser, secrets["upstream user-info password"], secrets["upstream query token"], &slow)
	hostPort := strings.TrimPrefix(upURL, "http://")
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(secretsConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// The .npmrc refers to the token; the environment holds it.
	npmrc := "//" + npmUp.Host + "/:_authToken=${NPM_UP_TOKEN}\n"
	if err := os.WriteFile(filepath.Join(dir, ".npmrc"), []byte(npmrc), 0o600); err != nil {
		t.Fatal(err)
	}

	good := map[string]string{
		"FERRY_VAR_upstream":          "http://" + upUser + ":" + secrets["upstream user-info password"] + "@" + hostPort,
		"FERRY_VAR_plain_upstream":    upURL,
		"FERRY_VAR_token":             secrets["upstream query token"],
		"FERRY_VAR_dav_url":           dav.URL,
		"FERRY_VAR_dav_user":          dav.Username,
		"FERRY_VAR_dav_password":      dav.Password,
		"FERRY_VAR_registry":          reg.Host,
		"FERRY_VAR_registry_user":     reg.Username,
		"FERRY_VAR_registry_password": reg.Password,
		"FERRY_VAR_npm_up":            npmUp.URL,
		"FERRY_VAR_npm_down":          npmDown.URL,
		"FERRY_VAR_npm_token":         npmDown.Token,
		"NPM_UP_TOKEN":                npmUp.Token,
	}
	envWith := func(log string, override map[string]string) []string {
		var env []string
		for k, v := range good {
			if o, ok := override[k]; ok {
				v = o
			}
			env = append(env, k+"="+v)
		}
		env = append(env, "FERRY_LOG=trace")
		if log != "" {
			env = append(env, "FERRY_LOG_PATH="+log)
		}
		return env
	}

	var leaks []string
	lockSeen := map[string]bool{} // distinct contents of the lock file
	runs := 0
	check := func(name string, r result) {
		t.Helper()
		runs++
		leaks = append(leaks, scanner.scan(name+": stdout", []byte(r.stdout))...)
		leaks = append(leaks, scanner.scan(name+": stderr", []byte(r.stderr))...)
	}
	// run runs ferry; logToFile sends the trace log to ferry.log instead of
	// stderr. While it runs, the lock file is copied whenever it exists.
	run := func(logToFile bool, override map[string]string, wantCode int, args ...string) result {
		t.Helper()
		log := ""
		if logToFile {
			log = "ferry.log"
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if b, err := os.ReadFile(filepath.Join(dir, "ferry.state.json.lock")); err == nil && len(b) > 0 {
					lockSeen[string(b)] = true
				}
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		}()
		r := ferry(t, dir, envWith(log, override), args...)
		close(stop)
		wg.Wait()
		check(strings.Join(args, " "), r)
		if wantCode >= 0 && r.code != wantCode {
			t.Fatalf("ferry %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		return r
	}

	run(false, nil, 0, "validate")
	run(false, nil, 2, "plan", "-detailed-exitcode") // trace log on stderr
	run(true, nil, 0, "plan", "-json")
	run(true, nil, 0, "plan", "-out", "plan.json")
	run(true, nil, 0, "show", "plan.json")
	run(true, nil, 0, "show", "-json", "plan.json")
	run(true, nil, 0, "show", "-markdown", "plan.json")
	run(true, nil, 0, "apply", "plan.json").must(t, 0, "Apply complete")
	run(false, nil, 0, "plan", "-detailed-exitcode")
	run(true, nil, 0, "show")
	run(true, nil, 0, "show", "-json")
	list := run(true, nil, 0, "state", "list")
	addrs := strings.Fields(list.stdout)
	if len(addrs) < 6 {
		t.Fatalf("state list: want the 2+2 files and the npm versions, got %q", addrs)
	}
	for _, a := range addrs {
		run(true, nil, 0, "state", "show", a)
	}
	// A second apply replacing one object of each mirror (uploads again
	// with every credential), then a download-only run through the sources.
	slow.Store(true)
	run(false, nil, 0, "apply", "-auto-approve",
		"-replace", `mirror.dav["greeting/1.2.0/greeting-1.2.0.txt"]`,
		"-replace", `mirror.oci["greeting/1.1.0/greeting-1.1.0.txt"]`)
	slow.Store(false)
	if len(lockSeen) == 0 {
		t.Error("the lock file was never seen while ferry ran, so it was not scanned")
	}
	// Every mirror crosses an air gap: a download-only run through the
	// sources (the npm package documents stored with the tarballs) quotes
	// no secret, in its output or in the cache.
	run(true, nil, 0, "apply", "-download-only", "-cache", "cache").must(t, 0, "Downloaded 4 artifacts", "source npm.up: listing stored")

	// Failing authentication, one credential wrong at a time: the plan (or
	// the apply, for sources, which are read only when something moves)
	// fails and says why without quoting the secret.
	failing := []struct {
		name     string
		override map[string]string
		args     []string
		want     string
	}{
		{"dav", map[string]string{"FERRY_VAR_dav_password": secrets["wrong dav password"]}, []string{"plan"}, "authentication"},
		{"registry", map[string]string{"FERRY_VAR_registry_password": secrets["wrong registry password"]}, []string{"plan"}, "authentication failed"},
		// greet 1.2.0 (published below) is the version to add.
		{"npm token", map[string]string{"FERRY_VAR_npm_token": secrets["wrong npm token"]}, []string{"apply", "-auto-approve"}, "401"},
		{"upstream user info", map[string]string{"FERRY_VAR_upstream": "http://" + upUser + ":" + secrets["wrong upstream password"] + "@" + hostPort},
			[]string{"apply", "-auto-approve", "-replace", `mirror.dav["greeting/1.1.0/greeting-1.1.0.txt"]`}, "authentication failed"},
		{"query token", map[string]string{"FERRY_VAR_token": secrets["wrong query token"]},
			[]string{"apply", "-auto-approve", "-replace", `mirror.oci["greeting/1.2.0/greeting-1.2.0.txt"]`}, "authentication failed"},
	}
	b, err := os.ReadFile("../../examples/npm/upstream/greet-1.2.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	npmUp.Publish(t, b, "latest")
	for _, f := range failing {
		if f.args[0] == "apply" {
			// apply -json's events quote the failure, never the secret.
			run(true, f.override, 1, append([]string{"apply", "-json"}, f.args[1:]...)...)
		}
		for _, logToFile := range []bool{false, true} {
			r := run(logToFile, f.override, -1, f.args...)
			if r.code != 1 {
				t.Fatalf("wrong %s: ferry %v exit %d, want 1\nstdout:\n%s\nstderr:\n%s", f.name, f.args, r.code, r.stdout, r.stderr)
			}
			if os.Getenv("FERRY_SECRETS_DEBUG") != "" {
				t.Logf("wrong %s, %v:\n%s", f.name, f.args, r.stderr)
			}
			if f.want != "" && !strings.Contains(r.stdout+r.stderr, f.want) {
				t.Errorf("wrong %s: output lacks %q:\n%s", f.name, f.want, r.stderr)
			}
		}
	}

	// Every byte ferry left in the working directory: plan, state and its
	// backup, log, lock, download cache, document cache (HOME is dir).
	mustExist := []string{"plan.json", "ferry.state.json", "ferry.state.json.backup", "ferry.log"}
	for _, f := range mustExist {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("expected %s to be scanned: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ferry.log")); !bytes.Contains(b, []byte("[TRACE]")) && !bytes.Contains(b, []byte("[DEBUG]")) {
		t.Errorf("FERRY_LOG_PATH received no trace or debug lines:\n%s", b)
	}
	found, files := scanner.scanTree(t, dir, "workdir", func(rel string) bool {
		return rel == ".npmrc" // ours: holds ${NPM_UP_TOKEN}, not the token
	})
	leaks = append(leaks, found...)
	for b := range lockSeen {
		leaks = append(leaks, scanner.scan("lock file", []byte(b))...)
	}
	// What ferry sent to the destinations' storage: objects, manifests,
	// published package documents.
	for label, root := range map[string]string{"webdav": dav.Root, "registry": reg.StorageDir, "verdaccio (destination)": npmDown.Dir} {
		found, n := scanner.scanTree(t, root, label, func(rel string) bool {
			base := filepath.Base(rel)
			return base == "htpasswd" || strings.HasPrefix(base, ".verdaccio") || base == "config.yaml"
		})
		leaks = append(leaks, found...)
		files += n
	}
	t.Logf("%d runs, %d secrets × %d forms, %d files and %d lock file versions scanned", runs, len(secrets)+len(basic), len(secretForms(dav.Password)), files, len(lockSeen))
	if len(leaks) > 0 {
		t.Fatalf("secrets leaked (%d findings):\n%s", len(leaks), strings.Join(leaks, "\n"))
	}
}

// randText is a fresh random secret (base32, 26 characters).
func randText() string { return rand.Text() }

// TestVarFileErrorsNeverShowSecrets: a careless -var-file (an unquoted
// value, a missing quote, an operator, a string left open across lines)
// and rejected FERRY_VAR_/-var values of sensitive variables produce
// diagnostics with a position but never the secret, whichever command reads
// the configuration.
func TestVarFileErrorsNeverShowSecrets(t *testing.T) {
	const secret = "hunter2-VarFileSecret"
	const cfg = `
variable "token" {
  type      = string
  sensitive = true
}
variable "tags" {
  type      = list(string)
  sensitive = true
  default   = []
}
variable "region" {
  default = "eu"
}
source "http" "s" {
  artifact "a" {
    url    = "http://127.0.0.1:1/a?token=${var.token}"
    key    = "a"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}
destination "dir" "d" {
  path = "mirror"
}
mirror "m" {
  from = source.http.s
  to   = destination.dir.d
}
`
	tests := []struct {
		name    string
		varFile string
	}{
		{name: "unquoted", varFile: "token = " + secret + "\n"},
		{name: "missing quote", varFile: "token = \"" + secret + "\n"},
		{name: "operator", varFile: "token = \"" + secret + "\" + 1\n"},
		{name: "multi-line unterminated string", varFile: "region = \"us\ntoken = \"" + secret + "\"\nregion2 = \"x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "secret.tfvars"), []byte(tt.varFile), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"validate", "-var-file", "secret.tfvars"},
				{"validate", "-json", "-var-file", "secret.tfvars"},
				{"plan", "-var-file", "secret.tfvars"},
			} {
				r := ferry(t, dir, []string{"FERRY_VAR_token=t"}, args...)
				if r.code == 0 {
					t.Fatalf("%v accepted the var file %q", args, tt.varFile)
				}
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("%v shows the secret:\nstdout:\n%s\nstderr:\n%s", args, r.stdout, r.stderr)
				}
				if !strings.Contains(r.stdout+r.stderr, "secret.tfvars") {
					t.Errorf("%v does not name the var file:\nstdout:\n%s\nstderr:\n%s", args, r.stdout, r.stderr)
				}
			}
		})
	}
	t.Run("FERRY_VAR and -var", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, run := range []struct {
			env  []string
			args []string
		}{
			{env: []string{"FERRY_VAR_token=t", "FERRY_VAR_tags=[\"" + secret + "\""}, args: []string{"validate"}},
			{env: []string{"FERRY_VAR_token=t"}, args: []string{"validate", "-var", "tags=" + secret}},
			{env: []string{"FERRY_VAR_token=t"}, args: []string{"validate", "-var", "tagz=" + secret}},
			{env: []string{"FERRY_VAR_token=t"}, args: []string{"validate", "-var", secret}},
		} {
			r := ferry(t, dir, run.env, run.args...)
			if r.code == 0 {
				t.Fatalf("%v %v succeeded", run.env, run.args)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("%v %v shows the secret:\nstdout:\n%s\nstderr:\n%s", run.env, run.args, r.stdout, r.stderr)
			}
		}
	})
}
