package httpsrc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

func sha256Digests(b []byte) providers.Digests {
	s := sha256.Sum256(b)
	return providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(s[:])})
}

type fixture struct {
	src     *httpsrc.Source
	content map[string][]byte // by key
	srvURL  string
	dir     string
}

// newFixture serves a temp directory with http.FileServer and declares
// artifacts over it, over file:// URLs and a few broken ones.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	jq := bytes.Repeat([]byte("jq binary "), 10000)
	yq := []byte("yq binary")
	for name, b := range map[string][]byte{"jq-1.7.1": jq, "yq": yq} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	u := srv.URL
	cred := strings.Replace(u, "http://", "http://user:hunter2@", 1)

	cfg := &httpsrc.SourceConfig{Artifacts: []httpsrc.ArtifactConfig{
		{Name: "jq", Version: "1.7.1", Key: "jq/1.7.1/jq-1.7.1", URL: u + "/jq-1.7.1", DisplayURL: u + "/jq-1.7.1",
			Digests: sha256Digests(jq), Size: int64(len(jq))},
		{Name: "yq", Key: "yq/yq", URL: "file://" + filepath.ToSlash(filepath.Join(dir, "yq")),
			DisplayURL: "file://" + filepath.ToSlash(filepath.Join(dir, "yq")), Digests: sha256Digests(yq), Size: -1},
		{Name: "gone", Key: "gone/gone", URL: cred + "/gone", DisplayURL: strings.Replace(u, "http://", "http://user:xxxxx@", 1) + "/gone",
			Digests: sha256Digests(nil), Size: -1},
		{Name: "gonefile", Key: "gonefile/x", URL: "file://" + filepath.ToSlash(filepath.Join(dir, "nope")),
			DisplayURL: "file:///(dir)/nope", Digests: sha256Digests(nil), Size: -1},
		{Name: "relative", Key: "relative/x", URL: "file:yq", DisplayURL: "file:yq", Digests: sha256Digests(nil), Size: -1},
		{Name: "hostfile", Key: "hostfile/x", URL: "file://server/share/x", DisplayURL: "file://server/share/x", Digests: sha256Digests(nil), Size: -1},
		{Name: "ftp", Key: "ftp/x", URL: "ftp://example.org/x", DisplayURL: "ftp://example.org/x", Digests: sha256Digests(nil), Size: -1},
		{Name: "secret", Key: "secret/x", URL: u + "/tok3n-in-path/x", DisplayURL: "(sensitive)", Digests: sha256Digests(nil), Size: -1},
	}}
	client := httpx.New(httpx.Options{MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	return &fixture{
		src:     must(httpsrc.NewSource("http.tools", cfg, registry.Env{HTTP: client})),
		content: map[string][]byte{"jq/1.7.1/jq-1.7.1": jq, "yq/yq": yq},
		srvURL:  u,
		dir:     dir,
	}
}

func TestList(t *testing.T) {
	f := newFixture(t)
	var got []providers.Artifact
	if err := f.src.List(t.Context(), func(a providers.Artifact) error {
		got = append(got, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 {
		t.Fatalf("listed %d artifacts, want 8", len(got))
	}
	want := providers.Artifact{
		Key: "jq/1.7.1/jq-1.7.1", Name: "jq", Version: "1.7.1", Size: int64(len(f.content["jq/1.7.1/jq-1.7.1"])),
		Digests: sha256Digests(f.content["jq/1.7.1/jq-1.7.1"]), Origin: f.srvURL + "/jq-1.7.1",
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("first artifact mismatch (-want +got):\n%s", diff)
	}
	if got[1].Size != -1 {
		t.Errorf("undeclared size = %d, want -1", got[1].Size)
	}
	for _, a := range got {
		if strings.Contains(a.Origin, "hunter2") {
			t.Errorf("origin %q carries the password", a.Origin)
		}
	}

	stop := errors.New("stop")
	n := 0
	if err := f.src.List(t.Context(), func(providers.Artifact) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("List with a failing callback = %v after %d calls, want stop after 1", err, n)
	}
}

func TestFetch(t *testing.T) {
	f := newFixture(t)
	for _, key := range []string{"jq/1.7.1/jq-1.7.1", "yq/yq"} {
		t.Run(key, func(t *testing.T) {
			a := providers.Artifact{Key: key, Size: int64(len(f.content[key])), Digests: sha256Digests(f.content[key])}
			rc, err := f.src.Fetch(t.Context(), a)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			vr := verify.NewReader(rc, a.Size, a.Digests)
			got, err := io.ReadAll(vr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, f.content[key]) || !vr.Verified() {
				t.Errorf("fetched %d bytes (verified %v), want the %d declared bytes", len(got), vr.Verified(), len(f.content[key]))
			}
		})
	}
}

func TestFetchErrors(t *testing.T) {
	tests := []struct {
		key     string
		wantIs  error  // nil: any error
		wantMsg string // substring of the error
	}{
		{key: "no/such/key", wantIs: providers.ErrNotFound, wantMsg: "no artifact is declared"},
		{key: "gone/gone", wantIs: providers.ErrNotFound, wantMsg: "404"},
		{key: "gonefile/x", wantIs: providers.ErrNotFound, wantMsg: "file:///(dir)/nope"},
		{key: "relative/x", wantMsg: "must be absolute"},
		{key: "hostfile/x", wantMsg: "must be absolute"},
		{key: "ftp/x", wantIs: providers.ErrUnsupported, wantMsg: `"ftp"`},
		{key: "secret/x", wantIs: providers.ErrNotFound, wantMsg: "GET (sensitive)"},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			rc, err := f.src.Fetch(t.Context(), providers.Artifact{Key: tc.key})
			if err == nil {
				rc.Close()
				t.Fatal("Fetch succeeded")
			}
			var oe *providers.OpError
			if !errors.As(err, &oe) || oe.Op != "fetch" || oe.Side != providers.SideSource ||
				oe.Provider != "http.tools" || oe.Key != tc.key {
				t.Errorf("error = %#v, want an OpError for fetch/source/http.tools/%s", err, tc.key)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error = %q, want it to wrap %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantMsg)
			}
			for _, secret := range []string{"hunter2", "tok3n"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestFetchFileHonoursCancel(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	rc, err := f.src.Fetch(ctx, providers.Artifact{Key: "yq/yq"})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel = %v, want context.Canceled", err)
	}
}

func TestSize(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		key     string
		want    int64
		wantErr error
	}{
		{key: "jq/1.7.1/jq-1.7.1", want: int64(len(f.content["jq/1.7.1/jq-1.7.1"]))},
		{key: "yq/yq", want: int64(len(f.content["yq/yq"]))},
		{key: "gone/gone", want: -1, wantErr: providers.ErrNotFound},
		{key: "gonefile/x", want: -1, wantErr: providers.ErrNotFound},
		{key: "no/such/key", want: -1, wantErr: providers.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got, err := f.src.Size(t.Context(), providers.Artifact{Key: tc.key})
			if tc.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Size = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSizeUnknownWhenHeadRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMethodNotAllowed)
	}))
	defer srv.Close()
	cfg := &httpsrc.SourceConfig{Artifacts: []httpsrc.ArtifactConfig{{Name: "a", Key: "a", URL: srv.URL + "/a", Size: -1}}}
	src := must(httpsrc.NewSource("http.x", cfg, registry.Env{HTTP: httpx.New(httpx.Options{})}))
	got, err := src.Size(t.Context(), providers.Artifact{Key: "a"})
	if err != nil || got != -1 {
		t.Errorf("Size = %d, %v; want -1, nil", got, err)
	}
}

func TestDescribe(t *testing.T) {
	f := newFixture(t)
	got := f.src.Describe()
	host := strings.TrimPrefix(f.srvURL, "http://")
	want := "http: 8 artifacts from (sensitive), " + host + ", example.org, local files"
	if got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

// must returns v; the constructors it wraps cannot fail for these settings.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
