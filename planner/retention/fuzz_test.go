package retention

import (
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
)

// FuzzCompareVersions checks the plain order: a total order on any strings
// (reflexive, antisymmetric, transitive on every triple), and semver's
// order wherever two strings are lenient semver versions that semver does
// not call equal.
func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][3]string{
		{"1.2.10", "1.2.9", "1.10"},
		{"2.0.0-rc.1", "2.0.0", "v2.0.1"},
		{"jdk8u492", "jdk8u41", "build-01"},
		{"8.0.492+9", "8.0.41+9", "1.0a"},
		{"1.0.0", "1.0.0-!", "1.0.0-rc1"},
		{"latest", "v1", "-1"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ordertest.Check(t, CompareVersions, a, b, c)
		va, errA := semver.NewVersion(a)
		vb, errB := semver.NewVersion(b)
		if errA != nil || errB != nil {
			return
		}
		if want := va.Compare(vb); want != 0 && CompareVersions(a, b) != want {
			t.Errorf("CompareVersions(%q, %q) = %d; semver says %d", a, b, CompareVersions(a, b), want)
		}
	})
}
