package conda

import (
	"testing"

	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
)

// TestCompareVersionsOrder checks every pair of a list in conda's order:
// the example list from VersionOrder's docstring (conda/models/version.py)
// plus the cases of issue 12. Versions in one group are equal.
func TestCompareVersionsOrder(t *testing.T) {
	order := [][]string{
		{"not a version"}, // invalid: before every valid version
		{"0.4", "0.4.0"},  // the docstring lists 0.4 < 0.4.0, but conda's code (fill value 0) makes them equal
		{"0.4.1.rc", "0.4.1.RC"},
		{"0.4.1"},
		{"0.5a1"},
		{"0.5b3"},
		{"0.5C1"},
		{"0.5"},
		{"0.9.6"},
		{"0.960923"},
		{"1.0a1"},
		{"1.0"},
		{"1.1dev1"},
		{"1.1_"},
		{"1.1a1"},
		{"1.1.0dev1", "1.1.dev1"},
		{"1.1.a1"},
		{"1.1.0rc1"},
		{"1.1.0", "1.1", "1.1.0.0", "01.1"},
		{"1.1.0post1", "1.1.post1"},
		{"1.1post1"},
		{"2.0.0rc1"},
		{"2.0.0+local1"}, // a local string, like any string, is older than the missing 0
		{"2.0.0+local2"},
		{"2.0.0", "2.0"},
		{"2.0.0+1"},
		{"2.0.0post1"},
		{"10.0"},
		{"1996.07.12"},
		{"1!0.4", "1!0.4.0"},
		{"1!0.4.1"},
		{"1!1.0"},
		{"1!3.1.1.6"},
		{"2!0.4.1"},
	}
	ordertest.Ordered(t, CompareVersions, order)
}

func TestCompareVersions(t *testing.T) {
	tests := []ordertest.Case{
		{Name: "rc before release", A: "2.0.0rc1", B: "2.0.0", Want: -1},
		{Name: "alpha before release", A: "1.0a1", B: "1.0", Want: -1},
		{Name: "epoch beats everything", A: "1!1.0", B: "2.0", Want: 1},
		{Name: "zero epoch is no epoch", A: "0!2.0", B: "2.0", Want: 0},
		{Name: "trailing zeros do not count", A: "1.0.0", B: "1.0", Want: 0},
		{Name: "case-insensitive", A: "1.0.0RC1", B: "1.0.0rc1", Want: 0},
		{Name: "dash is underscore without underscores", A: "1.0-1", B: "1.0_1", Want: 0},
		{Name: "dev before underscore before letters", A: "1.0dev", B: "1.0_", Want: -1},
		{Name: "underscore before letters", A: "1.0_", B: "1.0a", Want: -1},
		{Name: "post after numbers", A: "1.0post", B: "1.0.99", Want: 1},
		{Name: "dev after star", A: "1.0*", B: "1.0dev", Want: -1},
		{Name: "numbers numerically", A: "1.10", B: "1.9", Want: 1},
		{Name: "big numbers", A: "1.99999999999999999999999", B: "1.99999999999999999999998", Want: 1},
		{Name: "leading zeros ignored", A: "1.007", B: "1.7", Want: 0},
		{Name: "local only when the rest is equal", A: "1.0+9", B: "1.1", Want: -1},
		{Name: "local version after none", A: "1.0+1", B: "1.0", Want: 1},
		{Name: "tag after release number", A: "1.1.parallel", B: "1.1", Want: -1},
		{Name: "invalid before valid", A: "1..0", B: "0.1", Want: -1},
		{Name: "two epochs invalid", A: "1!2!3", B: "0.1", Want: -1},
		{Name: "two locals invalid", A: "1+2+3", B: "0.1", Want: -1},
		{Name: "non-integer epoch invalid", A: "a!1.0", B: "0.1", Want: -1},
		{Name: "empty local invalid", A: "1.0+", B: "0.1", Want: -1},
		{Name: "only local invalid", A: "+1", B: "0.1", Want: -1},
		{Name: "dash and underscore invalid", A: "1-0_1", B: "0.1", Want: -1},
		{Name: "invalid among themselves", A: "b b", B: "a a", Want: 1},
		{Name: "surrounding space ignored", A: " 1.0 ", B: "1.0", Want: 0},
	}
	ordertest.Cases(t, CompareVersions, tests)
}
