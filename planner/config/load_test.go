package config_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// caseArgs is the optional args.json of a fixture directory.
type caseArgs struct {
	Env  []string `json:"env"`
	Vars []struct {
		File  bool   `json:"file"`
		Value string `json:"value"` // var file paths are relative to the case directory
	} `json:"vars"`
	// Extra are expected diagnostics located outside the fixture files
	// (e.g. "<-var option 1>:1"), as "file:line" → summaries.
	Extra map[string][]string `json:"extra"`
}

func readArgs(t *testing.T, caseDir string) caseArgs {
	t.Helper()
	var a caseArgs
	b, err := os.ReadFile(filepath.Join(caseDir, "args.json"))
	if os.IsNotExist(err) {
		return a
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("args.json: %v", err)
	}
	return a
}

func types() []schema.Type { return registry.Schemas(all.Types()) }

func loadCase(t *testing.T, caseDir string) (*config.Config, hcl.Diagnostics, caseArgs) {
	t.Helper()
	a := readArgs(t, caseDir)
	opts := config.LoadOptions{Dir: caseDir, Env: a.Env, Types: types()}
	for _, v := range a.Vars {
		value := v.Value
		if v.File {
			value = filepath.Join(caseDir, value)
		}
		opts.Vars = append(opts.Vars, config.VarArg{File: v.File, Value: value})
	}
	cfg, diags := config.Load(opts)
	if cfg == nil {
		t.Fatal("Load returned a nil Config")
	}
	return cfg, diags, a
}

// cmpConfig compares typed configs, ignoring source ranges and file data.
var cmpConfig = []cmp.Option{
	cmpopts.IgnoreTypes(hcl.Range{}),
	cmpopts.IgnoreFields(config.Config{}, "Files", "Digest"),
	cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) }),
	cmp.Comparer(func(a, b cty.Type) bool { return a.Equals(b) }),
	cmpopts.EquateEmpty(),
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func digest(alg providers.Algorithm, hex string) providers.Digest {
	return providers.Digest{Algorithm: alg, Hex: hex}
}

func intPtr(n int) *int { return &n }

func TestLoadValid(t *testing.T) {
	full := mustAbs(t, "testdata/valid/full")
	minimal := mustAbs(t, "testdata/valid/minimal")
	pw := cty.StringVal("s3cret-pw").Mark(schema.SensitiveMark)
	tools := &config.Source{Type: "http", Name: "tools", Settings: &httpsrc.SourceConfig{Artifacts: []httpsrc.ArtifactConfig{
		{
			Name:       "jq",
			URL:        "https://example.org/jq/1.7.1/jq-linux-amd64",
			DisplayURL: "https://example.org/jq/1.7.1/jq-linux-amd64",
			Digests:    providers.NewDigests(digest(providers.SHA256, "5942c9b0934e510ee61eb3e30273f1b3fe2590df93933a93d7c58b81d19c8ff5")),
			Version:    "1.7.1",
			Key:        "jq/1.7.1/jq-linux-amd64",
			Size:       1234,
		},
		{
			Name:       "jq",
			URL:        "https://example.org/jq/1.6/jq-linux-amd64",
			DisplayURL: "https://example.org/jq/1.6/jq-linux-amd64",
			Digests:    providers.NewDigests(digest(providers.SHA512, strings.Repeat("0123456789abcdef", 8))),
			Version:    "1.6",
			Key:        "jq/1.6/jq-linux-amd64",
			Size:       -1,
		},
		{
			Name:       "private",
			URL:        "https://ci:s3cret-pw@internal.example/files/tool.tar.gz",
			DisplayURL: "(sensitive)",
			Digests:    providers.NewDigests(digest(providers.SHA256, strings.Repeat("a", 64))),
			Key:        "private/tool.tar.gz",
			Size:       -1,
		},
		{
			Name:       "readme",
			URL:        "file:///srv/files/README.txt",
			DisplayURL: "file:///srv/files/README.txt",
			Digests:    providers.NewDigests(digest(providers.SHA256, strings.Repeat("c", 64))),
			Key:        "docs/README.txt",
			Size:       -1,
		},
		{
			Name:       "basic",
			URL:        "https://user:pw@example.org/dl/basic.bin",
			DisplayURL: "https://xxxxx@example.org/dl/basic.bin",
			Digests:    providers.NewDigests(digest(providers.SHA256, strings.Repeat("b", 64))),
			Key:        "basic/basic.bin",
			Size:       -1,
		},
	}}}

	tests := []struct {
		name string
		dir  string
		want *config.Config
	}{
		{
			name: "full",
			dir:  "testdata/valid/full",
			want: &config.Config{
				Dir: full,
				Settings: config.Settings{
					StatePath:   "state/ferry.state.json",
					Parallelism: 4,
					MaxDeletes:  intPtr(50),
				},
				Variables: map[string]*config.Variable{
					"mirror_root": {
						Name: "mirror_root", Description: "Where the local mirror lives.", Type: cty.String,
						Default: cty.StringVal("mirror"), Value: cty.StringVal("mirror"),
					},
					"jq_version": {
						Name: "jq_version", Type: cty.DynamicPseudoType,
						Default: cty.StringVal("1.7.1"), Value: cty.StringVal("1.7.1"),
					},
					"registry_password": {
						Name: "registry_password", Type: cty.String, Sensitive: true,
						Default: cty.NilVal, Value: pw,
					},
					"retries": {
						Name: "retries", Type: cty.Number,
						Default: cty.NumberIntVal(3), Value: cty.NumberIntVal(5),
					},
					"platforms": {
						Name: "platforms", Type: cty.List(cty.String),
						Default: cty.ListVal([]cty.Value{cty.StringVal("linux-amd64")}),
						Value:   cty.ListVal([]cty.Value{cty.StringVal("linux-amd64")}),
					},
				},
				Sources: map[string]*config.Source{"http.tools": tools},
				Destinations: map[string]*config.Destination{
					"dir.local": {Type: "dir", Name: "local", Settings: &dir.DestinationConfig{Path: filepath.Join(full, "mirror")}},
					"dir.abs":   {Type: "dir", Name: "abs", Settings: &dir.DestinationConfig{Path: "/srv/mirror2"}},
				},
				Mirrors: map[string]*config.Mirror{
					"tools": {
						Name: "tools", From: "http.tools", To: "dir.local",
						Retention: config.Retention{
							KeepLast:   3,
							MaxAge:     30 * 24 * time.Hour,
							Keep:       []string{"1.6", "PINNED"},
							MaxDeletes: intPtr(20),
							DryRun:     true,
						},
					},
					"tools_abs": {
						Name: "tools_abs", From: "http.tools", To: "dir.abs",
						Retention: config.Retention{MaxAge: 36 * time.Hour},
					},
				},
			},
		},
		{
			name: "minimal",
			dir:  "testdata/valid/minimal",
			want: &config.Config{
				Dir:       minimal,
				Settings:  config.Settings{StatePath: config.DefaultStatePath},
				Variables: map[string]*config.Variable{},
				Sources: map[string]*config.Source{"http.one": {Type: "http", Name: "one", Settings: &httpsrc.SourceConfig{
					Artifacts: []httpsrc.ArtifactConfig{{
						Name:       "tool",
						URL:        "https://example.org/tool",
						DisplayURL: "https://example.org/tool",
						Digests:    providers.NewDigests(digest(providers.SHA256, strings.Repeat("d", 64))),
						Key:        "tool/tool",
						Size:       -1,
					}},
				}}},
				Destinations: map[string]*config.Destination{
					"dir.out": {Type: "dir", Name: "out", Settings: &dir.DestinationConfig{Path: filepath.Join(minimal, "out")}},
				},
				Mirrors: map[string]*config.Mirror{"m": {Name: "m", From: "http.one", To: "dir.out"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags, _ := loadCase(t, tt.dir)
			for _, d := range diags {
				t.Errorf("unexpected diagnostic: %s", d)
			}
			if diff := cmp.Diff(tt.want, got, cmpConfig...); diff != "" {
				t.Errorf("Load() mismatch (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(got.Digest, "sha256:") || len(got.Digest) != len("sha256:")+64 {
				t.Errorf("Digest = %q, want sha256:<64 hex>", got.Digest)
			}
			for _, m := range got.Mirrors {
				if got.SourceFor(m) == nil || got.DestinationFor(m) == nil {
					t.Errorf("mirror %s: SourceFor/DestinationFor returned nil", m.Name)
				}
			}
		})
	}
}

// TestLoadValidRanges spot-checks the ranges that later diagnostics use.
func TestLoadValidRanges(t *testing.T) {
	got, diags, _ := loadCase(t, "testdata/valid/full")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	mirrors := filepath.Join("testdata/valid/full", "mirrors.ferry.hcl")
	m := got.Mirrors["tools"]
	for _, tt := range []struct {
		name string
		rng  hcl.Range
		want string
	}{
		{"mirror", m.DeclRange, mirrors + ":1,1-15"},
		{"from", m.FromRange, mirrors + ":2,10-27"},
		{"to", m.ToRange, mirrors + ":3,10-31"},
		{"retention", m.Retention.DeclRange, mirrors + ":5,3-12"},
		{"keep_last", m.Retention.KeepLastRange, mirrors + ":6,5-20"},
		{"max_deletes", m.Retention.MaxDeletesRange, mirrors + ":9,5-21"},
		{"settings max_deletes", got.Settings.MaxDeletesRange, filepath.Join("testdata/valid/full", "main.ferry.hcl") + ":4,3-19"},
	} {
		if s := tt.rng.String(); s != tt.want {
			t.Errorf("%s range = %s, want %s", tt.name, s, tt.want)
		}
	}
	if len(got.Files) != 3 {
		t.Errorf("Files has %d entries, want 3", len(got.Files))
	}
}

// TestLoadInvalid loads each testdata/invalid/CASE directory and compares
// its diagnostics with the "# ERROR: Summary" markers on the offending
// lines of the case's *.hcl files (configuration and var files).
func TestLoadInvalid(t *testing.T) {
	cases, err := os.ReadDir("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			caseDir := filepath.Join("testdata/invalid", c.Name())
			_, diags, args := loadCase(t, caseDir)
			want := readMarkers(t, caseDir)
			for k, v := range args.Extra {
				want[k] = append(want[k], v...)
				slices.Sort(want[k])
			}
			got := map[string][]string{}
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					t.Errorf("unexpected non-error diagnostic: %s", d)
					continue
				}
				if d.Subject == nil {
					t.Errorf("diagnostic without Subject: %s", d)
					continue
				}
				if d.Detail == "" {
					t.Errorf("diagnostic without Detail: %s", d)
				}
				key := filepath.Base(d.Subject.Filename) + ":" + strconv.Itoa(d.Subject.Start.Line)
				got[key] = append(got[key], d.Summary)
				slices.Sort(got[key])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics mismatch (-want +got):\n%s\ndiagnostics:\n%s", diff, diags)
			}
		})
	}
}

func readMarkers(t *testing.T, caseDir string) map[string][]string {
	t.Helper()
	const marker = "# ERROR: "
	files, err := filepath.Glob(filepath.Join(caseDir, "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for line := 1; sc.Scan(); line++ {
			_, rest, ok := strings.Cut(sc.Text(), marker)
			if !ok {
				continue
			}
			key := filepath.Base(f) + ":" + strconv.Itoa(line)
			for s := range strings.SplitSeq(rest, marker) {
				want[key] = append(want[key], strings.TrimSpace(s))
			}
			slices.Sort(want[key])
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
	return want
}

func TestLoadNoFiles(t *testing.T) {
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, "main.hcl"), []byte("# not a ferry file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(config.LoadOptions{Dir: d, Types: types()})
	if cfg == nil || cfg.Files == nil {
		t.Fatal("Load returned no Config or no Files map")
	}
	if len(diags) != 1 || diags[0].Summary != "No configuration files" {
		t.Fatalf("diags = %v, want one \"No configuration files\"", diags)
	}
	for _, s := range []string{"*.ferry.hcl", d, "ferry init"} {
		if !strings.Contains(diags[0].Detail, s) {
			t.Errorf("Detail %q does not mention %q", diags[0].Detail, s)
		}
	}
}

func TestLoadSyntaxErrorKeepsFiles(t *testing.T) {
	d := writeConfig(t, "mirror \"m\" {\n  from = \n}\n")
	cfg, diags := config.Load(config.LoadOptions{Dir: d, Types: types()})
	if !diags.HasErrors() {
		t.Fatal("want a syntax error")
	}
	if _, ok := cfg.Files[filepath.Join(d, "main.ferry.hcl")]; !ok {
		t.Errorf("Files does not hold the file with the syntax error: %v", cfg.Files)
	}
}

func TestFormatFile(t *testing.T) {
	got := string(config.FormatFile([]byte("mirror \"m\" {\nfrom=source.http.a\n  to   =   destination.dir.b\n}\n")))
	want := "mirror \"m\" {\n  from = source.http.a\n  to   = destination.dir.b\n}\n"
	if got != want {
		t.Errorf("FormatFile() = %q, want %q", got, want)
	}
}

// writeConfig writes src as main.ferry.hcl (plus extra files as name,
// content pairs) into a fresh directory and returns it.
func writeConfig(t *testing.T, src string, extra ...string) string {
	t.Helper()
	d := t.TempDir()
	files := append([]string{"main.ferry.hcl", src}, extra...)
	for i := 0; i < len(files); i += 2 {
		if err := os.WriteFile(filepath.Join(d, files[i]), []byte(files[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}
