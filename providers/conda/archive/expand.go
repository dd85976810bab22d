package archive

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// MaxMember bounds one package spooled out of a compressed .zip member or a
// .tgz into the temporary directory (a gzip bomb stops here).
const MaxMember = 8 << 30

// ErrNoPackages: a .zip/.tgz of packages holds no conda package.
var ErrNoPackages = errors.New("no conda packages in the archive")

// Package is one conda package found by Expand.
type Package struct {
	// Member is the path of the package inside the .zip/.tgz, "" when the
	// input is itself a package. OpenMember reads its bytes.
	Member string
	Record
}

// Expand reads every conda package in the local file at p: p itself when it
// is a .conda or .tar.bz2, else every .conda/.tar.bz2 member of a .zip, a
// .tgz/.tar.gz or a .tar (a CI artifact), in archive order. Members that are
// not packages (logs, READMEs, directories) are skipped; a member path that
// is unsafe, a link named like a package (never followed), two different
// packages with one file name, or an archive with no package at all are
// refused. Stored zip members are read in place; other members are spooled,
// one at a time and at most MaxMember bytes, into a temporary directory
// under tmpDir ("" for the system default) that is removed before Expand
// returns. Nothing else is written.
func Expand(ctx context.Context, p, tmpDir string) ([]Package, error) {
	pkgs, err := expand(ctx, p, tmpDir)
	if err != nil {
		return nil, fmt.Errorf("expanding %s: %w", p, err)
	}
	return pkgs, nil
}

func expand(ctx context.Context, p, tmpDir string) ([]Package, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrFormat)
	}
	base := path.Base(strings.ReplaceAll(p, `\`, "/"))
	if Ext(base) != "" {
		rec, err := ReadMetadata(ctx, f, st.Size(), base)
		if err != nil {
			return nil, err
		}
		return []Package{{Record: rec}}, nil
	}
	var c collector
	switch kind := containerKind(base); kind {
	case "zip":
		err = c.zip(ctx, f, st.Size(), tmpDir)
	case "tgz", "tar":
		var r io.Reader = f
		if kind == "tgz" {
			gz, gerr := gzip.NewReader(f)
			if gerr != nil {
				return nil, fmt.Errorf("%w: gzip: %v", ErrFormat, gerr)
			}
			defer gz.Close()
			r = gz
		}
		err = c.tar(ctx, r, tmpDir)
	default:
		return nil, fmt.Errorf("%w: %s is neither a conda package (.conda, .tar.bz2) nor an archive of packages (.zip, .tgz, .tar.gz, .tar)", ErrFormat, base)
	}
	if err != nil {
		return nil, err
	}
	if len(c.pkgs) == 0 {
		return nil, ErrNoPackages
	}
	return c.pkgs, nil
}

func containerKind(base string) string {
	switch {
	case strings.HasSuffix(base, ".zip"):
		return "zip"
	case strings.HasSuffix(base, ".tgz"), strings.HasSuffix(base, ".tar.gz"):
		return "tgz"
	case strings.HasSuffix(base, ".tar"):
		return "tar"
	}
	return ""
}

type collector struct {
	pkgs   []Package
	byName map[string]int // file name → index in pkgs
}

// add records a package, refusing two different packages with one file
// name (they would land on one destination path); an identical copy in
// another folder of the artifact is the same package and kept once.
func (c *collector) add(member string, rec Record) error {
	if c.byName == nil {
		c.byName = map[string]int{}
	}
	if i, ok := c.byName[rec.Filename]; ok {
		if c.pkgs[i].SHA256 == rec.SHA256 {
			return nil
		}
		return fmt.Errorf("%w: %q and %q are different packages with the same file name", ErrFormat, c.pkgs[i].Member, member)
	}
	c.byName[rec.Filename] = len(c.pkgs)
	c.pkgs = append(c.pkgs, Package{Member: member, Record: rec})
	return nil
}

// memberBase validates a container member's path and returns its base name
// and whether it names a conda package.
func memberBase(name string) (string, bool, error) {
	clean, err := cleanName(name)
	if err != nil {
		return "", false, fmt.Errorf("member %q: %w", name, err)
	}
	base := path.Base(clean)
	return base, clean != "." && Ext(base) != "", nil
}

func (c *collector) zip(ctx context.Context, r io.ReaderAt, size int64, tmpDir string) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return fmt.Errorf("%w: zip: %v", ErrFormat, err)
	}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		base, isPkg, err := memberBase(f.Name)
		if err != nil {
			return err
		}
		if !isPkg || f.FileInfo().IsDir() {
			continue
		}
		if f.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%w: member %q is a symbolic link (links are never followed)", ErrFormat, f.Name)
		}
		if f.UncompressedSize64 > MaxMember {
			return fmt.Errorf("%w: member %q is %d bytes, at most %d", ErrTooLarge, f.Name, f.UncompressedSize64, int64(MaxMember))
		}
		var rec Record
		if off, oerr := f.DataOffset(); oerr == nil && f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 {
			// Stored: the package's bytes sit in the zip as they are.
			rec, err = ReadMetadata(ctx, io.NewSectionReader(r, off, int64(f.UncompressedSize64)), int64(f.UncompressedSize64), base)
		} else {
			rc, oerr := f.Open()
			if oerr != nil {
				return fmt.Errorf("member %q: %w", f.Name, classify(oerr))
			}
			rec, err = spoolAndRead(ctx, rc, base, tmpDir)
			rc.Close()
		}
		if err != nil {
			return fmt.Errorf("member %q: %w", f.Name, err)
		}
		if err := c.add(f.Name, rec); err != nil {
			return err
		}
	}
	return nil
}

func (c *collector) tar(ctx context.Context, r io.Reader, tmpDir string) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return classify(err)
		}
		base, isPkg, err := memberBase(h.Name)
		if err != nil {
			return err
		}
		if !isPkg {
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("%w: member %q is a link (links are never followed)", ErrFormat, h.Name)
		default:
			continue
		}
		if h.Size > MaxMember {
			return fmt.Errorf("%w: member %q is %d bytes, at most %d", ErrTooLarge, h.Name, h.Size, int64(MaxMember))
		}
		rec, err := spoolAndRead(ctx, tr, base, tmpDir)
		if err != nil {
			return fmt.Errorf("member %q: %w", h.Name, err)
		}
		if err := c.add(h.Name, rec); err != nil {
			return err
		}
	}
}

// spoolAndRead copies one package (at most MaxMember bytes) into a fresh
// temporary directory, reads its metadata and removes the directory.
func spoolAndRead(ctx context.Context, r io.Reader, base, tmpDir string) (Record, error) {
	dir, err := os.MkdirTemp(tmpDir, "ferry-conda-*")
	if err != nil {
		return Record{}, err
	}
	defer os.RemoveAll(dir)
	// The file name inside our own directory is fixed: the member's name
	// never becomes a path.
	f, err := os.Create(dir + "/package")
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(r, MaxMember+1))
	if err != nil {
		return Record{}, classify(err)
	}
	if n > MaxMember {
		return Record{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, int64(MaxMember))
	}
	return ReadMetadata(ctx, f, n, base)
}

// OpenMember opens the bytes of the package at member inside the
// .zip/.tgz/.tar at p (as listed by Expand), or p itself when member is "".
// The caller verifies them against the Record's digests as it copies.
func OpenMember(p, member string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if member == "" {
		return f, nil
	}
	rc, err := openMember(f, p, member)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening %q in %s: %w", member, p, err)
	}
	return rc, nil
}

type multiCloser struct {
	io.Reader
	closers []io.Closer
}

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func openMember(f *os.File, p, member string) (io.ReadCloser, error) {
	if _, _, err := memberBase(member); err != nil {
		return nil, err
	}
	base := path.Base(strings.ReplaceAll(p, `\`, "/"))
	switch kind := containerKind(base); kind {
	case "zip":
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return nil, fmt.Errorf("%w: zip: %v", ErrFormat, err)
		}
		for _, zf := range zr.File {
			if zf.Name == member {
				rc, err := zf.Open()
				if err != nil {
					return nil, classify(err)
				}
				return multiCloser{rc, []io.Closer{rc, f}}, nil
			}
		}
	case "tgz", "tar":
		var r io.Reader = f
		closers := []io.Closer{f}
		if kind == "tgz" {
			gz, err := gzip.NewReader(f)
			if err != nil {
				return nil, fmt.Errorf("%w: gzip: %v", ErrFormat, err)
			}
			r = gz
			closers = []io.Closer{gz, f}
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, classify(err)
			}
			if h.Name == member && h.Typeflag == tar.TypeReg {
				return multiCloser{tr, closers}, nil
			}
		}
	default:
		return nil, fmt.Errorf("%w: not an archive of packages", ErrFormat)
	}
	return nil, fmt.Errorf("%w: no such member", ErrNoPackages)
}
