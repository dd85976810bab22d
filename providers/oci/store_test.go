package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/oci"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

var repoSeq atomic.Int64

// freshRepo names a repository nobody has used: a fresh, empty destination
// in a registry shared by a test's subtests.
func freshRepo() string { return fmt.Sprintf("ferry-test/repo-%d", repoSeq.Add(1)) }

func newStore(t *testing.T, reg *testenv.Registry, cfg oci.DestinationConfig, opts oci.Options) *oci.Store {
	t.Helper()
	cfg.Registry = reg.Host
	cfg.PlainHTTP = true
	if cfg.Repository == "" {
		cfg.Repository = freshRepo()
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	s, err := oci.NewDestinationWithOptions("oci.test", &cfg, provreg.Env{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func creds(reg *testenv.Registry) oci.DestinationConfig {
	return oci.DestinationConfig{Username: reg.Username, Password: reg.Password}
}

func artifact(key string, content []byte) providers.Artifact {
	return providers.Artifact{Key: key, Size: int64(len(content)), Digests: providers.NewDigests(providertest.SHA256(content))}
}

func mustPut(t *testing.T, s *oci.Store, a providers.Artifact, content []byte, opts providers.PutOptions) {
	t.Helper()
	if err := s.Put(t.Context(), a, bytes.NewReader(content), opts); err != nil {
		t.Fatalf("Put(%q): %v", a.Key, err)
	}
}

// The conformance suite against a real registry, anonymous and with htpasswd
// basic auth, built from an HCL block through the registry. Each subtest
// gets a repository of its own.
func TestConformance(t *testing.T) {
	block := func(reg *testenv.Registry, repo string) string {
		src := fmt.Sprintf("destination \"oci\" \"test\" {\n  registry   = %q\n  repository = %q\n  plain_http = true\n", reg.Host, repo)
		if reg.Username != "" {
			src += fmt.Sprintf("  username   = %q\n  password   = %q\n", reg.Username, reg.Password)
		}
		return src + "}"
	}
	for _, auth := range []bool{false, true} {
		name := "anonymous"
		if auth {
			name = "basic auth"
		}
		t.Run(name, func(t *testing.T) {
			reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: auth})
			providertest.Run(t, providertest.Harness{
				New: func(t *testing.T) providers.Destination {
					return providertest.NewDestination(t, block(reg, freshRepo()), t.TempDir(), provreg.Env{})
				},
			})
		})
	}
	// A repository template: the suite's keys ("providertest/pkg-N/…")
	// spread over one repository per package.
	t.Run("repository template", func(t *testing.T) {
		reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
		providertest.Run(t, providertest.Harness{
			New: func(t *testing.T) providers.Destination {
				return providertest.NewDestination(t, block(reg, freshRepo()+"/{key.1}"), t.TempDir(), provreg.Env{})
			},
		})
	})
}

// With a repository template each artifact lands in the repository its key
// names, its tag still derived from the whole key, and its consumer URL is
// that repository's blob URL.
func TestRepositoryTemplate(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	base := freshRepo()
	s := newStore(t, reg, oci.DestinationConfig{Repository: base + "/{key.0}"}, oci.Options{})
	node := providertest.Content(11, 3000)
	jdk := providertest.Content(12, 4000)
	nodeA := artifact("Node/20.11.1/node.tgz", node)
	jdkA := artifact("jdk+fx/21/jdk.tgz", jdk)
	mustPut(t, s, nodeA, node, providers.PutOptions{})
	mustPut(t, s, jdkA, jdk, providers.PutOptions{})

	for _, tt := range []struct {
		a       providers.Artifact
		content []byte
		repo    string
	}{
		{a: nodeA, content: node, repo: base + "/node"},
		{a: jdkA, content: jdk, repo: base + "/jdk-fx"},
	} {
		if _, _, status := rawManifest(t, reg, tt.repo, oci.Tag(tt.a.Key)); status != http.StatusOK {
			t.Errorf("manifest of %s in %s: status %d, want 200", tt.a.Key, tt.repo, status)
		}
		u, err := s.URL(tt.a)
		if err != nil {
			t.Fatal(err)
		}
		if want := reg.URL + "/v2/" + tt.repo + "/blobs/" + providertest.SHA256(tt.content).String(); u != want {
			t.Errorf("URL(%s) = %s, want %s", tt.a.Key, u, want)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, tt.content) {
			t.Errorf("GET %s: %s, %d bytes; want the %d stored bytes", u, resp.Status, len(got), len(tt.content))
		}
		st, err := s.Stat(t.Context(), tt.a.Key)
		if err != nil || st.Size != int64(len(tt.content)) {
			t.Errorf("Stat(%s) = %+v, %v", tt.a.Key, st, err)
		}
	}
	if _, _, status := rawManifest(t, reg, base+"/node", oci.Tag(jdkA.Key)); status != http.StatusNotFound {
		t.Errorf("jdk's tag in the node repository: status %d, want 404", status)
	}
	if err := s.Delete(t.Context(), nodeA.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), nodeA.Key); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(t.Context(), jdkA.Key); err != nil {
		t.Errorf("deleting node's artifact touched jdk's: %v", err)
	}
	if w := s.CheckConsumerAccess(t.Context()); len(w) != 0 {
		t.Errorf("CheckConsumerAccess on an anonymous registry: %q", w)
	}

	// A key the template cannot place is an error naming the template.
	one := newStore(t, reg, oci.DestinationConfig{Repository: base + "/{key.3}"}, oci.Options{})
	_, err := one.Stat(t.Context(), "a/b")
	if err == nil || !strings.Contains(err.Error(), "{key.3}") || errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat of a key with too few segments: %v, want an error naming {key.3}, not ErrNotFound", err)
	}
	if err := one.Put(t.Context(), artifact("a/b", node), bytes.NewReader(node), providers.PutOptions{}); err == nil {
		t.Error("Put of a key with too few segments succeeded")
	}
}

// rawManifest fetches what the registry stores under tag, as a consumer would.
func rawManifest(t *testing.T, reg *testenv.Registry, repo, ref string) (body []byte, dgst string, status int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, reg.URL+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	if reg.Username != "" {
		req.SetBasicAuth(reg.Username, reg.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	return body, resp.Header.Get("Docker-Content-Digest"), resp.StatusCode
}

func TestManifestFormatAndDigestStability(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	repo := freshRepo()
	s := newStore(t, reg, oci.DestinationConfig{Repository: repo}, oci.Options{})
	content := providertest.Content(1, 5000)
	key := "node/20.11.1/" + providertest.SHA256(content).Hex + "/node-v20.11.1-linux-x64.tar.xz"
	a := artifact(key, content)
	mustPut(t, s, a, content, providers.PutOptions{})
	body1, d1, status := rawManifest(t, reg, repo, oci.Tag(key))
	if status != http.StatusOK {
		t.Fatalf("GET manifest by tag: %d %s", status, body1)
	}

	var m struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Annotations   map[string]string `json:"annotations"`
		Config        struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
			Size      int64  `json:"size"`
		} `json:"config"`
		Layers []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Size        int64             `json:"size"`
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(body1, &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != 2 || m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.ArtifactType != oci.ArtifactType {
		t.Errorf("manifest header: %s", body1)
	}
	if m.Config.MediaType != "application/vnd.oci.empty.v1+json" || m.Config.Size != 2 ||
		m.Config.Digest != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
		t.Errorf("config: %+v", m.Config)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != "application/octet-stream" ||
		m.Layers[0].Digest != providertest.SHA256(content).String() || m.Layers[0].Size != int64(len(content)) ||
		m.Layers[0].Annotations["org.opencontainers.image.title"] != "node-v20.11.1-linux-x64.tar.xz" {
		t.Errorf("layers: %+v", m.Layers)
	}
	if m.Annotations[oci.AnnotationKey] != key || len(m.Annotations) != 1 {
		t.Errorf("annotations: %v (no timestamp, just the key)", m.Annotations)
	}
	if strings.Contains(string(body1), "created") {
		t.Errorf("manifest carries a creation time: %s", body1)
	}

	// Again, over itself: the same manifest digest, and the tag resolves to it.
	mustPut(t, s, a, content, providers.PutOptions{Overwrite: true})
	body2, d2, _ := rawManifest(t, reg, repo, oci.Tag(key))
	if d1 == "" || d1 != d2 || !bytes.Equal(body1, body2) {
		t.Errorf("re-push changed the manifest: %s -> %s", d1, d2)
	}
	if sum := sha256.Sum256(body2); "sha256:"+hex.EncodeToString(sum[:]) != d1 {
		t.Errorf("tag resolves to %s, but the manifest bytes hash to %x", d1, sum)
	}
	// And a second store (another run) produces the same bytes.
	s2 := newStore(t, reg, oci.DestinationConfig{Repository: repo}, oci.Options{})
	mustPut(t, s2, a, content, providers.PutOptions{Overwrite: true})
	if _, d3, _ := rawManifest(t, reg, repo, oci.Tag(key)); d3 != d1 {
		t.Errorf("another store's push: %s, want %s", d3, d1)
	}
}

// countingTransport counts requests by "METHOD kind" where kind is
// "upload" (blob upload session), "blob", "manifest" or "tags" (a tags
// list page); refuse, if set, answers instead of the registry.
type countingTransport struct {
	mu     sync.Mutex
	n      map[string]int
	refuse func(*http.Request) *http.Response
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := "other"
	switch p := req.URL.Path; {
	case strings.Contains(p, "/blobs/uploads/"):
		kind = "upload"
	case strings.Contains(p, "/blobs/"):
		kind = "blob"
	case strings.Contains(p, "/manifests/"):
		kind = "manifest"
	case strings.HasSuffix(p, "/tags/list"):
		kind = "tags"
	}
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[req.Method+" "+kind]++
	c.mu.Unlock()
	if c.refuse != nil {
		if resp := c.refuse(req); resp != nil {
			return resp, nil
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (c *countingTransport) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

func TestBlobDedupe(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ct := &countingTransport{}
	s := newStore(t, reg, oci.DestinationConfig{}, oci.Options{Transport: ct})
	content := providertest.Content(2, 100_000)
	mustPut(t, s, artifact("a/1.0/file.bin", content), content, providers.PutOptions{})
	if n := ct.take(); n["PUT upload"] != 2 { // the file and the empty config
		t.Fatalf("first Put: %v, want 2 blob uploads", n)
	}
	mustPut(t, s, artifact("b/2.0/same-bytes.bin", content), content, providers.PutOptions{})
	n := ct.take()
	if n["PUT upload"] != 0 || n["POST upload"] != 0 {
		t.Errorf("second Put of the same bytes uploaded again: %v", n)
	}
	if n["PUT manifest"] != 1 {
		t.Errorf("second Put: %v, want one manifest push", n)
	}
	for _, key := range []string{"a/1.0/file.bin", "b/2.0/same-bytes.bin"} {
		got, err := s.Stat(t.Context(), key)
		if err != nil || got.Size != int64(len(content)) {
			t.Errorf("Stat(%q) = %+v, %v", key, got, err)
		}
	}

	// A deduplicated Put still verifies its source.
	bad := artifact("c/bad.bin", content)
	err := s.Put(t.Context(), bad, bytes.NewReader(providertest.Content(3, len(content))), providers.PutOptions{})
	if !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("Put of wrong bytes for a stored digest: %v, want ErrDigestMismatch", err)
	}
	if _, err := s.Stat(t.Context(), "c/bad.bin"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("after a failed Put: Stat error %v, want ErrNotFound", err)
	}
	// Deleting one key keeps the other's tag, although the file is shared.
	if err := s.Delete(t.Context(), "a/1.0/file.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "b/2.0/same-bytes.bin"); err != nil {
		t.Errorf("deleting a/1.0/file.bin removed b/2.0/same-bytes.bin: %v", err)
	}
}

// What a buildpack does: one plain GET of the URL.
func TestPlainGET(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	s := newStore(t, reg, oci.DestinationConfig{}, oci.Options{})
	content := providertest.Content(4, 70_000)
	a := artifact("jq/1.7.1/jq-linux-amd64", content)
	mustPut(t, s, a, content, providers.PutOptions{})
	u, err := s.URL(a)
	if err != nil {
		t.Fatal(err)
	}
	if want := reg.URL + "/v2/"; !strings.HasPrefix(u, want) || !strings.HasSuffix(u, "/blobs/"+providertest.SHA256(content).String()) {
		t.Errorf("URL = %s", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("GET %s: %s, %d bytes; want the %d stored bytes", u, resp.Status, len(got), len(content))
	}

	if _, err := s.URL(providers.Artifact{Key: "x", Size: 1}); err == nil {
		t.Error("URL of an artifact without sha256 succeeded")
	}
	if _, err := s.URL(providers.Artifact{Key: "x", Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA512, Hex: strings.Repeat("0", 128)})}); err == nil {
		t.Error("URL of an artifact with only sha512 succeeded")
	}
	if got, want := s.Describe(), "oci "+reg.Host+"/"; !strings.HasPrefix(got, want) || strings.Contains(got, "http") {
		t.Errorf("Describe() = %q", got)
	}
}

func TestCheckConsumerAccess(t *testing.T) {
	anon := testenv.StartRegistry(t, testenv.RegistryOptions{})
	if w := newStore(t, anon, oci.DestinationConfig{}, oci.Options{}).CheckConsumerAccess(t.Context()); len(w) != 0 {
		t.Errorf("anonymous registry: %q, want no warnings", w)
	}
	authed := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	w := newStore(t, authed, creds(authed), oci.Options{}).CheckConsumerAccess(t.Context())
	if len(w) != 1 || !strings.Contains(w[0], "one unauthenticated GET") || !strings.Contains(w[0], authed.Host) {
		t.Errorf("auth registry: %q, want one warning about the unauthenticated GET naming the registry", w)
	}
	if len(w) == 1 && strings.Contains(w[0], authed.Password) {
		t.Errorf("warning quotes the password: %s", w[0])
	}
}

func TestAuthFailureNamesRegistryNotPassword(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	const wrong = "n0t-the-passw0rd"
	content := []byte("payload")
	for _, overwrite := range []bool{false, true} { // with and without the tag check first
		s := newStore(t, reg, oci.DestinationConfig{Username: reg.Username, Password: wrong}, oci.Options{})
		err := s.Put(t.Context(), artifact("x/y.bin", content), bytes.NewReader(content), providers.PutOptions{Overwrite: overwrite})
		if err == nil {
			t.Fatal("Put with a wrong password succeeded")
		}
		msg := err.Error()
		t.Logf("overwrite=%v: %s", overwrite, msg)
		if !strings.Contains(msg, "authentication failed") || !strings.Contains(msg, reg.Host) {
			t.Errorf("error does not say authentication failed for %s: %s", reg.Host, msg)
		}
		if strings.Contains(msg, wrong) || strings.Contains(msg, reg.Password) {
			t.Errorf("error contains a password: %s", msg)
		}
		var op *providers.OpError
		if !errors.As(err, &op) || op.Side != providers.SideDestination || op.Op != "put" {
			t.Errorf("error is not a destination put OpError: %#v", err)
		}
		if _, err := s.Stat(t.Context(), "x/y.bin"); err == nil || errors.Is(err, providers.ErrNotFound) || strings.Contains(err.Error(), wrong) {
			t.Errorf("Stat with a wrong password: %v, want an auth error (not ErrNotFound)", err)
		}
	}
	// No credentials at all (and no Docker configuration).
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	s := newStore(t, reg, oci.DestinationConfig{DockerConfig: true}, oci.Options{})
	_, err := s.Stat(t.Context(), "x/y.bin")
	if err == nil || !strings.Contains(err.Error(), reg.Host) || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("Stat without credentials: %v, want one saying the registry needs credentials", err)
	}
}

func TestDockerConfigCredentials(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte(reg.Username+":"+reg.Password)))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	content := []byte("from docker config")
	s := newStore(t, reg, oci.DestinationConfig{DockerConfig: true}, oci.Options{})
	mustPut(t, s, artifact("d/c.txt", content), content, providers.PutOptions{})
	if _, err := s.Stat(t.Context(), "d/c.txt"); err != nil {
		t.Fatal(err)
	}
	off := newStore(t, reg, oci.DestinationConfig{DockerConfig: false}, oci.Options{})
	if err := off.Put(t.Context(), artifact("d/c.txt", content), bytes.NewReader(content), providers.PutOptions{Overwrite: true}); err == nil {
		t.Error("Put with docker_config = false and no credentials succeeded")
	}
}

func TestUnknownSizeOnlySHA512(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	s := newStore(t, reg, oci.DestinationConfig{}, oci.Options{})
	content := providertest.Content(5, 123_457)
	sum := sha512.Sum512(content)
	d512 := providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(sum[:])}
	a := providers.Artifact{Key: "npm/left-pad/1.3.0/left-pad-1.3.0.tgz", Size: -1, Digests: providers.NewDigests(d512)}
	mustPut(t, s, a, content, providers.PutOptions{})
	got, err := s.Stat(t.Context(), a.Key)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := got.Digests.Get(providers.SHA256); !ok || d != providertest.SHA256(content) || got.Size != int64(len(content)) {
		t.Errorf("Stat = %+v, want sha256 %s and size %d", got, providertest.SHA256(content), len(content))
	}
	// A wrong sha512 is caught while spooling.
	bad := a
	bad.Key = "npm/x/1/x.tgz"
	err = s.Put(t.Context(), bad, bytes.NewReader(content[1:]), providers.PutOptions{})
	if !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("spooled Put of wrong bytes: %v, want ErrDigestMismatch", err)
	}
	if _, err := s.Stat(t.Context(), bad.Key); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat after a failed spooled Put: %v", err)
	}
}

// blobExists looks in the registry's storage for the blob with this sha256.
func blobExists(t *testing.T, reg *testenv.Registry, hexDigest string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(reg.StorageDir, "docker/registry/v2/blobs/sha256", hexDigest[:2], hexDigest, "data"))
	return err == nil
}

func TestSameSizeWrongBytesLeaveNothing(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	s := newStore(t, reg, oci.DestinationConfig{}, oci.Options{})
	good := providertest.Content(6, 200_000)
	evil := append([]byte{}, good...)
	evil[len(evil)-1] ^= 0xff // differs in the very last byte
	a := artifact("k/file.bin", good)
	err := s.Put(t.Context(), a, bytes.NewReader(evil), providers.PutOptions{})
	if !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("Put error = %v; want ErrDigestMismatch", err)
	}
	if _, err := s.Stat(t.Context(), a.Key); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat after the failed Put: %v, want ErrNotFound", err)
	}
	if blobExists(t, reg, providertest.SHA256(good).Hex) || blobExists(t, reg, providertest.SHA256(evil).Hex) {
		t.Error("a blob landed in the registry's storage")
	}
}

func TestForeignManifest(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	repo := freshRepo()
	s := newStore(t, reg, oci.DestinationConfig{Repository: repo}, oci.Options{})
	content := []byte("x")
	mustPut(t, s, artifact("mine.bin", content), content, providers.PutOptions{})
	// Copy its manifest, changed, under another key's tag.
	body, _, _ := rawManifest(t, reg, repo, oci.Tag("mine.bin"))
	for name, mod := range map[string]func(string) string{
		"other tool": func(m string) string { return strings.Replace(m, oci.ArtifactType, "application/vnd.example+type", 1) },
		"other key":  func(m string) string { return m },
	} {
		t.Run(name, func(t *testing.T) {
			key := "theirs/" + strings.ReplaceAll(name, " ", "-")
			req, _ := http.NewRequest(http.MethodPut, reg.URL+"/v2/"+repo+"/manifests/"+oci.Tag(key), strings.NewReader(mod(string(body))))
			req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("pushing the foreign manifest: %s", resp.Status)
			}
			_, err = s.Stat(t.Context(), key)
			if !errors.Is(err, oci.ErrNotFerryArtifact) || errors.Is(err, providers.ErrNotFound) {
				t.Errorf("Stat: %v, want ErrNotFerryArtifact", err)
			}
			if err := s.Delete(t.Context(), key); !errors.Is(err, oci.ErrNotFerryArtifact) {
				t.Errorf("Delete: %v, want a refusal wrapping ErrNotFerryArtifact", err)
			}
			if _, _, status := rawManifest(t, reg, repo, oci.Tag(key)); status != http.StatusOK {
				t.Errorf("the foreign manifest is gone (%d)", status)
			}
		})
	}
}

// digestLiar sits in front of the registry and rewrites the
// Docker-Content-Digest of successful PUTs whose path contains part.
func digestLiar(t *testing.T, reg *testenv.Registry, part string) string {
	t.Helper()
	target, _ := url.Parse(reg.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPut && resp.StatusCode == http.StatusCreated && strings.Contains(resp.Request.URL.Path, part) {
			resp.Header.Set("Docker-Content-Digest", "sha256:"+strings.Repeat("0", 64))
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestRegistryReportsAnotherDigest(t *testing.T) {
	for _, part := range []string{"/blobs/uploads/", "/manifests/"} {
		t.Run(part, func(t *testing.T) {
			reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
			liar := *reg
			liar.Host = digestLiar(t, reg, part)
			s := newStore(t, &liar, oci.DestinationConfig{}, oci.Options{})
			content := []byte("some bytes")
			err := s.Put(t.Context(), artifact("p/q.bin", content), bytes.NewReader(content), providers.PutOptions{})
			if err == nil || !strings.Contains(err.Error(), "Docker-Content-Digest") {
				t.Fatalf("Put through a registry reporting another digest: %v, want an error about Docker-Content-Digest", err)
			}
			t.Log(err)
			if part == "/blobs/uploads/" {
				// The tag is written last: nothing may point at the doubtful blob.
				if _, err := newStore(t, reg, oci.DestinationConfig{}, oci.Options{}).Stat(t.Context(), "p/q.bin"); !errors.Is(err, providers.ErrNotFound) {
					t.Errorf("Stat: %v, want ErrNotFound", err)
				}
			}
		})
	}
}

func TestStatAndDeleteMissingRepository(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	s := newStore(t, reg, oci.DestinationConfig{Repository: "never/pushed"}, oci.Options{})
	if _, err := s.Stat(context.Background(), "a/b"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat in a missing repository: %v", err)
	}
	if err := s.Delete(context.Background(), "a/b"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Delete in a missing repository: %v", err)
	}
	for _, key := range []string{"", "/abs", "a//b", "a/../b"} {
		if _, err := s.Stat(context.Background(), key); err == nil || errors.Is(err, providers.ErrNotFound) {
			t.Errorf("Stat(%q): %v, want an invalid-key error", key, err)
		}
	}
}

// Keys that sanitize to the same readable text stay apart.
func TestSimilarKeysStayApart(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	s := newStore(t, reg, oci.DestinationConfig{}, oci.Options{})
	keys := []string{"a/b.bin", "a:b.bin", "a b.bin", "a-b.bin", "a+b.bin"}
	for i, k := range keys {
		c := providertest.Content(uint64(50+i), 100+i)
		mustPut(t, s, artifact(k, c), c, providers.PutOptions{})
	}
	for i, k := range keys {
		got, err := s.Stat(t.Context(), k)
		if err != nil || got.Size != int64(100+i) {
			t.Errorf("Stat(%q) = %+v, %v", k, got, err)
		}
	}
}

// TLS: the registry behind an httptest TLS proxy with a self-signed
// certificate (testenv's registry speaks plain HTTP only).
func TestTLSAndInsecure(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	target, _ := url.Parse(reg.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
		r.Out.Header.Set("X-Forwarded-Proto", "https") // so upload Locations say https
	}}
	srv := httptest.NewUnstartedServer(proxy)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	content := []byte("over tls")
	a := artifact("tls/file.txt", content)

	newTLS := func(insecure bool) *oci.Store {
		s, err := oci.NewDestinationWithOptions("oci.tls", &oci.DestinationConfig{Registry: host, Repository: freshRepo(), Insecure: insecure}, provreg.Env{}, oci.Options{MaxRetries: 1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	err := newTLS(false).Put(t.Context(), a, bytes.NewReader(content), providers.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Put to a self-signed registry without insecure: %v, want a certificate error", err)
	}
	s := newTLS(true)
	mustPut(t, s, a, content, providers.PutOptions{})
	if _, err := s.Stat(t.Context(), a.Key); err != nil {
		t.Fatal(err)
	}
	u, _ := s.URL(a)
	if !strings.HasPrefix(u, "https://"+host+"/v2/") {
		t.Errorf("URL = %s, want https", u)
	}
	resp, err := srv.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, content) {
		t.Errorf("GET %s = %q", u, got)
	}
}

// unreadable fails the test when read: a Put refused for a taken tag must
// not read its source.
type unreadable struct{ t *testing.T }

func (u unreadable) Read([]byte) (int, error) {
	u.t.Error("the source was read although the tag is taken")
	return 0, io.ErrUnexpectedEOF
}

// The tag check runs while the blob is asked about (one round trip for
// both); a taken tag still refuses before the source is read or anything
// is uploaded, whether the blob is there or not.
func TestPutTakenTagReadsNothing(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ct := &countingTransport{}
	s := newStore(t, reg, oci.DestinationConfig{}, oci.Options{Transport: ct})
	content := providertest.Content(9, 50_000)
	mustPut(t, s, artifact("t/1.0/file.bin", content), content, providers.PutOptions{})
	ct.take()
	for _, tc := range []struct {
		name  string
		bytes []byte
	}{
		{name: "blob present", bytes: content},
		{name: "blob absent", bytes: providertest.Content(10, 50_000)},
		{name: "unknown size", bytes: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := artifact("t/1.0/file.bin", content)
			if tc.bytes == nil {
				a.Size = -1
			} else {
				a = artifact("t/1.0/file.bin", tc.bytes)
			}
			err := s.Put(t.Context(), a, unreadable{t}, providers.PutOptions{})
			if !errors.Is(err, providers.ErrAlreadyExists) {
				t.Fatalf("Put over a taken tag: %v, want ErrAlreadyExists", err)
			}
			if n := ct.take(); n["PUT upload"] != 0 || n["POST upload"] != 0 || n["PUT manifest"] != 0 {
				t.Errorf("Put over a taken tag wrote: %v", n)
			}
		})
	}
}
