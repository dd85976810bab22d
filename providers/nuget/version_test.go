package nuget

import (
	"testing"
)

// TestCompareVersionsOrder checks every pair of a list in NuGet's order.
// Versions in one group are equal.
func TestCompareVersionsOrder(t *testing.T) {
	order := [][]string{
		{"not a version"}, // invalid: before every valid version
		{"0.9"},
		{"1.0.0-1"},
		{"1.0.0-2"},
		{"1.0.0-10"},
		{"1.0.0-alpha", "1.0.0-ALPHA", "1.0.0-alpha+build.7"},
		{"1.0.0-alpha.1"},
		{"1.0.0-alpha.2"},
		{"1.0.0-alpha.10"},
		{"1.0.0-alpha.beta"},
		{"1.0.0-Beta", "1.0.0-beta"},
		{"1.0.0-beta.2"},
		{"1.0.0-rc.1"},
		{"1.0.0", "1.0", "1", "1.0.0.0", "01.0.0", "1.0.0+abc", "1.0.0+ABC.007"},
		{"1.0.0.1-beta"},
		{"1.0.0.1"},
		{"1.0.1"},
		{"1.10.0"},
		{"2.0.0"},
		{"99999999999999999999.0"},
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
		{name: "labels case-insensitive", a: "1.0.0-Beta", b: "1.0.0-alpha", want: 1},
		{name: "equal ignoring case", a: "1.0.0-RC.1", b: "1.0.0-rc.1", want: 0},
		{name: "prerelease before release", a: "2.0.0-rc1", b: "2.0.0", want: -1},
		{name: "four parts", a: "1.2.3.4", b: "1.2.3.10", want: -1},
		{name: "revision zero is no revision", a: "1.2.3.0", b: "1.2.3", want: 0},
		{name: "metadata ignored", a: "1.0.0+a", b: "1.0.0+b", want: 0},
		{name: "numeric label before alpha label", a: "1.0.0-9", b: "1.0.0-a", want: -1},
		{name: "signed numeric label", a: "1.0.0--1", b: "1.0.0-0", want: -1},
		{name: "label over int32 compares as text", a: "1.0.0-99999999999", b: "1.0.0-a", want: -1},
		{name: "label over int32 after numbers", a: "1.0.0-99999999999", b: "1.0.0-5", want: 1},
		{name: "dash sorts before digits and letters", a: "1.0.0-a-b", b: "1.0.0-a0", want: -1},
		{name: "surrounding space ignored", a: " 1.0.0 ", b: "1.0.0", want: 0},
		{name: "five parts invalid", a: "1.2.3.4.5", b: "0.0.1", want: -1},
		{name: "leading zero numeric label invalid", a: "1.0.0-01", b: "0.0.1", want: -1},
		{name: "empty label invalid", a: "1.0.0-a..b", b: "0.0.1", want: -1},
		{name: "empty number invalid", a: "1..2", b: "0.0.1", want: -1},
		{name: "v prefix invalid", a: "v1.0.0", b: "0.0.1", want: -1},
		{name: "underscore in label invalid", a: "1.0.0-a_b", b: "0.0.1", want: -1},
		{name: "empty metadata invalid", a: "1.0.0+", b: "0.0.1", want: -1},
		{name: "invalid among themselves bytewise", a: "x2", b: "x10", want: 1},
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
