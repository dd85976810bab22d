package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

// FuzzDecode feeds arbitrary bytes to the state reader. It must never
// panic; it must read exactly as the checked decoder does (same state or
// same error: the streaming fast path only ever gives up); every rejection must be ErrCorrupt or ErrNewerVersion and name the
// file; and every state it accepts must survive Marshal → decode unchanged,
// with Marshal's output canonical (a second Marshal gives the same bytes).
//
// Seeds: every file in testdata (valid, future, corrupt and truncated).
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":2,"serial":1,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","digests":["sha1:0000000000000000000000000000000000000000"]}}}},"feeds":{"npm.a":{"u":"1"}}}`))
	f.Add([]byte(`{"version":3,"serial":1,"lineage":"x","mirrors":{},"recent_deletes":{"proget.feed":["2026-12-05T13:00:00+01:00","2026-12-05T11:00:00Z"],"d.x":[]}}`))

	const path = "fuzz.state.json"
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decode(path, data)
		sameAsChecked(t, path, data, s, err)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerVersion) {
				t.Fatalf("error is neither ErrCorrupt nor ErrNewerVersion: %v", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(path)) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		b, err := Marshal(s)
		if err != nil {
			t.Fatalf("accepted state does not marshal: %v\ninput: %q", err, data)
		}
		s2, err := decode(path, b)
		if err != nil {
			t.Fatalf("marshalled state does not read back: %v\ninput: %q\nmarshalled: %s", err, data, b)
		}
		if diff := cmp.Diff(s, s2); diff != "" {
			t.Fatalf("round trip changed the state (-read +reread):\n%s\ninput: %q", diff, data)
		}
		b2, err := Marshal(s2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("Marshal is not canonical:\n%s\n%s", b, b2)
		}
	})
}

// sameAsChecked fails t unless decodeChecked reads data as decode did (s,
// err).
func sameAsChecked(t *testing.T, path string, data []byte, s *State, err error) {
	t.Helper()
	want, wantErr := decodeChecked(path, data)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("decode error %v, checked decode error %v\ninput: %q", err, wantErr, data)
	case err != nil && err.Error() != wantErr.Error():
		t.Fatalf("decode error %q, checked decode error %q\ninput: %q", err, wantErr, data)
	case err == nil:
		if diff := cmp.Diff(want, s); diff != "" {
			t.Fatalf("decode differs from the checked decode (-checked +decode):\n%s\ninput: %q", diff, data)
		}
	}
}

// TestDecodeStreamAgreesWithChecked: the streaming decoder gives up on
// everything it does not decode exactly like the checked one (repeated
// names, nulls, names in other case, trailing data, versions out of range).
func TestDecodeStreamAgreesWithChecked(t *testing.T) {
	const art = `{"key":"k","size":1,"digests":["sha256:` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `"],"added_at":"2026-01-02T03:04:05+01:00"}`
	tests := []struct {
		name   string
		data   string
		stream bool // the fast path reads it
	}{
		{name: "plain", data: `{"version":3,"serial":2,"lineage":"x","mirrors":{"m":{"source":"http.a","destination":"dir.b","artifacts":{"k":` + art + `}}}}`, stream: true},
		{name: "version 1", data: `{"version":1,"lineage":"x","mirrors":{}}`, stream: true},
		{name: "feeds and deletes", data: `{"version":3,"lineage":"x","mirrors":{},"feeds":{"npm.a":{"u":"1"}},"recent_deletes":{"p.f":["2026-12-05T11:00:00Z"]}}`, stream: true},
		{name: "repeated top-level name", data: `{"version":3,"lineage":"x","lineage":"y","mirrors":{}}`},
		{name: "repeated mirror", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{}},"m":{"artifacts":{"k":` + art + `}}}}`},
		{name: "repeated artifact", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":` + art + `,"k":` + art + `}}}}`},
		{name: "repeated mirrors", data: `{"version":3,"lineage":"x","mirrors":{"a":{"artifacts":{}}},"mirrors":{"b":{"artifacts":{}}}}`},
		{name: "null mirrors", data: `{"version":3,"lineage":"x","mirrors":null}`},
		{name: "null mirror", data: `{"version":3,"lineage":"x","mirrors":{"m":null}}`},
		{name: "null artifacts", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":null}}}`},
		{name: "null artifact", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":null}}}}`},
		{name: "name in other case", data: `{"Version":3,"LINEAGE":"x","Mirrors":{}}`},
		{name: "unknown field", data: `{"version":3,"lineage":"x","mirrors":{},"extra":1}`},
		{name: "unknown artifact field", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","x":1}}}}}`},
		{name: "trailing data", data: `{"version":3,"lineage":"x","mirrors":{}} {}`},
		{name: "no version", data: `{"lineage":"x","mirrors":{}}`},
		{name: "version 0", data: `{"version":0,"lineage":"x","mirrors":{}}`},
		{name: "newer version", data: `{"version":99,"lineage":"x","mirrors":{"m":{"new":1}}}`},
		{name: "version not whole", data: `{"version":3.5,"lineage":"x","mirrors":{}}`},
		{name: "bad digest", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","digests":["sha256:xyz"]}}}}}`},
		{name: "invalid state", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"other"}}}}}`, stream: true},
		{name: "not an object", data: `[1,2]`},
		{name: "indented", data: "{\n  \"version\": 3,\r\n\t\"lineage\" : \"x\" ,\n  \"mirrors\": {\"m\": {\"artifacts\": {\"k\": {\"key\": \"k\", \"digests\": [ ], \"size\": -0}}}}\n}\n", stream: true},
		{name: "all artifact fields", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"a/é":{"key":"a/é","name":"a","version":"1","size":0,"digests":[],"source_digests":["sha256:` + strings.Repeat("0", 64) + `"],"created":"2024-01-01T00:00:00.5Z","added_at":"2024-01-01T00:00:00Z","origin":"https://x/a","verified_at":"2024-01-02T00:00:00-07:00"}}}}}`, stream: true},
		{name: "escaped key", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"a\u002fb":{"key":"a/b"}}}}}`},
		{name: "escaped origin", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","origin":"a\"b"}}}}}`},
		{name: "escaped header", data: `{"version":3,"lineage":"x\ty","tool_version":"\u0030","mirrors":{}}`, stream: true},
		{name: "fraction size", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","size":1.5}}}}}`},
		{name: "exponent size", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","size":1e3}}}}}`},
		{name: "huge size", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","size":99999999999999999999}}}}}`},
		{name: "string size", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","size":"1"}}}}}`},
		{name: "null digests", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","digests":null}}}}}`},
		{name: "empty digest string", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","digests":[""]}}}}}`, stream: true},
		{name: "bad time", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","added_at":"yesterday"}}}}}`},
		{name: "repeated artifact field", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":{"key":"k","key":"k"}}}}}`},
		{name: "byte order mark", data: "\ufeff{\"version\":3,\"lineage\":\"x\",\"mirrors\":{}}"},
		{name: "invalid UTF-8 key", data: "{\"version\":3,\"lineage\":\"x\",\"mirrors\":{\"m\":{\"artifacts\":{\"\xff\":{\"key\":\"\xff\"}}}}}"},
		{name: "feeds nested", data: `{"version":3,"lineage":"x","mirrors":{},"feeds":{"npm.a":{"u\"]}":"1,2"}},"serial":7}`, stream: true},
		{name: "version last", data: `{"lineage":"x","mirrors":{},"version":2}`, stream: true},
		{name: "unclosed string at end", data: `{"version":3,"lineage":"x","feeds":{"a":"`},
		{name: "truncated", data: `{"version":3,"lineage":"x","mirrors":{"m":{"artifacts":{"k":` + art},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ok := decodeStream([]byte(tc.data))
			if ok != tc.stream {
				t.Errorf("decodeStream ok = %v, want %v", ok, tc.stream)
			}
			s, err := decode("x.json", []byte(tc.data))
			sameAsChecked(t, "x.json", []byte(tc.data), s, err)
		})
	}
}

// The fast path reads every field an artifact has: a field added to
// Artifact but not to scanner.artifact would send every state through the
// slow decoder.
func TestDecodeStreamKnowsEveryArtifactField(t *testing.T) {
	d := providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat("0", 64)})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &Artifact{Key: "k", Name: "n", Version: "1", Size: 1, Digests: d, SourceDigests: d,
		Created: at, AddedAt: at, Origin: "https://x/k", VerifiedAt: at}
	// Fill every other field with a non-zero value, so omitempty keeps it.
	v := reflect.ValueOf(a).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.IsZero() {
			switch f.Kind() {
			case reflect.String:
				f.SetString("x")
			case reflect.Int64:
				f.SetInt(1)
			default:
				t.Fatalf("Artifact.%s: set it in this test", v.Type().Field(i).Name)
			}
		}
	}
	st := New("0.1.0")
	st.EnsureMirror("m", "http.a", "dir.b")
	st.SetArtifact("m", a)
	b, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := decodeStream(b); !ok {
		t.Errorf("decodeStream gives up on a state ferry wrote:\n%s", b)
	}
}
