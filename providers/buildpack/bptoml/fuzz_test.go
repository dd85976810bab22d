package bptoml

import (
	"bytes"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseRewrite checks that Parse never panics and that rewriting the
// uris of an accepted document either fails cleanly or changes nothing but
// those uris:
//
//   - byte for byte, the output is the input with each rewritten uri token
//     replaced by the quoted new value (comments, key order, quoting of
//     other values, line endings and every other byte survive);
//   - the output parses, its dependencies equal the input's but for the
//     rewritten uris, and its whole generic document equals the input's
//     once the old uris are put back.
//
// The fuzzer picks the new uri and which dependencies are rewritten (bit i
// of mask rewrites dependency i; the others keep their uri).
//
// The fixture seeds are 2–30 KB, and Go's fuzzer spends up to
// -fuzzminimizetime (default 60s) minimizing each new interesting input of
// that size, so short runs are best given e.g. -fuzzminimizetime=5s.
func FuzzParseRewrite(f *testing.F) {
	const newURI = "https://mirror.example/deps/\"fuzz\"\\x+y"
	for _, name := range fixtureNames {
		f.Add(readFixture(f, name), newURI, uint64(0xffffffffffffffff))
		f.Add(readFixture(f, name), "http://127.0.0.1/a b\u00e9\t\n\x7f", uint64(0x5555555555555555))
	}
	f.Add([]byte("[[metadata.dependencies]]\n'uri' = 'a' # c\r\n[[metadata.dependencies.licenses]]\nuri = \"l\"\n"), newURI, uint64(1))
	f.Add([]byte("metadata.dependencies = [{uri = \"a\"}]\n"), newURI, uint64(1))
	f.Add([]byte("[[ metadata.\"dependencies\" ]]\n\"uri\" = \"\"\"\nx\"\"\"\nsource = '''s'''\nsha256 = \""+hexA+"\"\n[[metadata.dependencies]]\nuri = \"b\"\n"), newURI, uint64(3))

	f.Fuzz(func(t *testing.T, data []byte, uri string, mask uint64) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if uri == "" || !utf8.ValidString(uri) {
			return // Rewrite refuses these; the CLI never asks for them
		}
		var edits []Edit
		for i := range p.Dependencies {
			if i >= 64 || mask&(1<<i) != 0 {
				edits = append(edits, Edit{Index: i, Field: "uri", New: uri})
			}
		}
		out, err := p.Rewrite(edits)
		if err != nil {
			return
		}

		// Byte level: only the uri tokens changed.
		want := slices.Clone(data)
		for i := len(edits) - 1; i >= 0; i-- { // edits are in index, so file, order
			r := p.Dependencies[edits[i].Index].URIRange
			want = slices.Concat(want[:r.Start], []byte(quote(uri)), want[r.End:])
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("rewrite changed bytes outside the uri tokens:\nin:  %q\nout: %q\nwant %q", data, out, want)
		}

		g, err := Parse(out)
		if err != nil {
			t.Fatalf("rewritten document does not parse: %v\n%q", err, out)
		}
		wantDeps := cloneDeps(p.Dependencies)
		for _, e := range edits {
			wantDeps[e.Index].URI = uri
		}
		// Line may move up when a multi-line uri becomes a one-line string.
		ignore := cmpopts.IgnoreFields(Dependency{}, "URIRange", "SourceRange", "Line")
		if diff := cmp.Diff(wantDeps, g.Dependencies, ignore, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("dependencies changed (-want +got):\n%s", diff)
		}
		// Nothing else in the document changed either.
		gdeps, _ := rawDependencies(g.doc)
		pdeps, _ := rawDependencies(p.doc)
		for _, e := range edits {
			gdeps[e.Index].(map[string]any)["uri"] = pdeps[e.Index].(map[string]any)["uri"]
		}
		if !genericEqual(p.doc, g.doc) {
			t.Fatalf("document changed outside the uri values")
		}
		for _, e := range edits {
			d := g.Dependencies[e.Index]
			if got := string(out[d.URIRange.Start:d.URIRange.End]); got != quote(uri) {
				t.Fatalf("dependency %d uri token %q", d.Index, got)
			}
		}
	})
}
