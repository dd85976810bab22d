package npm

import (
	"testing"

	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
)

func TestCompareVersions(t *testing.T) {
	tests := []ordertest.Case{
		{Name: "patch", A: "1.2.10", B: "1.2.9", Want: 1},
		{Name: "prerelease before release", A: "2.0.0-rc.1", B: "2.0.0", Want: -1},
		{Name: "numeric prerelease identifiers", A: "1.0.0-alpha.10", B: "1.0.0-alpha.9", Want: 1},
		{Name: "numeric before alphanumeric", A: "1.0.0-1", B: "1.0.0-alpha", Want: -1},
		{Name: "shorter prerelease first", A: "1.0.0-alpha", B: "1.0.0-alpha.1", Want: -1},
		{Name: "prerelease case-sensitive", A: "1.0.0-Beta", B: "1.0.0-alpha", Want: -1},
		{Name: "build metadata ignored", A: "1.0.0+build.1", B: "1.0.0+build.2", Want: 0},
		{Name: "equal", A: "20.11.1", B: "20.11.1", Want: 0},
		{Name: "not semver before semver", A: "2.0", B: "1.0.0", Want: -1},
		{Name: "not semver among themselves bytewise", A: "1.10", B: "1.9", Want: -1},
	}
	ordertest.Cases(t, CompareVersions, tests)
}

// FuzzCompareVersions checks that npm's order is a total preorder on any
// strings: reflexive, antisymmetric, transitive on every triple.
func FuzzCompareVersions(f *testing.F) {
	ordertest.Fuzz(f, CompareVersions, []string{
		"1.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-1", "1.0.0+build", "2.0.0-rc.1",
		"1.2", "v1.0.0", "", "1.0.0-99999999999999999999999",
	})
}
