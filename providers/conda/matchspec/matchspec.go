// Package matchspec parses and matches conda MatchSpecs ("numpy >=1.8,<2
// py3*", "python=3.10", "pytorch[build=*cuda*, license=BSD-3-Clause]").
//
// It is written by hand because no Go library implements conda's MatchSpec
// language. The reference is conda's conda/models/match_spec.py and
// conda/models/version.py (VersionSpec), and the "Package search and
// install specifications" and package-spec pages of conda's docs. What it
// covers:
//
//   - name: exact (case-insensitive) or a glob with "*" ("py*", "*");
//   - version: "*" (any), "1.2" (exactly, in conda's order, so "1.2" ==
//     "1.2.0"), "1.2.*" or "1.2*" (starts with 1.2), "=1.2" (fuzzy: starts
//     with 1.2), "==1.2", "!=1.2", "!=1.2.*", ">=", "<=", ">", "<",
//     "~=1.2.3" (>=1.2.3 and starts with 1.2), "," (and) binding tighter
//     than "|" (or), as in conda;
//   - build: exact, or a glob with "*";
//   - the "name=version=build" and "name version build" forms, spaces
//     around operators ("python >= 3.8");
//   - bracket keys: version, build, build_number (a number or an operator
//     and a number, ">=2"), license (a case-insensitive glob), subdir,
//     fn, md5, sha256. A bracket key overrides the positional field.
//
// Not covered, and refused with an error rather than misread: channel
// prefixes ("conda-forge::numpy"; a source's selection applies to its own
// channel), parentheses in version specs, "@" features, regex values.
//
// "Starts with" is conda's VersionOrder.startswith approximated on the
// text: the version begins with the prefix (case-insensitively) and the
// next character does not continue the prefix's last run of digits or of
// letters, so 1.2.* matches 1.2, 1.2.3 and 1.2rc1 but not 1.20.
package matchspec

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Order compares two conda versions (conda.CompareVersions).
type Order func(a, b string) int

// Package is what a spec is matched against: a repodata record's fields.
type Package struct {
	Name, Version, Build string
	BuildNumber          int64
	License, Subdir      string
	FileName, MD5        string
	SHA256               string
}

// Spec is a parsed MatchSpec. Nil fields match anything.
type Spec struct {
	text        string
	Name        string // as written, lowercased
	name        *glob
	version     versionSpec
	build       *glob
	buildNumber *numberSpec
	license     *glob
	exact       map[string]string // subdir, fn, md5, sha256
}

// String is the spec as written.
func (s *Spec) String() string { return s.text }

// MatchesName reports whether the spec's name part matches name.
func (s *Spec) MatchesName(name string) bool { return s.name.match(strings.ToLower(name)) }

// Match reports whether p satisfies every part of the spec, comparing
// versions with order.
func (s *Spec) Match(p Package, order Order) bool {
	if !s.name.match(strings.ToLower(p.Name)) {
		return false
	}
	if s.version != nil && !s.version.match(p.Version, order) {
		return false
	}
	if s.build != nil && !s.build.match(p.Build) {
		return false
	}
	if s.buildNumber != nil && !s.buildNumber.match(p.BuildNumber) {
		return false
	}
	if s.license != nil && !s.license.match(strings.ToLower(p.License)) {
		return false
	}
	for k, want := range s.exact {
		var got string
		switch k {
		case "subdir":
			got = p.Subdir
		case "fn":
			got = p.FileName
		case "md5":
			got = p.MD5
		case "sha256":
			got = p.SHA256
		}
		if got != want {
			return false
		}
	}
	return true
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid MatchSpec")

func syntaxErr(spec, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrSyntax, spec, fmt.Sprintf(format, args...))
}

// MaxLen bounds a spec's length; repodata depends are far shorter.
const MaxLen = 4096

// opSpaces removes spaces around version operators, as conda does before
// splitting the positional fields ("python >= 3.8" is "python>=3.8").
var opSpaces = regexp.MustCompile(`\s*([<>=!~,|]+)\s*`)

// Parse parses one MatchSpec.
func Parse(text string) (*Spec, error) {
	if len(text) > MaxLen {
		return nil, syntaxErr(text[:40]+"…", "longer than %d bytes", MaxLen)
	}
	s := strings.TrimSpace(text)
	if s == "" {
		return nil, syntaxErr(text, "empty")
	}
	if strings.Contains(s, "::") {
		return nil, syntaxErr(text, "channel prefixes (channel::name) are not supported: the spec applies to this source's channel")
	}
	spec := &Spec{text: text}
	var brackets map[string]string
	if i := strings.IndexByte(s, '['); i >= 0 {
		if !strings.HasSuffix(s, "]") {
			return nil, syntaxErr(text, "a [key=value] part must end the spec")
		}
		var err error
		if brackets, err = parseBrackets(s[i+1 : len(s)-1]); err != nil {
			return nil, syntaxErr(text, "%v", err)
		}
		s = strings.TrimSpace(s[:i])
	}
	if strings.ContainsAny(s, "[]()\"'@") {
		return nil, syntaxErr(text, "unexpected character (brackets, parentheses, quotes and @ are not supported here)")
	}
	// The name runs up to the first operator or space.
	s = opSpaces.ReplaceAllString(s, "$1")
	end := strings.IndexAny(s, " \t<>=!~,|")
	name, rest := s, ""
	if end >= 0 {
		name, rest = s[:end], strings.TrimSpace(s[end:])
	}
	if name == "" {
		return nil, syntaxErr(text, "no package name (write * for any)")
	}
	if !validName(name) {
		return nil, syntaxErr(text, "%q is not a package name or name glob", name)
	}
	spec.Name = strings.ToLower(name)
	spec.name = newGlob(spec.Name)

	version, build := "", ""
	fields := strings.Fields(rest)
	switch {
	case len(fields) > 2:
		return nil, syntaxErr(text, "too many fields (want name, version, build)")
	case len(fields) == 2:
		version, build = fields[0], fields[1]
	case len(fields) == 1:
		version = fields[0]
		if strings.HasPrefix(version, "=") && !strings.HasPrefix(version, "==") {
			// name=version=build, or name=version (fuzzy: version.*).
			v := version[1:]
			if i := strings.LastIndexByte(v, '='); i > 0 && !strings.ContainsRune("<>=!~", rune(v[i-1])) {
				version, build = v[:i], v[i+1:]
			} else if !strings.ContainsAny(v, "=,|<>!~") && !strings.HasSuffix(v, "*") {
				version = v + ".*"
			} else {
				version = v
			}
		}
	}
	if bv, ok := brackets["version"]; ok {
		version = strings.TrimSpace(opSpaces.ReplaceAllString(bv, "$1"))
	}
	if bb, ok := brackets["build"]; ok {
		build = bb
	}
	if version != "" {
		vs, err := parseVersionSpec(version)
		if err != nil {
			return nil, syntaxErr(text, "version %q: %v", version, err)
		}
		spec.version = vs
	}
	if build != "" && build != "*" {
		if strings.ContainsAny(build, "<>=!~,|") {
			return nil, syntaxErr(text, "build %q: a build string is a name or glob, not a range", build)
		}
		spec.build = newGlob(build)
	}
	for k, v := range brackets {
		switch k {
		case "version", "build":
		case "build_number":
			n, err := parseNumberSpec(v)
			if err != nil {
				return nil, syntaxErr(text, "build_number %q: %v", v, err)
			}
			spec.buildNumber = n
		case "license":
			spec.license = newGlob(strings.ToLower(v))
		case "subdir", "fn", "md5", "sha256":
			if spec.exact == nil {
				spec.exact = map[string]string{}
			}
			spec.exact[k] = v
		default:
			return nil, syntaxErr(text, "unknown key %q (known: version, build, build_number, license, subdir, fn, md5, sha256)", k)
		}
	}
	return spec, nil
}

func validName(n string) bool {
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.*+", c)) {
			return false
		}
	}
	return true
}

// parseBrackets reads `key=value, key2="value 2"`.
func parseBrackets(s string) (map[string]string, error) {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("want key=value inside [...], got %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimSpace(s[eq+1:])
		var val string
		if s != "" && (s[0] == '"' || s[0] == '\'') {
			q := s[0]
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in [...]")
			}
			val, s = s[1:end+1], strings.TrimSpace(s[end+2:])
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		if s != "" {
			if s[0] != ',' {
				return nil, fmt.Errorf("want , between key=value pairs, got %q", s)
			}
			s = s[1:]
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("key %q given twice", key)
		}
		if val == "" {
			return nil, fmt.Errorf("key %q has an empty value", key)
		}
		out[key] = val
	}
	return out, nil
}

// glob is an exact string or a "*" pattern.
type glob struct {
	exact string
	re    *regexp.Regexp
}

func newGlob(p string) *glob {
	if !strings.Contains(p, "*") {
		return &glob{exact: p}
	}
	parts := strings.Split(p, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return &glob{re: regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")}
}

func (g *glob) match(s string) bool {
	if g.re != nil {
		return g.re.MatchString(s)
	}
	return g.exact == s
}

// versionSpec is an "or" of "and"s of constraints.
type versionSpec [][]constraint

type constraint struct {
	op string // "==", "!=", ">=", "<=", ">", "<", "startswith", "!startswith", "~=", "any"
	v  string
}

func parseVersionSpec(s string) (versionSpec, error) {
	if strings.ContainsAny(s, "() \t") {
		return nil, errors.New("parentheses and spaces are not supported inside a version spec")
	}
	var out versionSpec
	for _, alt := range strings.Split(s, "|") {
		var all []constraint
		for _, c := range strings.Split(alt, ",") {
			k, err := parseConstraint(c)
			if err != nil {
				return nil, err
			}
			all = append(all, k)
		}
		out = append(out, all)
	}
	return out, nil
}

func parseConstraint(c string) (constraint, error) {
	if c == "" {
		return constraint{}, errors.New("an empty constraint (check , and |)")
	}
	if c == "*" {
		return constraint{op: "any"}, nil
	}
	op := ""
	for _, o := range []string{"==", "!=", ">=", "<=", "~=", ">", "<", "="} {
		if strings.HasPrefix(c, o) {
			op, c = o, c[len(o):]
			break
		}
	}
	star := false
	if v, ok := strings.CutSuffix(c, ".*"); ok {
		c, star = v, true
	} else if v, ok := strings.CutSuffix(c, "*"); ok {
		c, star = v, true
	}
	if !validVersion(c) {
		return constraint{}, fmt.Errorf("%q is not a conda version", c)
	}
	switch {
	case op == "" && star, op == "=", op == "==" && star:
		return constraint{op: "startswith", v: c}, nil
	case op == "":
		return constraint{op: "==", v: c}, nil
	case op == "!=" && star:
		return constraint{op: "!startswith", v: c}, nil
	case op == "~=" && star:
		return constraint{}, errors.New("~= cannot take a .* suffix")
	case op == "~=":
		if !strings.ContainsAny(c, "._") {
			return constraint{}, errors.New("~= needs at least two version components (~=1.2)")
		}
	}
	return constraint{op: op, v: c}, nil
}

func validVersion(v string) bool {
	if v == "" || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") || strings.Contains(v, "..") {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._+!-", c)) {
			return false
		}
	}
	return true
}

func (vs versionSpec) match(v string, order Order) bool {
	for _, all := range vs {
		ok := true
		for _, c := range all {
			if !c.match(v, order) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (c constraint) match(v string, order Order) bool {
	switch c.op {
	case "any":
		return true
	case "startswith":
		return startsWith(v, c.v)
	case "!startswith":
		return !startsWith(v, c.v)
	case "~=":
		i := strings.LastIndexAny(c.v, "._")
		return order(v, c.v) >= 0 && startsWith(v, c.v[:i])
	}
	cmp := order(v, c.v)
	switch c.op {
	case "==":
		return cmp == 0
	case "!=":
		return cmp != 0
	case ">=":
		return cmp >= 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case "<":
		return cmp < 0
	}
	return false
}

// startsWith: see the package comment.
func startsWith(v, prefix string) bool {
	v, prefix = strings.ToLower(v), strings.ToLower(prefix)
	if !strings.HasPrefix(v, prefix) {
		return false
	}
	if len(v) == len(prefix) {
		return true
	}
	last, next := prefix[len(prefix)-1], v[len(prefix)]
	isDigit := func(b byte) bool { return b >= '0' && b <= '9' }
	isLetter := func(b byte) bool { return b >= 'a' && b <= 'z' }
	return !(isDigit(last) && isDigit(next) || isLetter(last) && isLetter(next))
}

// numberSpec is a build_number constraint: "3", "==3", ">=2", "<5".
type numberSpec struct {
	op string
	n  int64
}

func parseNumberSpec(s string) (*numberSpec, error) {
	op := "=="
	for _, o := range []string{"==", "!=", ">=", "<=", ">", "<"} {
		if strings.HasPrefix(s, o) {
			op, s = o, s[len(o):]
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return nil, errors.New("want a build number, optionally after ==, !=, >=, <=, > or <")
	}
	return &numberSpec{op: op, n: n}, nil
}

func (ns *numberSpec) match(n int64) bool {
	switch ns.op {
	case "==":
		return n == ns.n
	case "!=":
		return n != ns.n
	case ">=":
		return n >= ns.n
	case "<=":
		return n <= ns.n
	case ">":
		return n > ns.n
	case "<":
		return n < ns.n
	}
	return false
}
