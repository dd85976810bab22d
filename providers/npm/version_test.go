package npm

import (
	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{name: "patch", a: "1.2.10", b: "1.2.9", want: 1},
		{name: "prerelease before release", a: "2.0.0-rc.1", b: "2.0.0", want: -1},
		{name: "numeric prerelease identifiers", a: "1.0.0-alpha.10", b: "1.0.0-alpha.9", want: 1},
		{name: "numeric before alphanumeric", a: "1.0.0-1", b: "1.0.0-alpha", want: -1},
		{name: "shorter prerelease first", a: "1.0.0-alpha", b: "1.0.0-alpha.1", want: -1},
		{name: "prerelease case-sensitive", a: "1.0.0-Beta", b: "1.0.0-alpha", want: -1},
		{name: "build metadata ignored", a: "1.0.0+build.1", b: "1.0.0+build.2", want: 0},
		{name: "equal", a: "20.11.1", b: "20.11.1", want: 0},
		{name: "not semver before semver", a: "2.0", b: "1.0.0", want: -1},
		{name: "not semver among themselves bytewise", a: "1.10", b: "1.9", want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sign(CompareVersions(tc.a, tc.b)); got != tc.want {
				t.Errorf("CompareVersions(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.want)
			}
			if got := sign(CompareVersions(tc.b, tc.a)); got != -tc.want {
				t.Errorf("CompareVersions(%q, %q) = %d; want %d (antisymmetry)", tc.b, tc.a, got, -tc.want)
			}
		})
	}
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// FuzzCompareVersions checks that npm's order is a total preorder on any
// strings: reflexive, antisymmetric, transitive on every triple.
func FuzzCompareVersions(f *testing.F) {
	ordertest.Fuzz(f, CompareVersions, []string{
		"1.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-1", "1.0.0+build", "2.0.0-rc.1",
		"1.2", "v1.0.0", "", "1.0.0-99999999999999999999999",
	})
}
