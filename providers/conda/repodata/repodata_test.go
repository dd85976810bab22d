package repodata_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-mirror/ferry/providers/conda/repodata"
)

const fixtures = "../../../testdata/conda/"

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures + path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The real 1.3 MB pytorch linux-64 index: every record parsed, checked,
// and kept byte for byte (unknown keys such as track_features included).
func TestParsePytorch(t *testing.T) {
	data := read(t, "repodata/pytorch-linux-64/repodata.json")
	rd, err := repodata.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Version != 1 || rd.Subdir != "linux-64" || len(rd.Packages) != 2181 || len(rd.PackagesConda) != 0 {
		t.Fatalf("got version %d subdir %q %d packages %d packages.conda", rd.Version, rd.Subdir, len(rd.Packages), len(rd.PackagesConda))
	}
	var orig struct {
		Packages map[string]json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal(data, &orig); err != nil {
		t.Fatal(err)
	}
	for fn, r := range rd.Packages {
		if err := r.Check(fn); err != nil {
			t.Errorf("%s: %v", fn, err)
		}
		if !bytes.Equal(r.Raw, orig.Packages[fn]) {
			t.Fatalf("%s: raw record differs from the served bytes", fn)
		}
	}
	r := rd.Packages["cuda100-1.0-0.tar.bz2"]
	want := repodata.Record{Name: "cuda100", Version: "1.0", Build: "0", Depends: []string{}, Subdir: "linux-64", Size: 1989,
		SHA256: "7b7c28e141b8f2c9c840cc781a1dec0f1cb47967977a6269f50a2b4a44930283", MD5: "5d438d0afe89cb57f3b650a2367495fb", Timestamp: 1544155153559}
	got := *r
	got.Raw = nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cuda100 record (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(r.Raw), `"track_features": "cuda100"`) {
		t.Errorf("raw record lost track_features: %s", r.Raw)
	}
}

// The patch fixture's index keeps packages and packages.conda apart.
func TestParseKeepsMapsApart(t *testing.T) {
	rd, err := repodata.Parse(read(t, "repodata/patch-linux-64/repodata_from_packages.json"))
	if err != nil {
		t.Fatal(err)
	}
	for fn := range rd.Packages {
		if !strings.HasSuffix(fn, ".tar.bz2") {
			t.Errorf("packages holds %s", fn)
		}
	}
	for fn := range rd.PackagesConda {
		if !strings.HasSuffix(fn, ".conda") {
			t.Errorf("packages.conda holds %s", fn)
		}
	}
	if len(rd.Packages) != 2 || len(rd.PackagesConda) != 2 || rd.Removed == nil {
		t.Errorf("got %d packages, %d packages.conda, removed %v", len(rd.Packages), len(rd.PackagesConda), rd.Removed)
	}
	// dummy-linux-64 is repodata_version 2 and holds a .conda file under
	// packages: accepted there, as conda does.
	rd, err = repodata.Parse(read(t, "repodata/dummy-linux-64/repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rd.Version != 2 {
		t.Errorf("repodata_version %d, want 2", rd.Version)
	}
	if r := rd.Packages["cuda-version-12.5-hd4f0392_3.conda"]; r == nil || r.Check("cuda-version-12.5-hd4f0392_3.conda") != nil {
		t.Errorf("cuda-version .conda record under packages: %v", r)
	}
}

// The real channel's .bz2 index decompresses to its .json; a .zst of it
// decompresses back.
func TestDecompress(t *testing.T) {
	plain := read(t, "channel/noarch/repodata.json")
	got, err := repodata.Decompress(read(t, "channel/noarch/repodata.json.bz2"), repodata.Bzip2)
	if err != nil {
		t.Fatal(err)
	}
	// conda's indexer wrote the .json with a final newline, the .bz2 without.
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(plain)) {
		t.Error(".bz2 did not decompress to repodata.json")
	}
	enc, _ := zstd.NewWriter(nil)
	got, err = repodata.Decompress(enc.EncodeAll(plain, nil), repodata.Zstd)
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf(".zst round trip: %v", err)
	}
	// Truncated compressed indexes fail, never yield part of an index.
	z := enc.EncodeAll(plain, nil)
	if _, err := repodata.Decompress(z[:len(z)/2], repodata.Zstd); err == nil {
		t.Error("a truncated .zst decompressed")
	}
	b := read(t, "channel/noarch/repodata.json.bz2")
	if _, err := repodata.Decompress(b[:len(b)/2], repodata.Bzip2); err == nil {
		t.Error("a truncated .bz2 decompressed")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range []struct{ name, doc string }{
		{"not json", `{`},
		{"array", `[]`},
		{"null", `null`},
		{"packages not an object", `{"packages": []}`},
		{"record not an object", `{"packages.conda": {"a-1-0.conda": 3}}`},
		{"version a string", `{"repodata_version": "1"}`},
		{"size a string", `{"packages": {"a-1-0.tar.bz2": {"size": "1"}}}`},
		{"removed not a list", `{"removed": {}}`},
	} {
		if _, err := repodata.Parse([]byte(tt.doc)); err == nil {
			t.Errorf("%s: parsed", tt.name)
		}
	}
}

func TestCheck(t *testing.T) {
	good := repodata.Record{Name: "a", Version: "1", Size: 1, SHA256: strings.Repeat("a", 64), MD5: strings.Repeat("b", 32)}
	for _, tt := range []struct {
		name string
		file string
		edit func(*repodata.Record)
		ok   bool
	}{
		{name: "good", file: "a-1-0.tar.bz2", ok: true},
		{name: "good conda", file: "a-1-0.conda", ok: true},
		{name: "traversal", file: "../a-1-0.conda"},
		{name: "subdir", file: "x/a-1-0.conda"},
		{name: "other extension", file: "a-1-0.zip"},
		{name: "no sha256", file: "a-1-0.conda", edit: func(r *repodata.Record) { r.SHA256 = "" }},
		{name: "uppercase sha256", file: "a-1-0.conda", edit: func(r *repodata.Record) { r.SHA256 = strings.Repeat("A", 64) }},
		{name: "short md5", file: "a-1-0.conda", edit: func(r *repodata.Record) { r.MD5 = "abc" }},
		{name: "negative size", file: "a-1-0.conda", edit: func(r *repodata.Record) { r.Size = -1 }},
		{name: "no name", file: "a-1-0.conda", edit: func(r *repodata.Record) { r.Name = "" }},
	} {
		r := good
		if tt.edit != nil {
			tt.edit(&r)
		}
		if err := r.Check(tt.file); (err == nil) != tt.ok {
			t.Errorf("%s: Check = %v", tt.name, err)
		}
	}
}
