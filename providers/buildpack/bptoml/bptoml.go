// Package bptoml reads the dependency metadata of a Paketo buildpack.toml and
// rewrites dependency URLs in place.
//
// Semantics come from go-toml/v2 (which also validates the document: syntax,
// duplicate keys, table redefinitions); byte positions come from the
// go-toml/v2 unstable parser. Rewrite splices new string tokens over the exact
// value bytes of `uri` / `source`, so comments, key order, quoting of other
// values and line endings survive untouched — a round trip through a TOML
// encoder would lose all of them.
//
// Field semantics follow packit and libpak (docs/protocols.md §6.1):
//
//   - checksum = "algo:hex" (algo defaults to sha256 without a colon; only
//     sha256 and sha512 are accepted); a non-empty legacy sha256 = "hex"
//     overrides it, as in packit's postal.Service.Deliver.
//   - source-checksum = "algo:hex", else source-sha256 (libpak spelling), else
//     source_sha256 (legacy packit spelling).
//   - deprecation_date is a TOML date/datetime or an RFC 3339 string.
package bptoml

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/ferry-mirror/ferry/providers"
)

// Dependency is one [[metadata.dependencies]] entry.
type Dependency struct {
	Index           int // position among [[metadata.dependencies]] entries, 0-based, file order
	ID, Name        string
	Version         string
	URI             string
	Checksum        providers.Digest // zero if the entry carries no checksum
	Source          string           // source tarball URL, may be empty
	SourceChecksum  providers.Digest // zero if none
	Stacks          []string
	OS, Arch        string
	DeprecationDate time.Time // zero if absent
	PURL            string
	Line            int // 1-based line of the entry's [[metadata.dependencies]] header; 0 for inline tables

	// Byte ranges of the uri / source value tokens (quotes included); zero if
	// the field is absent or the dependencies are written as inline tables.
	URIRange, SourceRange Range
}

// Range is a byte range [Start, End) in the parsed document.
type Range struct{ Start, End int }

// IsZero reports whether r is the zero range (field absent).
func (r Range) IsZero() bool { return r == Range{} }

// File is a parsed buildpack.toml.
type File struct {
	Dependencies []Dependency

	data    []byte         // private copy of the input
	doc     map[string]any // generic decode, for the post-rewrite check
	deps    []Dependency   // private copy of Dependencies (callers may mutate theirs)
	inline  bool           // dependencies written as an inline array: no byte ranges
	headers []int          // byte offset of each dependency header's first key part
}

// Error is a parse or rewrite error with a position in the document. Line and
// Column are 1-based (Column counts bytes); both are 0 when unknown.
type Error struct {
	Line, Column int
	Msg          string
	Err          error // underlying error, may be nil
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("buildpack.toml:%d:%d: %s", e.Line, e.Column, e.Msg)
	}
	return "buildpack.toml: " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Field keys, exactly as Paketo spells them.
const (
	keyID             = "id"
	keyName           = "name"
	keyVersion        = "version"
	keyURI            = "uri"
	keyChecksum       = "checksum"
	keySHA256         = "sha256"
	keySource         = "source"
	keySourceChecksum = "source-checksum"
	keySourceSHA256   = "source-sha256" // libpak files
	keySourceSHA256U  = "source_sha256" // legacy packit spelling
	keyStacks         = "stacks"
	keyOS             = "os"
	keyArch           = "arch"
	keyDeprecation    = "deprecation_date"
	keyPURL           = "purl"
)

// keyLoc locates a single-part key/value pair of a dependency table.
type keyLoc struct {
	key   int   // byte offset of the key
	value Range // the value token
	kind  unstable.Kind
}

// depLoc locates one [[metadata.dependencies]] table.
type depLoc struct {
	header int // byte offset of the header's first key part
	keys   map[string]keyLoc
}

// Parse reads the dependency metadata of a buildpack.toml. A document
// without [metadata] or without dependencies is valid and has none.
func Parse(data []byte) (*File, error) {
	data = slices.Clone(data)
	if data == nil {
		data = []byte{}
	}
	f := &File{data: data}

	if err := toml.Unmarshal(data, &f.doc); err != nil {
		return nil, decodeError(err)
	}
	locs, err := locate(data)
	if err != nil {
		return nil, err
	}

	raw, err := rawDependencies(f.doc)
	if err != nil {
		return nil, err
	}
	// [[metadata.dependencies]] headers cannot be mixed with an inline array
	// (go-toml rejects that), so a count mismatch means inline tables.
	f.inline = len(raw) != len(locs)
	if f.inline {
		locs = nil
	}

	var starts []int // line start offsets, for Dependency.Line
	if locs != nil {
		starts = lineStarts(data)
	}
	for i, r := range raw {
		var loc *depLoc
		if locs != nil {
			loc = &locs[i]
			f.headers = append(f.headers, loc.header)
		}
		d, err := f.dependency(i, r, loc, starts)
		if err != nil {
			return nil, err
		}
		f.deps = append(f.deps, d)
	}
	f.Dependencies = cloneDeps(f.deps)
	return f, nil
}

func cloneDeps(ds []Dependency) []Dependency {
	out := slices.Clone(ds)
	for i := range out {
		out[i].Stacks = slices.Clone(out[i].Stacks)
	}
	return out
}

// decodeError converts a go-toml error into an *Error with its position.
func decodeError(err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{Line: line, Column: col, Msg: strings.TrimPrefix(de.Error(), "toml: "), Err: err}
	}
	return &Error{Msg: strings.TrimPrefix(err.Error(), "toml: "), Err: err}
}

// position returns the 1-based line and byte column of offset in data.
func position(data []byte, offset int) (line, col int) {
	offset = min(max(offset, 0), len(data))
	line = 1
	start := 0
	for i, c := range data[:offset] {
		if c == '\n' {
			line++
			start = i + 1
		}
	}
	return line, offset - start + 1
}

// lineStarts returns the offsets at which the lines of data begin.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// headerPosition is the position of the "[[" opening a header whose first
// key part starts at keyOffset: headers are the first token on their line.
func headerPosition(data []byte, keyOffset int) (line, col int) {
	line, col = position(data, keyOffset)
	start := keyOffset - col + 1
	i := start
	for i < keyOffset && (data[i] == ' ' || data[i] == '\t') {
		i++
	}
	return line, i - start + 1
}

func isDepsPath(parts []string) bool {
	return len(parts) == 2 && parts[0] == "metadata" && parts[1] == "dependencies"
}

func keyParts(n *unstable.Node) []string {
	var parts []string
	it := n.Key()
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// locate finds every [[metadata.dependencies]] header and the single-part keys
// written directly in each of those tables. Keys in sub-tables (such as
// [[metadata.dependencies.licenses]], whose entries also have a uri) and
// dotted keys belong to other tables and are skipped.
func locate(data []byte) ([]depLoc, error) {
	var p unstable.Parser
	p.KeepComments = true
	p.Reset(data)

	var locs []depLoc
	cur := -1 // index into locs of the table being filled, -1 for any other table
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.ArrayTable:
			cur = -1
			if isDepsPath(keyParts(e)) {
				first := e.Child()
				locs = append(locs, depLoc{header: int(first.Raw.Offset), keys: map[string]keyLoc{}})
				cur = len(locs) - 1
			}
		case unstable.Table:
			cur = -1
		case unstable.KeyValue:
			if cur < 0 {
				continue
			}
			parts := keyParts(e)
			if len(parts) != 1 {
				continue
			}
			it := e.Key()
			it.Next()
			k := it.Node().Raw
			v := e.Value()
			value := Range{Start: int(v.Raw.Offset), End: int(v.Raw.Offset + v.Raw.Length)}
			if v.Raw.Length == 0 {
				// Arrays and inline tables carry no range: point at their
				// first byte, after "key =" (an empty range).
				i := int(k.Offset + k.Length)
				for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '=') {
					i++
				}
				value = Range{Start: i, End: i}
			}
			locs[cur].keys[parts[0]] = keyLoc{key: int(k.Offset), value: value, kind: v.Kind}
		}
	}
	if err := p.Error(); err != nil {
		// Unreachable for documents go-toml decoded, kept for safety.
		e := &Error{Msg: err.Error(), Err: err}
		var pe *unstable.ParserError
		if errors.As(err, &pe) && pe.Highlight != nil {
			off := cap(data) - cap(pe.Highlight)
			if off >= 0 && off <= len(data) {
				e.Line, e.Column = position(data, off)
			}
		}
		return nil, e
	}
	return locs, nil
}

// rawDependencies returns metadata.dependencies from the generic decode.
func rawDependencies(doc map[string]any) ([]any, error) {
	mv, ok := doc["metadata"]
	if !ok {
		return nil, nil
	}
	meta, ok := mv.(map[string]any)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("metadata must be a table, got %s", typeName(mv))}
	}
	dv, ok := meta["dependencies"]
	if !ok {
		return nil, nil
	}
	deps, ok := dv.([]any)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("metadata.dependencies must be an array of tables, got %s", typeName(dv))}
	}
	return deps, nil
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case time.Time:
		return "offset date-time"
	case toml.LocalDateTime:
		return "local date-time"
	case toml.LocalDate:
		return "local date"
	case toml.LocalTime:
		return "local time"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

// depDecoder extracts the fields of one dependency and builds positioned
// errors that name it.
type depDecoder struct {
	data  []byte
	index int
	table map[string]any
	loc   *depLoc // nil for inline tables
	id    string  // for messages, filled as soon as known
	ver   string
}

func (dd *depDecoder) name() string {
	return fmt.Sprintf("dependency %d (id %q, version %q)", dd.index, dd.id, dd.ver)
}

// errorAt reports an error positioned at key's value (or key), else at the
// dependency's header.
func (dd *depDecoder) errorAt(key string, atValue bool, err error, format string, args ...any) error {
	e := &Error{Msg: dd.name() + ": " + fmt.Sprintf(format, args...), Err: err}
	if dd.loc == nil {
		return e
	}
	if kl, ok := dd.loc.keys[key]; ok {
		off := kl.key
		if atValue {
			off = kl.value.Start
		}
		e.Line, e.Column = position(dd.data, off)
	} else {
		e.Line, e.Column = headerPosition(dd.data, dd.loc.header)
	}
	return e
}

func (dd *depDecoder) str(key string) (string, error) {
	v, ok := dd.table[key]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", dd.errorAt(key, true, nil, "%s must be a string, got %s", key, typeName(v))
	}
	return s, nil
}

// rangeOf returns the value range of a string-valued key. A key that was
// decoded but not located means the two parsers disagree: refuse rather than
// report a wrong range.
func (dd *depDecoder) rangeOf(key string) (Range, error) {
	if dd.loc == nil {
		return Range{}, nil
	}
	if _, ok := dd.table[key]; !ok {
		return Range{}, nil
	}
	kl, ok := dd.loc.keys[key]
	if !ok || kl.kind != unstable.String || kl.value.End <= kl.value.Start || kl.value.End > len(dd.data) {
		return Range{}, dd.errorAt(key, false, nil, "internal error: cannot locate the %s value", key)
	}
	return kl.value, nil
}

func (f *File) dependency(index int, raw any, loc *depLoc, starts []int) (Dependency, error) {
	dd := &depDecoder{data: f.data, index: index, loc: loc}
	table, ok := raw.(map[string]any)
	if !ok {
		return Dependency{}, dd.errorAt("", false, nil, "must be a table, got %s", typeName(raw))
	}
	dd.table = table

	d := Dependency{Index: index}
	if loc != nil {
		// Binary search: position() per entry would be quadratic.
		d.Line, _ = slices.BinarySearch(starts, loc.header+1)
	}
	var err error
	str := func(dst *string, key string) {
		if err == nil {
			*dst, err = dd.str(key)
		}
	}
	str(&d.ID, keyID)
	str(&d.Version, keyVersion)
	dd.id, dd.ver = d.ID, d.Version
	str(&d.Name, keyName)
	str(&d.URI, keyURI)
	str(&d.Source, keySource)
	str(&d.OS, keyOS)
	str(&d.Arch, keyArch)
	str(&d.PURL, keyPURL)
	if err != nil {
		return Dependency{}, err
	}

	if _, ok := table[keyURI]; !ok {
		return Dependency{}, dd.errorAt(keyURI, false, nil, "has no uri")
	}
	if d.URI == "" {
		return Dependency{}, dd.errorAt(keyURI, true, nil, "uri is empty")
	}
	if d.URIRange, err = dd.rangeOf(keyURI); err != nil {
		return Dependency{}, err
	}
	if d.SourceRange, err = dd.rangeOf(keySource); err != nil {
		return Dependency{}, err
	}

	if d.Checksum, err = dd.checksum(); err != nil {
		return Dependency{}, err
	}
	if d.SourceChecksum, err = dd.sourceChecksum(); err != nil {
		return Dependency{}, err
	}
	if d.Stacks, err = dd.stacks(); err != nil {
		return Dependency{}, err
	}
	if d.DeprecationDate, err = dd.deprecation(); err != nil {
		return Dependency{}, err
	}
	return d, nil
}

// parseChecksum parses "algo:hex", or bare hex as sha256 (packit's rule).
func parseChecksum(s string) (providers.Digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	if !ok {
		alg, hx = string(providers.SHA256), s
	}
	d := providers.Digest{Algorithm: providers.Algorithm(alg), Hex: strings.ToLower(hx)}
	if d.Algorithm == providers.SHA1 || d.Algorithm == providers.MD5 {
		return d, fmt.Errorf("checksum algorithm %s is not supported (buildpacks declare sha256 or sha512)", d.Algorithm)
	}
	return d, d.Validate()
}

// parseHex parses a legacy bare-hex sha256 field.
func parseHex(s string) (providers.Digest, error) {
	d := providers.Digest{Algorithm: providers.SHA256, Hex: strings.ToLower(s)}
	return d, d.Validate()
}

func (dd *depDecoder) digest(key string, parse func(string) (providers.Digest, error)) (providers.Digest, bool, error) {
	s, err := dd.str(key)
	if err != nil || s == "" {
		return providers.Digest{}, false, err
	}
	d, err := parse(s)
	if err != nil {
		return providers.Digest{}, false, dd.errorAt(key, true, err, "invalid %s %q: %v", key, s, err)
	}
	return d, true, nil
}

// checksum applies packit's rule: a non-empty sha256 overrides checksum (the
// overridden checksum is not used, so it is not validated either).
func (dd *depDecoder) checksum() (providers.Digest, error) {
	if d, ok, err := dd.digest(keySHA256, parseHex); ok || err != nil {
		return d, err
	}
	d, _, err := dd.digest(keyChecksum, parseChecksum)
	return d, err
}

func (dd *depDecoder) sourceChecksum() (providers.Digest, error) {
	if d, ok, err := dd.digest(keySourceChecksum, parseChecksum); ok || err != nil {
		return d, err
	}
	if d, ok, err := dd.digest(keySourceSHA256, parseHex); ok || err != nil {
		return d, err
	}
	d, _, err := dd.digest(keySourceSHA256U, parseHex)
	return d, err
}

func (dd *depDecoder) stacks() ([]string, error) {
	v, ok := dd.table[keyStacks]
	if !ok {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, dd.errorAt(keyStacks, true, nil, "stacks must be an array of strings, got %s", typeName(v))
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, dd.errorAt(keyStacks, true, nil, "stacks[%d] must be a string, got %s", i, typeName(e))
		}
		out = append(out, s)
	}
	return out, nil
}

func (dd *depDecoder) deprecation() (time.Time, error) {
	v, ok := dd.table[keyDeprecation]
	if !ok {
		return time.Time{}, nil
	}
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case toml.LocalDateTime:
		return t.AsTime(time.UTC), nil
	case toml.LocalDate:
		return t.AsTime(time.UTC), nil
	case string:
		if t == "" {
			return time.Time{}, nil
		}
		p, err := time.Parse(time.RFC3339, t)
		if err != nil {
			return time.Time{}, dd.errorAt(keyDeprecation, true, err, "deprecation_date %q is not an RFC 3339 date-time", t)
		}
		return p, nil
	}
	return time.Time{}, dd.errorAt(keyDeprecation, true, nil, "deprecation_date must be a date-time or an RFC 3339 string, got %s", typeName(v))
}
