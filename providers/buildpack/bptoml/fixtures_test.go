package bptoml

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ferry-mirror/ferry/providers"
)

// fixtureDir holds the real buildpack.toml files (provenance in its
// SOURCES.txt).
const fixtureDir = "../../../testdata/buildpacks"

var fixtureNames = []string{"node-engine.toml", "gradle.toml", "bellsoft-liberica.toml"}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return data
}

func parseFixture(t *testing.T, name string) ([]byte, *File) {
	t.Helper()
	data := readFixture(t, name)
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return data, f
}

func sha256Digest(hex string) providers.Digest {
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex}
}

// ignoreRanges compares dependencies regardless of byte offsets.
var ignoreRanges = cmpopts.IgnoreFields(Dependency{}, "URIRange", "SourceRange")

func TestFixtureCounts(t *testing.T) {
	want := map[string]int{"node-engine.toml": 20, "gradle.toml": 1, "bellsoft-liberica.toml": 44}
	for _, name := range fixtureNames {
		data, f := parseFixture(t, name)
		if got := len(f.Dependencies); got != want[name] {
			t.Errorf("%s: %d dependencies, want %d", name, got, want[name])
		}
		for i, d := range f.Dependencies {
			if d.Index != i {
				t.Errorf("%s: dependency %d has Index %d", name, i, d.Index)
			}
			if d.Checksum.IsZero() || d.Checksum.Validate() != nil {
				t.Errorf("%s: dependency %d checksum %v", name, i, d.Checksum)
			}
			if got := string(data[d.URIRange.Start:d.URIRange.End]); got != `"`+d.URI+`"` {
				t.Errorf("%s: dependency %d URIRange covers %q, want the quoted uri %q", name, i, got, d.URI)
			}
			if got := string(data[d.SourceRange.Start:d.SourceRange.End]); got != `"`+d.Source+`"` {
				t.Errorf("%s: dependency %d SourceRange covers %q, want the quoted source %q", name, i, got, d.Source)
			}
			lines := strings.Split(string(data), "\n")
			if d.Line < 1 || strings.TrimSpace(lines[d.Line-1]) != "[[metadata.dependencies]]" {
				t.Errorf("%s: dependency %d Line %d is not a dependency header", name, i, d.Line)
			}
		}
	}
}

func TestFixtureFields(t *testing.T) {
	_, node := parseFixture(t, "node-engine.toml")
	_, gradle := parseFixture(t, "gradle.toml")
	_, liberica := parseFixture(t, "bellsoft-liberica.toml")

	tests := []struct {
		name string
		got  Dependency
		want Dependency
	}{
		{
			name: "node-engine[0] checksum=algo:hex, source-checksum, os/arch, quoted deprecation_date",
			got:  node.Dependencies[0],
			want: Dependency{
				Index:           0,
				ID:              "node",
				Name:            "Node Engine",
				Version:         "18.20.7",
				URI:             "https://nodejs.org/dist/v18.20.7/node-v18.20.7-linux-x64.tar.xz",
				Checksum:        sha256Digest("deaf9695966087815a09c1c8e7fb0cfeb5b5b4471836e5993431230a845becad"),
				Source:          "https://nodejs.org/dist/v18.20.7/node-v18.20.7-linux-x64.tar.xz",
				SourceChecksum:  sha256Digest("deaf9695966087815a09c1c8e7fb0cfeb5b5b4471836e5993431230a845becad"),
				Stacks:          []string{"*"},
				OS:              "linux",
				Arch:            "amd64",
				DeprecationDate: time.Date(2025, 4, 30, 0, 0, 0, 0, time.UTC),
				PURL:            "pkg:generic/node@v18.20.7?checksum=deaf9695966087815a09c1c8e7fb0cfeb5b5b4471836e5993431230a845becad&download_url=https://nodejs.org/dist/v18.20.7/node-v18.20.7-linux-x64.tar.xz",
				Line:            19,
			},
		},
		{
			name: "node-engine[1] arm64",
			got:  node.Dependencies[1],
			want: Dependency{
				Index:           1,
				ID:              "node",
				Name:            "Node Engine",
				Version:         "18.20.7",
				URI:             "https://nodejs.org/dist/v18.20.7/node-v18.20.7-linux-arm64.tar.xz",
				Checksum:        sha256Digest("c788ad58ded0426a7fca9f3a7e005f57c14a348ebdb3a2977e19ef7b0c143439"),
				Source:          "https://nodejs.org/dist/v18.20.7/node-v18.20.7-linux-arm64.tar.xz",
				SourceChecksum:  sha256Digest("c788ad58ded0426a7fca9f3a7e005f57c14a348ebdb3a2977e19ef7b0c143439"),
				Stacks:          []string{"*"},
				OS:              "linux",
				Arch:            "arm64",
				DeprecationDate: time.Date(2025, 4, 30, 0, 0, 0, 0, time.UTC),
				PURL:            "pkg:generic/node@v18.20.7?checksum=c788ad58ded0426a7fca9f3a7e005f57c14a348ebdb3a2977e19ef7b0c143439&download_url=https://nodejs.org/dist/v18.20.7/node-v18.20.7-linux-arm64.tar.xz",
				Line:            36,
			},
		},
		{
			name: "gradle[0] legacy sha256, source-sha256 (hyphen), three stacks, license table after it",
			got:  gradle.Dependencies[0],
			want: Dependency{
				Index:          0,
				ID:             "gradle",
				Name:           "Gradle",
				Version:        "9.7.1",
				URI:            "https://downloads.gradle.org/distributions/gradle-9.7.1-bin.zip",
				Checksum:       sha256Digest("acd53f1edaf02f1a8ff99879f8a34b302661a057d9b063ae9e35b552f804d20a"),
				Source:         "https://downloads.gradle.org/distributions/gradle-9.7.1-src.zip",
				SourceChecksum: sha256Digest("c136caa3ba090740c50a703e25aa15bea0c7fb01e1450ba90e1079920e9b8bf4"),
				Stacks:         []string{"io.buildpacks.stacks.bionic", "io.paketo.stacks.tiny", "*"},
				PURL:           "pkg:generic/gradle@9.7.1",
				Line:           92,
			},
		},
		{
			name: "liberica[0] uri with '+'",
			got:  liberica.Dependencies[0],
			want: Dependency{
				Index:          0,
				ID:             "jdk",
				Name:           "BellSoft Liberica JDK",
				Version:        "8.0.492",
				URI:            "https://github.com/bell-sw/Liberica/releases/download/8u492+9/bellsoft-jdk8u492+9-linux-amd64.tar.gz",
				Checksum:       sha256Digest("23d51bf106067425c94f9286d1ee7579a112a01ae8cf7fd69b3a920e088a7be5"),
				Source:         "https://github.com/bell-sw/Liberica/releases/download/8u492+9/bellsoft-jdk8u492+9-src.tar.gz",
				SourceChecksum: sha256Digest("252e7f51f6bec1e473ce40e75a9475cd0cad1f0fb9a8e373053ad6fdc00a7569"),
				Stacks:         []string{"*"},
				PURL:           "pkg:generic/bellsoft-jdk@8.0.492?arch=amd64",
				Line:           141,
			},
		},
		{
			name: "liberica[43] last entry, followed by a license table and [[stacks]]",
			got:  liberica.Dependencies[43],
			want: Dependency{
				Index:          43,
				ID:             "jre",
				Name:           "BellSoft Liberica JRE",
				Version:        "26.0.1",
				URI:            "https://github.com/bell-sw/Liberica/releases/download/26.0.1+10/bellsoft-jre26.0.1+10-linux-ppc64le.tar.gz",
				Checksum:       sha256Digest("b5c70670a1295b88b7fbdb173e40e16554a26bb271c421118da8ed44d915f708"),
				Source:         "https://github.com/bell-sw/Liberica/releases/download/26.0.1+10/bellsoft-jdk26.0.1+10-src.tar.gz",
				SourceChecksum: sha256Digest("b5c70670a1295b88b7fbdb173e40e16554a26bb271c421118da8ed44d915f708"),
				Stacks:         []string{"*"},
				PURL:           "pkg:generic/bellsoft-jre@26.0.1?arch=ppc64le",
				Line:           829,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got, ignoreRanges); diff != "" {
				t.Errorf("dependency mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// Every node-engine entry carries a deprecation date, os and arch.
	for _, d := range node.Dependencies {
		if d.DeprecationDate.IsZero() || d.OS != "linux" || (d.Arch != "amd64" && d.Arch != "arm64") {
			t.Errorf("node-engine[%d]: deprecation %v os %q arch %q", d.Index, d.DeprecationDate, d.OS, d.Arch)
		}
	}
}

// uriLineRE matches a dependency uri line written the way the fixtures write it.
var uriLineRE = regexp.MustCompile(`^(\s*uri\s*=\s*)"[^"\\]*"(\s*)$`)

// expectRewrite computes, line by line and without the package under test,
// the document with the uri of each dependency i in newURI replaced. It
// returns the expected bytes and the 0-based numbers of the changed lines.
func expectRewrite(t *testing.T, data []byte, newURI map[int]string) (string, map[int]bool) {
	t.Helper()
	lines := strings.SplitAfter(string(data), "\n")
	changed := map[int]bool{}
	dep, inDep, found := -1, false, 0
	for n, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			inDep = trimmed == "[[metadata.dependencies]]"
			if inDep {
				dep++
			}
			continue
		}
		if !inDep {
			continue
		}
		m := uriLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		found++
		if u, ok := newURI[dep]; ok {
			lines[n] = m[1] + `"` + u + `"` + m[2]
			changed[n] = true
		}
	}
	if found != dep+1 {
		t.Fatalf("line scan found %d uri lines for %d dependencies", found, dep+1)
	}
	return strings.Join(lines, ""), changed
}

func mirrorURI(i int) string { return fmt.Sprintf("https://mirror.example/deps/%d/x+y", i) }

func TestFixtureRewriteAllURIs(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			data, f := parseFixture(t, name)
			var edits []Edit
			newURI := map[int]string{}
			for _, d := range f.Dependencies {
				edits = append(edits, Edit{Index: d.Index, Field: "uri", New: mirrorURI(d.Index)})
				newURI[d.Index] = mirrorURI(d.Index)
			}
			out, err := f.Rewrite(edits)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			want, changed := expectRewrite(t, data, newURI)
			if len(changed) != len(f.Dependencies) {
				t.Fatalf("expected %d changed lines, computed %d", len(f.Dependencies), len(changed))
			}
			if string(out) != want {
				t.Errorf("output differs from the line-based expectation:\n%s", cmp.Diff(want, string(out)))
			}
			// The changed lines are exactly the uri lines.
			inLines := strings.SplitAfter(string(data), "\n")
			outLines := strings.SplitAfter(string(out), "\n")
			if len(inLines) != len(outLines) {
				t.Fatalf("line count %d -> %d", len(inLines), len(outLines))
			}
			for n := range inLines {
				if (inLines[n] != outLines[n]) != changed[n] {
					t.Errorf("line %d: changed=%v, want changed=%v: %q -> %q", n+1, inLines[n] != outLines[n], changed[n], inLines[n], outLines[n])
				}
			}

			g, err := Parse(out)
			if err != nil {
				t.Fatalf("re-Parse: %v", err)
			}
			want2 := cloneDeps(f.Dependencies)
			for i := range want2 {
				want2[i].URI = mirrorURI(i)
			}
			if diff := cmp.Diff(want2, g.Dependencies, ignoreRanges); diff != "" {
				t.Errorf("re-parsed dependencies (-want +got):\n%s", diff)
			}
			// The parsed original is unaffected.
			if f.Dependencies[0].URI == mirrorURI(0) {
				t.Errorf("Rewrite modified the File")
			}
		})
	}
}

func TestFixtureRewriteSubset(t *testing.T) {
	for _, name := range []string{"node-engine.toml", "bellsoft-liberica.toml"} {
		t.Run(name, func(t *testing.T) {
			data, f := parseFixture(t, name)
			var edits []Edit
			newURI := map[int]string{}
			for _, d := range f.Dependencies {
				if d.Index%3 == 1 {
					edits = append(edits, Edit{Index: d.Index, Field: "uri", New: mirrorURI(d.Index)})
					newURI[d.Index] = mirrorURI(d.Index)
				}
			}
			out, err := f.Rewrite(edits)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if want, _ := expectRewrite(t, data, newURI); string(out) != want {
				t.Errorf("output differs from the line-based expectation:\n%s", cmp.Diff(want, string(out)))
			}
			g, err := Parse(out)
			if err != nil {
				t.Fatalf("re-Parse: %v", err)
			}
			for i, d := range f.Dependencies {
				nd := g.Dependencies[i]
				gotTok := string(out[nd.URIRange.Start:nd.URIRange.End])
				origTok := string(data[d.URIRange.Start:d.URIRange.End])
				if _, edited := newURI[i]; edited {
					if nd.URI != mirrorURI(i) || gotTok != `"`+mirrorURI(i)+`"` {
						t.Errorf("dependency %d: uri %q token %q", i, nd.URI, gotTok)
					}
				} else if gotTok != origTok || nd.URI != d.URI {
					t.Errorf("dependency %d: untouched uri token %q, want original %q", i, gotTok, origTok)
				}
				if a, b := string(out[nd.SourceRange.Start:nd.SourceRange.End]), string(data[d.SourceRange.Start:d.SourceRange.End]); a != b {
					t.Errorf("dependency %d: source token %q, want %q", i, a, b)
				}
			}
		})
	}
}

func TestFixtureRewriteSource(t *testing.T) {
	data, f := parseFixture(t, "gradle.toml")
	const src = "https://mirror.example/src/gradle-9.7.1-src.zip"
	out, err := f.Rewrite([]Edit{
		{Index: 0, Field: "source", New: src},
		{Index: 0, Field: "uri", New: mirrorURI(0)},
	})
	if err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	want := strings.Replace(string(data),
		`source = "https://downloads.gradle.org/distributions/gradle-9.7.1-src.zip"`,
		`source = "`+src+`"`, 1)
	want = strings.Replace(want,
		`uri = "https://downloads.gradle.org/distributions/gradle-9.7.1-bin.zip"`,
		`uri = "`+mirrorURI(0)+`"`, 1)
	if string(out) != want {
		t.Errorf("output:\n%s", cmp.Diff(want, string(out)))
	}
}

func TestRewriteNoEditsIsIdentity(t *testing.T) {
	for _, name := range fixtureNames {
		data, f := parseFixture(t, name)
		out, err := f.Rewrite(nil)
		if err != nil {
			t.Fatalf("%s: Rewrite(nil): %v", name, err)
		}
		if string(out) != string(data) {
			t.Errorf("%s: Rewrite(nil) changed the document", name)
		}
	}
}

func TestFixtureRewriteErrorPosition(t *testing.T) {
	_, f := parseFixture(t, "gradle.toml")
	_, err := f.Rewrite([]Edit{{Index: 0, Field: "sha256", New: "x"}})
	if err == nil || !strings.HasPrefix(err.Error(), `buildpack.toml:92:3: dependency 0 (id "gradle", version "9.7.1"): `) {
		t.Errorf("error %v, want it positioned at the indented header 92:3", err)
	}
}
