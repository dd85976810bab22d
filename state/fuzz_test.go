package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode feeds arbitrary bytes to the state reader. It must never
// panic; every rejection must be ErrCorrupt or ErrNewerVersion and name the
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
