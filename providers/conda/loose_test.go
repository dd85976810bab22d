package conda

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-mirror/ferry/providers/conda/archive/archivetest"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/conda/archive"
	"github.com/ferry-mirror/ferry/providers/registry"
)

const pkgDir = "../../testdata/conda/packages"

func readPkg(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pkgDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type zipEntry struct {
	name string
	body []byte
}

func zipBytes(t *testing.T, es ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tgzBytes(t *testing.T, es ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range es {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarBz2 builds a .tar.bz2 package holding files.
func tarBz2(t *testing.T, files ...zipEntry) []byte {
	t.Helper()
	fs := make([]archivetest.File, len(files))
	for i, e := range files {
		fs[i] = archivetest.File{Name: e.name, Body: e.body}
	}
	return archivetest.TarBz2(t, fs...)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func listLoose(t *testing.T, cfg *SourceConfig) (map[string]providers.Artifact, *Source, error) {
	t.Helper()
	if cfg.MaxPackages == 0 {
		cfg.MaxPackages = DefaultMaxPackages
	}
	s, err := NewSource("conda.loose", cfg, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	got := map[string]providers.Artifact{}
	err = s.List(context.Background(), func(a providers.Artifact) error {
		got[a.Key] = a
		return nil
	})
	return got, s, err
}

func TestDecodeLoose(t *testing.T) {
	got, diags := decodeHCL(t, `
packages = ["https://ci.example/dist/foo-1.0-h0_0.conda?sig=x", "dist/bar-2.0-py_0.tar.bz2", "dist/bar-2.0-py_0.tar.bz2"]
archives = ["/ci/artifacts.zip", "https://ci.example/pkgs.tgz", "a.tar.gz", "b.tar"]
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := &SourceConfig{
		Subdirs: []string{"noarch"}, MaxPackages: DefaultMaxPackages,
		Packages: []LooseInput{{URL: "https://ci.example/dist/foo-1.0-h0_0.conda?sig=x"}, {Path: filepath.Join("/cfg", "dist/bar-2.0-py_0.tar.bz2")}},
		Archives: []LooseInput{{Path: "/ci/artifacts.zip"}, {URL: "https://ci.example/pkgs.tgz"}, {Path: "/cfg/a.tar.gz"}, {Path: "/cfg/b.tar"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodeLooseDiagnostics(t *testing.T) {
	tests := []struct {
		name, src, summary string
		line, col          int
	}{
		{name: "neither channel nor loose", src: `subdirs = ["linux-64"]`, summary: "No channel and no packages", line: 1, col: 1},
		{name: "package not a package", src: `packages = ["dist/foo.whl"]`, summary: "Invalid packages entry", line: 1, col: 12},
		{name: "archive in packages", src: `packages = ["ci.zip"]`, summary: "Invalid packages entry", line: 1, col: 12},
		{name: "package in archives", src: "channel = \"c\"\narchives = [\"foo-1-0.conda\"]", summary: "Invalid archives entry", line: 2, col: 12},
		{name: "ftp package", src: `packages = ["ftp://h/foo-1-0.conda"]`, summary: "Invalid packages entry", line: 1, col: 12},
		{name: "empty entry", src: `archives = [""]`, summary: "Invalid archives entry", line: 1, col: 12},
		{name: "URL with fragment", src: `packages = ["https://h/foo-1-0.conda#x"]`, summary: "Invalid packages entry", line: 1, col: 12},
		{name: "not a list", src: `packages = "foo-1-0.conda"`, summary: "Incorrect attribute value type", line: 1, col: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeHCL(t, tt.src)
			if len(diags) != 1 {
				t.Fatalf("want one diagnostic, got %v", diags)
			}
			d := diags[0]
			if d.Summary != tt.summary {
				t.Errorf("summary %q, want %q (%s)", d.Summary, tt.summary, d.Detail)
			}
			if d.Subject == nil || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("at %v, want %d:%d", d.Subject, tt.line, tt.col)
			}
		})
	}
}

// TestLooseList reads local package files, a zip and a .tgz of several
// packages built here, and a package and a zip served over HTTP: every
// package is listed under <subdir>/<filename> with computed digests, its
// record is index.json + md5, sha256, size, and Fetch yields its bytes.
func TestLooseList(t *testing.T) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "artifacts.zip")
	writeFile(t, zipPath, zipBytes(t,
		zipEntry{"README.txt", []byte("built by CI")},
		zipEntry{"noarch/clobber-1-0.1.0-h4616a5c_0.tar.bz2", readPkg(t, "clobber-1-0.1.0-h4616a5c_0.tar.bz2")},
		zipEntry{"noarch/clobber-1-0.2.0-h4616a5c_0.tar.bz2", readPkg(t, "clobber-1-0.2.0-h4616a5c_0.tar.bz2")},
		zipEntry{"clobber-python-0.1.0-cpython.conda", readPkg(t, "clobber-python-0.1.0-cpython.conda")},
	))
	tgzPath := filepath.Join(dir, "more.tgz")
	writeFile(t, tgzPath, tgzBytes(t,
		zipEntry{"out/clobber-2-0.1.0-h4616a5c_0.tar.bz2", readPkg(t, "clobber-2-0.1.0-h4616a5c_0.tar.bz2")},
		zipEntry{"out/clobber-2-0.2.0-h4616a5c_0.tar.bz2", readPkg(t, "clobber-2-0.2.0-h4616a5c_0.tar.bz2")},
	))
	remoteZip := zipBytes(t,
		zipEntry{"clobber-with-dir-0.1.0-h4616a5c_0.conda", readPkg(t, "clobber-with-dir-0.1.0-h4616a5c_0.conda")},
		zipEntry{"clobber-python-0.1.0-pypy.conda", readPkg(t, "clobber-python-0.1.0-pypy.conda")},
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dist/empty-0.1.0-h4616a5c_0.conda":
			w.Write(readPkg(t, "empty-0.1.0-h4616a5c_0.conda"))
		case "/ci/pkgs.zip":
			w.Write(remoteZip)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	cfg := &SourceConfig{
		Subdirs: []string{"noarch"},
		Packages: []LooseInput{
			{Path: filepath.Join(pkgDir, "clobber-directory-upgrade-0.1.0-h4616a5c_0.conda")},
			{Path: filepath.Join(pkgDir, "clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2")},
			{URL: srv.URL + "/dist/empty-0.1.0-h4616a5c_0.conda"},
		},
		Archives: []LooseInput{{Path: zipPath}, {Path: tgzPath}, {URL: srv.URL + "/ci/pkgs.zip"}},
	}
	got, s, err := listLoose(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{
		"clobber-directory-upgrade-0.1.0-h4616a5c_0.conda", "clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2", "empty-0.1.0-h4616a5c_0.conda",
		"clobber-1-0.1.0-h4616a5c_0.tar.bz2", "clobber-1-0.2.0-h4616a5c_0.tar.bz2", "clobber-python-0.1.0-cpython.conda",
		"clobber-2-0.1.0-h4616a5c_0.tar.bz2", "clobber-2-0.2.0-h4616a5c_0.tar.bz2",
		"clobber-with-dir-0.1.0-h4616a5c_0.conda", "clobber-python-0.1.0-pypy.conda",
	}
	if len(got) != len(files) {
		t.Errorf("listed %d packages, want %d: %v", len(got), len(files), got)
	}
	for _, f := range files {
		b := readPkg(t, f)
		key := "noarch/" + f
		a, ok := got[key]
		if !ok {
			t.Errorf("%s not listed", key)
			continue
		}
		if _, hasMD5 := a.Digests.Get(providers.MD5); a.Size != int64(len(b)) || a.Digests.Primary().Hex != sha(b) || !hasMD5 {
			t.Errorf("%s: size %d digests %v, want %d %s", key, a.Size, a.Digests, len(b), sha(b))
		}
		rc, err := s.Fetch(context.Background(), a)
		if err != nil {
			t.Fatalf("fetch %s: %v", key, err)
		}
		fetched, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(fetched, b) {
			t.Errorf("fetch %s: other bytes", key)
		}
		if has, known := s.UpstreamHas(key); !has || !known {
			t.Errorf("UpstreamHas(%s) = %v, %v", key, has, known)
		}
	}
	if has, known := s.UpstreamHas("noarch/gone-1-0.conda"); has || !known {
		t.Errorf("UpstreamHas(gone) = %v, %v; want false, true", has, known)
	}
	if o := got["noarch/clobber-2-0.1.0-h4616a5c_0.tar.bz2"].Origin; o != tgzPath+"#out/clobber-2-0.1.0-h4616a5c_0.tar.bz2" {
		t.Errorf("origin %q", o)
	}

	// Selection applies to loose packages: latest = 1 keeps 0.2.0 of
	// clobber-1 and clobber-2, exclude drops clobber-python.
	cfg.Latest, cfg.Exclude = 1, []string{"clobber-python"}
	got, _, err = listLoose(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"noarch/clobber-1-0.1.0-h4616a5c_0.tar.bz2", "noarch/clobber-2-0.1.0-h4616a5c_0.tar.bz2", "noarch/clobber-python-0.1.0-cpython.conda"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s listed despite latest/exclude", k)
		}
	}
	if _, ok := got["noarch/clobber-2-0.2.0-h4616a5c_0.tar.bz2"]; !ok || len(got) != 6 {
		t.Errorf("selection listed %d: %v", len(got), got)
	}
}

// The record built for a loose package equals what conda's own indexer
// wrote for the same file (testdata/conda/channel).
func TestLooseRecordMatchesCondaIndex(t *testing.T) {
	p := "../../testdata/conda/channel/noarch/test-package-0.1-0.tar.bz2"
	abs, _ := filepath.Abs(p)
	_, s, err := listLoose(t, &SourceConfig{Subdirs: []string{"noarch"}, Packages: []LooseInput{{Path: abs}}})
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := s.loose(context.Background())
	lp := ls.pkgs["noarch/test-package-0.1-0.tar.bz2"]
	if lp == nil {
		t.Fatal("not listed")
	}
	var idx struct {
		Packages map[string]map[string]any `json:"packages"`
	}
	data, _ := os.ReadFile("../../testdata/conda/channel/noarch/repodata.json")
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(lp.cand.rec.Raw, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(idx.Packages["test-package-0.1-0.tar.bz2"], got); diff != "" {
		t.Errorf("record (-conda-index +ferry):\n%s", diff)
	}
}

// A package whose metadata cannot be read is refused, naming the input;
// nothing is guessed from the file name.
func TestLooseRefused(t *testing.T) {
	dir := t.TempDir()
	noIndex := filepath.Join(dir, "foo-1.0-h0_0.tar.bz2")
	writeFile(t, noIndex, tarBz2(t, zipEntry{"info/about.json", []byte(`{}`)}, zipEntry{"bin/foo", []byte("x")}))
	noSubdir := filepath.Join(dir, "bar-1.0-h0_0.tar.bz2")
	writeFile(t, noSubdir, tarBz2(t, zipEntry{"info/index.json", []byte(`{"name":"bar","version":"1.0","build":"h0_0","build_number":0}`)}))
	garbage := filepath.Join(dir, "baz-1.0-h0_0.conda")
	writeFile(t, garbage, []byte("not a zip"))
	badZip := filepath.Join(dir, "ci.zip")
	writeFile(t, badZip, zipBytes(t, zipEntry{"foo-1.0-h0_0.tar.bz2", tarBz2(t, zipEntry{"info/about.json", []byte(`{}`)})}))
	tests := []struct {
		name    string
		cfg     SourceConfig
		wantErr error
		want    string
	}{
		{name: "no index.json", cfg: SourceConfig{Packages: []LooseInput{{Path: noIndex}}}, wantErr: archive.ErrNoMetadata, want: noIndex},
		{name: "no subdir", cfg: SourceConfig{Packages: []LooseInput{{Path: noSubdir}}}, wantErr: archive.ErrNoMetadata, want: "names no subdir"},
		{name: "not an archive", cfg: SourceConfig{Packages: []LooseInput{{Path: garbage}}}, wantErr: archive.ErrFormat, want: garbage},
		{name: "member without index.json", cfg: SourceConfig{Archives: []LooseInput{{Path: badZip}}}, wantErr: archive.ErrNoMetadata, want: badZip},
		{name: "missing file", cfg: SourceConfig{Packages: []LooseInput{{Path: filepath.Join(dir, "gone-1-0.conda")}}}, wantErr: os.ErrNotExist, want: "gone-1-0.conda"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Subdirs = []string{"noarch"}
			_, _, err := listLoose(t, &tt.cfg)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %v naming %q", err, tt.wantErr, tt.want)
			}
		})
	}
}

// Two inputs holding different packages under one key fail the listing;
// the same package twice is listed once.
func TestLooseSameKey(t *testing.T) {
	dir := t.TempDir()
	empty := readPkg(t, "empty-0.1.0-h4616a5c_0.conda")
	same := filepath.Join(dir, "same.zip")
	writeFile(t, same, zipBytes(t, zipEntry{"a/empty-0.1.0-h4616a5c_0.conda", empty}))
	abs, _ := filepath.Abs(filepath.Join(pkgDir, "empty-0.1.0-h4616a5c_0.conda"))
	got, _, err := listLoose(t, &SourceConfig{Subdirs: []string{"noarch"}, Packages: []LooseInput{{Path: abs}}, Archives: []LooseInput{{Path: same}}})
	if err != nil || len(got) != 1 {
		t.Fatalf("same package twice: %v, %v", got, err)
	}
	other := filepath.Join(dir, "other", "empty-0.1.0-h4616a5c_0.conda")
	writeFile(t, other, readPkg(t, "clobber-python-0.1.0-cpython.conda"))
	_, _, err = listLoose(t, &SourceConfig{Subdirs: []string{"noarch"}, Packages: []LooseInput{{Path: abs}, {Path: other}}})
	if err == nil {
		t.Fatal("a package under another package's file name was listed")
	}
}

// A remote package that changed between plan and apply is refused at
// Fetch: the bytes fetched must be the bytes planned.
func TestLooseRemoteChanged(t *testing.T) {
	var mu sync.Mutex
	body := readPkg(t, "empty-0.1.0-h4616a5c_0.conda")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(body)
	}))
	defer srv.Close()
	cfg := &SourceConfig{Subdirs: []string{"noarch"}, Packages: []LooseInput{{URL: srv.URL + "/x/empty-0.1.0-h4616a5c_0.conda"}}}
	planned, _, err := listLoose(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := planned["noarch/empty-0.1.0-h4616a5c_0.conda"]
	// Rebuilt in CI under the same file name: other bytes.
	mu.Lock()
	body = append(bytes.Clone(body), 0) // a trailing byte: still a valid zip, other digests
	mu.Unlock()
	s, err := NewSource("conda.loose", cfg, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Fetch(context.Background(), a)
	if !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("fetch after the file changed: %v, want ErrDigestMismatch", err)
	}
	// The private download directory is removed by Close.
	ls, _ := s.loose(context.Background())
	s.Close()
	if _, err := os.Stat(ls.dir); !os.IsNotExist(err) {
		t.Errorf("download directory left: %v", err)
	}
}

// A remote input larger than max_artifact_size is refused, and its partial
// download removed.
func TestLooseDownloadBound(t *testing.T) {
	body := readPkg(t, "empty-0.1.0-h4616a5c_0.conda")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	cfg := &SourceConfig{Subdirs: []string{"noarch"}, MaxPackages: DefaultMaxPackages, Packages: []LooseInput{{URL: srv.URL + "/empty-0.1.0-h4616a5c_0.conda"}}}
	s, err := NewSource("conda.loose", cfg, registry.Env{MaxArtifactSize: int64(len(body)) - 1})
	if err != nil {
		t.Fatal(err)
	}
	err = s.List(context.Background(), func(providers.Artifact) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "max_artifact_size") || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("err = %v, want the input refused for its size", err)
	}
	ls, _ := s.loose(context.Background())
	if ls == nil || ls.dir == "" {
		t.Fatal("no download directory")
	}
	left := 0
	filepath.WalkDir(ls.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left++
		}
		return nil
	})
	if left != 0 {
		t.Errorf("%d partial download(s) left", left)
	}
	s.Close()
	if _, err := os.Stat(ls.dir); !os.IsNotExist(err) {
		t.Errorf("download directory left: %v", err)
	}
}
