package npm

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
)

// fuzzSeeds adds every file of testdata (documents recorded from Verdaccio
// 6.8.0) as a seed.
func fuzzSeeds(f *testing.F, add func([]byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", "verdaccio-*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no recorded documents in testdata: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// FuzzPackument decodes arbitrary package documents the way the source and
// the destination do: parsePackument, then each version's document, its
// dist digests, publish time, deprecation, and the selection of versions
// by range and by dependency range. Nothing may panic, and:
//
//   - an accepted document names the package asked for;
//   - an accepted version document is that version of that package;
//   - accepted dist digests are non-empty and valid, and the integrity
//     string ferry publishes for them decodes back to the same sha512
//     (else sha1);
//   - selections only name versions the document has.
func FuzzPackument(f *testing.F) {
	fuzzSeeds(f, func(b []byte) {
		var probe struct{ Name string }
		_ = json.Unmarshal(b, &probe)
		f.Add(b, probe.Name, "^1", uint8(2))
	})
	f.Add([]byte(`{"name":"a","versions":{"1.0.0":{"name":"a","version":"1.0.0","dist":{"integrity":"sha512-AAAA sha1-AAAA?x","shasum":"00"}}},"time":{"1.0.0":"x","unpublished":{}}}`), "a", "*", uint8(0))

	f.Fuzz(func(t *testing.T, body []byte, name, rng string, latest uint8) {
		p, err := parsePackument(body, name)
		if err != nil {
			return
		}
		if p.Name != name {
			t.Fatalf("accepted a document naming %q for %q", p.Name, name)
		}
		for _, v := range slices.Sorted(maps.Keys(p.Versions)) {
			_ = p.published(v)
			d, err := p.version(v)
			if err != nil {
				continue
			}
			if d.Name != name || d.Version != v {
				t.Fatalf("version %s: accepted the document of %s@%s", v, d.Name, d.Version)
			}
			_ = d.deprecation()
			checkDist(t, d.Dist)
			for _, r := range d.Dependencies {
				if got, ok := newestSatisfying(p, r); ok && p.Versions[got] == nil {
					t.Fatalf("newestSatisfying(%q) = %q, which the document does not have", r, got)
				}
			}
		}
		if got, ok := newestSatisfying(p, rng); ok && p.Versions[got] == nil {
			t.Fatalf("newestSatisfying(%q) = %q, which the document does not have", rng, got)
		}
		sel, err := newVersionSelector(VersionFilter{Semver: rng, Latest: int(latest % 8), DistTags: []string{"latest", rng}})
		if err != nil {
			return
		}
		for v := range sel.choose(p) {
			if p.Versions[v] == nil {
				t.Fatalf("choose selected %q, which the document does not have", v)
			}
		}
	})
}

// FuzzDistDigests decodes arbitrary dist.integrity and dist.shasum values;
// see checkDist for what an accepted value must satisfy.
func FuzzDistDigests(f *testing.F) {
	fuzzSeeds(f, func(b []byte) {
		var doc struct {
			Versions map[string]struct{ Dist dist } `json:"versions"`
		}
		_ = json.Unmarshal(b, &doc)
		for _, v := range doc.Versions {
			f.Add(v.Dist.Integrity, v.Dist.Shasum)
		}
	})
	f.Add("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb", "")
	f.Add("sha512-", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709")
	f.Add("sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=?opt", "da39a3ee5e6b4b0d3255bfef95601890afd80709")
	f.Fuzz(func(t *testing.T, integrity, shasum string) {
		checkDist(t, dist{Integrity: integrity, Shasum: shasum})
	})
}

// checkDist: accepted digests are non-empty and valid, hold at most one per
// algorithm, and the integrity string ferry publishes for them decodes back
// to the same sha512 (else sha1).
func checkDist(t *testing.T, d dist) {
	t.Helper()
	ds, err := d.digests()
	if err != nil {
		return
	}
	if len(ds) == 0 {
		t.Fatalf("dist %+v: accepted with no digest", d)
	}
	seen := map[providers.Algorithm]bool{}
	for _, dg := range ds {
		if err := dg.Validate(); err != nil {
			t.Fatalf("dist %+v: accepted an invalid digest %v: %v", d, dg, err)
		}
		if seen[dg.Algorithm] {
			t.Fatalf("dist %+v: two %s digests", d, dg.Algorithm)
		}
		seen[dg.Algorithm] = true
	}
	sri := integrity(ds)
	if sri == "" {
		if _, ok := ds.Get(providers.SHA512); ok {
			t.Fatalf("dist %+v: no integrity string for a sha512", d)
		}
		if _, ok := ds.Get(providers.SHA1); ok {
			t.Fatalf("dist %+v: no integrity string for a sha1", d)
		}
		return
	}
	back, err := dist{Integrity: sri}.digests()
	if err != nil {
		t.Fatalf("integrity %q ferry wrote does not decode: %v", sri, err)
	}
	if len(back) != 1 || !ds.Matches(back) {
		t.Fatalf("integrity %q decodes to %v, not a digest of %v", sri, back, ds)
	}
}

// FuzzParseSeq reads arbitrary changes-feed positions: no panic, and an
// accepted position reads the same from its decimal form, bare or quoted.
func FuzzParseSeq(f *testing.F) {
	for _, s := range []string{`0`, `123`, `"123"`, `"123-g1AAAA"`, `18446744073709551615`, `18446744073709551616`, `-1`, `1e3`, `null`, `"\u0031"`, ` 7`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := parseSeq(raw)
		if err != nil {
			return
		}
		s := strconv.FormatUint(n, 10)
		for _, form := range []string{s, strconv.Quote(s)} {
			if m, err := parseSeq(json.RawMessage(form)); err != nil || m != n {
				t.Fatalf("parseSeq(%s) = %d; parseSeq(%s) = %d, %v", raw, n, form, m, err)
			}
		}
	})
}

// bodyTransport answers every request with 200 and body.
type bodyTransport []byte

func (b bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(string(b))), Request: req, ContentLength: int64(len(b)),
	}, nil
}

// FuzzSearchScope answers the search API with arbitrary bodies: listing a
// scope must not panic and must return only valid, distinct names in the
// scope (search also matches descriptions and longer scopes).
func FuzzSearchScope(f *testing.F) {
	fuzzSeeds(f, func(b []byte) { f.Add(b, "@fuzz") })
	f.Add([]byte(`{"objects":[{"package":{"name":"@fuzzy/x"}},{"package":{"name":"@fuzz/"}},{"package":{"name":"@fuzz/a"}},{"package":{"name":"@fuzz/a"}},{"package":{"name":"@fuzz/A"}}]}`), "@fuzz")
	f.Fuzz(func(t *testing.T, body []byte, scope string) {
		hc := httpx.New(httpx.Options{Transport: bodyTransport(body), MaxRetries: 1})
		r, err := newRegistry("http://registry.invalid/", "", hc)
		if err != nil {
			t.Fatal(err)
		}
		names, err := r.searchScope(context.Background(), scope)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range names {
			if !strings.HasPrefix(n, scope+"/") || !ValidName(n) || seen[n] {
				t.Fatalf("search for %q listed %q (all: %q)", scope, n, names)
			}
			seen[n] = true
		}
	})
}

// FuzzNpmrcToken reads arbitrary .npmrc files for arbitrary registries: no
// panic; a token is only ever taken from an "//HOST/…:_authToken" line of
// the registry's host; ${VAR} references are expanded.
func FuzzNpmrcToken(f *testing.F) {
	f.Add([]byte("registry=https://registry.npmjs.org/\n//127.0.0.1:4873/:_authToken=\"abc\"\n"), "http://127.0.0.1:4873/")
	f.Add([]byte("; c\n# c\n//npm.internal/team/:_authToken=${NPM_TOKEN}\n//npm.internal/:_authToken='x'\n"), "https://npm.internal/team/sub/")
	f.Add([]byte("//h/:_authToken=${A}${B}${\n//h/a/:_authToken=\n"), "http://h/a/")
	d := f.TempDir()
	path := filepath.Join(d, ".npmrc")
	getenv := func(k string) string { return "env:" + k }
	f.Fuzz(func(t *testing.T, data []byte, registry string) {
		base, err := parseRegistryURL(registry)
		if err != nil {
			return
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		tok, err := npmrcToken(path, base, getenv)
		if err != nil {
			t.Fatalf("npmrcToken: %v", err)
		}
		if tok == "" {
			return
		}
		if !strings.Contains(string(data), "//"+base.Host) || !strings.Contains(string(data), ":_authToken") {
			t.Fatalf("token %q for %s from a file without a matching entry:\n%q", tok, base, data)
		}
		if envRefRE.MatchString(tok) && !strings.Contains(string(data), "env:") {
			t.Fatalf("token %q keeps an unexpanded ${VAR} reference", tok)
		}
	})
}

// FuzzParseKey: ParseKey never panics, accepts only what Key makes (Key
// gives back the same key), and reads every key Key makes from a valid
// name and version.
func FuzzParseKey(f *testing.F) {
	f.Add("greet/-/greet-1.0.0.tgz", "greet", "1.0.0")
	f.Add("@fuzz/pkg/-/pkg-1.0.0.tgz", "@fuzz/pkg", "2.0.0-beta.1+build.5")
	f.Add("a/-/a-1.0.0-1.0.0.tgz", "a", "1.0.0-1.0.0")
	f.Fuzz(func(t *testing.T, key, name, version string) {
		if n, v, err := ParseKey(key); err == nil && Key(n, v) != key {
			t.Fatalf("ParseKey(%q) = %q, %q; Key gives %q", key, n, v, Key(n, v))
		}
		if !ValidName(name) || !validVersion(version) {
			return
		}
		n, v, err := ParseKey(Key(name, version))
		if err != nil || n != name || v != version {
			t.Fatalf("ParseKey(Key(%q, %q)) = %q, %q, %v", name, version, n, v, err)
		}
	})
}
