package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
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
	s, _, ok = scanState(data)
	return s, ok
}

// scanState is decodeStream, which also normalizes and checks
// (checkArtifact) each artifact as it reads it, while the artifact is in
// the cache: valid are the mirrors whose artifacts are all normalized and
// valid, which decode need not visit again.
func scanState(data []byte) (s *State, valid map[*Mirror]bool, ok bool) {
	sc := &scanner{data: data}
	s = &State{}
	valid = map[*Mirror]bool{}
	seen := repeated()
	ok = sc.object(func(b []byte) bool {
		name := string(b)
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
		case "shards":
			// A struct: unknown members are refused, as decodeChecked does.
			sc.ws()
			start := sc.i
			if !sc.skip() {
				return false
			}
			dec := json.NewDecoder(bytes.NewReader(sc.data[start:sc.i]))
			dec.DisallowUnknownFields()
			return dec.Decode(&s.Shards) == nil
		case "mirrors":
			s.Mirrors = map[string]*Mirror{}
			return sc.object(func(b []byte) bool {
				if s.Mirrors[string(b)] != nil {
					return false
				}
				name := string(b)
				m := &Mirror{}
				s.Mirrors[name] = m
				return sc.mirror(name, m, valid)
			})
		}
		return false
	})
	sc.ws()
	if !ok || sc.i != len(data) || s.Version < 1 || s.Version > FormatVersion {
		return nil, nil, false
	}
	return s, valid, true
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

	// Artifacts and their digests are allocated in slabs, not one by one:
	// fewer allocations, and the artifacts of a mirror lie together.
	arts []Artifact
	digs []providers.Digest
	// The artifact being read: the bytes of all its strings (each read
	// once, see keep), and its digests until it is complete.
	buf     []byte
	pending []pendingDigest
	// The artifacts of the mirror being read, until the map is made.
	entries []entry
}

// span is a string of the artifact being read, as a range of scanner.buf.
type span struct{ off, n int }

// pendingDigest is a digest of the artifact being read.
type pendingDigest struct {
	alg    providers.Algorithm
	hex    span
	source bool // in source_digests, not digests
}

type entry struct {
	key string
	a   *Artifact
}

func (sc *scanner) ws() {
	for sc.i < len(sc.data) {
		switch sc.data[sc.i] {
		case ' ':
			// Indentation, most of the whitespace ferry writes: eight
			// spaces at a time.
			sc.i++
			for sc.i+8 <= len(sc.data) && binary.LittleEndian.Uint64(sc.data[sc.i:]) == eightSpaces {
				sc.i += 8
			}
		case '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

const eightSpaces = 0x2020202020202020

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
	end := bytes.IndexByte(sc.data[start:], '"')
	if end < 0 {
		return nil, nil, false
	}
	content = sc.data[start : start+end]
	// Without a branch per byte: the classes of all the bytes, ORed.
	var class byte
	for _, c := range content {
		class |= byteClass[c]
	}
	if class&escapeOrControl != 0 {
		return nil, nil, false
	}
	sc.i = start + end + 1
	return content, sc.data[start-1 : sc.i], class&nonASCII == 0 || utf8.Valid(content)
}

// Byte classes in a string.
const (
	escapeOrControl = 1 << iota // a backslash or a control character: not plain
	nonASCII                    // part of a multi-byte UTF-8 sequence: check it
	notLowerHex                 // not in 0-9a-f
)

var byteClass = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c == '\\' || c < 0x20:
			t[c] = escapeOrControl
		case c >= utf8.RuneSelf:
			t[c] = nonASCII
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			t[c] |= notLowerHex
		}
	}
	return t
}()

// str reads a plain string into a new Go string (nothing keeps data).
func (sc *scanner) str(dst *string) bool {
	b, _, ok := sc.plain()
	*dst = string(b)
	return ok
}

// object reads an object, calling member with each name to read its
// value (name is only valid during the call).
func (sc *scanner) object(member func(name []byte) bool) bool {
	if !sc.next('{') {
		return false
	}
	if sc.next('}') {
		return true
	}
	for {
		name, _, ok := sc.plain()
		if !ok || !sc.next(':') || !member(name) {
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

// mirror reads one mirror object (named name).
func (sc *scanner) mirror(name string, m *Mirror, valid map[*Mirror]bool) bool {
	seen := repeated()
	return sc.object(func(b []byte) bool {
		member := string(b)
		if seen(member) {
			return false
		}
		switch member {
		case "source":
			return sc.str(&m.Source)
		case "destination":
			return sc.str(&m.Destination)
		case "artifacts":
			arts, allValid, ok := sc.artifacts(name)
			m.Artifacts = arts
			if allValid {
				valid[m] = true
			}
			return ok
		}
		return false
	})
}

// artifacts reads the artifacts of mirror name, normalizes them and
// reports whether checkArtifact finds them all valid.
func (sc *scanner) artifacts(name string) (arts map[string]*Artifact, valid, ok bool) {
	sc.entries = sc.entries[:0]
	valid = true
	ok = sc.object(func(key []byte) bool {
		a, k, ok := sc.artifact(key)
		if !ok {
			return false
		}
		a.normalize()
		if valid && checkArtifact(name, k, a, true) != nil {
			valid = false // validate checks the mirror again, in order
		}
		if len(sc.entries) == cap(sc.entries) {
			// Doubled, not grown by a quarter as append grows a long
			// slice: fewer copies of a list of 100,000.
			sc.entries = slices.Grow(sc.entries, max(len(sc.entries), 256))
		}
		sc.entries = append(sc.entries, entry{key: k, a: a})
		return true
	})
	if !ok {
		return nil, false, false
	}
	// Made once the count is known: no growing and rehashing.
	arts = make(map[string]*Artifact, len(sc.entries))
	for _, e := range sc.entries {
		if arts[e.key] != nil {
			return nil, false, false
		}
		arts[e.key] = e.a
	}
	clear(sc.entries) // let go of the artifacts
	return arts, valid, true
}

// Bits of the artifact fields read, to refuse a repeated one.
const (
	fKey = 1 << iota
	fName
	fVersion
	fSize
	fDigests
	fSourceDigests
	fCreated
	fAddedAt
	fOrigin
	fVerifiedAt
	fToken
)

// artifact reads one artifact object stored under key, and returns it and
// key as a string. All its strings share one allocation (see keep).
func (sc *scanner) artifact(key []byte) (a *Artifact, mapKey string, ok bool) {
	if !sc.next('{') {
		return nil, "", false
	}
	a = sc.newArtifact()
	sc.buf = append(sc.buf[:0], key...)
	sc.pending = sc.pending[:0]
	// The string fields, in the order of strs.
	var strs [5]span
	dst := [5]*string{&a.Key, &a.Name, &a.Version, &a.Origin, &a.Token}
	var seen uint16
	if !sc.next('}') {
		for {
			name, _, ok := sc.plain()
			if !ok || !sc.next(':') {
				return nil, "", false
			}
			var bit uint16
			str := -1 // a string field: its index in strs
			switch string(name) {
			case "key":
				bit, str = fKey, 0
			case "name":
				bit, str = fName, 1
			case "version":
				bit, str = fVersion, 2
			case "size":
				bit, ok = fSize, sc.int(&a.Size)
			case "digests":
				bit, ok = fDigests, sc.digests(false)
			case "source_digests":
				bit, ok = fSourceDigests, sc.digests(true)
			case "created":
				bit, ok = fCreated, sc.time(&a.Created)
			case "added_at":
				bit, ok = fAddedAt, sc.time(&a.AddedAt)
			case "origin":
				bit, str = fOrigin, 3
			case "verified_at":
				bit, ok = fVerifiedAt, sc.time(&a.VerifiedAt)
			case "token":
				bit, str = fToken, 4
			}
			if str >= 0 {
				strs[str], ok = sc.span()
			}
			if bit == 0 || seen&bit != 0 || !ok {
				return nil, "", false
			}
			seen |= bit
			if sc.next('}') {
				break
			}
			if !sc.next(',') {
				return nil, "", false
			}
		}
	}
	all := string(sc.buf)
	mapKey = all[:len(key)]
	for i, sp := range strs {
		if sp.n > 0 {
			*dst[i] = all[sp.off : sp.off+sp.n]
		}
	}
	// An empty or missing list is nil, as normalize leaves it.
	a.Digests = sc.digestList(all, false)
	a.SourceDigests = sc.digestList(all, true)
	return a, mapKey, true
}

// newArtifact returns a zero Artifact from the current slab.
func (sc *scanner) newArtifact() *Artifact {
	if len(sc.arts) == 0 {
		sc.arts = make([]Artifact, 256)
	}
	a := &sc.arts[0]
	sc.arts = sc.arts[1:]
	return a
}

// span reads a plain string of the artifact being read into its buffer.
func (sc *scanner) span() (span, bool) {
	b, _, ok := sc.plain()
	return sc.keep(b), ok
}

// keep adds b to the strings of the artifact being read, unless they hold
// it already: a name or version is often part of the key, the source
// digest the digest. A string is the same whether it shares memory or not.
func (sc *scanner) keep(b []byte) span {
	if len(b) == 0 {
		return span{}
	}
	if j := bytes.Index(sc.buf, b); j >= 0 {
		return span{j, len(b)}
	}
	sc.buf = append(sc.buf, b...)
	return span{len(sc.buf) - len(b), len(b)}
}

// digestList returns the pending digests of one list (source or not),
// from the current slab: nil if there are none.
func (sc *scanner) digestList(all string, source bool) providers.Digests {
	n := 0
	for _, p := range sc.pending {
		if p.source == source {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if len(sc.digs) < n {
		sc.digs = make([]providers.Digest, max(n, 512))
	}
	// Capped: appending to one artifact's digests never writes into the next one's.
	ds := sc.digs[:0:n]
	sc.digs = sc.digs[n:]
	for _, p := range sc.pending {
		if p.source == source {
			ds = append(ds, providers.Digest{Algorithm: p.alg, Hex: all[p.hex.off : p.hex.off+p.hex.n]})
		}
	}
	return ds
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

// digests reads a list of digest strings (into pending) as
// Digest.UnmarshalText does: "" is the zero Digest, anything else must
// parse (ParseDigest: an algorithm, a colon, and hex Digest.Validate
// accepts).
func (sc *scanner) digests(source bool) bool {
	if !sc.next('[') {
		return false
	}
	if sc.next(']') {
		return true
	}
	for {
		b, _, ok := sc.plain()
		if !ok {
			return false
		}
		p := pendingDigest{source: source}
		if len(b) > 0 {
			j := bytes.IndexByte(b, ':')
			if j < 0 {
				return false
			}
			p.alg = algorithm(b[:j])
			hx := b[j+1:]
			if p.alg == "" || len(hx) != p.alg.HexLen() || !lowerHex(hx) {
				return false
			}
			p.hex = sc.keep(hx)
		}
		sc.pending = append(sc.pending, p)
		if sc.next(']') {
			return true
		}
		if !sc.next(',') {
			return false
		}
	}
}

// algorithm returns the supported algorithm named b, "" for any other.
func algorithm(b []byte) providers.Algorithm {
	switch string(b) {
	case string(providers.SHA256):
		return providers.SHA256
	case string(providers.SHA512):
		return providers.SHA512
	case string(providers.SHA1):
		return providers.SHA1
	case string(providers.MD5):
		return providers.MD5
	}
	return ""
}

// lowerHex reports whether b is lowercase hex, as Digest.Validate wants;
// without a branch per byte (digits and letters come at random).
func lowerHex(b []byte) bool {
	var class byte
	for _, c := range b {
		class |= byteClass[c]
	}
	return class&notLowerHex == 0
}

// time reads a time string as time.Time.UnmarshalJSON does.
func (sc *scanner) time(dst interface{ UnmarshalJSON([]byte) error }) bool {
	_, quoted, ok := sc.plain()
	return ok && dst.UnmarshalJSON(quoted) == nil
}
