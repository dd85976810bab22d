package oci

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// repoTemplate is a destination's repository with placeholders, like
// "buildpack-deps/{key.0}": each {key.N} is replaced by the N-th
// (0-based) "/"-separated segment of the artifact's key, made a valid
// repository path component (see component). Artifacts whose segments
// differ thus land in different repositories; their tags still come from
// the whole key (Tag), so two keys whose segments normalise alike never
// share a tag.
type repoTemplate struct {
	parts []templatePart
}

// templatePart is literal text or, when segment >= 0, a key segment.
type templatePart struct {
	literal string
	segment int
}

// errTemplate is wrapped by template parse errors.
var errTemplate = errors.New("invalid repository template")

// probeSegment stands for every placeholder when the template's shape is
// checked, and in the repository CheckConsumerAccess asks about.
const probeSegment = "ferry-probe"

// parseRepoTemplate parses s. ok is false when s has no placeholder (a plain
// repository name, checked by the caller).
func parseRepoTemplate(s string) (t *repoTemplate, ok bool, err error) {
	if !strings.ContainsAny(s, "{}") {
		return nil, false, nil
	}
	t = &repoTemplate{}
	rest := s
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if closing := strings.IndexByte(rest, '}'); closing >= 0 && (open < 0 || closing < open) {
			return nil, true, fmt.Errorf("%w: %q has a \"}\" without a \"{\"", errTemplate, s)
		}
		if open < 0 {
			t.parts = append(t.parts, templatePart{literal: rest, segment: -1})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, templatePart{literal: rest[:open], segment: -1})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, true, fmt.Errorf("%w: %q has a \"{\" without a \"}\"", errTemplate, s)
		}
		name := rest[open+1 : open+end]
		n, err := placeholderSegment(name)
		if err != nil {
			return nil, true, fmt.Errorf("%w: %w", errTemplate, err)
		}
		t.parts = append(t.parts, templatePart{segment: n})
		rest = rest[open+end+1:]
	}
	return t, true, nil
}

// placeholderSegment parses "key.N".
func placeholderSegment(name string) (int, error) {
	digits, ok := strings.CutPrefix(name, "key.")
	if !ok {
		return 0, fmt.Errorf("unknown placeholder {%s}: the only placeholders are {key.0}, {key.1}, … (segments of the artifact's key)", name)
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || n > 99 || strconv.Itoa(n) != digits {
		return 0, fmt.Errorf("placeholder {%s}: the segment number must be 0 to 99", name)
	}
	return n, nil
}

// String is the template as written.
func (t *repoTemplate) String() string {
	return t.fill(func(n int) string { return fmt.Sprintf("{key.%d}", n) })
}

// probe is the template with every placeholder replaced by probeSegment.
func (t *repoTemplate) probe() string {
	return t.fill(func(int) string { return probeSegment })
}

// fill joins the literals and what placeholder returns for each segment
// number.
func (t *repoTemplate) fill(placeholder func(n int) string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.segment < 0 {
			b.WriteString(p.literal)
		} else {
			b.WriteString(placeholder(p.segment))
		}
	}
	return b.String()
}

// expand returns the repository for key; the result still has to be
// checked against the repository grammar (a literal next to a placeholder
// can make it invalid only with some segments).
func (t *repoTemplate) expand(key string) (string, error) {
	segs := strings.Split(key, "/")
	var b strings.Builder
	for _, p := range t.parts {
		if p.segment < 0 {
			b.WriteString(p.literal)
			continue
		}
		if p.segment >= len(segs) {
			return "", fmt.Errorf("repository template %q uses {key.%d}, but key %q has only %d segment(s)",
				t.String(), p.segment, key, len(segs))
		}
		c := component(segs[p.segment])
		if c == "" {
			return "", fmt.Errorf("repository template %q: segment %d of key %q (%q) has no letter or digit to name a repository with",
				t.String(), p.segment, key, segs[p.segment])
		}
		b.WriteString(c)
	}
	return b.String(), nil
}

// component makes s a repository path component
// ([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*): letters are lowercased, every other
// character outside [a-z0-9._-] becomes "-", a run of separators that is
// not ".", "_", "__" or dashes becomes one "-", and separators at either
// end are dropped. "Node.js" becomes "node.js", "jdk+fx" "jdk-fx".
func component(s string) string {
	var b strings.Builder
	var run []byte // separators not yet written
	flush := func() {
		if len(run) == 0 {
			return
		}
		if b.Len() > 0 {
			switch sep := string(run); {
			case sep == "." || sep == "_" || sep == "__" || strings.Trim(sep, "-") == "":
				b.WriteString(sep)
			default:
				b.WriteByte('-')
			}
		}
		run = run[:0]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
			fallthrough
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			flush()
			b.WriteByte(c)
		case c == '.' || c == '_' || c == '-':
			run = append(run, c)
		default:
			run = append(run, '-')
		}
	}
	return b.String() // trailing separators are never flushed
}
