package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadMetadata feeds arbitrary bytes as a .conda and as a .tar.bz2
// (seeded with every real fixture, odd archives included): ReadMetadata
// never panics, refuses with one of the package's errors, and a record it
// accepts agrees with the file name and has the digests of the input.
func FuzzReadMetadata(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "packages", "*"))
	odd, _ := filepath.Glob(filepath.Join(fixtures, "odd-archives", "*"))
	for _, p := range append(files, odd...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, strings.HasSuffix(p, ExtConda))
	}
	f.Add(condaOf(f, tarOf(f, reg("info/index.json", okIndex)), tarOf(f, reg("lib/a", "a"))), true)
	f.Fuzz(func(t *testing.T, data []byte, conda bool) {
		name := "foo-1.0-h0_0" + ExtTarBz2
		if conda {
			name = "foo-1.0-h0_0" + ExtConda
		}
		rec, err := ReadMetadata(context.Background(), bytes.NewReader(data), int64(len(data)), name)
		if err != nil {
			for _, known := range []error{ErrFormat, ErrTruncated, ErrNoMetadata, ErrMismatch, ErrUnsafePath, ErrTooLarge} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("unclassified error: %v", err)
		}
		if rec.Name+"-"+rec.Version+"-"+rec.Build != "foo-1.0-h0_0" || rec.Size != int64(len(data)) || len(rec.SHA256) != 64 || len(rec.IndexJSON) > MaxIndexJSON {
			t.Fatalf("accepted %+v", rec)
		}
	})
}
