package repodata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	dbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/zstd"
)

// WriteVersion is the repodata_version ferry writes: 1, the version where
// every package sits next to its index (no base_url, CEP 15).
const WriteVersion = 1

// Index is a subdir index to write: the records by file name, in the map
// conda keeps them in, each record's JSON as it is to appear.
type Index struct {
	Subdir        string                     `json:"subdir"`
	Packages      map[string]json.RawMessage `json:"packages"`
	PackagesConda map[string]json.RawMessage `json:"packages.conda"`
	Removed       []string                   `json:"removed,omitempty"`
}

// JSON renders the index deterministically: top-level keys and file names
// sorted, one record per line, each record's bytes exactly as given (a
// record copied from upstream stays byte for byte what upstream served,
// hotfixes and unknown keys included). The same Index always renders to the
// same bytes, so a re-plan compares equal.
func (ix *Index) JSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n  \"info\": {\"subdir\": ")
	if err := writeString(&b, ix.Subdir); err != nil {
		return nil, err
	}
	b.WriteString("},\n")
	for _, m := range []struct {
		key  string
		recs map[string]json.RawMessage
	}{{"packages", ix.Packages}, {"packages.conda", ix.PackagesConda}} {
		fmt.Fprintf(&b, "  %q: {", m.key)
		names := make([]string, 0, len(m.recs))
		for fn := range m.recs {
			names = append(names, fn)
		}
		sort.Strings(names)
		for i, fn := range names {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n    ")
			if err := writeString(&b, fn); err != nil {
				return nil, err
			}
			b.WriteString(": ")
			raw := bytes.TrimSpace(m.recs[fn])
			if !json.Valid(raw) || len(raw) == 0 || raw[0] != '{' {
				return nil, fmt.Errorf("repodata: %s[%q] is not a JSON object", m.key, fn)
			}
			b.Write(raw)
		}
		if len(names) > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString("},\n")
	}
	removed := append([]string(nil), ix.Removed...)
	sort.Strings(removed)
	b.WriteString("  \"removed\": [")
	for i, fn := range removed {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := writeString(&b, fn); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(&b, "],\n  \"repodata_version\": %d\n}\n", WriteVersion)
	return b.Bytes(), nil
}

// writeString writes s as a JSON string without HTML escaping.
func writeString(b *bytes.Buffer, s string) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

// Compress encodes a repodata.json as repodata.json<enc>. It is
// deterministic: one goroutine, fixed levels.
func Compress(js []byte, enc Encoding) ([]byte, error) {
	switch enc {
	case Plain:
		return js, nil
	case Zstd:
		w, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
		if err != nil {
			return nil, err
		}
		defer w.Close()
		return w.EncodeAll(js, nil), nil
	case Bzip2:
		var b bytes.Buffer
		w, err := dbzip2.NewWriter(&b, &dbzip2.WriterConfig{Level: dbzip2.BestCompression})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(js); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("unknown repodata encoding %q", enc)
}

// MirrorRecord returns the record as a mirror serves it. A record that says
// where its file is (a "url" key: an absolute URL upstream, or any other
// location) would send a client past the mirror, so that key is dropped:
// the file is served next to the index, where a client looks for it when
// no url is given. Only then is the record rewritten (its other keys kept,
// values verbatim, keys sorted); any other record is returned as it is.
func MirrorRecord(raw json.RawMessage) (json.RawMessage, bool, error) {
	if !bytes.Contains(raw, []byte(`"url"`)) {
		return raw, false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false, fmt.Errorf("repodata record: %w", err)
	}
	if _, ok := m["url"]; !ok {
		return raw, false, nil
	}
	delete(m, "url")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := writeString(&b, k); err != nil {
			return nil, false, err
		}
		b.WriteString(": ")
		b.Write(bytes.TrimSpace(m[k]))
	}
	b.WriteString("}")
	return b.Bytes(), true, nil
}

// FileName is the repodata file of enc in a subdir ("linux-64/repodata.json.zst").
func FileName(subdir string, enc Encoding) string {
	return strings.Join([]string{subdir, "repodata.json" + string(enc)}, "/")
}
