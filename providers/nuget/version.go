package nuget

import (
	"strconv"
	"strings"
)

// CompareVersions orders two NuGet version strings the way NuGet's
// VersionComparer.Default does (NuGet.Versioning, github.com/NuGet/NuGet.Client,
// src/NuGet.Core/NuGet.Versioning: NuGetVersionFactory.cs, VersionComparer.cs):
// negative, zero or positive as a is older than, the same version as, or
// newer than b.
//
// A version is 1 to 4 dot-separated numbers (missing ones are 0, so
// "1.0" == "1.0.0.0"), then optional "-" release labels, then optional "+"
// metadata, which the order ignores. A version with labels is older than
// the same version without; labels compare one by one, numeric ones (those
// that parse as a 32-bit integer) numerically and before the others, the
// others case-insensitively ("1.0.0-Beta" > "1.0.0-alpha",
// "1.0.0-RC" == "1.0.0-rc"); a shorter list that is a prefix of the
// other is older.
//
// Version numbers compare as numbers of any size (NuGet stores them as
// int32), and an empty number ("1..2") is refused where NuGet reads it as
// 0. Strings NuGet refuses as versions sort before every valid version and
// among themselves bytewise, so the order stays total.
func CompareVersions(a, b string) int {
	va, okA := parse(a)
	vb, okB := parse(b)
	switch {
	case okA && okB:
		return compare(va, vb)
	case okA:
		return 1
	case okB:
		return -1
	}
	return strings.Compare(a, b)
}

type version struct {
	// numbers are the four version numbers without leading zeros ("" is 0).
	numbers [4]string
	labels  []string
}

// parse follows NuGetVersion.TryParse: the string is trimmed, split at
// the first "-" or "+" into the version numbers and the rest, and the rest
// at the first "+" after a "-" into labels and metadata.
func parse(s string) (version, bool) {
	var v version
	s = strings.TrimSpace(s)
	numbers, rest, _ := strings.Cut(s, "+")
	var metadata *string
	if i := strings.IndexAny(s, "-+"); i >= 0 && s[i] == '-' {
		numbers = s[:i]
		labels, meta, hasMeta := strings.Cut(s[i+1:], "+")
		v.labels = strings.Split(labels, ".")
		for _, l := range v.labels {
			if !validPart(l, false) {
				return version{}, false
			}
		}
		if hasMeta {
			metadata = &meta
		}
	} else if i >= 0 {
		metadata = &rest
	}
	if metadata != nil {
		for _, p := range strings.Split(*metadata, ".") {
			if !validPart(p, true) {
				return version{}, false
			}
		}
	}
	parts := strings.Split(numbers, ".")
	if len(parts) > 4 {
		return version{}, false
	}
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return version{}, false
		}
		v.numbers[i] = strings.TrimLeft(p, "0")
	}
	return v, true
}

// validPart is NuGet's IsValidPart: non-empty, [0-9A-Za-z-] only, and,
// unless leading zeros are allowed, no all-digit part with a leading zero.
func validPart(s string, allowLeadingZeros bool) bool {
	if s == "" {
		return false
	}
	if !allowLeadingZeros && len(s) > 1 && s[0] == '0' && strings.Trim(s, "0123456789") == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

func compare(a, b version) int {
	for i := range a.numbers {
		if c := compareNumbers(a.numbers[i], b.numbers[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a.labels) == 0 && len(b.labels) == 0:
		return 0
	case len(a.labels) == 0:
		return 1 // a release is newer than its prereleases
	case len(b.labels) == 0:
		return -1
	}
	for i := 0; i < len(a.labels) && i < len(b.labels); i++ {
		if c := compareLabels(a.labels[i], b.labels[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a.labels) < len(b.labels):
		return -1
	case len(a.labels) > len(b.labels):
		return 1
	}
	return 0
}

// compareNumbers compares digit strings without leading zeros.
func compareNumbers(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// compareLabels is NuGet's CompareRelease: labels that int.TryParse reads
// (a 32-bit integer, optionally signed: "-1" is a valid label) compare as
// numbers and before the others; the others compare ordinally, ignoring
// case (OrdinalIgnoreCase upper-cases).
func compareLabels(a, b string) int {
	na, errA := strconv.ParseInt(a, 10, 32)
	nb, errB := strconv.ParseInt(b, 10, 32)
	switch {
	case errA == nil && errB == nil:
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(strings.ToUpper(a), strings.ToUpper(b))
}
