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
