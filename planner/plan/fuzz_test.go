package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ferry-mirror/ferry/providers"
)

// FuzzUnmarshal feeds arbitrary bytes to the plan file reader. It must never
// panic, and every plan it accepts must survive Marshal → Unmarshal
// unchanged, with Marshal's output stable (a second Marshal gives the same
// bytes), and render as text (show PLANFILE) without an error or panic.
//
// Seeds: the planner's golden plan.json files.
func FuzzUnmarshal(f *testing.F) {
	golden, err := filepath.Glob(filepath.Join("..", "testdata", "*", "plan.json"))
	if err != nil || len(golden) == 0 {
		f.Fatalf("no golden plans: %v", err)
	}
	for _, p := range golden {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"format_version":"2","changes":null}`))
	f.Add([]byte(`{"format_version":"2","changes":[{"address":"mirror.m.rewrite[\"f\"]","mirror":"m","key":"f","action":"publish","reason":"output_out_of_date","destination":"d.d","output":{"side":"source","block":"rewrite","path":"f","verb":"rewrite","detail":{"a": [1, 2]}}}]}`))
	f.Add([]byte(`{"format_version":"3","tool_version":"9.9.9"}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Unmarshal(data)
		if err != nil {
			return
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatalf("accepted plan does not marshal: %v\ninput: %q", err, data)
		}
		p2, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("marshalled plan does not read back: %v\ninput: %q\nmarshalled: %s", err, data, b)
		}
		if diff := cmp.Diff(p, p2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the plan (-read +reread):\n%s\ninput: %q", diff, data)
		}
		b2, err := Marshal(p2)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(b2) {
			t.Fatalf("Marshal is not stable:\n%s\n%s", b, b2)
		}
		var sb strings.Builder
		if err := p.WriteText(&sb); err != nil {
			t.Fatalf("WriteText: %v", err)
		}
	})
}

// FuzzAddress checks that every address ferry prints for an artifact parses
// back, as -target, -exclude, -replace and state show accept it, to the same
// mirror and key. Mirror names are identifiers (config enforces that) and
// keys pass providers.CheckKey; the fuzzer supplies both. Arbitrary
// strings given to ParseTarget must not panic.
func FuzzAddress(f *testing.F) {
	f.Add("tools", "greeting/1.2.0/greeting-1.2.0.txt")
	f.Add("npm_mirror", "@scope/pkg/-/pkg-1.0.0.tgz")
	f.Add("oci", "v1.2.3")
	f.Add("m", `a"b\c`)
	f.Add("m", "a${b}")
	f.Add("m", "a%{b}")
	f.Add("m", "\u00e9\u2028")
	f.Fuzz(func(t *testing.T, mirror, key string) {
		_, _ = ParseTarget(mirror) // arbitrary input: no panic
		_, _ = ParseTarget(key)
		if got, want := hclQuote(key), quoteRunes(key); got != want {
			t.Fatalf("hclQuote(%q) = %s, rune by rune %s", key, got, want)
		}
		if !identifier(mirror) || !validKey(key) {
			return
		}
		addr := Address(mirror, key)
		got, err := ParseTarget(addr)
		if err != nil {
			t.Fatalf("ParseTarget(Address(%q, %q) = %s): %v", mirror, key, addr, err)
		}
		if got.Mirror != mirror || got.Key != key {
			t.Fatalf("ParseTarget(%s) = %+v, want mirror %q key %q", addr, got, mirror, key)
		}
		if got.String() != addr {
			t.Fatalf("Target.String() = %s, want %s", got, addr)
		}
	})
}

// identifier is the config's rule for block names.
func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r == '-' || r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// validKey is providers.CheckKey plus valid UTF-8, which every source
// guarantees.
func validKey(k string) bool {
	return providers.CheckKey(k) == nil && utf8.ValidString(k)
}
