package conda

import (
	"strings"
)

// CompareVersions orders two conda version strings the way conda's
// VersionOrder does: negative, zero or positive as a is older than, the
// same version as, or newer than b. It is written by hand because no Go
// library implements conda's order; the reference is VersionOrder in
// conda/models/version.py (github.com/conda/conda, read at 0f64223f) and
// the "Version ordering" section of conda's package-spec docs.
//
// The rules, in short: case is ignored; an optional integer epoch "N!"
// comes first and a local version "+…" last (compared only when the rest
// is equal); the rest splits into components at "." and "_" ("-" too when
// the string has no "_"), and each component into runs of digits and
// non-digits. Numbers compare numerically and are newer than strings;
// strings compare bytewise, except that "dev" is older and "post" newer
// than anything else in its place; a component that starts with a letter
// gets a 0 in front ("1.1.a1" == "1.1.0a1"), and a missing subcomponent
// counts as 0, so "1.0" == "1.0.0" and "2.0.0rc1" < "2.0.0". So:
//
//	1.1dev1 < 1.1a1 < 1.1.0rc1 < 1.1 == 1.1.0 < 1.1.post1 < 1996.07.12 < 1!0.4.1
//
// Strings conda refuses as versions (empty, characters outside
// [A-Za-z0-9._+!*-], an empty component, a second "!" or "+", a non-integer
// epoch) sort before every valid version and among themselves bytewise,
// so the order stays total.
func CompareVersions(a, b string) int {
	va, okA := parse(a)
	vb, okB := parse(b)
	switch {
	case okA && okB:
		if c := compareParts(va.version, vb.version); c != 0 {
			return c
		}
		return compareParts(va.local, vb.local)
	case okA:
		return 1
	case okB:
		return -1
	}
	return strings.Compare(a, b)
}

// atomKind orders the kinds of subcomponent: every string is older than
// every number, and "post" is newer than every number.
type atomKind uint8

const (
	atomString atomKind = iota
	atomNumber
	atomPost
)

// atom is one subcomponent: a run of digits (s holds it without leading
// zeros, "" for zero), "post", or another string (lower case; "dev" is
// stored as "DEV" so that it sorts before "_" and every lower-case string,
// as conda does).
type atom struct {
	kind atomKind
	s    string
}

// zero is conda's fill value for a missing subcomponent.
var zero = atom{kind: atomNumber}

type version struct {
	version, local [][]atom
}

// parse follows VersionOrder.__init__; ok is false where conda raises
// InvalidVersionSpec.
func parse(s string) (version, bool) {
	v := strings.ToLower(strings.TrimSpace(s))
	if v == "" {
		return version{}, false
	}
	if !validChars(v) && strings.Contains(v, "-") && !strings.Contains(v, "_") {
		v = strings.ReplaceAll(v, "-", "_")
	}
	if !validChars(v) {
		return version{}, false
	}
	epoch := "0"
	if e, rest, found := strings.Cut(v, "!"); found {
		if strings.Contains(rest, "!") || !allDigits(e) {
			return version{}, false
		}
		epoch, v = e, rest
	}
	var local []string
	if main, l, found := strings.Cut(v, "+"); found {
		if strings.Contains(l, "+") {
			return version{}, false
		}
		v, local = main, strings.Split(strings.ReplaceAll(l, "_", "."), ".")
	}
	if v == "" {
		return version{}, false
	}
	var comps []string
	if strings.HasSuffix(v, "_") {
		// A trailing "_" (or "-") stays on the last component: conda's
		// work-around for openssl-like versions, "1.0.1_" > "1.0.1".
		comps = strings.Split(strings.ReplaceAll(v[:len(v)-1], "_", "."), ".")
		comps[len(comps)-1] += "_"
	} else {
		comps = strings.Split(strings.ReplaceAll(v, "_", "."), ".")
	}
	var out version
	var ok bool
	if out.version, ok = components(append([]string{epoch}, comps...)); !ok {
		return version{}, false
	}
	if out.local, ok = components(local); !ok {
		return version{}, false
	}
	return out, true
}

// validChars is conda's version_check_re: ^[*.+!_0-9a-z]+$.
func validChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || isDigit(c) || strings.IndexByte("*.+!_", c) >= 0) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// components splits each component into runs of digits, of "*" and of
// anything else (version_split_re), prepending the fill value 0 to a
// component that does not start with a digit.
func components(comps []string) ([][]atom, bool) {
	out := make([][]atom, 0, len(comps))
	for _, comp := range comps {
		if comp == "" {
			return nil, false // "empty version component"
		}
		var atoms []atom
		if !isDigit(comp[0]) {
			atoms = append(atoms, zero)
		}
		for rest := comp; rest != ""; {
			n := 1
			for n < len(rest) && runClass(rest[n]) == runClass(rest[0]) {
				n++
			}
			run := rest[:n]
			rest = rest[n:]
			switch {
			case isDigit(run[0]):
				atoms = append(atoms, atom{kind: atomNumber, s: strings.TrimLeft(run, "0")})
			case run == "post":
				atoms = append(atoms, atom{kind: atomPost})
			case run == "dev":
				atoms = append(atoms, atom{kind: atomString, s: "DEV"})
			default:
				atoms = append(atoms, atom{kind: atomString, s: run})
			}
		}
		out = append(out, atoms)
	}
	return out, true
}

// runClass tells digits, stars and everything else apart.
func runClass(c byte) int {
	switch {
	case isDigit(c):
		return 0
	case c == '*':
		return 1
	}
	return 2
}

// compareParts compares component lists lexicographically, a missing
// component or subcomponent counting as 0 (VersionOrder.__lt__).
func compareParts(a, b [][]atom) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var ca, cb []atom
		if i < len(a) {
			ca = a[i]
		}
		if i < len(b) {
			cb = b[i]
		}
		for j := 0; j < max(len(ca), len(cb)); j++ {
			x, y := zero, zero
			if j < len(ca) {
				x = ca[j]
			}
			if j < len(cb) {
				y = cb[j]
			}
			if c := compareAtoms(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}

func compareAtoms(x, y atom) int {
	if x.kind != y.kind {
		if x.kind < y.kind {
			return -1
		}
		return 1
	}
	switch x.kind {
	case atomNumber:
		// Digit strings without leading zeros: the longer is larger.
		if len(x.s) != len(y.s) {
			if len(x.s) < len(y.s) {
				return -1
			}
			return 1
		}
		return strings.Compare(x.s, y.s)
	case atomString:
		return strings.Compare(x.s, y.s)
	}
	return 0 // post == post
}
