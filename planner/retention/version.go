// Package retention decides which artifacts a mirror keeps: the newest
// keep_last versions of each package, nothing older than max_age, and every
// pinned version or key whatever the other rules say. It is pure: the caller
// passes the clock.
package retention

import (
	"strings"
)

// CompareVersions is the plain version order, for sources whose ecosystem
// has none of its own. It agrees with semantic versioning wherever both
// strings are (lenient) semver ("1.7", "v2.0.1", "2.0.0-rc.1" < "2.0.0"),
// and with a natural order that compares digit runs as numbers and other
// runs bytewise elsewhere ("1.10" > "1.9", "jdk8u492" > "jdk8u41"). It
// returns -1, 0 or +1.
//
// It is one key compared field by field, so it is a total order on any
// strings (transitive across semver and free text too; comparing semver and
// text pairs by two different rules made cycles: "1.0.0" < "1.0.0-!" <
// "1.0.0-rc1" < "1.0.0"):
//  1. what the string starts with: other punctuation, then a version (a
//     digit, or "v" and a digit), then everything else (words: "latest");
//  2. for versions, the dot-separated numbers (missing ones count as 0);
//  3. then a "-suffix" (a pre-release, before its release), nothing or
//     "+build", then any other suffix ("2.0.0rc1", "1.1.1w": after);
//  4. pre-release identifiers as semver compares them (numbers
//     numerically, below words; words bytewise), other suffixes naturally;
//  5. ties (semver-equal "1.0" and "1.0.0", build metadata) by the natural
//     order of the whole strings, so that only equal strings compare equal.
func CompareVersions(a, b string) int {
	if a == b {
		return 0
	}
	ka, kb := plainKey(a), plainKey(b)
	if c := cmpInt(ka.class, kb.class); c != 0 {
		return c
	}
	if ka.class == classVersion {
		if c := compareNumbers(ka.core, kb.core); c != 0 {
			return c
		}
		if c := cmpInt(ka.stage, kb.stage); c != 0 {
			return c
		}
		switch ka.stage {
		case stagePre:
			if c := comparePrerelease(ka.suffix, kb.suffix); c != 0 {
				return c
			}
		case stagePost:
			if c := naturalCompare(ka.suffix, kb.suffix); c != 0 {
				return c
			}
		}
	}
	return naturalCompare(a, b)
}

const (
	classPunct   = iota // starts below '0': "-x", ".", ""
	classVersion        // "1…", "v1…"
	classWord           // anything else: "latest", "jdk8u492"
)

const (
	stagePre     = iota // "1.0.0-rc.1"
	stageRelease        // "1.0.0", "1.0.0+build"
	stagePost           // "2.0.0rc1", "1.1.1w", "1.0.x"
)

// versionKey is a string split for CompareVersions.
type versionKey struct {
	class int
	// core are the dot-separated numbers of a version; stage and suffix
	// what follows them (for stagePre the identifiers without "-" and any
	// "+build", for stagePost the whole rest).
	core   []string
	stage  int
	suffix string
}

func plainKey(s string) versionKey {
	body := s
	if len(body) > 1 && body[0] == 'v' && isDigit(body[1]) {
		body = body[1:]
	}
	switch {
	case body == "" || body[0] < '0':
		return versionKey{class: classPunct}
	case !isDigit(body[0]):
		return versionKey{class: classWord}
	}
	k := versionKey{class: classVersion}
	for {
		i := 0
		for i < len(body) && isDigit(body[i]) {
			i++
		}
		k.core = append(k.core, body[:i])
		body = body[i:]
		if len(body) < 2 || body[0] != '.' || !isDigit(body[1]) {
			break
		}
		body = body[1:]
	}
	switch {
	case body == "" || body[0] == '+':
		k.stage = stageRelease
	case body[0] == '-':
		k.stage = stagePre
		k.suffix, _, _ = strings.Cut(body[1:], "+")
	default:
		k.stage, k.suffix = stagePost, body
	}
	return k
}

// compareNumbers compares dot-separated numbers, the shorter padded with 0.
func compareNumbers(a, b []string) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := "0", "0"
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := compareDecimal(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// comparePrerelease compares pre-release identifiers as semver does: one
// by one, numbers numerically and below words, words bytewise; more
// identifiers after equal ones sort later.
func comparePrerelease(a, b string) int {
	ia, ib := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(ia) && i < len(ib); i++ {
		x, y := ia[i], ib[i]
		nx, ny := isNumeric(x), isNumeric(y)
		var c int
		switch {
		case nx && ny:
			c = compareDecimal(x, y)
		case nx:
			c = -1
		case ny:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(ia), len(ib))
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// compareDecimal compares two digit strings by value, of any length.
func compareDecimal(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if c := cmpInt(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
