package bptoml

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseRewrite checks that Parse never panics and that rewriting every
// uri of an accepted document either fails cleanly or changes nothing else.
//
// The fixture seeds are 2–30 KB, and Go's fuzzer spends up to
// -fuzzminimizetime (default 60s) minimizing each new interesting input of
// that size, so short runs are best given e.g. -fuzzminimizetime=5s.
func FuzzParseRewrite(f *testing.F) {
	for _, name := range fixtureNames {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte("[[metadata.dependencies]]\n'uri' = 'a' # c\r\n[[metadata.dependencies.licenses]]\nuri = \"l\"\n"))
	f.Add([]byte("metadata.dependencies = [{uri = \"a\"}]\n"))
	f.Add([]byte("[[ metadata.\"dependencies\" ]]\n\"uri\" = \"\"\"\nx\"\"\"\nsource = '''s'''\nsha256 = \"" + hexA + "\"\n[[metadata.dependencies]]\nuri = \"b\"\n"))

	const newURI = "https://mirror.example/deps/\"fuzz\"\\x+y"
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		edits := make([]Edit, len(p.Dependencies))
		for i := range p.Dependencies {
			edits[i] = Edit{Index: i, Field: "uri", New: newURI}
		}
		out, err := p.Rewrite(edits)
		if err != nil {
			return
		}
		g, err := Parse(out)
		if err != nil {
			t.Fatalf("rewritten document does not parse: %v\n%q", err, out)
		}
		want := cloneDeps(p.Dependencies)
		for i := range want {
			want[i].URI = newURI
		}
		// Line may move up when a multi-line uri becomes a one-line string.
		ignore := cmpopts.IgnoreFields(Dependency{}, "URIRange", "SourceRange", "Line")
		if diff := cmp.Diff(want, g.Dependencies, ignore); diff != "" {
			t.Fatalf("dependencies changed (-want +got):\n%s", diff)
		}
		// Nothing else in the document changed either.
		gdeps, _ := rawDependencies(g.doc)
		pdeps, _ := rawDependencies(p.doc)
		for i := range gdeps {
			gdeps[i].(map[string]any)["uri"] = pdeps[i].(map[string]any)["uri"]
		}
		if !genericEqual(p.doc, g.doc) {
			t.Fatalf("document changed outside the uri values")
		}
		for _, d := range g.Dependencies {
			if got := string(out[d.URIRange.Start:d.URIRange.End]); got != quote(newURI) {
				t.Fatalf("dependency %d uri token %q", d.Index, got)
			}
		}
	})
}
