package testenv

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Environment variables StartGitea reads.
const (
	// EnvGiteaBin overrides the gitea binary.
	EnvGiteaBin = "FERRY_GITEA"
	// EnvGiteaStatic overrides Gitea's STATIC_ROOT_PATH (its source tree:
	// templates and locales).
	EnvGiteaStatic = "FERRY_GITEA_STATIC"
)

// GiteaVersion is the Gitea release .ci/install-test-servers builds.
const GiteaVersion = "v1.26.4"

// GiteaInstallHint is what a test failing for a missing Gitea tells the
// reader to do.
const GiteaInstallHint = "run `bash .ci/install-test-servers` (builds gitea " + GiteaVersion +
	" from its Go module into $" + EnvTestenvRoot + "/bin, default ~/.cache/ferry-testenv/bin, and keeps its source tree beside it), " +
	"or set " + EnvSkip + "=1 to skip integration tests"

// Gitea is a running Gitea with its package registries enabled, an admin
// user and a personal access token for it. Packages of a user are readable
// anonymously.
type Gitea struct {
	URL      string // http://127.0.0.1:PORT (Gitea's ROOT_URL, no trailing slash)
	User     string // the admin user, who owns the packages the tests upload
	Password string
	Token    string // an access token with every scope
}

// StartGitea starts Gitea on a free 127.0.0.1 port with its SQLite
// database, repositories and packages in a temporary directory, creates the
// admin user and a token, waits until it answers and stops it when the
// test ends. It skips the test when FERRY_SKIP_INTEGRATION is set and fails
// it when Gitea is not installed.
//
// The binary is $FERRY_GITEA, else gitea on $PATH, else
// ${FERRY_TESTENV_ROOT:-$HOME/.cache/ferry-testenv}/bin/gitea; its static
// files are $FERRY_GITEA_STATIC, else gitea-src beside that bin directory.
func StartGitea(t testing.TB) *Gitea {
	t.Helper()
	if reason := Skip(); reason != "" {
		t.Skip(reason)
	}
	bin, static, err := findGitea(os.Getenv, os.UserHomeDir, exec.LookPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Gitea{User: "ferry-admin", Password: "ferry-admin-pass"}
	var newToken func(name string) (string, error)
	port := launch(t, "gitea", bin,
		func(r *http.Response) bool { return r.StatusCode == http.StatusOK },
		func(dir string, port int) ([]string, string, []string, error) {
			conf := filepath.Join(dir, "custom", "conf", "app.ini")
			if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
				return nil, "", nil, err
			}
			if err := os.WriteFile(conf, []byte(giteaConfig(dir, static, port)), 0o600); err != nil {
				return nil, "", nil, err
			}
			global := []string{"--config", conf, "--work-path", dir, "--custom-path", filepath.Join(dir, "custom")}
			run := func(args ...string) (string, error) {
				cmd := exec.Command(bin, append(append([]string{}, global...), args...)...)
				cmd.Dir = dir
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				if err := cmd.Run(); err != nil {
					return "", fmt.Errorf("gitea %s: %v\n%s%s", args[0], err, out.String(), errOut.String())
				}
				return out.String(), nil
			}
			if _, err := run("migrate"); err != nil {
				return nil, "", nil, err
			}
			if _, err := run("admin", "user", "create", "--username", srv.User, "--password", srv.Password,
				"--email", "ferry-admin@example.invalid", "--admin", "--must-change-password=false"); err != nil {
				return nil, "", nil, err
			}
			newToken = func(name string) (string, error) {
				out, err := run("admin", "user", "generate-access-token", "--username", srv.User, "--token-name", name, "--scopes", "all", "--raw")
				if err != nil {
					return "", err
				}
				return parseGiteaToken(out)
			}
			if srv.Token, err = newToken("ferry-tests"); err != nil {
				return nil, "", nil, err
			}
			return append(global, "web"), fmt.Sprintf("http://127.0.0.1:%d/api/healthz", port), nil, nil
		})
	srv.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	srv.waitForToken(t, newToken)
	return srv
}

// parseGiteaToken finds the token in what generate-access-token --raw
// printed: the last line of 40 hexadecimal digits (a log line may share
// the output).
func parseGiteaToken(out string) (string, error) {
	lines := strings.Fields(out)
	for i := len(lines) - 1; i >= 0; i-- {
		if len(lines[i]) == 40 && strings.Trim(lines[i], "0123456789abcdef") == "" {
			return lines[i], nil
		}
	}
	return "", fmt.Errorf("gitea generate-access-token printed no token: %q", out)
}

// waitForToken waits until Gitea accepts the token: under load its health
// check answers before requests authenticate (a first request then gets 401
// "invalid username, password or token"). Once, under heavy load in CI, a
// token was refused for 30 s on end; a token still refused after 10 s is
// replaced by a new one made while the server runs.
func (g *Gitea) waitForToken(t testing.TB, newToken func(name string) (string, error)) {
	t.Helper()
	last := "no answer"
	renewAt := time.Now().Add(10 * time.Second)
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !renewAt.IsZero() && time.Now().After(renewAt) {
			renewAt = time.Time{}
			tok, err := newToken("ferry-tests-2")
			if err != nil {
				t.Logf("testenv: gitea refused its token for 10s (%s); a new one failed: %v", last, err)
			} else {
				t.Logf("testenv: gitea refused its token for 10s (%s); using a new one", last)
				g.Token = tok
			}
		}
		req, err := http.NewRequest(http.MethodGet, g.URL+"/api/v1/user", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "token "+g.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		last = resp.Status
	}
	t.Fatalf("testenv: gitea does not accept its token after 40s (last answer: %s)", last)
}

// giteaConfig is app.ini for a test instance: SQLite, no SSH, no mail,
// no cron (nothing phones home), packages on, sign-in not needed to read.
func giteaConfig(dir, static string, port int) string {
	return strings.NewReplacer("@DIR@", dir, "@SRC@", static, "@PORT@", fmt.Sprint(port)).Replace(`APP_NAME = ferry-test
RUN_USER = ` + currentUser() + `
RUN_MODE = prod
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
WORK_PATH = @DIR@

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = @PORT@
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:@PORT@/
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
OFFLINE_MODE = true
APP_DATA_PATH = @DIR@/data
STATIC_ROOT_PATH = @SRC@

[database]
DB_TYPE = sqlite3
PATH = @DIR@/data/gitea.db
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = @DIR@/data/repos

[security]
INSTALL_LOCK = true
SECRET_KEY = ferry-test-secret-key-not-secret
PASSWORD_HASH_ALGO = pbkdf2_hi
MIN_PASSWORD_LENGTH = 6
PASSWORD_COMPLEXITY = off

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false
DEFAULT_KEEP_EMAIL_PRIVATE = true

[packages]
ENABLED = true

[actions]
ENABLED = false

[mailer]
ENABLED = false

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[migrations]
ALLOW_LOCALNETWORKS = false

[indexer]
REPO_INDEXER_ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[queue]
TYPE = level

[log]
MODE = console
LEVEL = Warn
`)
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if os.Getuid() == 0 {
		return "root"
	}
	return "nobody"
}

func findGitea(getenv func(string) string, home func() (string, error), lookPath func(string) (string, error)) (bin, static string, err error) {
	root := getenv(EnvTestenvRoot)
	if root == "" {
		h, herr := home()
		if herr != nil {
			return "", "", fmt.Errorf("testenv: gitea: no %s and no home directory (%v); %s", EnvTestenvRoot, herr, GiteaInstallHint)
		}
		root = filepath.Join(h, ".cache", "ferry-testenv")
	}
	switch p := getenv(EnvGiteaBin); {
	case p != "":
		if _, err := lookPath(p); err != nil {
			return "", "", fmt.Errorf("testenv: %s=%s: %v; %s", EnvGiteaBin, p, err, GiteaInstallHint)
		}
		bin = p
	default:
		if p, err := lookPath("gitea"); err == nil {
			bin = p
		} else {
			bin = filepath.Join(root, "bin", "gitea")
			if _, err := lookPath(bin); err != nil {
				return "", "", fmt.Errorf("testenv: gitea not found in $PATH or at %s: %s", bin, GiteaInstallHint)
			}
		}
	}
	static = getenv(EnvGiteaStatic)
	if static == "" {
		static = filepath.Join(filepath.Dir(filepath.Dir(bin)), "gitea-src")
	}
	if fi, err := os.Stat(filepath.Join(static, "templates")); err != nil || !fi.IsDir() {
		return "", "", fmt.Errorf("testenv: gitea's static files (templates) are not in %s: set %s, or %s", static, EnvGiteaStatic, GiteaInstallHint)
	}
	return bin, static, nil
}
