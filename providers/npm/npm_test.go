package npm

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		name, version, key, escaped string
	}{
		{name: "lodash", version: "4.17.21", key: "lodash/-/lodash-4.17.21.tgz", escaped: "lodash"},
		{name: "@types/node", version: "20.1.0", key: "@types/node/-/node-20.1.0.tgz", escaped: "@types%2fnode"},
		{name: "a-b", version: "1.0.0-rc.1+build.5", key: "a-b/-/a-b-1.0.0-rc.1+build.5.tgz", escaped: "a-b"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := Key(tt.name, tt.version); got != tt.key {
				t.Errorf("Key = %q, want %q", got, tt.key)
			}
			n, v, err := ParseKey(tt.key)
			if err != nil || n != tt.name || v != tt.version {
				t.Errorf("ParseKey(%q) = %q, %q, %v", tt.key, n, v, err)
			}
			if got := escapeName(tt.name); got != tt.escaped {
				t.Errorf("escapeName = %q, want %q", got, tt.escaped)
			}
		})
	}
	for _, bad := range []string{"lodash", "lodash/-/other-1.0.0.tgz", "lodash/-/lodash-1.0.tgz", "lodash/-/lodash-1.0.0.tar.gz",
		"../x/-/x-1.0.0.tgz", "@Types/node/-/node-1.0.0.tgz", "lodash/-/lodash-01.0.0.tgz"} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
}

func TestDistDigests(t *testing.T) {
	body := []byte("tarball bytes")
	s512 := sha512.Sum512(body)
	s1 := sha1.Sum(body)
	sri := "sha512-" + base64.StdEncoding.EncodeToString(s512[:])
	want := providers.NewDigests(
		providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(s512[:])},
		providers.Digest{Algorithm: providers.SHA1, Hex: hex.EncodeToString(s1[:])},
	)
	got, err := dist{Integrity: sri + " sha384-AAAA", Shasum: strings.ToUpper(hex.EncodeToString(s1[:]))}.digests()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digests (-want +got):\n%s", diff)
	}
	if integrity(got) != sri {
		t.Errorf("integrity(%v) = %q, want %q", got, integrity(got), sri)
	}
	for name, d := range map[string]dist{
		"nothing":          {},
		"bad base64":       {Integrity: "sha512-!!!"},
		"short digest":     {Integrity: "sha512-" + base64.StdEncoding.EncodeToString(s1[:])},
		"not an SRI entry": {Integrity: "sha512"},
		"bad shasum":       {Shasum: "xyz"},
		"sha1 disagrees":   {Integrity: "sha1-" + base64.StdEncoding.EncodeToString(s1[:]), Shasum: strings.Repeat("0", 40)},
	} {
		if _, err := d.digests(); err == nil {
			t.Errorf("%s: digests() succeeded", name)
		}
	}
}

func TestNPMRCToken(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, ".npmrc")
	content := strings.Join([]string{
		"registry=https://registry.npmjs.org/",
		"//registry.npmjs.org/:_authToken=public-token",
		"//npm.corp.example/:_authToken=root-token",
		"//npm.corp.example/api/npm/:_authToken=\"${CORP_TOKEN}\"",
		"; a comment",
		"//other.example/:_authToken=other",
	}, "\n")
	if err := os.WriteFile(rc, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CORP_TOKEN": "corp-secret", "HOME": dir}
	getenv := func(k string) string { return env[k] }
	tests := []struct{ registry, want string }{
		{"https://registry.npmjs.org/", "public-token"},
		{"https://npm.corp.example/api/npm/", "corp-secret"},
		{"https://npm.corp.example/other/", "root-token"},
		{"https://unknown.example/", ""},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.registry)
		got, err := npmrcToken(npmrcPath(getenv), u, getenv)
		if err != nil || got != tt.want {
			t.Errorf("npmrcToken(%s) = %q, %v; want %q", tt.registry, got, err, tt.want)
		}
	}
	env["NPM_CONFIG_USERCONFIG"] = filepath.Join(dir, "missing")
	u, _ := url.Parse("https://registry.npmjs.org/")
	if got, err := npmrcToken(npmrcPath(getenv), u, getenv); err != nil || got != "" {
		t.Errorf("missing .npmrc: %q, %v; want no token and no error", got, err)
	}
}

func TestChooseVersions(t *testing.T) {
	p := &packument{Name: "x", DistTags: map[string]string{"latest": "1.2.0", "next": "2.0.0-rc.1", "gone": "9.9.9"}, Versions: map[string]json.RawMessage{}}
	for _, v := range []string{"0.9.0", "1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1"} {
		p.Versions[v] = json.RawMessage(`{}`)
	}
	tests := []struct {
		name   string
		filter VersionFilter
		want   []string
	}{
		{name: "everything", want: []string{"0.9.0", "1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1"}},
		{name: "range", filter: VersionFilter{Semver: "^1.0.0"}, want: []string{"1.0.0", "1.1.0", "1.2.0"}},
		{name: "latest two in range", filter: VersionFilter{Semver: ">= 0.1.0", Latest: 2}, want: []string{"1.1.0", "1.2.0"}},
		{name: "tags only", filter: VersionFilter{DistTags: []string{"next", "gone", "missing"}}, want: []string{"2.0.0-rc.1"}},
		{name: "latest one plus tag", filter: VersionFilter{Latest: 1, DistTags: []string{"latest"}}, want: []string{"1.2.0", "2.0.0-rc.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := newVersionSelector(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Sorted(maps.Keys(sel.choose(p)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("choose (-want +got):\n%s", diff)
			}
		})
	}
}
