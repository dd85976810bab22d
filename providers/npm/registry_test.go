package npm_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/npm"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

func client() *httpx.Client { return httpx.New(httpx.Options{MaxRetries: 1}) }

func noEnv(string) string { return "" }

func newSource(t *testing.T, v *testenv.Verdaccio, cfg npm.SourceConfig) *npm.Source {
	t.Helper()
	cfg.Registry = npm.Registry{URL: v.URL}
	s, err := npm.NewSource("npm.up", &cfg, provreg.Env{HTTP: client(), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newStore(t *testing.T, v *testenv.Verdaccio) *npm.Store {
	t.Helper()
	s, err := npm.NewDestination("npm.down", &npm.DestinationConfig{Registry: npm.Registry{URL: v.URL, Token: v.Token}}, provreg.Env{HTTP: client(), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func list(t *testing.T, s *npm.Source) map[string]providers.Artifact {
	t.Helper()
	out := map[string]providers.Artifact{}
	if err := s.List(t.Context(), func(a providers.Artifact) error { out[a.Key] = a; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// publish copies a from src to dst the way the apply engine does.
func publish(ctx context.Context, src *npm.Source, dst *npm.Store, a providers.Artifact) error {
	m, err := src.Manifest(ctx, a)
	if err != nil {
		return err
	}
	rc, err := src.Fetch(ctx, a)
	if err != nil {
		return err
	}
	defer rc.Close()
	return dst.PutWithManifest(ctx, a, m, rc, providers.PutOptions{})
}

func TestSourceAndStoreAgainstVerdaccio(t *testing.T) {
	up := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	down := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	corp := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		tag := "latest"
		if strings.Contains(v, "rc") {
			tag = "next"
		}
		up.Publish(t, testenv.NPMTarball(t, "left-pad", v, nil), tag)
	}
	up.Publish(t, testenv.NPMTarball(t, "@demo/util", "3.0.0", map[string]any{"dependencies": map[string]any{"left-pad": "^1.0.0"}}), "latest")
	corp.Publish(t, testenv.NPMTarball(t, "@corp/secret", "1.0.0", nil), "latest")

	src := newSource(t, up, npm.SourceConfig{
		Packages: []string{"left-pad", "@demo/util", "@corp/secret"},
		Versions: npm.VersionFilter{Semver: ">= 1.0.0", Latest: 1, DistTags: []string{"next"}},
		Scopes:   map[string]npm.Registry{"@corp": {URL: corp.URL}},
	})
	arts := list(t, src)
	keys := slices.Sorted(maps.Keys(arts))
	wantKeys := []string{"@corp/secret/-/secret-1.0.0.tgz", "@demo/util/-/util-3.0.0.tgz", "left-pad/-/left-pad-1.1.0.tgz", "left-pad/-/left-pad-2.0.0-rc.1.tgz"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Fatalf("listed keys (-want +got):\n%s", diff)
	}
	a := arts["left-pad/-/left-pad-1.1.0.tgz"]
	if _, ok := a.Digests.Get(providers.SHA512); !ok || a.Name != "left-pad" || a.Version != "1.1.0" || a.Created.IsZero() {
		t.Errorf("artifact = %+v, want name, version, sha512 and a publish time", a)
	}
	if has, known := src.UpstreamHas("left-pad/-/left-pad-1.0.0.tgz"); !has || !known {
		t.Errorf("UpstreamHas(1.0.0) = %v, %v; want still upstream", has, known)
	}
	if has, known := src.UpstreamHas("left-pad/-/left-pad-0.5.0.tgz"); has || !known {
		t.Errorf("UpstreamHas(0.5.0) = %v, %v; want removed", has, known)
	}
	if _, known := src.UpstreamHas("other/-/other-1.0.0.tgz"); known {
		t.Error("UpstreamHas of a package outside the selection is known")
	}

	dst := newStore(t, down)
	for _, key := range wantKeys {
		if err := publish(t.Context(), src, dst, arts[key]); err != nil {
			t.Fatalf("publish %s: %v", key, err)
		}
		got, err := dst.Stat(t.Context(), key)
		if err != nil || !got.Digests.Matches(arts[key].Digests) {
			t.Errorf("Stat(%s) = %v, %v; want the upstream's digests %v", key, got.Digests, err, arts[key].Digests)
		}
	}
	// Publishing does not set dist-tags; UpdatePackage does.
	if err := dst.UpdatePackage(t.Context(), "left-pad", npm.PackageUpdate{SetTags: map[string]string{"latest": "1.1.0", "next": "2.0.0-rc.1"}}); err != nil {
		t.Fatal(err)
	}
	meta, err := dst.StatPackage(t.Context(), "left-pad")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"latest": "1.1.0", "next": "2.0.0-rc.1"}, meta.Tags); diff != "" {
		t.Errorf("tags after update (-want +got):\n%s", diff)
	}

	// Publishing again is refused as already there.
	if err := publish(t.Context(), src, dst, a); !errors.Is(err, providers.ErrAlreadyExists) {
		t.Errorf("second publish: %v, want ErrAlreadyExists", err)
	}

	// Deprecate, then unpublish one version and then the last one.
	if err := dst.UpdatePackage(t.Context(), "left-pad", npm.PackageUpdate{Deprecate: map[string]string{"2.0.0-rc.1": "gone upstream"}}); err != nil {
		t.Fatal(err)
	}
	meta, _ = dst.StatPackage(t.Context(), "left-pad")
	if meta.Deprecated["2.0.0-rc.1"] != "gone upstream" {
		t.Errorf("deprecations = %v", meta.Deprecated)
	}
	if err := dst.Delete(t.Context(), "left-pad/-/left-pad-2.0.0-rc.1.tgz"); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Stat(t.Context(), "left-pad/-/left-pad-2.0.0-rc.1.tgz"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat after unpublish: %v, want ErrNotFound", err)
	}
	if _, err := dst.Stat(t.Context(), "left-pad/-/left-pad-1.1.0.tgz"); err != nil {
		t.Errorf("the other version went too: %v", err)
	}
	if err := dst.Delete(t.Context(), "left-pad/-/left-pad-1.1.0.tgz"); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.StatPackage(t.Context(), "left-pad"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("StatPackage after the last unpublish: %v, want ErrNotFound", err)
	}
	if err := dst.Delete(t.Context(), "left-pad/-/left-pad-1.1.0.tgz"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Delete of a missing version: %v, want ErrNotFound", err)
	}
}

func TestCorruptUpstreamTarballIsRefused(t *testing.T) {
	up := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	down := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	up.Publish(t, testenv.NPMTarball(t, "bad-pkg", "1.0.0", nil), "latest")
	// Flip a byte of the stored tarball: the packument still declares the
	// original integrity.
	matches, _ := filepath.Glob(filepath.Join(up.Dir, "bad-pkg", "*.tgz"))
	if len(matches) != 1 {
		t.Fatalf("stored tarballs: %v", matches)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(matches[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, up, npm.SourceConfig{Packages: []string{"bad-pkg"}})
	a := list(t, src)["bad-pkg/-/bad-pkg-1.0.0.tgz"]
	dst := newStore(t, down)
	m, err := src.Manifest(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := src.Fetch(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	err = dst.PutWithManifest(t.Context(), a, m, rc, providers.PutOptions{})
	if !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("publish of a corrupt tarball: %v, want a digest mismatch", err)
	}
	if _, err := dst.Stat(t.Context(), a.Key); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("after the refused publish: %v, want nothing published", err)
	}
}

func TestMissingPackagesGuard(t *testing.T) {
	up := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	up.Publish(t, testenv.NPMTarball(t, "here", "1.0.0", nil), "latest")
	src := newSource(t, up, npm.SourceConfig{Packages: []string{"here", "gone-a", "gone-b"}, MaxMissing: 1})
	err := src.List(t.Context(), func(providers.Artifact) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "max_missing = 1") || !strings.Contains(err.Error(), "gone-a, gone-b") {
		t.Fatalf("List with 2 missing packages over max_missing = 1: %v", err)
	}
	src = newSource(t, up, npm.SourceConfig{Packages: []string{"here", "gone-a"}, MaxMissing: 1})
	arts := list(t, src)
	if len(arts) != 1 {
		t.Errorf("listed %d artifacts, want 1", len(arts))
	}
	if has, known := src.UpstreamHas("gone-a/-/gone-a-1.0.0.tgz"); has || !known {
		t.Errorf("UpstreamHas of a missing package = %v, %v; want removed", has, known)
	}
}

func TestPutRefusesWithoutManifest(t *testing.T) {
	down := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	dst := newStore(t, down)
	err := dst.Put(t.Context(), providers.Artifact{Key: "x/-/x-1.0.0.tgz"}, bytes.NewReader(nil), providers.PutOptions{})
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("Put: %v, want ErrUnsupported", err)
	}
}

func TestDependencyClosure(t *testing.T) {
	up := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	for _, v := range []string{"1.0.0", "1.4.0", "2.0.0"} {
		up.Publish(t, testenv.NPMTarball(t, "leaf", v, nil), "latest")
	}
	up.Publish(t, testenv.NPMTarball(t, "mid", "1.0.0", map[string]any{"dependencies": map[string]any{"leaf": "^1.0.0"}}), "latest")
	up.Publish(t, testenv.NPMTarball(t, "app", "1.0.0", map[string]any{
		"dependencies":         map[string]any{"mid": "1.0.0"},
		"optionalDependencies": map[string]any{"absent-optional": "^1.0.0"},
	}), "latest")

	keys := func(cfg npm.SourceConfig) []string { return slices.Sorted(maps.Keys(list(t, newSource(t, up, cfg)))) }
	deep := keys(npm.SourceConfig{Packages: []string{"app"}, MaxMissing: 1, Dependencies: &npm.DependencyClosure{Depth: 2, MaxPackages: 10}})
	if diff := cmp.Diff([]string{"app/-/app-1.0.0.tgz", "leaf/-/leaf-1.4.0.tgz", "mid/-/mid-1.0.0.tgz"}, deep); diff != "" {
		t.Errorf("depth 2 (-want +got):\n%s", diff)
	}
	shallow := keys(npm.SourceConfig{Packages: []string{"app"}, MaxMissing: 1, Dependencies: &npm.DependencyClosure{Depth: 1, MaxPackages: 10}})
	if diff := cmp.Diff([]string{"app/-/app-1.0.0.tgz", "mid/-/mid-1.0.0.tgz"}, shallow); diff != "" {
		t.Errorf("depth 1 (-want +got):\n%s", diff)
	}
	src := newSource(t, up, npm.SourceConfig{Packages: []string{"app"}, MaxMissing: 1, Dependencies: &npm.DependencyClosure{Depth: 2, MaxPackages: 1}})
	err := src.List(t.Context(), func(providers.Artifact) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "max_packages = 1") {
		t.Errorf("closure over max_packages: %v", err)
	}
}
