package httpsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"
	"github.com/ferry-mirror/ferry/providers"
)

// decodeWithList writes list as dir/name and decodes src (the body of a
// source "http" block) with dir as the config directory.
func decodeWithList(t *testing.T, name, list, src string) (*SourceConfig, hcl.Diagnostics, *schema.Inputs) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := &schema.Inputs{}
	cfg, diags := schematest.Decode[SourceConfig](t, SourceType().Type, src, nil, schema.DecodeEnv{
		Dir: dir, Address: "source.http.tools", DeclRange: hcl.Range{Filename: schematest.Filename}, Inputs: inputs,
	})
	return cfg, diags, inputs
}

func TestArtifactsFile(t *testing.T) {
	d256 := providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: zeros256})
	d512 := providers.NewDigests(providers.Digest{Algorithm: providers.SHA512, Hex: zeros512})
	jq := ArtifactConfig{Name: "jq", URL: "https://x/jq-1.7.1", DisplayURL: "https://x/jq-1.7.1", Digests: d256, Version: "1.7.1", Key: "jq/1.7.1/jq-1.7.1", Size: -1}
	yq := ArtifactConfig{Name: "yq", URL: "file:///srv/yq", DisplayURL: "file:///srv/yq", Digests: d512, Key: "tools/yq", Size: 12}
	tests := []struct {
		name string
		file string
		list string
		src  string
		want []ArtifactConfig
	}{
		{
			name: "jsonl",
			file: "artifacts.jsonl",
			list: `{"name": "jq", "url": "https://x/jq-1.7.1", "sha256": "` + zeros256 + `", "version": "1.7.1"}` + "\r\n\n   \n" +
				`{"key": "tools/yq", "size": 12, "sha512": "` + strings.ToUpper(zeros512) + `", "url": "file:///srv/yq", "name": "yq", "published": null}` + "\n",
			want: []ArtifactConfig{jq, yq},
		},
		{
			name: "csv, any column order, empty cells absent, no final newline",
			file: "artifacts.CSV",
			list: "\ufeffurl,name,sha256,sha512,version,key,size\n" +
				"https://x/jq-1.7.1,jq," + zeros256 + ",,1.7.1,,\n" +
				"file:///srv/yq,yq,," + zeros512 + ",,tools/yq,12",
			want: []ArtifactConfig{jq, yq},
		},
		{
			name: "blocks first, then the file",
			file: "a.jsonl",
			list: `{"name": "jq", "url": "https://x/jq-1.7.1", "sha256": "` + zeros256 + `", "version": "1.7.1"}`,
			src:  "artifact \"yq\" {\n url = \"file:///srv/yq\"\n sha512 = \"" + zeros512 + "\"\n key = \"tools/yq\"\n size = 12\n}\n",
			want: []ArtifactConfig{yq, jq},
		},
		{
			name: "csv header only",
			file: "a.csv",
			list: "name,url,sha256\n",
			want: nil,
		},
		{
			name: "empty jsonl",
			file: "a.jsonl",
			list: "",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags, inputs := decodeWithList(t, tt.file, tt.list, tt.src+"artifacts_file = \""+tt.file+"\"\n")
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(tt.want, got.Artifacts); diff != "" {
				t.Errorf("artifacts mismatch (-want +got):\n%s", diff)
			}
			if files := inputs.Files(); len(files) != 1 || files[0].Name != tt.file {
				t.Errorf("Inputs = %+v, want the list file %s recorded", files, tt.file)
			}
		})
	}
}

func TestArtifactsFileErrors(t *testing.T) {
	ok := func(name string) string {
		return `{"name": "` + name + `", "url": "https://x/` + name + `", "sha256": "` + zeros256 + `"}`
	}
	tests := []struct {
		name string
		file string
		list string
		src  string // before the artifacts_file attribute
		// want is the diagnostic's summary, at wantFile:wantLine (and
		// wantColumn when not 0).
		want       string
		wantFile   string
		wantLine   int
		wantColumn int
	}{
		// JSON Lines.
		{name: "jsonl syntax", file: "a.jsonl", list: ok("a") + "\n" + `{"name": "b",, }`, want: "Invalid JSON in artifacts_file", wantLine: 2, wantColumn: 14},
		{name: "jsonl unclosed", file: "a.jsonl", list: `{"name": "b"` + "\n" + ok("a"), want: "Invalid JSON in artifacts_file", wantLine: 1},
		{name: "jsonl not an object", file: "a.jsonl", list: ok("a") + "\n\n[1, 2]", want: "Invalid JSON in artifacts_file", wantLine: 3, wantColumn: 1},
		{name: "jsonl two objects", file: "a.jsonl", list: ok("a") + " " + ok("b"), want: "Invalid JSON in artifacts_file", wantLine: 1},
		{name: "jsonl unknown field", file: "a.jsonl", list: ok("a") + "\n" + `{"name": "b", "sha265": "x"}`, want: "Unsupported artifact field", wantLine: 2, wantColumn: 15},
		{name: "jsonl duplicate field", file: "a.jsonl", list: `{"name": "b", "name": "c"}`, want: "Duplicate artifact field", wantLine: 1, wantColumn: 15},
		{name: "jsonl number for string", file: "a.jsonl", list: `{"name": "b", "version": 1}`, want: "Invalid artifact field", wantLine: 1, wantColumn: 26},
		{name: "jsonl nested value", file: "a.jsonl", list: `{"name": {"x": 1}}`, want: "Invalid artifact field", wantLine: 1, wantColumn: 10},
		{name: "jsonl string size", file: "a.jsonl", list: `{"name": "b", "size": "12"}`, want: "Invalid artifact size", wantLine: 1, wantColumn: 23},
		{name: "jsonl fractional size", file: "a.jsonl", list: strings.TrimSuffix(ok("b"), "}") + `, "size": 1.5}`, want: "Invalid artifact size", wantLine: 1},
		{name: "jsonl negative size", file: "a.jsonl", list: strings.TrimSuffix(ok("b"), "}") + `, "size": -1}`, want: "Invalid artifact size", wantLine: 1},
		{name: "jsonl no name", file: "a.jsonl", list: ok("a") + "\n" + `{"url": "https://x/b", "sha256": "` + zeros256 + `"}`, want: "Missing artifact name", wantLine: 2, wantColumn: 1},
		{name: "jsonl no url", file: "a.jsonl", list: `{"name": "b", "sha256": "` + zeros256 + `"}`, want: "Missing artifact url", wantLine: 1},
		{name: "jsonl no digest", file: "a.jsonl", list: `{"name": "b", "url": "https://x/b"}`, want: "Missing artifact digest", wantLine: 1},
		{name: "jsonl bad digest", file: "a.jsonl", list: "\n\n" + `{"name": "b", "url": "https://x/b", "sha256": "abc"}`, want: "Invalid sha256 digest", wantLine: 3, wantColumn: 47},
		{name: "jsonl bad scheme", file: "a.jsonl", list: `{"name": "b", "url": "s3://x/b", "sha256": "` + zeros256 + `"}`, want: "Unsupported URL scheme", wantLine: 1, wantColumn: 22},
		{name: "jsonl bad key", file: "a.jsonl", list: strings.TrimSuffix(ok("b"), "}") + `, "key": "../x"}`, want: "Invalid artifact key", wantLine: 1},
		{name: "jsonl bad name", file: "a.jsonl", list: `{"name": "..", "url": "https://x/b", "sha256": "` + zeros256 + `"}`, want: "Invalid artifact name", wantLine: 1, wantColumn: 10},
		{name: "jsonl bad published", file: "a.jsonl", list: strings.TrimSuffix(ok("b"), "}") + `, "published": "yesterday"}`, want: "Invalid publish time", wantLine: 1},
		{name: "jsonl version slash", file: "a.jsonl", list: strings.TrimSuffix(ok("b"), "}") + `, "version": "1/2"}`, want: "Invalid artifact key", wantLine: 1},
		{name: "jsonl duplicate key", file: "a.jsonl", list: ok("a") + "\n" + ok("b") + "\n" + ok("a"), want: "Duplicate artifact key", wantLine: 3, wantColumn: 1},
		// CSV.
		{name: "csv empty", file: "a.csv", list: "", want: "Missing CSV header", wantLine: 1},
		{name: "csv unknown column", file: "a.csv", list: "name,url,sha265\n", want: "Unsupported artifact field", wantLine: 1, wantColumn: 10},
		{name: "csv duplicate column", file: "a.csv", list: "name,url,name\n", want: "Duplicate artifact field", wantLine: 1, wantColumn: 10},
		{name: "csv field count", file: "a.csv", list: "name,url,sha256\nb,https://x/b," + zeros256 + "\nc,https://x/c\n", want: "Invalid CSV in artifacts_file", wantLine: 3},
		{name: "csv bare quote", file: "a.csv", list: "name,url,sha256\nb,https://x/\"b," + zeros256 + "\n", want: "Invalid CSV in artifacts_file", wantLine: 2},
		{name: "csv bad digest", file: "a.csv", list: "name,url,sha256\nb,https://x/b," + zeros256 + "\nc,https://x/c,xyz\n", want: "Invalid sha256 digest", wantLine: 3, wantColumn: 15},
		{name: "csv bad size", file: "a.csv", list: "name,url,sha256,size\nb,https://x/b," + zeros256 + ",lots\n", want: "Invalid artifact size", wantLine: 2, wantColumn: 80},
		{name: "csv no url", file: "a.csv", list: "name,url,sha256\nb,," + zeros256 + "\n", want: "Missing artifact url", wantLine: 2},
		{name: "csv no digest", file: "a.csv", list: "name,url,sha256\nb,https://x/b,\n", want: "Missing artifact digest", wantLine: 2},
		{name: "csv quoted multi-line cell", file: "a.csv", list: "name,url,sha256\n\"b\nc\",https://x/b," + zeros256 + "\n", want: "Invalid artifact name", wantLine: 2, wantColumn: 1},
		// The file itself, and blocks with the file.
		{name: "unsupported extension", file: "a.json", list: "[]", want: "Unsupported artifacts_file format", wantFile: schematest.Filename, wantLine: 1},
		{
			name: "duplicate across a block and the file", file: "a.jsonl",
			src:  "artifact \"a\" {\n url = \"https://y/a\"\n sha256 = \"" + zeros256 + "\"\n}\n",
			list: ok("b") + "\n" + ok("a"), want: "Duplicate artifact key", wantLine: 2, wantColumn: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags, _ := decodeWithList(t, tt.file, tt.list, tt.src+"artifacts_file = \""+tt.file+"\"\n")
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1: %v", len(diags), diags)
			}
			d := diags[0]
			wantFile := tt.wantFile
			if wantFile == "" {
				wantFile = tt.file // the list file, named like the config file that names it
			}
			if d.Summary != tt.want || d.Detail == "" || d.Subject == nil || d.Subject.Filename != wantFile ||
				d.Subject.Start.Line != tt.wantLine || (tt.wantColumn != 0 && d.Subject.Start.Column != tt.wantColumn) {
				t.Errorf("got %s (at %v), want %q at %s:%d,%d", d, d.Subject, tt.want, wantFile, tt.wantLine, tt.wantColumn)
			}
			if tt.want == "Duplicate artifact key" && !strings.Contains(d.Detail, schematest.Filename+":1") && !strings.Contains(d.Detail, tt.file+":1") {
				t.Errorf("the duplicate does not name the first declaration: %s", d.Detail)
			}
			for _, a := range got.Artifacts {
				if a.Name != "a" && a.Name != "b" {
					t.Errorf("an artifact with errors was kept: %+v", a)
				}
			}
		})
	}
}

func TestArtifactsFileUnreadable(t *testing.T) {
	cfg, diags := schematest.Decode[SourceConfig](t, SourceType().Type, `artifacts_file = "missing.csv"`, nil,
		schema.DecodeEnv{Dir: t.TempDir(), Address: "source.http.tools"})
	if len(diags) != 1 || diags[0].Summary != "Failed to read artifacts_file" || diags[0].Subject.Filename != schematest.Filename {
		t.Errorf("diags = %v, want one \"Failed to read artifacts_file\" at the attribute", diags)
	}
	if len(cfg.Artifacts) != 0 {
		t.Errorf("artifacts = %+v, want none", cfg.Artifacts)
	}
}

func TestArtifactsFileErrorLimit(t *testing.T) {
	list := strings.Repeat(`{"name": "b"}`+"\n", 3*maxListErrors)
	_, diags, _ := decodeWithList(t, "a.jsonl", list, `artifacts_file = "a.jsonl"`)
	if len(diags) != maxListErrors+1 || diags[maxListErrors].Summary != "Too many errors in artifacts_file" {
		t.Errorf("got %d diagnostics (last %v), want %d and a \"Too many errors\"", len(diags), diags[len(diags)-1], maxListErrors+1)
	}
}

// scanJSONLine reads a line exactly as parseJSONLine does, or gives up.
func TestScanJSONLineAgrees(t *testing.T) {
	tests := []struct {
		name string
		line string
		fast bool // scanJSONLine reads it
	}{
		{name: "generated", line: `{"name":"jq","version":"1.7.1","url":"https://x/jq-1.7.1","sha256":"` + zeros256 + `","size":12,"published":"2024-05-01T00:00:00Z"}`, fast: true},
		{name: "spaced", line: " \t{ \"name\" : \"jq\" ,\t\"url\": \"https://x/jq\", \"size\" : 0 }  \r", fast: true},
		{name: "empty object", line: `{}`, fast: true},
		{name: "negative size", line: `{"size": -3}`, fast: true},
		{name: "non-ASCII", line: `{"name": "jq-é", "url": "https://x/ü/jq"}`, fast: true},
		{name: "empty strings", line: `{"name": "", "sha256": ""}`, fast: true},
		{name: "escape", line: `{"name": "j\"q"}`},
		{name: "unicode escape", line: `{"name": "j\u0071"}`},
		{name: "control character", line: "{\"name\": \"j\tq\"}"},
		{name: "invalid UTF-8", line: "{\"name\": \"\xff\"}"},
		{name: "null", line: `{"name": null}`},
		{name: "unknown field", line: `{"nmae": "jq"}`},
		{name: "field in other case", line: `{"Name": "jq"}`},
		{name: "repeated field", line: `{"name": "a", "name": "b"}`},
		{name: "string size", line: `{"size": "12"}`},
		{name: "number name", line: `{"name": 12}`},
		{name: "fraction", line: `{"size": 1.5}`},
		{name: "exponent", line: `{"size": 1e3}`},
		{name: "leading zero", line: `{"size": 012}`},
		{name: "minus alone", line: `{"size": -}`},
		{name: "object value", line: `{"url": {"x": 1}}`},
		{name: "trailing comma", line: `{"name": "a",}`},
		{name: "two objects", line: `{} {}`},
		{name: "not closed", line: `{"name": "a"`},
		{name: "array", line: `["name"]`},
		{name: "garbage after number", line: `{"size": 12x}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line := []byte(tc.line)
			got, ok := scanJSONLine("a.jsonl", 3, 100, line)
			if ok != tc.fast {
				t.Fatalf("scanJSONLine ok = %v, want %v", ok, tc.fast)
			}
			if !ok {
				return
			}
			want, d := parseJSONLine("a.jsonl", 3, 100, line)
			if d != nil {
				t.Fatalf("parseJSONLine: %v", d)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("scanJSONLine differs from parseJSONLine (-parse +scan):\n%s", diff)
			}
		})
	}
}
