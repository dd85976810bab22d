package retention

import (
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
)

// FuzzCompareVersions checks the plain order: reflexive and antisymmetric
// on any strings, and transitive on triples that are all semver or all not.
// Across the two it is not transitive, and is kept so on purpose (issue
// 12): "1.0.0" < "1.0.0-!" < "1.0.0-rc1" by text, yet "1.0.0-rc1" <
// "1.0.0" by semver. Sources whose versions mix the two should declare an
// ecosystem order.
func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][3]string{
		{"1.2.10", "1.2.9", "1.10"},
		{"2.0.0-rc.1", "2.0.0", "v2.0.1"},
		{"jdk8u492", "jdk8u41", "build-01"},
		{"8.0.492+9", "8.0.41+9", "1.0a"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		n := 0
		for _, v := range []string{a, b, c} {
			if _, err := semver.NewVersion(v); err == nil {
				n++
			}
		}
		if n == 0 || n == 3 {
			ordertest.Check(t, CompareVersions, a, b, c)
			return
		}
		ordertest.Check(t, CompareVersions, a, a, b) // reflexive, antisymmetric
	})
}
