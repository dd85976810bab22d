package conda

import (
	"testing"

	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
)

// FuzzCompareVersions checks that conda's order is a total preorder on any
// strings: reflexive, antisymmetric, transitive on every triple.
func FuzzCompareVersions(f *testing.F) {
	ordertest.Fuzz(f, CompareVersions, []string{
		"0.4", "0.4.0", "0.4.1.rc", "0.5C1", "1.1dev1", "1.1.0post1", "1!0.4.1",
		"2.0.0rc1", "2.0.0+local_1", "1.0.1_", "1.0*", "1.0-1", "", "a!1", "1..0",
	})
}
