package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dsbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

const fixtures = "../../../testdata/conda"

func readFixture(t *testing.T, p string) (Record, error) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return ReadMetadata(context.Background(), bytes.NewReader(b), int64(len(b)), filepath.Base(p))
}

// digests computes md5/sha256/size over the whole file in one read, apart
// from the section reader ReadMetadata uses.
func digests(t *testing.T, p string) (string, string, int64) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, s := md5.Sum(b), sha256.Sum256(b)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:]), int64(len(b))
}

// fields is what the table compares (the digests are checked separately).
type fields struct {
	Name, Version, Build string
	BuildNumber          int64
	Depends              []string
	Subdir, Noarch       string
	Timestamp            int64
}

func fieldsOf(r Record) fields {
	return fields{r.Name, r.Version, r.Build, r.BuildNumber, r.Depends, r.Subdir, r.Noarch, r.Timestamp}
}

func TestReadMetadataFixtures(t *testing.T) {
	tests := []struct {
		file string
		want fields
	}{
		{"packages/clobber-1-0.1.0-h4616a5c_0.tar.bz2", fields{"clobber-1", "0.1.0", "h4616a5c_0", 0, []string{}, "noarch", "generic", 1707750772302}},
		{"packages/clobber-1-0.2.0-h4616a5c_0.tar.bz2", fields{"clobber-1", "0.2.0", "h4616a5c_0", 0, []string{}, "noarch", "generic", 1706100112243}},
		{"packages/clobber-2-0.1.0-h4616a5c_0.tar.bz2", fields{"clobber-2", "0.1.0", "h4616a5c_0", 0, []string{}, "noarch", "generic", 1707750772290}},
		{"packages/clobber-2-0.2.0-h4616a5c_0.tar.bz2", fields{"clobber-2", "0.2.0", "h4616a5c_0", 0, []string{}, "noarch", "generic", 1706100112433}},
		{"packages/clobber-directory-upgrade-0.1.0-h4616a5c_0.conda", fields{"clobber-directory-upgrade", "0.1.0", "h4616a5c_0", 0, []string{}, "noarch", "generic", 1750926879606}},
		{"packages/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda", fields{"clobber-directory-upgrade", "0.2.0", "h4616a5c_0", 0, []string{}, "noarch", "generic", 1750926879606}},
		{"packages/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2", fields{"clobber-pynoarch-1", "0.1.0", "pyh4616a5c_0", 0, []string{}, "noarch", "python", 1707491284569}},
		{"packages/clobber-python-0.1.0-cpython.conda", fields{"clobber-python", "0.1.0", "cpython", 0, []string{}, "noarch", "generic", 1720705745735}},
		{"packages/clobber-python-0.1.0-pypy.conda", fields{"clobber-python", "0.1.0", "pypy", 0, []string{"clobber-pypy"}, "noarch", "generic", 1720705751883}},
		{"packages/clobber-with-dir-0.1.0-h4616a5c_0.conda", fields{"clobber-with-dir", "0.1.0", "h4616a5c_0", 0, []string{}, "noarch", "generic", 1721400001393}},
		{"packages/empty-0.1.0-h4616a5c_0.conda", fields{"empty", "0.1.0", "h4616a5c_0", 0, []string{}, "noarch", "generic", 1754943403111}},
		{"channel/noarch/test-package-0.1-0.tar.bz2", fields{"test-package", "0.1", "0", 0, []string{}, "noarch", "generic", 1613117294885}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			p := filepath.Join(fixtures, tt.file)
			got, err := readFixture(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fieldsOf(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			m, s, n := digests(t, p)
			if got.MD5 != m || got.SHA256 != s || got.Size != n || got.Filename != filepath.Base(p) {
				t.Errorf("got %s md5 %s sha256 %s size %d, want md5 %s sha256 %s size %d", got.Filename, got.MD5, got.SHA256, got.Size, m, s, n)
			}
			var ix map[string]any
			if err := json.Unmarshal(got.IndexJSON, &ix); err != nil || ix["name"] != tt.want.Name {
				t.Errorf("IndexJSON %q: %v", got.IndexJSON, err)
			}
		})
	}
	// Every fixture package is in the table.
	all, _ := filepath.Glob(filepath.Join(fixtures, "packages", "*"))
	for _, p := range all {
		if rel, _ := filepath.Rel(fixtures, p); !seen[filepath.ToSlash(rel)] {
			t.Errorf("fixture %s is not in the table", rel)
		}
	}
}

// TestRecordMatchesChannelIndex: the real channel was indexed by conda's own
// indexer; its record for the package must be what ReadMetadata computes.
func TestRecordMatchesChannelIndex(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "channel/noarch/repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rd struct {
		Packages map[string]struct {
			fields
			BuildNumber int64 `json:"build_number"`
			License     string
			MD5         string
			SHA256      string
			Size        int64
		}
	}
	if err := json.Unmarshal(b, &rd); err != nil {
		t.Fatal(err)
	}
	want, ok := rd.Packages["test-package-0.1-0.tar.bz2"]
	if !ok {
		t.Fatal("test-package-0.1-0.tar.bz2 not in repodata.json")
	}
	want.fields.BuildNumber = want.BuildNumber
	got, err := readFixture(t, filepath.Join(fixtures, "channel/noarch/test-package-0.1-0.tar.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		F                 fields
		License, MD5, SHA string
		Size              int64
	}
	if diff := cmp.Diff(rec{want.fields, want.License, want.MD5, want.SHA256, want.Size},
		rec{fieldsOf(got), got.License, got.MD5, got.SHA256, got.Size}); diff != "" {
		t.Errorf("record vs the channel's repodata.json (-want +got):\n%s", diff)
	}
}

// TestIndexJSONMatchesCph extracts every fixture with Debian's
// conda-package-handling (cph, not written by us) and compares its
// info/index.json with what ReadMetadata read, byte for byte.
func TestIndexJSONMatchesCph(t *testing.T) {
	if reason := testenv.Skip(); reason != "" {
		t.Skip(reason)
	}
	cph, err := exec.LookPath("cph")
	if err != nil {
		t.Fatal("cph (conda-package-handling) not found: " + testenv.InstallHint)
	}
	files, _ := filepath.Glob(filepath.Join(fixtures, "packages", "*"))
	files = append(files, filepath.Join(fixtures, "channel/noarch/test-package-0.1-0.tar.bz2"))
	odd, _ := filepath.Glob(filepath.Join(fixtures, "odd-archives", "*"))
	for _, p := range append(files, odd...) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			got, err := readFixture(t, p)
			dest := t.TempDir()
			out, cerr := exec.Command(cph, "x", p, "--dest", dest).CombinedOutput()
			if err != nil {
				// ferry refuses it: cph must fail too (the info-only case).
				if cerr == nil {
					t.Fatalf("ferry refuses (%v) but cph extracts it", err)
				}
				return
			}
			if cerr != nil {
				t.Fatalf("cph x: %v\n%s", cerr, out)
			}

			want, err := os.ReadFile(filepath.Join(dest, "info", "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, got.IndexJSON) {
				t.Errorf("IndexJSON %q, cph extracted %q", got.IndexJSON, want)
			}
		})
	}
}

func TestOddArchives(t *testing.T) {
	tests := []struct {
		file    string
		wantErr error // nil: accepted
		want    fields
	}{
		// "./info/index.json" is info/index.json.
		{file: "dotslash-test-1.0.0-0.conda", want: fields{Name: "dotslash-test", Version: "1.0.0", Build: "0"}},
		// The pkg tar holds a relative symlink and a hard link inside the
		// package: checked, skipped, never followed.
		{file: "symlink-test-1.0.0-0.conda", want: fields{Name: "symlink-test", Version: "1.0.0", Build: "0"}},
		{file: "zip64-test-1.0.0-0.conda", want: fields{Name: "zip64-test", Version: "1.0.0", Build: "0"}},
		// No pkg-*.tar.zst: conda's extractor (cph) fails on it, so it is
		// not an installable package.
		{file: "info-only-1.0.0-0.conda", wantErr: ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := readFixture(t, filepath.Join(fixtures, "odd-archives", tt.file))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.file) {
					t.Fatalf("err %v, want %v naming the file", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fieldsOf(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// --- hostile archives built here ---

type member struct {
	name, link string
	typ        byte
	body       []byte
}

func reg(name, body string) member { return member{name: name, typ: tar.TypeReg, body: []byte(body)} }

func tarOf(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Typeflag: m.typ, Linkname: m.link, Mode: 0o644, Size: int64(len(m.body))}
		if m.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.typ == tar.TypeReg {
			if _, err := tw.Write(m.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdOf(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// zstdTarPad streams a zstd tar holding one regular file of pad zero bytes
// (a bomb: tiny compressed, large decompressed).
func zstdTarPad(t testing.TB, name string, pad int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(enc)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: pad}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, pad); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// zipOf builds a stored zip of (name, content) pairs in order.
func zipOf(t testing.TB, kv ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(kv); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: string(kv[i]), Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const okIndex = `{"name": "foo", "version": "1.0", "build": "h0_0", "build_number": 0, "subdir": "noarch"}`

// condaOf builds foo-1.0-h0_0.conda from an info tar and a pkg tar.
func condaOf(t testing.TB, info, pkg []byte) []byte {
	return zipOf(t, []byte("metadata.json"), []byte(`{"conda_pkg_format_version": 2}`),
		[]byte("pkg-foo-1.0-h0_0.tar.zst"), zstdOf(t, pkg),
		[]byte("info-foo-1.0-h0_0.tar.zst"), zstdOf(t, info))
}

func read(b []byte, name string) (Record, error) {
	return ReadMetadata(context.Background(), bytes.NewReader(b), int64(len(b)), name)
}

func TestHostileConda(t *testing.T) {
	pkgOK := tarOf(t, reg("lib/a.txt", "a"))
	infoOK := tarOf(t, reg("info/index.json", okIndex))
	big := strings.Repeat(" ", MaxIndexJSON) // index.json one byte too large once wrapped
	tests := []struct {
		name    string
		archive []byte
		file    string // default foo-1.0-h0_0.conda
		wantErr error
	}{
		{name: "ok", archive: condaOf(t, infoOK, pkgOK)},
		{name: "dot-slash and directories", archive: condaOf(t, tarOf(t, member{name: "./", typ: tar.TypeDir}, reg("./info/index.json", okIndex)), pkgOK)},
		{name: "relative symlinks inside", archive: condaOf(t, infoOK, tarOf(t, reg("lib/a", "a"), member{name: "lib/b", typ: tar.TypeSymlink, link: "a"}, member{name: "lib/c/d", typ: tar.TypeSymlink, link: "../a"}))},
		{name: "not a base name", archive: condaOf(t, infoOK, pkgOK), file: "x/foo-1.0-h0_0.conda", wantErr: ErrUnsafePath},
		{name: "unknown extension", archive: condaOf(t, infoOK, pkgOK), file: "foo-1.0-h0_0.zip", wantErr: ErrFormat},
		{name: "info member traversal", archive: condaOf(t, tarOf(t, reg("../info/index.json", okIndex)), pkgOK), wantErr: ErrUnsafePath},
		{name: "info member absolute", archive: condaOf(t, tarOf(t, reg("/info/index.json", okIndex)), pkgOK), wantErr: ErrUnsafePath},
		{name: "pkg member traversal", archive: condaOf(t, infoOK, tarOf(t, reg("lib/../../etc/passwd", "x"))), wantErr: ErrUnsafePath},
		{name: "pkg member backslash traversal", archive: condaOf(t, infoOK, tarOf(t, reg(`lib\..\..\evil`, "x"))), wantErr: ErrUnsafePath},
		{name: "pkg member drive letter", archive: condaOf(t, infoOK, tarOf(t, reg(`C:/evil`, "x"))), wantErr: ErrUnsafePath},
		{name: "symlink to absolute", archive: condaOf(t, infoOK, tarOf(t, member{name: "lib/x", typ: tar.TypeSymlink, link: "/etc/passwd"})), wantErr: ErrUnsafePath},
		{name: "symlink out of the package", archive: condaOf(t, infoOK, tarOf(t, member{name: "lib/x", typ: tar.TypeSymlink, link: "../../etc/passwd"})), wantErr: ErrUnsafePath},
		{name: "hard link out of the package", archive: condaOf(t, infoOK, tarOf(t, member{name: "lib/x", typ: tar.TypeLink, link: "../etc/passwd"})), wantErr: ErrUnsafePath},
		{name: "index.json only as a symlink", archive: condaOf(t, tarOf(t, reg("info/real.json", okIndex), member{name: "info/index.json", typ: tar.TypeSymlink, link: "real.json"}), pkgOK), wantErr: ErrNoMetadata},
		{name: "index.json twice", archive: condaOf(t, tarOf(t, reg("info/index.json", okIndex), reg("./info/index.json", okIndex)), pkgOK), wantErr: ErrFormat},
		{name: "no index.json", archive: condaOf(t, tarOf(t, reg("info/about.json", "{}")), pkgOK), wantErr: ErrNoMetadata},
		{name: "index.json not JSON", archive: condaOf(t, tarOf(t, reg("info/index.json", "foo-1.0-h0_0")), pkgOK), wantErr: ErrNoMetadata},
		{name: "index.json without version", archive: condaOf(t, tarOf(t, reg("info/index.json", `{"name":"foo","build":"h0_0"}`)), pkgOK), wantErr: ErrNoMetadata},
		{name: "index.json bad build_number", archive: condaOf(t, tarOf(t, reg("info/index.json", `{"name":"foo","version":"1.0","build":"h0_0","build_number":-1}`)), pkgOK), wantErr: ErrNoMetadata},
		{name: "index.json too large", archive: condaOf(t, tarOf(t, reg("info/index.json", okIndex[:len(okIndex)-1]+big+"}")), pkgOK), wantErr: ErrTooLarge},
		{name: "subdir escapes", archive: condaOf(t, tarOf(t, reg("info/index.json", `{"name":"foo","version":"1.0","build":"h0_0","subdir":"../../x"}`)), pkgOK), wantErr: ErrUnsafePath},
		{name: "index.json names another package", archive: condaOf(t, tarOf(t, reg("info/index.json", `{"name":"foo","version":"2.0","build":"h0_0"}`)), pkgOK), wantErr: ErrMismatch},
		{name: "inner members named for another package", archive: zipOf(t, []byte("pkg-bar-1.0-h0_0.tar.zst"), zstdOf(t, pkgOK), []byte("info-bar-1.0-h0_0.tar.zst"), zstdOf(t, infoOK)), wantErr: ErrMismatch},
		{name: "no info member", archive: zipOf(t, []byte("pkg-foo-1.0-h0_0.tar.zst"), zstdOf(t, pkgOK)), wantErr: ErrNoMetadata},
		{name: "zip member traversal", archive: zipOf(t, []byte("../pkg-foo-1.0-h0_0.tar.zst"), zstdOf(t, pkgOK)), wantErr: ErrUnsafePath},
		{name: "unknown format version", archive: zipOf(t, []byte("metadata.json"), []byte(`{"conda_pkg_format_version": 3}`), []byte("pkg-foo-1.0-h0_0.tar.zst"), zstdOf(t, pkgOK), []byte("info-foo-1.0-h0_0.tar.zst"), zstdOf(t, infoOK)), wantErr: ErrFormat},
		{name: "info tar not zstd", archive: zipOf(t, []byte("pkg-foo-1.0-h0_0.tar.zst"), zstdOf(t, pkgOK), []byte("info-foo-1.0-h0_0.tar.zst"), infoOK), wantErr: ErrFormat},
		{name: "info tar bomb", archive: zipOf(t, []byte("pkg-foo-1.0-h0_0.tar.zst"), zstdOf(t, pkgOK), []byte("info-foo-1.0-h0_0.tar.zst"), zstdTarPad(t, "info/pad", MaxInfoTar)), wantErr: ErrTooLarge},
		// The pkg bound grows with the archive (1000:1 plus 64 MiB); the
		// compressed pad is some 20 KiB, so 256 MiB of zeros exceeds it.
		{name: "pkg tar bomb", archive: zipOf(t, []byte("pkg-foo-1.0-h0_0.tar.zst"), zstdTarPad(t, "lib/pad", 256<<20), []byte("info-foo-1.0-h0_0.tar.zst"), zstdOf(t, infoOK)), wantErr: ErrTooLarge},
		{name: "not a zip", archive: []byte("foo-1.0-h0_0"), wantErr: ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "foo-1.0-h0_0.conda"
			}
			got, err := read(tt.archive, file)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got.Name != "foo" || got.Subdir != "noarch" {
					t.Errorf("got %+v", got)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// bzip2Of compresses with dsnet/compress (Go's compress/bzip2 only reads).
func bzip2Of(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := dsbzip2.NewWriter(&out, &dsbzip2.WriterConfig{Level: dsbzip2.BestCompression})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestHostileTarBz2(t *testing.T) {
	tests := []struct {
		name    string
		tar     []byte
		wantErr error
	}{
		{name: "ok, index.json after the payload", tar: tarOf(t, reg("lib/a", "a"), reg("info/index.json", okIndex))},
		{name: "dot-slash", tar: tarOf(t, reg("./info/index.json", okIndex))},
		{name: "traversal after index.json", tar: tarOf(t, reg("info/index.json", okIndex), reg("../evil", "x")), wantErr: ErrUnsafePath},
		{name: "symlink out", tar: tarOf(t, reg("info/index.json", okIndex), member{name: "bin/x", typ: tar.TypeSymlink, link: "../../x"}), wantErr: ErrUnsafePath},
		{name: "no index.json", tar: tarOf(t, reg("lib/a", "a")), wantErr: ErrNoMetadata},
		{name: "mismatch", tar: tarOf(t, reg("info/index.json", `{"name":"bar","version":"1.0","build":"h0_0"}`)), wantErr: ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := read(bzip2Of(t, tt.tar), "foo-1.0-h0_0.tar.bz2")
			if tt.wantErr == nil {
				if err != nil || got.Name != "foo" {
					t.Fatalf("got %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), "foo-1.0-h0_0.tar.bz2") {
				t.Fatalf("err %v, want %v naming the file", err, tt.wantErr)
			}
		})
	}
}

// TestTruncated cuts real packages of both formats at every length: each
// cut is refused as truncated or malformed, never read as a package.
func TestTruncated(t *testing.T) {
	for _, f := range []string{"packages/clobber-1-0.1.0-h4616a5c_0.tar.bz2", "packages/empty-0.1.0-h4616a5c_0.conda"} {
		b, err := os.ReadFile(filepath.Join(fixtures, f))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n++ {
			_, err := read(b[:n], filepath.Base(f))
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrNoMetadata) {
				t.Fatalf("%s cut at %d of %d: err %v, want a refusal", f, n, len(b), err)
			}
		}
		// A flipped byte (every fifth: the bzip2 reader's tables make each
		// read costly) is refused too, or (in headers no reader
		// checks, e.g. the zip's timestamps) changes nothing read.
		for i := 0; i < len(b); i += 5 {
			c := bytes.Clone(b)
			c[i] ^= 0x55
			got, err := read(c, filepath.Base(f))
			if err == nil && got.Name != strings.SplitN(filepath.Base(f), "-0.", 2)[0] {
				t.Fatalf("%s with byte %d flipped read as %+v", f, i, got)
			}
		}
	}
}

// TestParseIndexLegacyFields: old packages wrote noarch as a boolean and
// timestamps as fractional seconds; both are read, not refused.
func TestParseIndexLegacyFields(t *testing.T) {
	tests := []struct {
		name, index string
		want        fields
		wantErr     error
	}{
		{name: "noarch true", index: `{"name":"foo","version":"1.0","build":"h0_0","noarch":true}`, want: fields{Name: "foo", Version: "1.0", Build: "h0_0", Noarch: "generic"}},
		{name: "noarch false", index: `{"name":"foo","version":"1.0","build":"h0_0","noarch":false}`, want: fields{Name: "foo", Version: "1.0", Build: "h0_0"}},
		{name: "float timestamp", index: `{"name":"foo","version":"1.0","build":"h0_0","timestamp":1500000000.25,"build_number":3}`, want: fields{Name: "foo", Version: "1.0", Build: "h0_0", BuildNumber: 3, Timestamp: 1500000000}},
		{name: "constrains and license", index: `{"name":"foo","version":"1.0","build":"h0_0","depends":["python >=3.8"],"constrains":["bar <2"],"license":"MIT","subdir":"linux-64"}`, want: fields{Name: "foo", Version: "1.0", Build: "h0_0", Depends: []string{"python >=3.8"}, Subdir: "linux-64"}},
		{name: "noarch number", index: `{"name":"foo","version":"1.0","build":"h0_0","noarch":1}`, wantErr: ErrNoMetadata},
		{name: "two objects", index: `{"name":"foo","version":"1.0","build":"h0_0"}{}`, wantErr: ErrNoMetadata},
		{name: "not an object", index: `["foo"]`, wantErr: ErrNoMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIndex([]byte(tt.index))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fieldsOf(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if string(got.IndexJSON) != tt.index {
				t.Errorf("IndexJSON %q", got.IndexJSON)
			}
			if tt.name == "constrains and license" && (got.License != "MIT" || !cmp.Equal(got.Constrains, []string{"bar <2"})) {
				t.Errorf("license %q constrains %q", got.License, got.Constrains)
			}
		})
	}
}
