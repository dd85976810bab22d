// Package archivetest builds conda packages for tests: real archives that
// conda's tools (and Gitea, and ferry's archive reader) can parse.
package archivetest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"testing"

	dsbzip2 "github.com/dsnet/compress/bzip2"
)

// File is one member of a package.
type File struct {
	Name string
	Body []byte
}

// TarBz2 builds a .tar.bz2 package holding files, in order.
func TarBz2(t testing.TB, files ...File) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.Body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := dsbzip2.NewWriter(&out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(tb.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Index is the part of info/index.json a test package declares.
type Index struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Build       string   `json:"build"`
	BuildNumber int64    `json:"build_number"`
	Subdir      string   `json:"subdir"`
	Depends     []string `json:"depends"`
	License     string   `json:"license,omitempty"`
}

// Package builds a .tar.bz2 package with info/index.json from ix and
// payload as its one data file: NAME-VERSION-BUILD.tar.bz2 by conda's
// naming.
func Package(t testing.TB, ix Index, payload []byte) []byte {
	t.Helper()
	if ix.Depends == nil {
		ix.Depends = []string{}
	}
	index, err := json.Marshal(ix)
	if err != nil {
		t.Fatal(err)
	}
	return TarBz2(t, File{Name: "info/index.json", Body: index}, File{Name: "share/" + ix.Name + "/payload.bin", Body: payload})
}
