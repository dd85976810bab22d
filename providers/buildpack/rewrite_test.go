package buildpack_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/internal/safefile"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/buildpack"
	"github.com/ferry-mirror/ferry/providers/buildpack/bptoml"
)

const (
	oldURI0 = "https://example.org/dist/tool-1.0.0-linux-amd64.tar.gz"
	oldSrc0 = "https://example.org/src/tool-1.0.0-src.tar.gz"
	oldURI1 = "https://example.org/dist/tool-1.1.0-linux-arm64.tar.gz"
	newURI0 = "https://mirror.example/deps/tool/1.0.0/1111/tool-1.0.0-linux-amd64.tar.gz"
	newSrc0 = "https://mirror.example/deps/tool/1.0.0/source/2222/tool-1.0.0-src.tar.gz"
	newURI1 = "https://mirror.example/deps/tool/1.1.0/3333/tool-1.1.0-linux-arm64.tar.gz"
)

var rewriteEdits = []buildpack.RewriteEdit{
	{Index: 0, Field: "uri", Old: oldURI0, New: newURI0},
	{Index: 0, Field: "source", Old: oldSrc0, New: newSrc0},
	{Index: 1, Field: "uri", Old: oldURI1, New: newURI1},
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectedRewrite is what bptoml makes of the edits, checked against a plain
// text replacement: only the uri and source values change.
func expectedRewrite(t *testing.T, input []byte, edits []buildpack.RewriteEdit) []byte {
	t.Helper()
	f, err := bptoml.Parse(input)
	if err != nil {
		t.Fatal(err)
	}
	be := make([]bptoml.Edit, len(edits))
	for i, e := range edits {
		be[i] = bptoml.Edit{Index: e.Index, Field: e.Field, New: e.New}
	}
	out, err := f.Rewrite(be)
	if err != nil {
		t.Fatal(err)
	}
	text := string(input)
	for _, e := range edits {
		if strings.Count(text, e.Old) != 1 {
			t.Fatalf("%q must occur exactly once in the input", e.Old)
		}
		// The testdata quotes the first uri with single quotes; the rewrite
		// writes basic strings.
		text = strings.Replace(text, "'"+e.Old+"'", `"`+e.New+`"`, 1)
		text = strings.Replace(text, `"`+e.Old+`"`, `"`+e.New+`"`, 1)
	}
	if diff := cmp.Diff(text, string(out)); diff != "" {
		t.Fatalf("bptoml rewrite changes more than the values (-replace +rewrite):\n%s", diff)
	}
	return out
}

func objectOf(b []byte) *object {
	return &object{Size: int64(len(b)), Digests: providers.NewDigests(sha256Of(b))}
}

// dirEntries lists every file under dir (relative, slash-separated) with its
// content, to prove nothing else was written.
func dirEntries(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRewrite(t *testing.T) {
	input := readTestdata(t, "rewrite/buildpack.toml")
	result := expectedRewrite(t, input, rewriteEdits)
	older := expectedRewrite(t, input, rewriteEdits[2:]) // an earlier rewrite, say
	edited := append(slices.Clone(input), "# edited by hand\n"...)
	wrongDigest := append(slices.Clone(result), '\n')
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		// files are the directory's contents when Rewrite runs.
		files map[string][]byte
		// modes sets file modes before Rewrite runs.
		modes  map[string]fs.FileMode
		path   string // the output; the input is always buildpack.toml
		edits  []buildpack.RewriteEdit
		before []byte // the output as planned; nil when absent
		after  []byte // the planned result (its digest is promised)
		ctx    context.Context
		// wantErr is a sentinel; wantFail is any error.
		wantErr  error
		wantFail bool
		// wantFiles are the contents afterwards; nil means unchanged.
		wantFiles map[string][]byte
		wantModes map[string]fs.FileMode
	}{
		{
			name:      "new output in a new directory",
			files:     map[string][]byte{"buildpack.toml": input},
			path:      "out/consumer/buildpack.toml",
			edits:     rewriteEdits,
			after:     result,
			wantFiles: map[string][]byte{"buildpack.toml": input, "out/consumer/buildpack.toml": result},
			wantModes: map[string]fs.FileMode{"out/consumer/buildpack.toml": 0o644},
		},
		{
			name:      "existing output: its mode is kept",
			files:     map[string][]byte{"buildpack.toml": input, "out.toml": older},
			modes:     map[string]fs.FileMode{"out.toml": 0o600},
			path:      "out.toml",
			edits:     rewriteEdits,
			before:    older,
			after:     result,
			wantFiles: map[string][]byte{"buildpack.toml": input, "out.toml": result},
			wantModes: map[string]fs.FileMode{"out.toml": 0o600},
		},
		{
			name:      "existing output with mode 0755 keeps it",
			files:     map[string][]byte{"buildpack.toml": input, "out.toml": older},
			modes:     map[string]fs.FileMode{"out.toml": 0o755},
			path:      "out.toml",
			edits:     rewriteEdits,
			before:    older,
			after:     result,
			wantFiles: map[string][]byte{"buildpack.toml": input, "out.toml": result},
			wantModes: map[string]fs.FileMode{"out.toml": 0o755},
		},
		{
			name:      "in place",
			files:     map[string][]byte{"buildpack.toml": input},
			modes:     map[string]fs.FileMode{"buildpack.toml": 0o640},
			path:      "buildpack.toml",
			edits:     rewriteEdits,
			before:    input,
			after:     result,
			wantFiles: map[string][]byte{"buildpack.toml": result},
			wantModes: map[string]fs.FileMode{"buildpack.toml": 0o640},
		},
		{
			name:      "no edits copies the input",
			files:     map[string][]byte{"buildpack.toml": input},
			path:      "copy.toml",
			edits:     []buildpack.RewriteEdit{},
			after:     input,
			wantFiles: map[string][]byte{"buildpack.toml": input, "copy.toml": input},
		},
		{
			name:   "output already as planned",
			files:  map[string][]byte{"buildpack.toml": input, "out.toml": result},
			modes:  map[string]fs.FileMode{"out.toml": 0o600},
			path:   "out.toml",
			edits:  rewriteEdits,
			before: result,
			after:  result,
			// Nothing to do: the mode is not reset either.
			wantModes: map[string]fs.FileMode{"out.toml": 0o600},
		},
		{
			name:    "input changed since the plan",
			files:   map[string][]byte{"buildpack.toml": edited},
			path:    "out.toml",
			edits:   rewriteEdits,
			after:   result,
			wantErr: buildpack.ErrChangedSincePlan,
		},
		{
			name:    "input changed since the plan, in place",
			files:   map[string][]byte{"buildpack.toml": edited},
			path:    "buildpack.toml",
			edits:   rewriteEdits,
			before:  input,
			after:   result,
			wantErr: buildpack.ErrChangedSincePlan,
		},
		{
			name:    "output appeared since the plan",
			files:   map[string][]byte{"buildpack.toml": input, "out.toml": []byte("written by someone else\n")},
			path:    "out.toml",
			edits:   rewriteEdits,
			after:   result,
			wantErr: buildpack.ErrChangedSincePlan,
		},
		{
			name:    "output changed since the plan",
			files:   map[string][]byte{"buildpack.toml": input, "out.toml": append(slices.Clone(older), "# local change\n"...)},
			path:    "out.toml",
			edits:   rewriteEdits,
			before:  older,
			after:   result,
			wantErr: buildpack.ErrChangedSincePlan,
		},
		{
			name:    "output removed since the plan",
			files:   map[string][]byte{"buildpack.toml": input},
			path:    "out.toml",
			edits:   rewriteEdits,
			before:  older,
			after:   result,
			wantErr: buildpack.ErrChangedSincePlan,
		},
		{
			name:     "wrong promised digest: nothing written",
			files:    map[string][]byte{"buildpack.toml": input},
			path:     "out.toml",
			edits:    rewriteEdits,
			after:    wrongDigest,
			wantFail: true,
		},
		{
			name:     "wrong promised digest in place: nothing written",
			files:    map[string][]byte{"buildpack.toml": input},
			path:     "buildpack.toml",
			edits:    rewriteEdits,
			before:   input,
			after:    wrongDigest,
			wantFail: true,
		},
		{
			name:     "edit of a field the dependency lacks",
			files:    map[string][]byte{"buildpack.toml": input},
			path:     "out.toml",
			edits:    []buildpack.RewriteEdit{{Index: 1, Field: "source", New: "https://mirror.example/x"}},
			after:    result,
			wantFail: true,
		},
		{
			name:     "edit of a dependency that does not exist",
			files:    map[string][]byte{"buildpack.toml": input},
			path:     "out.toml",
			edits:    []buildpack.RewriteEdit{{Index: 7, Field: "uri", New: "https://mirror.example/x"}},
			after:    result,
			wantFail: true,
		},
		{
			name:     "input missing",
			files:    map[string][]byte{},
			path:     "out.toml",
			edits:    rewriteEdits,
			after:    result,
			wantFail: true,
		},
		{
			name:     "cancelled",
			files:    map[string][]byte{"buildpack.toml": input},
			path:     "out.toml",
			edits:    rewriteEdits,
			after:    result,
			ctx:      cancelled,
			wantErr:  context.Canceled,
			wantFail: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			for name, b := range tt.files {
				writeFile(t, filepath.Join(d, filepath.FromSlash(name)), b)
			}
			for name, m := range tt.modes {
				if err := os.Chmod(filepath.Join(d, filepath.FromSlash(name)), m); err != nil {
					t.Fatal(err)
				}
			}
			c := change{
				Address: `mirror.m.rewrite["` + tt.path + `"]`,
				Mirror:  "m",
				Key:     tt.path,
				Action:  actionRewrite,
				After:   objectOf(tt.after),
				Rewrite: &buildpack.RewriteDetail{
					Kind:        buildpack.KindBuildpackTOML,
					Path:        tt.path,
					Input:       "buildpack.toml",
					InputDigest: sha256Of(input),
					Edits:       tt.edits,
				},
			}
			if tt.before != nil {
				c.Before = objectOf(tt.before)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			beforeFiles := dirEntries(t, d)

			err := rewriter{Dir: d}.Rewrite(ctx, c)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Rewrite error = %v, want %v", err, tt.wantErr)
				}
			case tt.wantFail:
				if err == nil {
					t.Error("Rewrite succeeded")
				}
			case err != nil:
				t.Errorf("Rewrite: %v", err)
			}

			want := beforeFiles
			if tt.wantFiles != nil {
				want = map[string]string{}
				for name, b := range tt.wantFiles {
					want[name] = string(b)
				}
			}
			if diff := cmp.Diff(want, dirEntries(t, d)); diff != "" {
				t.Errorf("files afterwards (-want +got):\n%s", diff)
			}
			for name, m := range tt.wantModes {
				fi, err := os.Stat(filepath.Join(d, filepath.FromSlash(name)))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != m {
					t.Errorf("%s mode = %v, want %v", name, fi.Mode().Perm(), m)
				}
			}
		})
	}
}

// Absolute paths in the plan are used as they are.
func TestRewriteAbsolutePaths(t *testing.T) {
	input := readTestdata(t, "rewrite/buildpack.toml")
	result := expectedRewrite(t, input, rewriteEdits[:1])
	d := t.TempDir()
	in, out := filepath.Join(d, "in", "buildpack.toml"), filepath.Join(d, "out", "buildpack.toml")
	writeFile(t, in, input)
	c := change{
		Address: `mirror.m.rewrite["` + out + `"]`,
		Mirror:  "m",
		Key:     out,
		Action:  actionRewrite,
		After:   objectOf(result),
		Rewrite: &buildpack.RewriteDetail{Kind: buildpack.KindBuildpackTOML, Path: out, Input: in, InputDigest: sha256Of(input), Edits: rewriteEdits[:1]},
	}
	if err := (rewriter{Dir: filepath.Join(d, "elsewhere")}).Rewrite(context.Background(), c); err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	want := map[string]string{"in/buildpack.toml": string(input), "out/buildpack.toml": string(result)}
	if diff := cmp.Diff(want, dirEntries(t, d)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// The rewritten real file still lists the same artifacts: only the uris moved.
func TestRewriteRealFileKeepsMetadata(t *testing.T) {
	input, err := os.ReadFile(fixturePath(t, "bellsoft-liberica.toml"))
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	writeFile(t, filepath.Join(d, "buildpack.toml"), input)
	before := newSource(&buildpack.SourceConfig{File: filepath.Join(d, "buildpack.toml"), Sources: true})
	arts := listAll(t, before)
	doc := document(t, before)
	var edits []buildpack.RewriteEdit
	for i := 0; i < len(doc.Keys); i++ {
		k := doc.Keys[i]
		edits = append(edits, buildpack.RewriteEdit{Index: i, Field: "uri", New: "https://mirror.example/" + k.URI})
		if k.Source != "" {
			edits = append(edits, buildpack.RewriteEdit{Index: i, Field: "source", New: "https://mirror.example/" + k.Source})
		}
	}
	f, err := bptoml.Parse(input)
	if err != nil {
		t.Fatal(err)
	}
	be := make([]bptoml.Edit, len(edits))
	for i, e := range edits {
		be[i] = bptoml.Edit{Index: e.Index, Field: e.Field, New: e.New}
	}
	result, err := f.Rewrite(be)
	if err != nil {
		t.Fatal(err)
	}
	c := change{
		Address: `mirror.m.rewrite["buildpack.toml"]`,
		Mirror:  "m",
		Key:     "buildpack.toml",
		Action:  actionRewrite,
		After:   objectOf(result),
		Before:  objectOf(input),
		Rewrite: &buildpack.RewriteDetail{Kind: buildpack.KindBuildpackTOML, Path: "buildpack.toml", Input: "buildpack.toml", InputDigest: sha256Of(input), Edits: edits},
	}
	if err := (rewriter{Dir: d}).Rewrite(context.Background(), c); err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	after := newSource(&buildpack.SourceConfig{File: filepath.Join(d, "buildpack.toml"), Sources: true})
	got := listAll(t, after)
	if len(got) != len(arts) {
		t.Fatalf("after the rewrite List returns %d artifacts, before %d", len(got), len(arts))
	}
	for i := range arts {
		w, g := arts[i], got[i]
		if g.Origin != "https://mirror.example/"+w.Key {
			t.Errorf("%s: Origin = %q, want the mirror", w.Key, g.Origin)
		}
		// The mirror URL ends in the same base name, so the key stays.
		w.Origin, g.Origin = "", ""
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("artifact %d changed beyond its uri (-before +after):\n%s", i, diff)
		}
	}
}

func TestRewriteNotARewrite(t *testing.T) {
	tests := []struct {
		name string
		c    change
	}{
		{name: "no rewrite detail", c: change{Address: "mirror.m[\"k\"]", Action: actionAdd, After: &object{}}},
		{name: "no after", c: change{Address: "mirror.m.rewrite[\"x\"]", Action: actionRewrite, Rewrite: &buildpack.RewriteDetail{Path: "x", Input: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			if err := (rewriter{Dir: d}).Rewrite(context.Background(), tt.c); err == nil {
				t.Error("Rewrite succeeded")
			}
			if got := dirEntries(t, d); len(got) != 0 {
				t.Errorf("files written: %v", got)
			}
		})
	}
}

// A bindings change writes a dependency-mapping binding directory.
func TestRewriteBindings(t *testing.T) {
	input := readTestdata(t, "rewrite/buildpack.toml")
	mapping := func(hex, url string) buildpack.OutputFile {
		return buildpack.OutputFile{Name: "sha256_" + hex, Content: url, Key: "k/" + hex}
	}
	typeFile := buildpack.OutputFile{Name: "type", Content: "dependency-mapping"}
	hex1 := strings.Repeat("1", 64)
	hex3 := strings.Repeat("3", 64)
	tests := []struct {
		name        string
		input       []byte // the input at apply time; the plan saw input
		existing    map[string]string
		files       []buildpack.OutputFile
		remove      []string
		wantErr     error
		wantFail    bool
		wantBinding map[string]string // the binding directory afterwards; nil: unchanged
	}{
		{
			name:  "new binding",
			files: []buildpack.OutputFile{typeFile, mapping(hex1, newURI0), mapping(hex3, newURI1)},
			wantBinding: map[string]string{"type": "dependency-mapping",
				"sha256_" + hex1: newURI0, "sha256_" + hex3: newURI1},
		},
		{
			name:     "update and remove stale mappings",
			existing: map[string]string{"type": "dependency-mapping", "sha256_" + hex1: oldURI0, "sha256_" + sumA: "https://old.example/a", "README": "kept"},
			files:    []buildpack.OutputFile{mapping(hex1, newURI0)},
			remove:   []string{"sha256_" + sumA, "sha256_" + sumB},
			wantBinding: map[string]string{"type": "dependency-mapping",
				"sha256_" + hex1: newURI0, "README": "kept"},
		},
		{
			name:     "input changed since the plan",
			input:    append(slices.Clone(input), '\n'),
			existing: map[string]string{"type": "dependency-mapping"},
			files:    []buildpack.OutputFile{mapping(hex1, newURI0)},
			wantErr:  buildpack.ErrChangedSincePlan,
		},
		{
			name:     "file name climbing out: refused before anything is written",
			existing: map[string]string{"type": "dependency-mapping"},
			files:    []buildpack.OutputFile{mapping(hex1, newURI0), {Name: "../evil", Content: "x"}},
			wantFail: true,
		},
		{
			name:     "dot-dot to remove: refused",
			existing: map[string]string{"type": "dependency-mapping"},
			remove:   []string{".."},
			wantFail: true,
		},
		{
			name:     "dot to remove: refused",
			existing: map[string]string{},
			remove:   []string{"."},
			wantFail: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			in := input
			if tt.input != nil {
				in = tt.input
			}
			writeFile(t, filepath.Join(d, "buildpack.toml"), in)
			if tt.existing != nil {
				if err := os.MkdirAll(filepath.Join(d, "binding"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for name, content := range tt.existing {
				writeFile(t, filepath.Join(d, "binding", name), []byte(content))
			}
			beforeFiles := dirEntries(t, d)
			c := change{
				Address: `mirror.m.bindings["binding"]`,
				Mirror:  "m",
				Key:     "binding",
				Action:  actionRewrite,
				After:   &object{Size: int64(len(tt.files))},
				Rewrite: &buildpack.RewriteDetail{
					Kind:        buildpack.KindBindings,
					Path:        "binding",
					Input:       "buildpack.toml",
					InputDigest: sha256Of(input),
					Edits:       []buildpack.RewriteEdit{},
					Files:       tt.files,
					Remove:      tt.remove,
				},
			}
			err := rewriter{Dir: d}.Rewrite(context.Background(), c)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Rewrite error = %v, want %v", err, tt.wantErr)
				}
			case tt.wantFail:
				if err == nil {
					t.Error("Rewrite succeeded")
				}
			case err != nil:
				t.Errorf("Rewrite: %v", err)
			}
			want := beforeFiles
			if tt.wantBinding != nil {
				want = map[string]string{"buildpack.toml": string(in)}
				for name, content := range tt.wantBinding {
					want["binding/"+name] = content
				}
			}
			if diff := cmp.Diff(want, dirEntries(t, d)); diff != "" {
				t.Errorf("files afterwards (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(d, "binding")); (tt.existing != nil || tt.wantBinding != nil) && err != nil {
				t.Errorf("the binding directory is gone: %v", err)
			}
		})
	}
}

// Apply never reads or writes a consumer file through a symbolic link, even
// when a plan (made earlier, or edited) says what it holds: an output that
// is a link, a bindings directory that is a link, a binding file that is a
// link are refused, naming the path, and the link and its target stay as
// they were.
func TestRewriteRefusesSymlinks(t *testing.T) {
	input := readTestdata(t, "rewrite/buildpack.toml")
	result := expectedRewrite(t, input, rewriteEdits)
	secret := []byte("-----BEGIN PRIVATE KEY-----\nhunter2\n")
	hex1 := strings.Repeat("1", 64)
	tests := []struct {
		name string
		// setup makes the links in d (the config directory); outside is a
		// directory elsewhere holding "key" = secret.
		setup  func(t *testing.T, d, outside string)
		change func(d string) change
		path   string // named in the error
	}{
		{
			name: "output is a link, the plan saw its target",
			setup: func(t *testing.T, d, outside string) {
				mustSymlink(t, filepath.Join(outside, "key"), filepath.Join(d, "out.toml"))
			},
			change: func(string) change { return tomlChange(input, "out.toml", objectOf(secret), result) },
			path:   "out.toml",
		},
		{
			name: "output is a link, the plan saw nothing",
			setup: func(t *testing.T, d, outside string) {
				mustSymlink(t, filepath.Join(outside, "key"), filepath.Join(d, "out.toml"))
			},
			change: func(string) change { return tomlChange(input, "out.toml", nil, result) },
			path:   "out.toml",
		},
		{
			name: "dangling output link",
			setup: func(t *testing.T, d, outside string) {
				mustSymlink(t, filepath.Join(outside, "new"), filepath.Join(d, "out.toml"))
			},
			change: func(string) change { return tomlChange(input, "out.toml", nil, result) },
			path:   "out.toml",
		},
		{
			name: "bindings directory is a link",
			setup: func(t *testing.T, d, outside string) {
				mustSymlink(t, outside, filepath.Join(d, "binding"))
			},
			change: func(string) change {
				return bindingsChange(input, []buildpack.OutputFile{{Name: "sha256_" + hex1, Content: newURI0}}, []string{"key"})
			},
			path: "binding",
		},
		{
			name: "binding file is a link",
			setup: func(t *testing.T, d, outside string) {
				if err := os.Mkdir(filepath.Join(d, "binding"), 0o755); err != nil {
					t.Fatal(err)
				}
				mustSymlink(t, filepath.Join(outside, "key"), filepath.Join(d, "binding", "sha256_"+hex1))
			},
			change: func(string) change {
				return bindingsChange(input, []buildpack.OutputFile{{Name: "sha256_" + hex1, Content: newURI0}}, nil)
			},
			path: "sha256_" + hex1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, outside := t.TempDir(), t.TempDir()
			writeFile(t, filepath.Join(d, "buildpack.toml"), input)
			writeFile(t, filepath.Join(outside, "key"), secret)
			tt.setup(t, d, outside)
			links := symlinksIn(t, d)

			err := rewriter{Dir: d}.Rewrite(context.Background(), tt.change(d))
			if !errors.Is(err, safefile.ErrNotRegular) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Rewrite error = %v; want one wrapping ErrNotRegular naming %s", err, tt.path)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the link target's content: %v", err)
			}
			if diff := cmp.Diff(map[string]string{"key": string(secret)}, dirEntries(t, outside)); diff != "" {
				t.Errorf("the links' target directory afterwards (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(links, symlinksIn(t, d)); diff != "" {
				t.Errorf("links afterwards (-want +got):\n%s", diff)
			}
		})
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// symlinksIn maps every symbolic link below dir to its target.
func symlinksIn(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		target, err := os.Readlink(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = target
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tomlChange(input []byte, out string, before *object, result []byte) change {
	return change{
		Address: `mirror.m.rewrite["` + out + `"]`,
		Mirror:  "m",
		Key:     out,
		Action:  actionRewrite,
		Before:  before,
		After:   objectOf(result),
		Rewrite: &buildpack.RewriteDetail{Kind: buildpack.KindBuildpackTOML, Path: out, Input: "buildpack.toml", InputDigest: sha256Of(input), Edits: rewriteEdits},
	}
}

func bindingsChange(input []byte, files []buildpack.OutputFile, remove []string) change {
	return change{
		Address: `mirror.m.bindings["binding"]`,
		Mirror:  "m",
		Key:     "binding",
		Action:  actionRewrite,
		After:   &object{Size: int64(len(files))},
		Rewrite: &buildpack.RewriteDetail{
			Kind:        buildpack.KindBindings,
			Path:        "binding",
			Input:       "buildpack.toml",
			InputDigest: sha256Of(input),
			Edits:       []buildpack.RewriteEdit{},
			Files:       files,
			Remove:      remove,
		},
	}
}

// change is the part of a plan change these tests describe a rewrite by.
type change struct {
	Address, Mirror, Key string
	Action               int
	Before, After        *object
	Rewrite              *buildpack.RewriteDetail
}

const (
	actionAdd = iota + 1
	actionRewrite
)

type object struct {
	Size    int64
	Digests providers.Digests
}

// rewriter publishes a change as the apply engine hands it over: the
// provider's output with its detail.
type rewriter struct{ Dir string }

func (r rewriter) Rewrite(ctx context.Context, c change) error {
	o := providers.Output{Path: c.Key}
	if c.Before != nil {
		o.Before = c.Before.Digests
	}
	if c.After != nil {
		o.After = c.After.Digests
	}
	if c.Rewrite != nil {
		b, err := json.Marshal(c.Rewrite)
		if err != nil {
			return err
		}
		o.Detail = b
	}
	return buildpack.Rewriter{Dir: r.Dir}.Publish(ctx, o, nil)
}
