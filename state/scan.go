package state

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/ferry-mirror/ferry/providers"
)

// decodeStream is the fast path of decode for a plain, well-formed file,
// as ferry writes it: one pass over data that reads the artifacts (nearly
// all of a large state) without reflection. It gives up (ok false) on
// anything else: a syntax or type error, an unknown, repeated or
// differently cased name, a null, a string with escapes, a format version
// out of range. decodeChecked then decodes the file again and explains
// what is wrong, so every message comes from one place, and both read a
// file the fast path accepts the same (FuzzDecode checks it).
func decodeStream(data []byte) (s *State, ok bool) {
	sc := &scanner{data: data}
	s = &State{}
	seen := repeated()
	ok = sc.object(func(name string) bool {
		if seen(name) {
			return false
		}
		switch name {
		case "version":
			return sc.unmarshal(&s.Version)
		case "tool_version":
			return sc.unmarshal(&s.ToolVersion)
		case "serial":
			return sc.unmarshal(&s.Serial)
		case "lineage":
			return sc.unmarshal(&s.Lineage)
		case "feeds":
			return sc.unmarshal(&s.Feeds)
		case "recent_deletes":
			return sc.unmarshal(&s.RecentDeletes)
		case "mirrors":
			s.Mirrors = map[string]*Mirror{}
			return sc.object(func(name string) bool {
				if s.Mirrors[name] != nil {
					return false
				}
				m := &Mirror{}
				s.Mirrors[name] = m
				return sc.mirror(m)
			})
		}
		return false
	})
	sc.ws()
	if !ok || sc.i != len(data) || s.Version < 1 || s.Version > FormatVersion {
		return nil, false
	}
	return s, true
}

// repeated reports, call by call, whether it saw a name before.
func repeated() func(name string) bool {
	seen := map[string]bool{}
	return func(name string) bool {
		dup := seen[name]
		seen[name] = true
		return dup
	}
}

// scanner reads plain JSON in place; every method reports false on
// anything it does not read exactly as encoding/json would.
type scanner struct {
	data []byte
	i    int
}

func (sc *scanner) ws() {
	for sc.i < len(sc.data) {
		switch sc.data[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c if it comes next.
func (sc *scanner) next(c byte) bool {
	sc.ws()
	if sc.i < len(sc.data) && sc.data[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

// plain reads a string without escapes or control characters, in valid
// UTF-8, and returns its content and its extent with the quotes.
func (sc *scanner) plain() (content, quoted []byte, ok bool) {
	if !sc.next('"') {
		return nil, nil, false
	}
	start := sc.i
	for ; sc.i < len(sc.data); sc.i++ {
		switch c := sc.data[sc.i]; {
		case c == '"':
			content = sc.data[start:sc.i]
			sc.i++
			return content, sc.data[start-1 : sc.i], utf8.Valid(content)
		case c == '\\' || c < 0x20:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// str reads a plain string into a new Go string (nothing keeps data).
func (sc *scanner) str(dst *string) bool {
	b, _, ok := sc.plain()
	*dst = string(b)
	return ok
}

// object reads an object, calling member with each name to read its value.
func (sc *scanner) object(member func(name string) bool) bool {
	if !sc.next('{') {
		return false
	}
	if sc.next('}') {
		return true
	}
	for {
		var name string
		if !sc.str(&name) || !sc.next(':') || !member(name) {
			return false
		}
		if sc.next('}') {
			return true
		}
		if !sc.next(',') {
			return false
		}
	}
}

// unmarshal reads any value with encoding/json: the small header fields.
func (sc *scanner) unmarshal(v any) bool {
	sc.ws()
	start := sc.i
	if !sc.skip() {
		return false
	}
	return json.Unmarshal(sc.data[start:sc.i], v) == nil
}

// skip moves past one value, which json.Unmarshal then checks.
func (sc *scanner) skip() bool {
	depth := 0
	for sc.i < len(sc.data) {
		c := sc.data[sc.i]
		switch {
		case c == '"':
			for sc.i++; sc.i < len(sc.data) && sc.data[sc.i] != '"'; sc.i++ {
				if sc.data[sc.i] == '\\' {
					sc.i++
				}
			}
			if sc.i >= len(sc.data) {
				return false
			}
			sc.i++
		case c == '{' || c == '[':
			depth++
			sc.i++
		case c == '}' || c == ']':
			if depth == 0 {
				return true // the enclosing object ends
			}
			depth--
			sc.i++
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return true
		default:
			sc.i++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return true
		}
	}
	return depth == 0
}

// mirror reads one mirror object.
func (sc *scanner) mirror(m *Mirror) bool {
	seen := repeated()
	return sc.object(func(name string) bool {
		if seen(name) {
			return false
		}
		switch name {
		case "source":
			return sc.str(&m.Source)
		case "destination":
			return sc.str(&m.Destination)
		case "artifacts":
			m.Artifacts = map[string]*Artifact{}
			return sc.object(func(key string) bool {
				if m.Artifacts[key] != nil {
					return false
				}
				a := &Artifact{}
				if !sc.artifact(a) {
					return false
				}
				if a.Key == key {
					a.Key = key // one copy of the key, not two
				}
				m.Artifacts[key] = a
				return true
			})
		}
		return false
	})
}

// artifact reads one artifact object.
func (sc *scanner) artifact(a *Artifact) bool {
	var seen uint16
	return sc.object(func(name string) bool {
		var bit uint16
		var ok bool
		switch name {
		case "key":
			bit, ok = 1<<0, sc.str(&a.Key)
		case "name":
			bit, ok = 1<<1, sc.str(&a.Name)
		case "version":
			bit, ok = 1<<2, sc.str(&a.Version)
		case "size":
			bit, ok = 1<<3, sc.int(&a.Size)
		case "digests":
			bit, ok = 1<<4, sc.digests(&a.Digests)
		case "source_digests":
			bit, ok = 1<<5, sc.digests(&a.SourceDigests)
		case "created":
			bit, ok = 1<<6, sc.time(&a.Created)
		case "added_at":
			bit, ok = 1<<7, sc.time(&a.AddedAt)
		case "origin":
			bit, ok = 1<<8, sc.str(&a.Origin)
		case "verified_at":
			bit, ok = 1<<9, sc.time(&a.VerifiedAt)
		case "token":
			bit, ok = 1<<10, sc.str(&a.Token)
		}
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		return ok
	})
}

// int reads a whole number as JSON writes one: -?(0|[1-9][0-9]*).
func (sc *scanner) int(dst *int64) bool {
	sc.ws()
	start := sc.i
	if sc.i < len(sc.data) && sc.data[sc.i] == '-' {
		sc.i++
	}
	digits := sc.i
	for sc.i < len(sc.data) && sc.data[sc.i] >= '0' && sc.data[sc.i] <= '9' {
		sc.i++
	}
	if sc.i == digits || sc.data[digits] == '0' && sc.i-digits > 1 ||
		sc.i < len(sc.data) && (sc.data[sc.i] == '.' || sc.data[sc.i] == 'e' || sc.data[sc.i] == 'E') {
		return false
	}
	n, err := strconv.ParseInt(string(sc.data[start:sc.i]), 10, 64)
	*dst = n
	return err == nil
}

// digests reads a list of digest strings as Digest.UnmarshalText does.
func (sc *scanner) digests(dst *providers.Digests) bool {
	if !sc.next('[') {
		return false
	}
	*dst = providers.Digests{}
	if sc.next(']') {
		return true
	}
	for {
		b, _, ok := sc.plain()
		var d providers.Digest
		if !ok || d.UnmarshalText(b) != nil {
			return false
		}
		*dst = append(*dst, d)
		if sc.next(']') {
			return true
		}
		if !sc.next(',') {
			return false
		}
	}
}

// time reads a time string as time.Time.UnmarshalJSON does.
func (sc *scanner) time(dst interface{ UnmarshalJSON([]byte) error }) bool {
	_, quoted, ok := sc.plain()
	return ok && dst.UnmarshalJSON(quoted) == nil
}
