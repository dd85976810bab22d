// Package archive reads a conda package's metadata from the package archive
// itself (never from its file name): info/index.json inside a .tar.bz2, or
// inside the info-*.tar.zst member of a .conda zip. It also computes the
// md5, sha256 and size a channel index records for the archive, and
// enumerates every package inside a local .zip/.tgz of packages (CI
// artifacts).
//
// Everything is read, nothing is extracted: tar members are validated and
// skipped, links are never followed, and every decompressed byte count is
// bounded, so a hostile archive costs bounded memory and time and is
// refused with an error naming the file and what is wrong.
//
// The package does not import the conda provider (providers/conda) so the
// provider can import it.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Archive file name extensions.
const (
	ExtConda  = ".conda"
	ExtTarBz2 = ".tar.bz2"
)

// Bounds on what reading metadata may decompress.
const (
	// MaxIndexJSON bounds info/index.json (real ones are a few KiB).
	MaxIndexJSON = 1 << 20
	// MaxMetadataJSON bounds a .conda's metadata.json.
	MaxMetadataJSON = 64 << 10
	// MaxInfoTar bounds the decompressed info-*.tar.zst of a .conda.
	MaxInfoTar = 64 << 20
	// scanSlack and scanRatio bound every other decompressed stream read to
	// validate an archive (the .tar.bz2 body, a .conda's pkg-*.tar.zst):
	// at most scanSlack + scanRatio × the archive's compressed size. Honest
	// packages compress far less than 1000:1; a bomb stops there.
	scanSlack = 64 << 20
	scanRatio = 1000
	// maxZstdWindow bounds the zstd decoder's window (its memory).
	maxZstdWindow = 128 << 20
)

// Errors, wrapped with the file name and the detail.
var (
	// ErrFormat: not a readable .conda / .tar.bz2 (bad zip, bad
	// compression, bad tar, unknown extension, unsupported format version).
	ErrFormat = errors.New("not a valid conda package archive")
	// ErrTruncated: the archive ends early.
	ErrTruncated = errors.New("truncated conda package archive")
	// ErrNoMetadata: no readable info/index.json (never guessed from the
	// file name).
	ErrNoMetadata = errors.New("no readable conda package metadata")
	// ErrMismatch: info/index.json names another package than the file
	// name (or than the .conda's inner member names).
	ErrMismatch = errors.New("conda package metadata does not match the file name")
	// ErrUnsafePath: a member would be written outside its place (absolute
	// path, "..", a link pointing out of the package), or a field used in a
	// destination path (subdir) is not a plain name.
	ErrUnsafePath = errors.New("unsafe path in conda package archive")
	// ErrTooLarge: a decompressed size bound was exceeded (a bomb).
	ErrTooLarge = errors.New("conda package archive exceeds a size bound")
)

// Record is what a channel index needs about one package archive: the
// fields of its info/index.json, the verbatim index.json, and the digests
// and size of the whole archive file.
type Record struct {
	Filename    string   // base name of the archive, e.g. foo-1.0-h123_0.conda
	Name        string   // index.json fields
	Version     string   //
	Build       string   //
	BuildNumber int64    //
	Depends     []string //
	Constrains  []string //
	License     string   //
	Subdir      string   // "" when index.json has none (the caller decides)
	Timestamp   int64    // as in index.json (ms, or s in old packages); 0 when absent
	Noarch      string   // "", "generic" or "python"
	// IndexJSON is info/index.json byte for byte, for the channel index.
	IndexJSON []byte
	MD5       string // lower-case hex over the whole archive file
	SHA256    string // lower-case hex over the whole archive file
	Size      int64  // bytes of the archive file
}

// Ext returns the archive extension of a file name (ExtConda or ExtTarBz2),
// or "" when it is neither.
func Ext(filename string) string {
	switch {
	case strings.HasSuffix(filename, ExtConda):
		return ExtConda
	case strings.HasSuffix(filename, ExtTarBz2):
		return ExtTarBz2
	}
	return ""
}

// ReadMetadata reads the metadata of the conda package archive r (size
// bytes, named filename) and computes its digests. It reads r twice (once
// to hash, once to parse) and never more than the bounds above decompressed.
// The whole archive is validated: a truncated or corrupt stream, a member
// path escaping the package, an index.json that disagrees with filename are
// refused.
func ReadMetadata(ctx context.Context, r io.ReaderAt, size int64, filename string) (Record, error) {
	rec, err := readMetadata(ctx, r, size, filename)
	if err != nil {
		return Record{}, fmt.Errorf("conda package %q: %w", filename, err)
	}
	return rec, nil
}

func readMetadata(ctx context.Context, r io.ReaderAt, size int64, filename string) (Record, error) {
	if filename == "" || strings.ContainsAny(filename, `/\`) {
		return Record{}, fmt.Errorf("%w: the file name must be a base name", ErrUnsafePath)
	}
	ext := Ext(filename)
	if ext == "" {
		return Record{}, fmt.Errorf("%w: the file name ends in neither %s nor %s", ErrFormat, ExtConda, ExtTarBz2)
	}
	if size < 0 {
		return Record{}, fmt.Errorf("%w: negative size", ErrFormat)
	}
	stem := strings.TrimSuffix(filename, ext)
	md5h, shah := md5.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(md5h, shah), io.NewSectionReader(r, 0, size))
	if err != nil {
		return Record{}, fmt.Errorf("reading: %w", err)
	}
	if n != size {
		return Record{}, fmt.Errorf("%w: %d of %d bytes", ErrTruncated, n, size)
	}
	scanLimit := int64(scanSlack)
	if size < (math.MaxInt64-scanSlack)/scanRatio {
		scanLimit += scanRatio * size
	} else {
		scanLimit = math.MaxInt64
	}
	var index []byte
	if ext == ExtConda {
		index, err = readConda(ctx, r, size, stem, scanLimit)
	} else {
		index, err = readTarBz2(ctx, io.NewSectionReader(r, 0, size), scanLimit)
	}
	if err != nil {
		return Record{}, err
	}
	rec, err := parseIndex(index)
	if err != nil {
		return Record{}, err
	}
	// Refuse a mismatch rather than trust either side: the channel index is
	// keyed by file name and conda derives the package it installs from the
	// file name too, so a file named foo-2.0-0 holding foo 1.0 would be
	// selected, pinned and replaced as one package while installing
	// another. (cph also finds a .conda's members by the file name.)
	if want := rec.Name + "-" + rec.Version + "-" + rec.Build; want != stem {
		return Record{}, fmt.Errorf("%w: info/index.json says %s, the file is named %s", ErrMismatch, want+ext, filename)
	}
	rec.Filename = filename
	rec.MD5 = hex.EncodeToString(md5h.Sum(nil))
	rec.SHA256 = hex.EncodeToString(shah.Sum(nil))
	rec.Size = size
	return rec, nil
}

// readConda reads a .conda zip: metadata.json (optional: none of rattler's
// real test archives has one; when present it must say format version 2),
// info-<stem>.tar.zst (must hold info/index.json) and pkg-<stem>.tar.zst
// (required: conda's own extractor refuses a .conda without it, so an
// info-only archive is not an installable package). Both tars are walked in
// full so that every member path is checked and a corrupt stream is found.
func readConda(ctx context.Context, r io.ReaderAt, size int64, stem string, scanLimit int64) ([]byte, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return nil, fmt.Errorf("%w: reading the zip: %v", ErrFormat, err)
	}
	var info, pkg, meta *zip.File
	for _, f := range zr.File {
		if _, err := cleanName(f.Name); err != nil {
			return nil, fmt.Errorf("zip member %q: %w", f.Name, err)
		}
		var slot **zip.File
		switch f.Name {
		case "info-" + stem + ".tar.zst":
			slot = &info
		case "pkg-" + stem + ".tar.zst":
			slot = &pkg
		case "metadata.json":
			slot = &meta
		default:
			if (strings.HasPrefix(f.Name, "info-") || strings.HasPrefix(f.Name, "pkg-")) && strings.HasSuffix(f.Name, ".tar.zst") {
				return nil, fmt.Errorf("%w: zip member %q is not named after the file (want info-%s.tar.zst and pkg-%s.tar.zst)", ErrMismatch, f.Name, stem, stem)
			}
			continue // other members are not part of the format; conda ignores them too
		}
		if *slot != nil {
			return nil, fmt.Errorf("%w: zip member %q appears twice", ErrFormat, f.Name)
		}
		*slot = f
	}
	if meta != nil {
		b, err := readZipMember(meta, MaxMetadataJSON)
		if err != nil {
			return nil, fmt.Errorf("metadata.json: %w", err)
		}
		var m struct {
			Version json.Number `json:"conda_pkg_format_version"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%w: metadata.json: %v", ErrFormat, err)
		}
		if m.Version != "" && m.Version != "2" {
			return nil, fmt.Errorf("%w: metadata.json: conda_pkg_format_version %s (only 2 is known)", ErrFormat, m.Version)
		}
	}
	if info == nil {
		return nil, fmt.Errorf("%w: no zip member info-%s.tar.zst", ErrNoMetadata, stem)
	}
	if pkg == nil {
		return nil, fmt.Errorf("%w: no zip member pkg-%s.tar.zst (an info-only .conda is not an installable package: conda cannot extract it)", ErrFormat, stem)
	}
	index, err := walkZstdTar(ctx, info, MaxInfoTar, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", info.Name, err)
	}
	if index == nil {
		return nil, fmt.Errorf("%w: %s holds no regular file info/index.json", ErrNoMetadata, info.Name)
	}
	if _, err := walkZstdTar(ctx, pkg, scanLimit, false); err != nil {
		return nil, fmt.Errorf("%s: %w", pkg.Name, err)
	}
	return index, nil
}

func readZipMember(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, classify(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, classify(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return b, nil
}

// walkZstdTar walks the zstd tar in zip member f, at most limit bytes
// decompressed. With wantIndex it returns info/index.json.
func walkZstdTar(ctx context.Context, f *zip.File, limit int64, wantIndex bool) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, classify(err)
	}
	defer rc.Close()
	zd, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(uint64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrFormat, err)
	}
	defer zd.Close()
	index, err := walkTar(ctx, zd, limit, wantIndex)
	if err != nil {
		return nil, err
	}
	// The zip reader checks the member's CRC-32 only at its end: read it.
	if _, err := io.Copy(io.Discard, io.LimitReader(rc, limit)); err != nil {
		return nil, classify(err)
	}
	return index, nil
}

func readTarBz2(ctx context.Context, r io.Reader, scanLimit int64) ([]byte, error) {
	index, err := walkTar(ctx, bzip2.NewReader(r), scanLimit, true)
	if err != nil {
		return nil, err
	}
	if index == nil {
		return nil, fmt.Errorf("%w: no regular file info/index.json in the tar", ErrNoMetadata)
	}
	return index, nil
}

// walkTar reads every member header of the tar stream r (decompressed, at
// most limit bytes), refusing unsafe paths and links, and returns the
// content of the one regular file info/index.json (also spelled
// ./info/index.json) when wantIndex. Links are checked, never followed;
// the stream is read to its end so corruption anywhere is found.
func walkTar(ctx context.Context, r io.Reader, limit int64, wantIndex bool) ([]byte, error) {
	lr := &limitedReader{r: r, n: limit}
	tr := tar.NewReader(lr)
	var index []byte
	seen := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, lr.wrap(err)
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return nil, fmt.Errorf("tar member %q: %w", h.Name, err)
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			if err := checkSymlink(name, h.Linkname); err != nil {
				return nil, fmt.Errorf("tar member %q: %w", h.Name, err)
			}
			continue
		case tar.TypeLink:
			if _, err := cleanName(h.Linkname); err != nil {
				return nil, fmt.Errorf("tar member %q: hard link target %q: %w", h.Name, h.Linkname, err)
			}
			continue
		case tar.TypeReg:
		default:
			continue // directories, devices, fifos: no content to read
		}
		if !wantIndex || name != "info/index.json" {
			continue
		}
		if seen {
			return nil, fmt.Errorf("%w: info/index.json appears twice in the tar", ErrFormat)
		}
		seen = true
		if h.Size > MaxIndexJSON {
			return nil, fmt.Errorf("%w: info/index.json is %d bytes, at most %d", ErrTooLarge, h.Size, MaxIndexJSON)
		}
		index, err = io.ReadAll(tr)
		if err != nil {
			return nil, lr.wrap(err)
		}
	}
	// Drain what follows the tar's end marker so a corrupt or truncated
	// compressed stream is noticed (and bounded by the same limit).
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return nil, lr.wrap(err)
	}
	return index, nil
}

// limitedReader fails once more than n bytes are read.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

var errLimit = errors.New("decompressed size limit reached")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Probe one byte: the stream may end exactly at the limit.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.exceeded = true
			return 0, errLimit
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func (l *limitedReader) wrap(err error) error {
	if l.exceeded || errors.Is(err, errLimit) {
		return fmt.Errorf("%w: decompressed data exceeds the bound", ErrTooLarge)
	}
	return classify(err)
}

// classify maps a decoding error onto ErrTruncated or ErrFormat.
func classify(err error) error {
	switch {
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrFormat), errors.Is(err, ErrTruncated),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	case errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %v", ErrFormat, err)
}

// cleanName validates an archive member path the way an extractor would
// write it under the package root: "./" prefixes are dropped; absolute
// paths, drive letters and ".." elements (with / or \ as separator) are
// refused. It returns the slash path relative to the root.
func cleanName(name string) (string, error) {
	n := name
	for strings.HasPrefix(n, "./") {
		n = strings.TrimLeft(n[2:], "/")
	}
	switch {
	case n == "" || n == ".":
		return ".", nil
	case strings.HasPrefix(n, "/") || strings.HasPrefix(n, `\`):
		return "", fmt.Errorf("%w: absolute path", ErrUnsafePath)
	case len(n) >= 2 && n[1] == ':':
		return "", fmt.Errorf("%w: drive letter", ErrUnsafePath)
	case strings.ContainsRune(n, 0):
		return "", fmt.Errorf("%w: NUL in the path", ErrUnsafePath)
	}
	for _, el := range strings.FieldsFunc(n, func(r rune) bool { return r == '/' || r == '\\' }) {
		if el == ".." {
			return "", fmt.Errorf("%w: \"..\" in the path", ErrUnsafePath)
		}
	}
	return strings.TrimSuffix(n, "/"), nil
}

// checkSymlink refuses a symbolic link whose target leaves the package
// root (absolute, or climbing above it); conda packages use relative links
// inside the prefix.
func checkSymlink(name, target string) error {
	if target == "" {
		return fmt.Errorf("%w: symbolic link without a target", ErrUnsafePath)
	}
	if strings.HasPrefix(target, "/") || strings.HasPrefix(target, `\`) || (len(target) >= 2 && target[1] == ':') {
		return fmt.Errorf("%w: symbolic link to the absolute path %q", ErrUnsafePath, target)
	}
	depth := strings.Count(name, "/") // directories above the link inside the root
	for _, el := range strings.FieldsFunc(target, func(r rune) bool { return r == '/' || r == '\\' }) {
		switch el {
		case ".":
		case "..":
			depth--
			if depth < 0 {
				return fmt.Errorf("%w: symbolic link to %q leaves the package", ErrUnsafePath, target)
			}
		default:
			depth++
		}
	}
	return nil
}

// subdirRE is a conda platform subdir: noarch, linux-64, osx-arm64,
// emscripten-wasm32, ... It becomes a destination directory, so nothing
// else is accepted.
var subdirRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// parseIndex decodes info/index.json into a Record (IndexJSON verbatim).
func parseIndex(b []byte) (Record, error) {
	var ix struct {
		Name        *string         `json:"name"`
		Version     *string         `json:"version"`
		Build       *string         `json:"build"`
		BuildNumber json.Number     `json:"build_number"`
		Depends     []string        `json:"depends"`
		Constrains  []string        `json:"constrains"`
		License     string          `json:"license"`
		Subdir      string          `json:"subdir"`
		Timestamp   json.Number     `json:"timestamp"`
		Noarch      json.RawMessage `json:"noarch"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&ix); err != nil {
		return Record{}, fmt.Errorf("%w: info/index.json: %v", ErrNoMetadata, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Record{}, fmt.Errorf("%w: info/index.json: data after the JSON object", ErrNoMetadata)
	}
	for _, f := range []struct {
		key string
		v   *string
	}{{"name", ix.Name}, {"version", ix.Version}, {"build", ix.Build}} {
		if f.v == nil || *f.v == "" {
			return Record{}, fmt.Errorf("%w: info/index.json has no %q", ErrNoMetadata, f.key)
		}
	}
	rec := Record{
		Name: *ix.Name, Version: *ix.Version, Build: *ix.Build,
		Depends: ix.Depends, Constrains: ix.Constrains,
		License: ix.License, Subdir: ix.Subdir,
		IndexJSON: bytes.Clone(b),
	}
	if rec.Subdir != "" && !subdirRE.MatchString(rec.Subdir) {
		return Record{}, fmt.Errorf("%w: info/index.json subdir %q is not a platform name", ErrUnsafePath, rec.Subdir)
	}
	if ix.BuildNumber != "" {
		n, err := strconv.ParseInt(string(ix.BuildNumber), 10, 64)
		if err != nil || n < 0 {
			return Record{}, fmt.Errorf("%w: info/index.json build_number %s is not a non-negative integer", ErrNoMetadata, ix.BuildNumber)
		}
		rec.BuildNumber = n
	}
	if ix.Timestamp != "" {
		n, err := strconv.ParseInt(string(ix.Timestamp), 10, 64)
		if err != nil {
			// Some old packages wrote a float (seconds with a fraction).
			f, ferr := strconv.ParseFloat(string(ix.Timestamp), 64)
			if ferr != nil || f < 0 || f > math.MaxInt64/2 {
				return Record{}, fmt.Errorf("%w: info/index.json timestamp %s is not a number of (milli)seconds", ErrNoMetadata, ix.Timestamp)
			}
			n = int64(f)
		}
		rec.Timestamp = n
	}
	switch s := strings.TrimSpace(string(ix.Noarch)); s {
	case "", "null", "false":
	case "true": // legacy boolean: generic noarch
		rec.Noarch = "generic"
	default:
		var v string
		if err := json.Unmarshal(ix.Noarch, &v); err != nil {
			return Record{}, fmt.Errorf("%w: info/index.json noarch %s is neither a string nor a boolean", ErrNoMetadata, s)
		}
		rec.Noarch = v
	}
	return rec, nil
}
