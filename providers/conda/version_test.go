package conda

import (
	"testing"
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
	for i, gi := range order {
		for j, gj := range order {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			for _, a := range gi {
				for _, b := range gj {
					if got := sign(CompareVersions(a, b)); got != want {
						t.Errorf("CompareVersions(%q, %q) = %d; want %d", a, b, got, want)
					}
				}
			}
		}
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{name: "rc before release", a: "2.0.0rc1", b: "2.0.0", want: -1},
		{name: "alpha before release", a: "1.0a1", b: "1.0", want: -1},
		{name: "epoch beats everything", a: "1!1.0", b: "2.0", want: 1},
		{name: "zero epoch is no epoch", a: "0!2.0", b: "2.0", want: 0},
		{name: "trailing zeros do not count", a: "1.0.0", b: "1.0", want: 0},
		{name: "case-insensitive", a: "1.0.0RC1", b: "1.0.0rc1", want: 0},
		{name: "dash is underscore without underscores", a: "1.0-1", b: "1.0_1", want: 0},
		{name: "dev before underscore before letters", a: "1.0dev", b: "1.0_", want: -1},
		{name: "underscore before letters", a: "1.0_", b: "1.0a", want: -1},
		{name: "post after numbers", a: "1.0post", b: "1.0.99", want: 1},
		{name: "dev after star", a: "1.0*", b: "1.0dev", want: -1},
		{name: "numbers numerically", a: "1.10", b: "1.9", want: 1},
		{name: "big numbers", a: "1.99999999999999999999999", b: "1.99999999999999999999998", want: 1},
		{name: "leading zeros ignored", a: "1.007", b: "1.7", want: 0},
		{name: "local only when the rest is equal", a: "1.0+9", b: "1.1", want: -1},
		{name: "local version after none", a: "1.0+1", b: "1.0", want: 1},
		{name: "tag after release number", a: "1.1.parallel", b: "1.1", want: -1},
		{name: "invalid before valid", a: "1..0", b: "0.1", want: -1},
		{name: "two epochs invalid", a: "1!2!3", b: "0.1", want: -1},
		{name: "two locals invalid", a: "1+2+3", b: "0.1", want: -1},
		{name: "non-integer epoch invalid", a: "a!1.0", b: "0.1", want: -1},
		{name: "empty local invalid", a: "1.0+", b: "0.1", want: -1},
		{name: "only local invalid", a: "+1", b: "0.1", want: -1},
		{name: "dash and underscore invalid", a: "1-0_1", b: "0.1", want: -1},
		{name: "invalid among themselves", a: "b b", b: "a a", want: 1},
		{name: "surrounding space ignored", a: " 1.0 ", b: "1.0", want: 0},
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
