// Package retention decides which artifacts a mirror keeps: the newest
// keep_last versions of each package, nothing older than max_age, and every
// pinned version or key whatever the other rules say. It is pure: the caller
// passes the clock.
package retention

import (
	"strings"

	"github.com/Masterminds/semver/v3"
)

// CompareVersions orders two version strings: by semantic versioning when both
// parse as semver (leniently: "1.7", "v2.0.1"), otherwise by a natural order
// that compares digit runs numerically and other runs bytewise
// ("1.10" > "1.9", "jdk8u492" > "jdk8u41"). It returns -1, 0 or +1.
func CompareVersions(a, b string) int {
	if a == b {
		return 0
	}
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	if errA == nil && errB == nil {
		if c := va.Compare(vb); c != 0 {
			return c
		}
		// Equal in semver ("1.0" and "1.0.0", or differing only in build
		// metadata): fall back to text so the order stays total.
	}
	return naturalCompare(a, b)
}

// naturalCompare compares runs of digits as numbers and everything else
// bytewise. Leading zeros are ignored for ordering but break ties so the
// order is total.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		ra, restA := nextRun(a)
		rb, restB := nextRun(b)
		if c := compareRun(ra, rb); c != 0 {
			return c
		}
		a, b = restA, restB
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func nextRun(s string) (run, rest string) {
	digit := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == digit {
		i++
	}
	return s[:i], s[i:]
}

func compareRun(a, b string) int {
	if isDigit(a[0]) && isDigit(b[0]) {
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(ta) != len(tb) {
			if len(ta) < len(tb) {
				return -1
			}
			return 1
		}
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
		// Same number: fewer leading zeros sorts first, for a total order.
		switch {
		case len(a) < len(b):
			return -1
		case len(a) > len(b):
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}
