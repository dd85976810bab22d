package testenv

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a running OCI registry: Debian's docker-registry
// (github.com/docker/distribution 2.8.2) with filesystem storage in a
// temporary directory and deletes enabled. Plain HTTP only.
type Registry struct {
	URL                string // http://127.0.0.1:PORT (no trailing slash)
	Host               string // 127.0.0.1:PORT, the registry part of an image reference
	Username, Password string // empty without auth
	// StorageDir is the filesystem driver's root directory
	// (blobs under docker/registry/v2/blobs/...).
	StorageDir string
}

// RegistryOptions configures StartRegistry.
type RegistryOptions struct {
	// Auth turns on htpasswd basic auth (bcrypt, the only format
	// distribution accepts) with a generated user and password, reported in
	// Registry.Username and Registry.Password. Anonymous requests get 401.
	Auth bool
}

// StartRegistry starts a fresh registry on a free 127.0.0.1 port, waits
// until GET /v2/ answers 200 (401 with Auth), and stops it when the test
// ends. It skips the test when FERRY_SKIP_INTEGRATION is set and fails it
// when docker-registry is not installed.
func StartRegistry(t testing.TB, opts RegistryOptions) *Registry {
	t.Helper()
	bin := require(t, registryBinary())
	reg := &Registry{StorageDir: filepath.Join(t.TempDir(), "storage")}
	want := http.StatusOK
	if opts.Auth {
		want = http.StatusUnauthorized
		reg.Username = "ferry-test"
		reg.Password = rand.Text()
	}
	port := launch(t, "docker-registry", bin,
		func(r *http.Response) bool { return r.StatusCode == want },
		func(dir string, port int) ([]string, string, []string, error) {
			cfg := filepath.Join(dir, "config.yml")
			if err := writeRegistryConfig(cfg, dir, reg, port); err != nil {
				return nil, "", nil, err
			}
			return []string{"serve", cfg}, fmt.Sprintf("http://127.0.0.1:%d/v2/", port), nil, nil
		})
	reg.Host = "127.0.0.1:" + strconv.Itoa(port)
	reg.URL = "http://" + reg.Host
	return reg
}

func writeRegistryConfig(path, dir string, reg *Registry, port int) error {
	auth := ""
	if reg.Username != "" {
		// MinCost: the registry checks the hash on every request.
		hash, err := bcrypt.GenerateFromPassword([]byte(reg.Password), bcrypt.MinCost)
		if err != nil {
			return err
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(reg.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			return err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: ferry-test\n    path: %s\n", yamlString(htpasswd))
	}
	cfg := RegistryConfig(reg.StorageDir, port, "info") + auth
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// yamlString quotes s as a YAML double-quoted scalar (valid JSON strings
// are valid YAML).
func yamlString(s string) string {
	return strconv.Quote(s)
}

// RegistryConfig is a docker-registry configuration serving storageDir on
// 127.0.0.1:port with deletes on, upload purging and the storage health
// check off, and logs at logLevel; an auth section may follow it. The bench
// harness starts its registry with it too.
func RegistryConfig(storageDir string, port int, logLevel string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: %s
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:%d
  secret: ferry-test-not-a-secret
health:
  storagedriver:
    enabled: false
`, logLevel, yamlString(storageDir), port)
}
