package bptoml

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Edit replaces the value of one dependency field.
type Edit struct {
	Index int    // dependency index
	Field string // "uri" or "source"
	New   string // new value
}

// Rewrite returns a copy of the parsed document in which each edited value
// token is replaced by a TOML basic string holding the new value; every other
// byte is kept. The File itself is not modified and still describes the
// original document.
//
// The result is parsed again and compared with the original; any difference
// other than the edited values is reported as an error. Documents whose
// dependencies are written as an inline array are not supported.
func (f *File) Rewrite(edits []Edit) ([]byte, error) {
	if f.inline {
		return nil, &Error{Msg: "metadata.dependencies is written as an inline array of tables: not supported for rewriting (use [[metadata.dependencies]] tables)"}
	}

	type splice struct {
		Range
		edit  Edit
		token string
	}
	splices := make([]splice, 0, len(edits))
	type target struct {
		index int
		field string
	}
	seen := map[target]int{}
	for i, e := range edits {
		if e.Index < 0 || e.Index >= len(f.deps) {
			return nil, &Error{Msg: fmt.Sprintf("edit %d: no dependency with index %d (the file has %d)", i, e.Index, len(f.deps))}
		}
		d := f.deps[e.Index]
		var r Range
		switch e.Field {
		case keyURI:
			r = d.URIRange
			if e.New == "" {
				return nil, f.depError(d, "edit %d: the new uri is empty", i)
			}
		case keySource:
			r = d.SourceRange
		default:
			return nil, f.depError(d, "edit %d: field %q cannot be rewritten (only uri and source)", i, e.Field)
		}
		if r.IsZero() {
			return nil, f.depError(d, "edit %d: the dependency has no %s field", i, e.Field)
		}
		if !utf8.ValidString(e.New) {
			return nil, f.depError(d, "edit %d: new %s %q is not valid UTF-8", i, e.Field, e.New)
		}
		k := target{e.Index, e.Field}
		if j, dup := seen[k]; dup {
			return nil, f.depError(d, "edits %d and %d both rewrite %s", j, i, e.Field)
		}
		seen[k] = i
		splices = append(splices, splice{Range: r, edit: e, token: quote(e.New)})
	}

	slices.SortFunc(splices, func(a, b splice) int { return cmp.Compare(a.Start, b.Start) })
	for i := 1; i < len(splices); i++ {
		if splices[i].Start < splices[i-1].End {
			return nil, &Error{Msg: fmt.Sprintf("edits overlap: dependency %d %s and dependency %d %s",
				splices[i-1].edit.Index, splices[i-1].edit.Field, splices[i].edit.Index, splices[i].edit.Field)}
		}
	}

	// One pass over the sorted, disjoint ranges.
	out := make([]byte, 0, len(f.data)+64*len(splices))
	last := 0
	for _, s := range splices {
		if s.Start < last || s.End > len(f.data) || s.Start >= s.End {
			return nil, &Error{Msg: fmt.Sprintf("internal error: bad range %v for dependency %d %s", s.Range, s.edit.Index, s.edit.Field)}
		}
		out = append(out, f.data[last:s.Start]...)
		out = append(out, s.token...)
		last = s.End
	}
	out = append(out, f.data[last:]...)

	if err := f.check(out, edits); err != nil {
		return nil, err
	}
	return out, nil
}

func (f *File) depError(d Dependency, format string, args ...any) error {
	e := &Error{Msg: fmt.Sprintf("dependency %d (id %q, version %q): ", d.Index, d.ID, d.Version) + fmt.Sprintf(format, args...)}
	if d.Index < len(f.headers) {
		e.Line, e.Column = headerPosition(f.data, f.headers[d.Index])
	}
	return e
}

// check parses the rewritten document and verifies that only the edited
// values changed, both in the extracted dependencies and in the whole
// generic document.
func (f *File) check(out []byte, edits []Edit) error {
	fail := func(format string, args ...any) error {
		return &Error{Msg: "internal error: rewrite check failed: " + fmt.Sprintf(format, args...)}
	}
	g, err := Parse(out)
	if err != nil {
		return fail("the result does not parse: %v", err)
	}
	if len(g.deps) != len(f.deps) {
		return fail("%d dependencies before, %d after", len(f.deps), len(g.deps))
	}
	want := cloneDeps(f.deps)
	// A multi-line original token is replaced by a one-line string, which
	// moves the headers of later dependencies up by the newlines it had.
	removed := make([]int, len(want))
	for _, e := range edits {
		r := &want[e.Index].URIRange
		switch e.Field {
		case keyURI:
			want[e.Index].URI = e.New
		case keySource:
			want[e.Index].Source = e.New
			r = &want[e.Index].SourceRange
		}
		removed[e.Index] += bytes.Count(f.data[r.Start:r.End], []byte("\n"))
	}
	shift := 0
	for i := range want {
		want[i].Line -= shift
		shift += removed[i]
	}
	for i := range want {
		w, got := want[i], g.deps[i]
		for _, r := range []Range{got.URIRange, got.SourceRange} {
			if !r.IsZero() && (r.Start < 0 || r.End > len(out) || r.Start >= r.End) {
				return fail("dependency %d: bad range %v", i, r)
			}
		}
		w.URIRange, w.SourceRange = got.URIRange, got.SourceRange
		if !depEqual(w, got) {
			return fail("dependency %d changed: want %+v, got %+v", i, w, got)
		}
	}

	// Whole document: put the original values back where the edits went,
	// then everything must be identical.
	doc := g.doc
	deps, err := rawDependencies(doc)
	if err != nil {
		return fail("%v", err)
	}
	orig, _ := rawDependencies(f.doc)
	for _, e := range edits {
		nt, ok1 := deps[e.Index].(map[string]any)
		ot, ok2 := orig[e.Index].(map[string]any)
		if !ok1 || !ok2 || nt[e.Field] != e.New {
			return fail("dependency %d %s was not rewritten", e.Index, e.Field)
		}
		nt[e.Field] = ot[e.Field]
	}
	if !genericEqual(f.doc, doc) {
		return fail("the document changed outside the edited values")
	}
	return nil
}

func depEqual(a, b Dependency) bool {
	return a.Index == b.Index && a.ID == b.ID && a.Name == b.Name && a.Version == b.Version &&
		a.URI == b.URI && a.Checksum == b.Checksum && a.Source == b.Source &&
		a.SourceChecksum == b.SourceChecksum && slices.Equal(a.Stacks, b.Stacks) &&
		a.OS == b.OS && a.Arch == b.Arch && a.DeprecationDate.Equal(b.DeprecationDate) &&
		a.PURL == b.PURL && a.Line == b.Line && a.URIRange == b.URIRange && a.SourceRange == b.SourceRange
}

// genericEqual compares go-toml generic decodes; unlike reflect.DeepEqual it
// treats NaN as equal to NaN and compares instants with time.Time.Equal.
func genericEqual(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok || !genericEqual(x, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !genericEqual(av[i], bv[i]) {
				return false
			}
		}
		return true
	case float64:
		bv, ok := b.(float64)
		return ok && (av == bv && math.Signbit(av) == math.Signbit(bv) || math.IsNaN(av) && math.IsNaN(bv))
	case time.Time:
		bv, ok := b.(time.Time)
		if !ok {
			return false
		}
		_, ao := av.Zone()
		_, bo := bv.Zone()
		return av.Equal(bv) && ao == bo
	}
	return reflect.DeepEqual(a, b)
}

// quote encodes s as a TOML basic string. s must be valid UTF-8.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
