// Package repodata reads a conda channel subdir's index (repodata.json, as
// conda's indexer and conda-forge publish it). It keeps every record's
// bytes as the channel served them, so a channel written from it can copy
// upstream records verbatim (hotfixed depends, keys ferry does not know),
// and keeps the "packages" (.tar.bz2) and "packages.conda" (.conda) maps
// apart, as conda does.
package repodata

import (
	"bytes"
	"compress/bzip2"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// MaxSize bounds a decompressed repodata.json: conda-forge's linux-64
// index is a few hundred MB, so 1 GiB leaves room without letting a
// compression bomb fill memory.
const MaxSize = 1 << 30

// Encoding is how a repodata file is compressed.
type Encoding string

const (
	Zstd  Encoding = ".zst"
	Bzip2 Encoding = ".bz2"
	Plain Encoding = ""
)

// Encodings is the order a channel's index is looked for in: zstd first
// (smallest and what conda reads first, CEP 16), then bzip2 (what older
// indexers publish), then plain JSON, which every channel has.
var Encodings = []Encoding{Zstd, Bzip2, Plain}

// Repodata is one subdir's index.
type Repodata struct {
	// Version is repodata_version (0 when absent; conda treats that as 1).
	Version int
	// Subdir is info.subdir ("" when absent).
	Subdir string
	// Packages are the .tar.bz2 records, by file name.
	Packages map[string]*Record
	// PackagesConda are the .conda records, by file name.
	PackagesConda map[string]*Record
	// Removed are the file names the channel withdrew (kept, never listed).
	Removed []string
	// Raw is every top-level key as served, for a writer to copy the keys
	// it does not rewrite (info, base_url, …).
	Raw map[string]json.RawMessage
}

// Record is one package record: the fields ferry reads, and Raw, the
// record exactly as the channel served it.
type Record struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Build       string   `json:"build"`
	BuildNumber int64    `json:"build_number"`
	Depends     []string `json:"depends"`
	Constrains  []string `json:"constrains"`
	License     string   `json:"license"`
	Subdir      string   `json:"subdir"`
	Size        int64    `json:"size"`
	SHA256      string   `json:"sha256"`
	MD5         string   `json:"md5"`
	Timestamp   int64    `json:"timestamp"`
	// Raw is the record's JSON as served, unknown keys included.
	Raw json.RawMessage `json:"-"`
}

// Decompress turns the bytes of repodata.json<enc> into JSON, reading at
// most MaxSize bytes of output.
func Decompress(data []byte, enc Encoding) ([]byte, error) {
	var r io.Reader
	switch enc {
	case Plain:
		if len(data) > MaxSize {
			return nil, fmt.Errorf("repodata is larger than %d bytes", MaxSize)
		}
		return data, nil
	case Bzip2:
		r = bzip2.NewReader(bytes.NewReader(data))
	case Zstd:
		d, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderMaxMemory(MaxSize), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("repodata.json.zst: %w", err)
		}
		defer d.Close()
		r = d
	default:
		return nil, fmt.Errorf("unknown repodata encoding %q", enc)
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("repodata.json%s: %w", enc, err)
	}
	if len(out) > MaxSize {
		return nil, fmt.Errorf("repodata.json%s decompresses to more than %d bytes", enc, MaxSize)
	}
	return out, nil
}

// Parse reads a repodata.json document. It fails on anything that is not a
// JSON object or whose known keys have the wrong type; records are checked
// with Check by the caller, so one bad record need not sink a channel.
func Parse(data []byte) (*Repodata, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("repodata: %w", err)
	}
	if top == nil {
		return nil, errors.New("repodata: not a JSON object")
	}
	rd := &Repodata{Raw: top, Packages: map[string]*Record{}, PackagesConda: map[string]*Record{}}
	if raw, ok := top["repodata_version"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &rd.Version); err != nil {
			return nil, fmt.Errorf("repodata: repodata_version: %w", err)
		}
	}
	if raw, ok := top["info"]; ok && !isNull(raw) {
		var info struct {
			Subdir string `json:"subdir"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			return nil, fmt.Errorf("repodata: info: %w", err)
		}
		rd.Subdir = info.Subdir
	}
	if raw, ok := top["removed"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &rd.Removed); err != nil {
			return nil, fmt.Errorf("repodata: removed: %w", err)
		}
	}
	for _, m := range []struct {
		key string
		dst map[string]*Record
	}{{"packages", rd.Packages}, {"packages.conda", rd.PackagesConda}} {
		raw, ok := top[m.key]
		if !ok || isNull(raw) {
			continue
		}
		var recs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &recs); err != nil {
			return nil, fmt.Errorf("repodata: %s: %w", m.key, err)
		}
		for fn, rr := range recs {
			var r Record
			if err := json.Unmarshal(rr, &r); err != nil {
				return nil, fmt.Errorf("repodata: %s[%q]: %w", m.key, fn, err)
			}
			r.Raw = rr
			m.dst[fn] = &r
		}
	}
	return rd, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// Check reports why the record stored under fileName cannot be mirrored,
// or nil: a file name that is not a plain .tar.bz2 or .conda file name
// (either may sit in either map: real channels hold .conda records under
// "packages"; the record stays in the map it came from), a missing name or
// version, a negative size, a sha256 or md5 that is not lowercase hex of
// its length. A record without sha256 is refused: ferry keys content by
// sha256 and md5 alone is too weak to be the only check.
func (r *Record) Check(fileName string) error {
	switch {
	case !ValidFileName(fileName) || !(strings.HasSuffix(fileName, ".tar.bz2") || strings.HasSuffix(fileName, ".conda")):
		return fmt.Errorf("file name %q is not a plain .tar.bz2 or .conda file name", fileName)
	case r.Name == "" || r.Version == "":
		return errors.New("the record has no name or version")
	case r.Size < 0:
		return fmt.Errorf("the record declares size %d", r.Size)
	case r.SHA256 == "":
		return errors.New("the record declares no sha256")
	}
	if err := checkHex(r.SHA256, 64); err != nil {
		return fmt.Errorf("sha256 %w", err)
	}
	if r.MD5 != "" {
		if err := checkHex(r.MD5, 32); err != nil {
			return fmt.Errorf("md5 %w", err)
		}
	}
	return nil
}

func checkHex(s string, n int) error {
	if len(s) != n {
		return fmt.Errorf("%q is not %d hex characters", s, n)
	}
	if _, err := hex.DecodeString(s); err != nil || strings.ToLower(s) != s {
		return fmt.Errorf("%q is not lowercase hexadecimal", s)
	}
	return nil
}

// ValidFileName reports whether s is a plain file name a channel may hold:
// no separators, not "." or "..", no control characters.
func ValidFileName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 || strings.HasPrefix(s, ".") {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':' {
			return false
		}
	}
	return true
}

// ValidSubdir reports whether s can name a channel subdir ("linux-64",
// "noarch", "win-arm64"): lowercase letters, digits, "-" and "_".
func ValidSubdir(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
