package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixturePackages returns every real package fixture: base name → bytes.
func fixturePackages(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(fixtures, "packages", "*"))
	files = append(files, filepath.Join(fixtures, "channel/noarch/test-package-0.1-0.tar.bz2"))
	out := map[string][]byte{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

type entry struct {
	name string
	body []byte
	link string // a symlink when set
}

func writeZip(t *testing.T, p string, method uint16, es []entry) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		h := &zip.FileHeader{Name: e.name, Method: method}
		body := e.body
		if e.link != "" {
			h.SetMode(os.ModeSymlink | 0o777)
			body = []byte(e.link)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeTgz(t *testing.T, p string, es []entry) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.body))}
		if e.link != "" {
			h = &tar.Header{Name: e.name, Typeflag: tar.TypeSymlink, Linkname: e.link, Mode: 0o777}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.link == "" {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExpandEveryPackage packs every fixture package (in folders, beside a
// README, one of them twice) into a stored zip, a deflated zip and a .tgz:
// Expand lists each package once with the record ReadMetadata gives for the
// file itself, OpenMember yields its bytes, and the temporary directory is
// left empty.
func TestExpandEveryPackage(t *testing.T) {
	pkgs := fixturePackages(t)
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	es := []entry{{name: "README.txt", body: []byte("CI artifact")}}
	for i, n := range names {
		es = append(es, entry{name: []string{"", "./", "linux-64/", "noarch/sub/"}[i%4] + n, body: pkgs[n]})
	}
	es = append(es, entry{name: "copy/" + names[0], body: pkgs[names[0]]}) // the same package again
	want := map[string]Record{}
	for n, b := range pkgs {
		rec, err := read(b, n)
		if err != nil {
			t.Fatal(err)
		}
		want[n] = rec
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		write func(p string)
	}{
		{"artifact.zip", func(p string) { writeZip(t, p, zip.Store, es) }},
		{"deflated.zip", func(p string) { writeZip(t, p, zip.Deflate, es) }},
		{"artifact.tgz", func(p string) { writeTgz(t, p, es) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			tt.write(p)
			tmp := t.TempDir()
			got, err := Expand(context.Background(), p, tmp)
			if err != nil {
				t.Fatal(err)
			}
			gotRecs := map[string]Record{}
			for _, g := range got {
				if _, dup := gotRecs[g.Filename]; dup {
					t.Errorf("%s listed twice", g.Filename)
				}
				gotRecs[g.Filename] = g.Record
				rc, err := OpenMember(p, g.Member)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				if _, err := io.Copy(h, rc); err != nil {
					t.Fatal(err)
				}
				rc.Close()
				if hex.EncodeToString(h.Sum(nil)) != g.SHA256 {
					t.Errorf("OpenMember(%q) bytes differ from the record's sha256", g.Member)
				}
			}
			if diff := cmp.Diff(want, gotRecs); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestExpandSinglePackage(t *testing.T) {
	p := filepath.Join(fixtures, "packages/empty-0.1.0-h4616a5c_0.conda")
	got, err := Expand(context.Background(), p, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Member != "" || got[0].Name != "empty" {
		t.Fatalf("got %+v", got)
	}
}

func TestExpandRefuses(t *testing.T) {
	pkgs := fixturePackages(t)
	a, b := pkgs["clobber-1-0.1.0-h4616a5c_0.tar.bz2"], pkgs["clobber-1-0.2.0-h4616a5c_0.tar.bz2"]
	// Two valid, different builds of foo-1.0-h0_0.conda (a renamed file
	// is refused as a mismatch before that).
	infoOK := tarOf(t, reg("info/index.json", okIndex))
	twins := []entry{
		{name: "x/foo-1.0-h0_0.conda", body: condaOf(t, infoOK, tarOf(t, reg("lib/a", "1")))},
		{name: "y/foo-1.0-h0_0.conda", body: condaOf(t, infoOK, tarOf(t, reg("lib/a", "2")))},
	}
	tests := []struct {
		name    string
		file    string
		entries []entry
		wantErr error
	}{
		{name: "zip traversal", file: "a.zip", entries: []entry{{name: "../clobber-1-0.1.0-h4616a5c_0.tar.bz2", body: a}}, wantErr: ErrUnsafePath},
		{name: "tgz absolute", file: "a.tgz", entries: []entry{{name: "/tmp/clobber-1-0.1.0-h4616a5c_0.tar.bz2", body: a}}, wantErr: ErrUnsafePath},
		{name: "tgz traversal in a non-package", file: "a.tgz", entries: []entry{{name: "../../etc/cron.d/x", body: a}}, wantErr: ErrUnsafePath},
		{name: "zip symlink package", file: "a.zip", entries: []entry{{name: "clobber-1-0.1.0-h4616a5c_0.tar.bz2", link: "/etc/passwd"}}, wantErr: ErrFormat},
		{name: "tgz symlink package", file: "a.tgz", entries: []entry{{name: "clobber-1-0.1.0-h4616a5c_0.tar.bz2", link: "../x"}}, wantErr: ErrFormat},
		{name: "zip two packages one name", file: "a.zip", entries: twins, wantErr: ErrFormat},
		{name: "tgz bad package inside", file: "a.tgz", entries: []entry{{name: "ok/" + "clobber-1-0.2.0-h4616a5c_0.tar.bz2", body: b}, {name: "bad/clobber-1-0.1.0-h4616a5c_0.tar.bz2", body: a[:100]}}, wantErr: ErrTruncated},
		{name: "zip without packages", file: "a.zip", entries: []entry{{name: "README", body: []byte("x")}}, wantErr: ErrNoPackages},
		{name: "unknown container", file: "a.rar", entries: []entry{{name: "README", body: []byte("x")}}, wantErr: ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tt.file)
			if strings.HasSuffix(tt.file, ".tgz") {
				writeTgz(t, p, tt.entries)
			} else {
				writeZip(t, p, zip.Store, tt.entries)
			}
			_, err := Expand(context.Background(), p, t.TempDir())
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err %v, want %v naming %s", err, tt.wantErr, p)
			}
		})
	}
	t.Run("truncated zip", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "a.zip")
		writeZip(t, p, zip.Store, []entry{{name: "clobber-1-0.1.0-h4616a5c_0.tar.bz2", body: a}})
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, b[:len(b)-30], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Expand(context.Background(), p, t.TempDir()); !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("err %v", err)
		}
	})
}
