package conda

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// pytorchChannel is a local channel whose linux-64 index is the real
// pytorch one (no noarch index: read as empty).
func pytorchChannel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("../../testdata/conda/repodata/pytorch-linux-64/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "linux-64", "repodata.json"), data)
	return dir
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func listKeys(t *testing.T, cfg *SourceConfig) ([]string, *Source, error) {
	t.Helper()
	s, err := NewSource("conda.test", cfg, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = s.List(context.Background(), func(a providers.Artifact) error {
		keys = append(keys, a.Key)
		return nil
	})
	return keys, s, err
}

func magma(versions ...string) []string {
	var out []string
	for _, v := range versions {
		out = append(out, "linux-64/magma-cuda92-"+v+"-1.tar.bz2")
	}
	return out
}

// Selection on the real pytorch index, and the precedence of exclude,
// pins, include and latest (docs/conda.md#selection).
func TestSelectionPytorch(t *testing.T) {
	dir := pytorchChannel(t)
	tvcpu := []string{
		"linux-64/torchvision-cpu-0.3.0-py27_cuNone_1.tar.bz2", "linux-64/torchvision-cpu-0.3.0-py35_cuNone_1.tar.bz2",
		"linux-64/torchvision-cpu-0.3.0-py36_cuNone_1.tar.bz2", "linux-64/torchvision-cpu-0.3.0-py37_cuNone_1.tar.bz2",
	}
	tests := []struct {
		name                   string
		include, exclude, pins []string
		latest                 int
		want                   []string
	}{
		{name: "latest 2", include: []string{"magma-cuda92"}, latest: 2, want: magma("2.5.1", "2.5.2")},
		{name: "version range", include: []string{"magma-cuda92 >=2.4,<2.5.2"}, want: magma("2.4.0", "2.5.0", "2.5.1")},
		{name: "latest keeps every build of the newest version", include: []string{"torchvision-cpu"}, latest: 1, want: tvcpu},
		{name: "build glob", include: []string{"torchvision-cpu 0.3.0 py3*"}, want: tvcpu[1:]},
		{name: "exclude applies before latest", include: []string{"magma-cuda92"}, exclude: []string{"magma-cuda92 2.5.2"}, latest: 1, want: magma("2.5.1")},
		{name: "pin kept whatever latest says", include: []string{"magma-cuda92"}, pins: []string{"magma-cuda92 2.3.0"}, latest: 1, want: magma("2.3.0", "2.5.2")},
		{name: "pin selects outside include", include: []string{"cuda92"}, pins: []string{"magma-cuda92 2.3.0"}, want: append([]string{"linux-64/cuda92-1.0-0.tar.bz2"}, magma("2.3.0")...)},
		{name: "exclude wins over a pin", include: []string{"magma-cuda92"}, pins: []string{"magma-cuda92 2.3.0"}, exclude: []string{"magma-cuda92 <2.4"}, latest: 1, want: magma("2.5.2")},
		{name: "exclude wins over include", include: []string{"magma-cuda92"}, exclude: []string{"magma-*"}},
		{name: "license", include: []string{"magma-cuda92[license=BSD]"}, latest: 1, want: magma("2.5.2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &SourceConfig{Dir: dir, Subdirs: []string{"linux-64", "noarch"}, Include: tt.include, Exclude: tt.exclude, Pins: tt.pins, Latest: tt.latest}
			got, _, err := listKeys(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
	// Everything: every record of the index, once.
	got, _, err := listKeys(t, &SourceConfig{Dir: dir, Subdirs: []string{"linux-64", "noarch"}})
	if err != nil || len(got) != 2181 {
		t.Errorf("listing everything: %d keys, %v", len(got), err)
	}
}

// The real pytorch index: torchvision-cpu's depends pull in pytorch-cpu's
// newest matching version (every build of it); nothing else of the
// channel satisfies the other depends (numpy, python live elsewhere).
func TestClosurePytorch(t *testing.T) {
	cfg := &SourceConfig{Dir: pytorchChannel(t), Subdirs: []string{"linux-64", "noarch"},
		Include: []string{"torchvision-cpu 0.3.0 py37*"}, Dependencies: true, MaxPackages: 5}
	got, s, err := listKeys(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"linux-64/pytorch-cpu-1.1.0-py2.7_cpu_0.tar.bz2", "linux-64/pytorch-cpu-1.1.0-py3.5_cpu_0.tar.bz2",
		"linux-64/pytorch-cpu-1.1.0-py3.6_cpu_0.tar.bz2", "linux-64/pytorch-cpu-1.1.0-py3.7_cpu_0.tar.bz2",
		"linux-64/torchvision-cpu-0.3.0-py37_cuNone_1.tar.bz2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if !slices.Contains(s.Notes(), "The dependency closure adds 1 package(s).") {
		t.Errorf("notes: %q", s.Notes())
	}
}

// pkgFile is a package file of a synthetic channel.
type pkgFile struct {
	subdir, name, version, build string
	buildNumber                  int64
	depends                      []string
	content                      string
}

func (p pkgFile) file() string { return p.name + "-" + p.version + "-" + p.build + ".tar.bz2" }

// synthChannel writes the packages and a repodata.json per subdir whose
// records declare their real size, sha256 and md5 (edit changes a record
// before it is written).
func synthChannel(t *testing.T, pkgs []pkgFile, edit func(file string, rec map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	idx := map[string]map[string]any{}
	for _, p := range pkgs {
		writeFile(t, filepath.Join(dir, p.subdir, p.file()), []byte(p.content))
		s, m := sha256.Sum256([]byte(p.content)), md5.Sum([]byte(p.content))
		rec := map[string]any{
			"name": p.name, "version": p.version, "build": p.build, "build_number": p.buildNumber,
			"depends": p.depends, "size": len(p.content), "subdir": p.subdir,
			"sha256": hex.EncodeToString(s[:]), "md5": hex.EncodeToString(m[:]), "license": "MIT",
			"x-unknown": map[string]any{"kept": true},
		}
		if edit != nil {
			edit(p.file(), rec)
		}
		if idx[p.subdir] == nil {
			idx[p.subdir] = map[string]any{}
		}
		idx[p.subdir][p.file()] = rec
	}
	for sd, recs := range idx {
		b, _ := json.Marshal(map[string]any{"info": map[string]any{"subdir": sd}, "packages": recs, "packages.conda": map[string]any{}, "repodata_version": 1})
		writeFile(t, filepath.Join(dir, sd, "repodata.json"), b)
	}
	return dir
}

var synthPkgs = []pkgFile{
	{subdir: "linux-64", name: "app", version: "1.0", build: "h1_0", depends: []string{"lib >=1", "__glibc >=2.17", "missing-dep"}, content: "app 1.0"},
	{subdir: "linux-64", name: "lib", version: "1.0", build: "h1_0", content: "lib 1.0"},
	{subdir: "linux-64", name: "lib", version: "2.0", build: "h1_0", depends: []string{"helper"}, content: "lib 2.0 bn0"},
	{subdir: "linux-64", name: "lib", version: "2.0", build: "h1_1", buildNumber: 1, depends: []string{"helper"}, content: "lib 2.0 bn1"},
	{subdir: "noarch", name: "helper", version: "0.5", build: "py_0", content: "helper"},
	{subdir: "osx-64", name: "lib", version: "3.0", build: "h1_0", content: "lib 3.0 osx"},
}

// The closure follows depends into noarch, never into subdirs not read,
// skips virtual packages and what nothing satisfies, never adds an
// excluded record, and stops at max_packages.
func TestClosure(t *testing.T) {
	dir := synthChannel(t, synthPkgs, nil)
	cfg := &SourceConfig{Dir: dir, Subdirs: []string{"linux-64", "noarch"}, Include: []string{"app"},
		Exclude: []string{"lib 2.0[build_number=1]"}, Dependencies: true, MaxPackages: 2}
	got, _, err := listKeys(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"linux-64/app-1.0-h1_0.tar.bz2", "linux-64/lib-2.0-h1_0.tar.bz2", "noarch/helper-0.5-py_0.tar.bz2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	cfg.MaxPackages = 1
	if _, _, err := listKeys(t, cfg); err == nil || !strings.Contains(err.Error(), "max_packages = 1") {
		t.Errorf("over max_packages: %v", err)
	}
	// Without dependencies, include alone.
	cfg.Dependencies = false
	if got, _, _ := listKeys(t, cfg); !cmp.Equal(got, want[:1]) {
		t.Errorf("without dependencies: %q", got)
	}
}

func fetchAll(t *testing.T, s *Source, a providers.Artifact) ([]byte, error) {
	t.Helper()
	rc, err := s.Fetch(context.Background(), a)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(verify.NewReader(rc, a.Size, a.Digests))
}

// Every artifact carries the record's size, sha256 (primary) and md5; a
// fetch is verified against all three, so a package whose md5 alone
// disagrees is refused.
func TestFetchVerified(t *testing.T) {
	dir := synthChannel(t, synthPkgs[:2], func(file string, rec map[string]any) {
		if strings.HasPrefix(file, "lib-") {
			rec["md5"] = strings.Repeat("0", 32)
		}
	})
	s, err := NewSource("conda.test", &SourceConfig{Dir: dir, Subdirs: []string{"linux-64", "noarch"}}, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var arts []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error { arts = append(arts, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(arts) != 2 {
		t.Fatalf("listed %v", arts)
	}
	app, lib := arts[0], arts[1]
	if app.Digests.Primary().Algorithm != providers.SHA256 || len(app.Digests) != 2 || app.Size != 7 || app.Name != "app" || app.Version != "1.0" {
		t.Errorf("artifact %+v", app)
	}
	if b, err := fetchAll(t, s, app); err != nil || string(b) != "app 1.0" {
		t.Errorf("fetch app: %q, %v", b, err)
	}
	var mm *providers.MismatchError
	if _, err := fetchAll(t, s, lib); !errors.As(err, &mm) || mm.What != "md5" {
		t.Errorf("fetch lib with a wrong md5: %v", err)
	}
	// A corrupted file: refused on its sha256.
	writeFile(t, filepath.Join(dir, "linux-64", app.Key[len("linux-64/"):]), []byte("app 1.X"))
	if _, err := fetchAll(t, s, app); !errors.As(err, &mm) {
		t.Errorf("fetch corrupted app: %v", err)
	}
	// A plan whose digests the channel no longer declares.
	stale := app
	stale.Digests = providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat("1", 64)})
	if _, err := s.Fetch(context.Background(), stale); !errors.Is(err, providers.ErrDigestMismatch) {
		t.Errorf("stale plan: %v", err)
	}
}

// A local channel is read only inside its directory: keys with paths
// are not found, and a package that is a symbolic link out of the
// channel is not followed.
func TestLocalChannelStaysInside(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	writeFile(t, outside, []byte("app 1.0"))
	dir := synthChannel(t, synthPkgs[:1], nil)
	pkg := filepath.Join(dir, "linux-64", synthPkgs[0].file())
	if err := os.Remove(pkg); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, pkg); err != nil {
		t.Fatal(err)
	}
	s, err := NewSource("conda.test", &SourceConfig{Dir: dir, Subdirs: []string{"linux-64", "noarch"}}, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var arts []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error { arts = append(arts, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch(context.Background(), arts[0]); err == nil {
		t.Error("fetched through a symbolic link leaving the channel")
	}
	for _, key := range []string{"linux-64/../../secret", "../secret", "linux-64/x/../../secret.tar.bz2"} {
		if _, err := s.Fetch(context.Background(), providers.Artifact{Key: key}); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("Fetch(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

// repodata.json.zst is read before .json; a truncated .zst fails the
// listing instead of falling back to another (maybe older) index.
func TestIndexEncodings(t *testing.T) {
	dir := synthChannel(t, synthPkgs[:2], nil)
	js, err := os.ReadFile(filepath.Join(dir, "linux-64", "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(js, &doc)
	delete(doc["packages"].(map[string]any), "lib-1.0-h1_0.tar.bz2")
	only, _ := json.Marshal(doc)
	enc, _ := zstd.NewWriter(nil)
	z := enc.EncodeAll(only, nil)
	writeFile(t, filepath.Join(dir, "linux-64", "repodata.json.zst"), z)
	cfg := &SourceConfig{Dir: dir, Subdirs: []string{"linux-64", "noarch"}}
	got, _, err := listKeys(t, cfg)
	if err != nil || !cmp.Equal(got, []string{"linux-64/app-1.0-h1_0.tar.bz2"}) {
		t.Errorf("with a .zst index: %q, %v", got, err)
	}
	writeFile(t, filepath.Join(dir, "linux-64", "repodata.json.zst"), z[:len(z)-3])
	if _, _, err := listKeys(t, cfg); err == nil || !strings.Contains(err.Error(), "repodata.json.zst") {
		t.Errorf("truncated .zst: %v", err)
	}
	// A subdir without any index is an error (noarch alone may be absent).
	cfg.Subdirs = []string{"win-64", "noarch"}
	if _, _, err := listKeys(t, cfg); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("missing subdir: %v", err)
	}
}

// The real channel in testdata/conda/channel, as a local directory: its
// noarch index exists only as .json and .json.bz2 (the .bz2 is read), and
// its package fetches and verifies; after List, UpstreamHas tells a listed
// or merely unselected file from one the channel does not have.
func TestRealChannelDir(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/conda/channel")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSource("conda.test", &SourceConfig{Dir: dir, Subdirs: []string{"noarch"}, Exclude: []string{"test-package <0.1"}}, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var arts []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error { arts = append(arts, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 || arts[0].Key != "noarch/test-package-0.1-0.tar.bz2" || arts[0].Size != 5719 {
		t.Fatalf("listed %+v", arts)
	}
	if want := "sha256:b908ffce2d26d94c58c968abf286568d4bcf87d1cfe6c994958351724a6f6988"; arts[0].Digests.Primary().String() != want {
		t.Errorf("primary digest %s", arts[0].Digests.Primary())
	}
	if s.subdirs["noarch"].from != "noarch/repodata.json.bz2" {
		t.Errorf("read %q, want the .bz2", s.subdirs["noarch"].from)
	}
	if b, err := fetchAll(t, s, arts[0]); err != nil || len(b) != 5719 {
		t.Errorf("fetch: %d bytes, %v", len(b), err)
	}
	for key, want := range map[string][2]bool{
		"noarch/test-package-0.1-0.tar.bz2":   {true, true},
		"noarch/gone-1.0-0.tar.bz2":           {false, true},
		"linux-64/test-package-0.1-0.tar.bz2": {false, false},
	} {
		if has, known := s.UpstreamHas(key); has != want[0] || known != want[1] {
			t.Errorf("UpstreamHas(%s) = %v, %v; want %v", key, has, known, want)
		}
	}
}
