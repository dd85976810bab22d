package nuget

import (
	"fmt"
	"strings"
)

// NormalizeVersion is the form of a NuGet version in flat container URLs
// and in ferry's keys: leading zeros dropped, a fourth number of 0
// dropped ("1.01.0.0" → "1.1.0"), build metadata stripped, lower-cased
// (NuGet's NuGetVersion.ToNormalizedString, then ToLowerInvariant). ok is
// false for a string that is not a NuGet version.
func NormalizeVersion(s string) (string, bool) {
	v, ok := parse(s)
	if !ok {
		return "", false
	}
	num := func(n string) string {
		if n == "" {
			return "0"
		}
		return n
	}
	out := num(v.numbers[0]) + "." + num(v.numbers[1]) + "." + num(v.numbers[2])
	if v.numbers[3] != "" {
		out += "." + v.numbers[3]
	}
	if len(v.labels) > 0 {
		out += "-" + strings.Join(v.labels, ".")
	}
	return strings.ToLower(out), true
}

// IsPrerelease reports whether a NuGet version has release labels.
func IsPrerelease(s string) bool {
	v, ok := parse(s)
	return ok && len(v.labels) > 0
}

// Range is a NuGet version range (NuGet's VersionRange): "1.0" (at least
// 1.0), "[1.0]" (exactly), "[1.0,2.0)", "(,1.0]", "(1.0,)". Floating
// versions ("1.*") are not ranges of published versions and are refused.
type Range struct {
	min, max         string // "" when unbounded
	minIncl, maxIncl bool
	text             string
}

// ParseRange parses NuGet's version range syntax.
func ParseRange(s string) (Range, error) {
	t := strings.TrimSpace(s)
	r := Range{text: t}
	if t == "" {
		return r, fmt.Errorf("empty range")
	}
	if strings.Contains(t, "*") {
		return r, fmt.Errorf("%q is a floating version; give a range such as \"[1.0,2.0)\"", s)
	}
	if t[0] != '[' && t[0] != '(' {
		if _, ok := parse(t); !ok {
			return r, fmt.Errorf("%q is not a NuGet version", t)
		}
		r.min, r.minIncl = t, true
		return r, nil
	}
	last := t[len(t)-1]
	if len(t) < 3 || (last != ']' && last != ')') {
		return r, fmt.Errorf("%q: a range in brackets ends with ] or )", s)
	}
	r.minIncl, r.maxIncl = t[0] == '[', last == ']'
	inner := strings.TrimSpace(t[1 : len(t)-1])
	lo, hi, comma := strings.Cut(inner, ",")
	lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
	if !comma {
		// "[1.0]" is exactly 1.0; "(1.0)" matches nothing and NuGet refuses it.
		if !r.minIncl || !r.maxIncl || lo == "" {
			return r, fmt.Errorf("%q: an exact version is written [VERSION]", s)
		}
		hi = lo
	}
	if strings.Contains(hi, ",") {
		return r, fmt.Errorf("%q: a range has at most two bounds", s)
	}
	if lo == "" && hi == "" {
		return r, fmt.Errorf("%q: a range needs at least one bound", s)
	}
	for _, b := range []string{lo, hi} {
		if b != "" {
			if _, ok := parse(b); !ok {
				return r, fmt.Errorf("%q: %q is not a NuGet version", s, b)
			}
		}
	}
	r.min, r.max = lo, hi
	if lo != "" && hi != "" {
		c := CompareVersions(lo, hi)
		if c > 0 || (c == 0 && !(r.minIncl && r.maxIncl)) {
			return r, fmt.Errorf("%q matches no version (its lower bound is not below its upper bound)", s)
		}
	}
	return r, nil
}

// Contains reports whether version v is in the range.
func (r Range) Contains(v string) bool {
	if _, ok := parse(v); !ok {
		return false
	}
	if r.min != "" {
		c := CompareVersions(v, r.min)
		if c < 0 || (c == 0 && !r.minIncl) {
			return false
		}
	}
	if r.max != "" {
		c := CompareVersions(v, r.max)
		if c > 0 || (c == 0 && !r.maxIncl) {
			return false
		}
	}
	return true
}

// String is the range as configured.
func (r Range) String() string { return r.text }
