package nuget

import (
	"testing"

	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
)

// FuzzCompareVersions checks that NuGet's order is a total preorder on any
// strings: reflexive, antisymmetric, transitive on every triple.
func FuzzCompareVersions(f *testing.F) {
	ordertest.Fuzz(f, CompareVersions, []string{
		"1.0.0-Beta", "1.0.0-alpha", "1.0.0", "1.0", "1.0.0.1", "1.0.0-1", "1.0.0--1",
		"1.0.0-99999999999", "1.0.0+meta", "2.0.0-rc.1", "1..2", "", "v1",
	})
}

// FuzzNormalizeVersion checks that normalizing keeps a version's place in
// NuGet's order and is idempotent, and that a range parses or is refused
// without panicking and contains only versions.
func FuzzNormalizeVersion(f *testing.F) {
	for _, s := range []string{"1.0", "01.2.3.0", "1.0.0-Beta.1+meta", "1.0.0.4", "[1.0,2.0)", "(,1.5]", "[1.0]", "1.*", "(1.0)", "[,]", ""} {
		f.Add(s, "1.0.0")
	}
	f.Fuzz(func(t *testing.T, s, v string) {
		if n, ok := NormalizeVersion(s); ok {
			if CompareVersions(s, n) != 0 {
				t.Errorf("NormalizeVersion(%q) = %q, which NuGet orders differently", s, n)
			}
			if again, ok := NormalizeVersion(n); !ok || again != n {
				t.Errorf("NormalizeVersion(%q) = %q, but that normalizes to %q, %v", s, n, again, ok)
			}
		}
		if r, err := ParseRange(s); err == nil {
			if _, ok := NormalizeVersion(v); r.Contains(v) && !ok {
				t.Errorf("range %q contains %q, which is not a version", s, v)
			}
		}
	})
}
