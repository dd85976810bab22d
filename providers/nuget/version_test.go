package nuget

import (
	"testing"

	"github.com/ferry-mirror/ferry/planner/retention/ordertest"
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
	ordertest.Ordered(t, CompareVersions, order)
}

func TestCompareVersions(t *testing.T) {
	tests := []ordertest.Case{
		{Name: "labels case-insensitive", A: "1.0.0-Beta", B: "1.0.0-alpha", Want: 1},
		{Name: "equal ignoring case", A: "1.0.0-RC.1", B: "1.0.0-rc.1", Want: 0},
		{Name: "prerelease before release", A: "2.0.0-rc1", B: "2.0.0", Want: -1},
		{Name: "four parts", A: "1.2.3.4", B: "1.2.3.10", Want: -1},
		{Name: "revision zero is no revision", A: "1.2.3.0", B: "1.2.3", Want: 0},
		{Name: "metadata ignored", A: "1.0.0+a", B: "1.0.0+b", Want: 0},
		{Name: "numeric label before alpha label", A: "1.0.0-9", B: "1.0.0-a", Want: -1},
		{Name: "signed numeric label", A: "1.0.0--1", B: "1.0.0-0", Want: -1},
		{Name: "label over int32 compares as text", A: "1.0.0-99999999999", B: "1.0.0-a", Want: -1},
		{Name: "label over int32 after numbers", A: "1.0.0-99999999999", B: "1.0.0-5", Want: 1},
		{Name: "dash sorts before digits and letters", A: "1.0.0-a-b", B: "1.0.0-a0", Want: -1},
		{Name: "surrounding space ignored", A: " 1.0.0 ", B: "1.0.0", Want: 0},
		{Name: "five parts invalid", A: "1.2.3.4.5", B: "0.0.1", Want: -1},
		{Name: "leading zero numeric label invalid", A: "1.0.0-01", B: "0.0.1", Want: -1},
		{Name: "empty label invalid", A: "1.0.0-a..b", B: "0.0.1", Want: -1},
		{Name: "empty number invalid", A: "1..2", B: "0.0.1", Want: -1},
		{Name: "v prefix invalid", A: "v1.0.0", B: "0.0.1", Want: -1},
		{Name: "underscore in label invalid", A: "1.0.0-a_b", B: "0.0.1", Want: -1},
		{Name: "empty metadata invalid", A: "1.0.0+", B: "0.0.1", Want: -1},
		{Name: "invalid among themselves bytewise", A: "x2", B: "x10", Want: 1},
	}
	ordertest.Cases(t, CompareVersions, tests)
}
