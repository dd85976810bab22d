package nuget

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
)

func TestNormalizeVersion(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{in: "1.0", want: "1.0.0", ok: true},
		{in: "1.01.1", want: "1.1.1", ok: true},
		{in: "1.0.0.0", want: "1.0.0", ok: true},
		{in: "1.2.3.4", want: "1.2.3.4", ok: true},
		{in: "2.0.0-Beta.1+build.7", want: "2.0.0-beta.1", ok: true},
		{in: "1.0.0+meta", want: "1.0.0", ok: true},
		{in: "v1.0", ok: false},
		{in: "1..2", ok: false},
	}
	for _, tt := range tests {
		got, ok := NormalizeVersion(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeVersion(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRange(t *testing.T) {
	tests := []struct {
		rng string
		in  []string
		out []string
	}{
		{rng: "1.0", in: []string{"1.0.0", "1.0", "7.0.0"}, out: []string{"0.9.9", "1.0.0-rc.1"}},
		{rng: "[1.0]", in: []string{"1.0.0", "1.0.0.0"}, out: []string{"1.0.1", "0.9"}},
		{rng: "[1.0,2.0)", in: []string{"1.0.0", "1.9.9", "2.0.0-rc.1"}, out: []string{"2.0.0", "0.9"}},
		{rng: "(1.0,2.0]", in: []string{"1.0.1", "2.0.0"}, out: []string{"1.0.0", "2.0.1"}},
		{rng: "(,1.5]", in: []string{"0.1", "1.5.0"}, out: []string{"1.5.1"}},
		{rng: "(1.5,)", in: []string{"1.5.1", "99.0"}, out: []string{"1.5.0", "not-a-version"}},
		{rng: " [ 1.0 , 2.0 ] ", in: []string{"1.0", "2.0"}, out: []string{"2.0.1"}},
	}
	for _, tt := range tests {
		r, err := ParseRange(tt.rng)
		if err != nil {
			t.Errorf("ParseRange(%q): %v", tt.rng, err)
			continue
		}
		for _, v := range tt.in {
			if !r.Contains(v) {
				t.Errorf("%q does not contain %q", tt.rng, v)
			}
		}
		for _, v := range tt.out {
			if r.Contains(v) {
				t.Errorf("%q contains %q", tt.rng, v)
			}
		}
	}
	for _, bad := range []string{"", "1.*", "[1.0", "(1.0)", "[,]", "[2.0,1.0]", "(1.0,1.0]", "[1.0,2.0,3.0]", "[x,2.0]", "abc"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) accepted", bad)
		}
	}
}

func TestParseKey(t *testing.T) {
	id, v, err := ParseKey(Key("serilog.sinks", "2.0.0-rc.1"))
	if err != nil || id != "serilog.sinks" || v != "2.0.0-rc.1" {
		t.Errorf("ParseKey(Key(…)) = %q, %q, %v", id, v, err)
	}
	for _, bad := range []string{
		"Serilog/1.0.0/Serilog.1.0.0.nupkg", // not lower-case
		"a/1.0/a.1.0.nupkg",                 // not normalized
		"a/1.0.0/b.1.0.0.nupkg",
		"a/1.0.0/a.1.0.0.zip",
		"a/1.0.0",
		"../1.0.0/...1.0.0.nupkg",
		"a/1.0.0/a.1.0.0.nupkg/x",
	} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestValidID(t *testing.T) {
	for _, ok := range []string{"A", "Newtonsoft.Json", "a-b_c.d", "_x", "x1.2"} {
		if !ValidID(ok) {
			t.Errorf("ValidID(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", ".a", "a.", "a..b", "a.-b", "a b", "a/b", "ü", strings.Repeat("a", 101)} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	zw.Close()
	return buf.Bytes()
}

func TestReadIdentity(t *testing.T) {
	spec := func(id, v string) string {
		return `<?xml version="1.0"?><package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata><id>` + id + `</id><version>` + v + `</version></metadata></package>`
	}
	tests := []struct {
		name    string
		pkg     []byte
		wantErr string // "" when Check("a.b", "1.0.0") passes
	}{
		{name: "matches", pkg: zipOf(t, map[string]string{"A.B.nuspec": spec("A.B", "1.0"), "lib/x.nuspec": "ignored"})},
		{name: "other id", pkg: zipOf(t, map[string]string{"A.C.nuspec": spec("A.C", "1.0.0")}), wantErr: "declares A.C 1.0.0, not a.b 1.0.0"},
		{name: "other version", pkg: zipOf(t, map[string]string{"A.B.nuspec": spec("A.B", "1.0.1")}), wantErr: "declares A.B 1.0.1"},
		{name: "no nuspec", pkg: zipOf(t, map[string]string{"lib/A.B.nuspec": spec("A.B", "1.0")}), wantErr: "no .nuspec at its root"},
		{name: "two nuspecs", pkg: zipOf(t, map[string]string{"A.B.nuspec": spec("A.B", "1.0"), "B.nuspec": spec("A.B", "1.0")}), wantErr: "two .nuspec"},
		{name: "no version", pkg: zipOf(t, map[string]string{"A.B.nuspec": spec("A.B", "")}), wantErr: "no id or no version"},
		{name: "not a zip", pkg: []byte("hello"), wantErr: "not a .nupkg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ReadIdentity(bytes.NewReader(tt.pkg), int64(len(tt.pkg)))
			if err == nil {
				err = id.Check("a.b", "1.0.0")
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
