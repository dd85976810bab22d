package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-mirror/ferry/internal/safefile"
	"github.com/ferry-mirror/ferry/providers"
)

// Sentinel errors returned (wrapped) by Read and Open. Test with errors.Is.
var (
	// ErrNoState means there is no state file yet; callers start from New.
	ErrNoState = errors.New("no state file")
	// ErrNewerVersion means the file was written in a format newer than this
	// ferry understands.
	ErrNewerVersion = errors.New("state file format is newer than this ferry")
	// ErrCorrupt means the file exists but is not a valid state.
	ErrCorrupt = errors.New("state file is corrupt")
)

// fileError is a Read failure: kind is one of the sentinels, cause the
// underlying error (if any), msg the full human message.
type fileError struct {
	kind  error
	cause error
	msg   string
}

func (e *fileError) Error() string { return e.msg }

func (e *fileError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func corrupt(path string, cause error, format string, args ...any) error {
	return &fileError{
		kind:  ErrCorrupt,
		cause: cause,
		msg:   fmt.Sprintf("state file %s is corrupt: ", path) + fmt.Sprintf(format, args...),
	}
}

// Read reads and validates the state file at path. It never modifies the
// file.
//
// Errors wrap ErrNoState when the file does not exist, ErrNewerVersion when
// its format version is newer than FormatVersion, and ErrCorrupt when it is
// not a valid state (the message names the file and what is wrong).
func Read(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &fileError{kind: ErrNoState, cause: err, msg: fmt.Sprintf("no state file at %s", path)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	return decode(path, data)
}

func decode(path string, data []byte) (*State, error) {
	s, valid, ok := scanState(data)
	if !ok {
		return decodeChecked(path, data)
	}
	s.Version = FormatVersion
	s.normalizeBut(valid)
	if err := s.validateBut(valid); err != nil {
		return nil, corrupt(path, err, "%s", err)
	}
	return s, nil
}

// decodeChecked is decode for any file: it checks the format version
// first and explains every problem with its place in the file.
func decodeChecked(path string, data []byte) (*State, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, corrupt(path, nil, "the file is empty")
	}

	// Sniff the format version before anything else, so that a newer format
	// is reported as such rather than as a pile of decoding errors.
	var head struct {
		Version     json.RawMessage `json:"version"`
		ToolVersion json.RawMessage `json:"tool_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, corrupt(path, err, "%s", describeJSONError(data, err))
	}
	if len(head.Version) == 0 || string(head.Version) == "null" {
		return nil, corrupt(path, nil, "no format version (want a top-level \"version\": %d)", FormatVersion)
	}
	var version int64
	if err := json.Unmarshal(head.Version, &version); err != nil {
		return nil, corrupt(path, err, "format version %s is not a whole number", head.Version)
	}
	if version <= 0 {
		return nil, corrupt(path, nil, "invalid format version %d", version)
	}
	if version > FormatVersion {
		var tool string
		_ = json.Unmarshal(head.ToolVersion, &tool) // best effort: only quoted
		writer := "an unknown ferry version"
		if tool != "" {
			writer = "ferry " + tool
		}
		return nil, &fileError{kind: ErrNewerVersion, msg: fmt.Sprintf(
			"state file %s has format version %d, written by %s; this ferry reads up to version %d: upgrade ferry",
			path, version, writer, FormatVersion)}
	}

	// Versions 2 to 4 only added optional fields, so older files decode as is.
	// Later versions add an upgradeVNtoVN+1 step here.
	// Unknown fields are refused rather than dropped: rewriting the file
	// without them would lose data a newer ferry put there.
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, corrupt(path, err, "%s", describeDecodeError(data, err))
	}
	s.Version = FormatVersion
	s.normalize()
	if err := s.validate(); err != nil {
		return nil, corrupt(path, err, "%s", err)
	}
	return &s, nil
}

// describeJSONError adds a line and column to syntax and type errors.
func describeJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		if syn.Offset >= int64(len(data)) {
			return fmt.Sprintf("truncated JSON at byte %d (line %d): %s", syn.Offset, lineOf(data, syn.Offset), syn.Error())
		}
		line, col := position(data, syn.Offset)
		return fmt.Sprintf("invalid JSON at byte %d (line %d, column %d): %s", syn.Offset, line, col, syn.Error())
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		what := "the top level"
		if typ.Field != "" {
			what = typ.Field
		}
		return fmt.Sprintf("line %d, column %d: %s: want a JSON %s, got %s", line, col, what, jsonKind(typ.Type.Kind().String()), typ.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "map", goKind == "struct", goKind == "ptr":
		return "object"
	case goKind == "slice", goKind == "array":
		return "list"
	}
	return goKind
}

// describeDecodeError explains a failure of the full decode. Errors raised by
// a field's UnmarshalText or UnmarshalJSON (a bad digest, a bad time) carry
// no location, so it is recovered by looking at those fields directly.
func describeDecodeError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return describeJSONError(data, err)
	}
	if where := locateBadText(data); where != "" {
		return where
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// locateBadText finds the first digest or time string that does not parse,
// visiting mirrors and artifacts in sorted order.
func locateBadText(data []byte) string {
	var loose struct {
		Mirrors map[string]struct {
			Artifacts map[string]struct {
				Digests       []string `json:"digests"`
				SourceDigests []string `json:"source_digests"`
				Created       *string  `json:"created"`
				AddedAt       *string  `json:"added_at"`
				VerifiedAt    *string  `json:"verified_at"`
			} `json:"artifacts"`
		} `json:"mirrors"`
	}
	if json.Unmarshal(data, &loose) != nil {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(loose.Mirrors)) {
		arts := loose.Mirrors[name].Artifacts
		for _, key := range slices.Sorted(maps.Keys(arts)) {
			a := arts[key]
			at := fmt.Sprintf("mirrors[%q].artifacts[%q]", name, key)
			for _, f := range []struct {
				field string
				list  []string
			}{{"digests", a.Digests}, {"source_digests", a.SourceDigests}} {
				for i, d := range f.list {
					if d == "" {
						return fmt.Sprintf("%s.%s[%d]: empty digest", at, f.field, i)
					}
					if _, err := providers.ParseDigest(d); err != nil {
						return fmt.Sprintf("%s.%s[%d]: %v", at, f.field, i, err)
					}
				}
			}
			for _, f := range []struct {
				field string
				value *string
			}{{"created", a.Created}, {"added_at", a.AddedAt}, {"verified_at", a.VerifiedAt}} {
				if f.value == nil {
					continue
				}
				if _, err := time.Parse(time.RFC3339Nano, *f.value); err != nil {
					return fmt.Sprintf("%s.%s: %q is not an RFC 3339 time", at, f.field, *f.value)
				}
			}
		}
	}
	return ""
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = int(off) - bytes.LastIndexByte(before, '\n')
	if col > 1 {
		col-- // the offset is just past the offending byte
	}
	return line, col
}

func lineOf(data []byte, off int64) int {
	line, _ := position(data, off)
	return line
}

// Marshal encodes s canonically: 2-space indented JSON with a trailing
// newline, mirrors and artifacts sorted by key, digests sorted by algorithm,
// times in UTC, and Version set to FormatVersion. Equal states give equal
// bytes. It refuses a state Read would reject, so ferry never writes a file
// it cannot read back. s itself is not modified.
func Marshal(s *State) ([]byte, error) {
	c := s.DeepCopy()
	c.Version = FormatVersion
	c.normalize()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("invalid state: %w", err)
	}
	for _, m := range c.Mirrors {
		for _, a := range m.Artifacts {
			if a.Digests == nil {
				a.Digests = providers.Digests{} // [] rather than null
			}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil { // maps are encoded sorted by key
		return nil, err
	}
	return buf.Bytes(), nil
}

// contentBytes is the canonical encoding of everything Persist compares:
// the whole state but its serial and the version of ferry that wrote it.
func contentBytes(s *State) ([]byte, error) {
	c := *s // shallow: Marshal copies deeply
	c.Serial = 0
	c.ToolVersion = ""
	return Marshal(&c)
}

// Manager persists successive snapshots of one state file. Hold the state
// lock (see Lock) for as long as a Manager may write.
type Manager struct {
	path        string // the file, or the remote state's URL (in messages)
	toolVersion string

	mu      sync.Mutex
	sink    sink   // where snapshots are written
	onDisk  bool   // a file was read or written
	lineage string // fixed for the Manager's life
	serial  uint64 // of the last snapshot read or written
	content []byte // contentBytes of that snapshot; nil while raw is set
	raw     []byte // the file as read, until baseline computes content
	// readOnly: Persist refuses (see ReadOnly).
	readOnly bool
}

// sink writes one snapshot's bytes: a local file (fileSink) or a remote
// object (remoteSink). written says the new bytes are in place, even when
// err reports a later step failing.
type sink interface {
	write(data []byte) (written bool, err error)
}

// Open reads the state at path, or starts a new one (New(toolVersion)) if
// there is no file yet, and returns a Manager for it together with a copy of
// the state to work on. Any other read error is returned as is; the file is
// left untouched.
func Open(path, toolVersion string) (*Manager, *State, error) {
	path, err := ResolvePath(path)
	if err != nil {
		return nil, nil, err
	}
	m := &Manager{path: path, toolVersion: toolVersion, sink: &fileSink{path: path}}
	data, err := os.ReadFile(path)
	var s *State
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s = New(toolVersion)
		if m.content, err = contentBytes(s); err != nil {
			return nil, nil, err // unreachable for a new state
		}
	case err != nil:
		return nil, nil, fmt.Errorf("reading state: %w", err)
	default:
		if s, err = decode(path, data); err != nil {
			return nil, nil, err
		}
		// The baseline Persist compares with is computed from these bytes
		// on the first Persist: commands that never write (plan) do not
		// pay for encoding the whole state once more.
		m.onDisk, m.raw = true, data
	}
	m.lineage, m.serial = s.Lineage, s.Serial
	return m, s, nil
}

// maxLinks bounds the chain of symbolic links ResolvePath follows (Linux's
// own limit), so a loop is an error rather than a hang.
const maxLinks = 40

// ResolvePath follows path while it is a symbolic link and returns the file
// the state really lives in, which need not exist yet (a dangling link to a
// shared state not written so far). The state is read and written there,
// and its backup, temp files and lock sit beside it: writing through the
// link keeps a shared state shared instead of replacing the link with a
// private copy, and every working directory linking to it locks the same
// lock. Links in parent directories need no resolving (a rename in a
// directory reached through a link happens in the linked directory).
func ResolvePath(path string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		if err != nil {
			return "", fmt.Errorf("state %s: %w", path, err)
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", fmt.Errorf("state %s: %w", path, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return "", fmt.Errorf("state %s: more than %d symbolic links in a row (a loop?)", path, maxLinks)
}

// baseline is the content of the snapshot last read or written.
func (m *Manager) baseline() ([]byte, error) {
	if m.raw != nil {
		s, err := decode(m.path, m.raw)
		if err != nil {
			return nil, err // unreachable: the same bytes decoded in Open
		}
		if m.content, err = contentBytes(s); err != nil {
			return nil, err
		}
		m.raw = nil
	}
	return m.content, nil
}

// ReadOnly declares that this Manager will never write (a plan): it lets
// go of the bytes it read, which it keeps only to compare the first write
// with (as much memory as the file again), and Persist refuses from now on.
func (m *Manager) ReadOnly() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readOnly, m.raw = true, nil
}

// Path is the state file the Manager writes.
func (m *Manager) Path() string { return m.path }

// Exists reports whether the state file existed when opened or has been
// written since. A plan made before the first write records no lineage.
func (m *Manager) Exists() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.onDisk
}

// Persist writes s if its content (everything but Serial and ToolVersion)
// differs from the last snapshot read or written, and reports whether it
// wrote. On a write it sets s.Serial to the previous serial plus one and
// s.ToolVersion to the Manager's tool version, copies the previous file to
// PATH.backup and replaces the file atomically (see WriteFileAtomic).
//
// A state that has never been on disk and has no mirrors is not written, so
// a command that records nothing creates no file. s must keep the lineage it
// was opened with. Persist is safe for concurrent use; pass it a snapshot
// nobody mutates during the call.
func (m *Manager) Persist(s *State) (changed bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if m.readOnly {
		return false, fmt.Errorf("state %s: opened read-only", m.path)
	}
	if s.Lineage != m.lineage {
		return false, fmt.Errorf("state %s: refusing to write lineage %q over lineage %q", m.path, s.Lineage, m.lineage)
	}
	content, err := contentBytes(s)
	if err != nil {
		return false, fmt.Errorf("state %s: %w", m.path, err)
	}
	base, err := m.baseline()
	if err != nil {
		return false, fmt.Errorf("state %s: %w", m.path, err)
	}
	if bytes.Equal(content, base) || (!m.onDisk && len(s.Mirrors) == 0 && s.Shards == nil) {
		return false, nil
	}

	next := *s // shallow: only the header fields change
	next.Serial = m.serial + 1
	next.ToolVersion = m.toolVersion
	if err := m.write(&next, content); err != nil {
		return m.onDisk && m.serial == next.Serial, err
	}
	s.Serial, s.ToolVersion = next.Serial, next.ToolVersion
	return true, nil
}

// write writes next, whose content is content, through the sink and
// records it as the last snapshot once it is in place.
func (m *Manager) write(next *State, content []byte) error {
	data, err := Marshal(next)
	if err != nil {
		return fmt.Errorf("state %s: %w", m.path, err)
	}
	written, err := m.sink.write(data)
	if written {
		// The new state is in place even if a later step (syncing the
		// directory) failed: never hand out its serial twice.
		m.onDisk, m.serial, m.content = true, next.Serial, content
	}
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

// fileSink writes the state file atomically, with a backup of the
// previous one.
type fileSink struct {
	path  string
	swept bool // stale temp files of earlier writers were removed
}

func (f *fileSink) write(data []byte) (bool, error) {
	if !f.swept {
		f.sweepTemps()
		f.swept = true
	}
	return safefile.WriteAtomic(f.path, data, 0o600, f.backup)
}

// sweepTemps removes temp files an earlier writer left when it was killed
// between creating and renaming one (.STATE.tmp-*). Only the lock holder
// writes, so none of them can be in use.
func (f *fileSink) sweepTemps() {
	dir, base := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	stale, _ := filepath.Glob(filepath.Join(dir, "."+base+".tmp-*"))
	for _, f := range stale {
		_ = os.Remove(f) // best effort: a leftover is harmless, only untidy
	}
}

// backup copies the current state file, if any, to PATH.backup. It runs
// after the new file is durably in its temp file and before the rename.
func (f *fileSink) backup() error {
	prev, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading previous state for backup: %w", err)
	}
	_, err = safefile.WriteAtomic(f.path+".backup", prev, 0o600, nil)
	return err
}

// WriteFileAtomic replaces the file at path with data so that readers (and
// a crash at any moment) see either the old content or the new, never a mix
// (see safefile.WriteFileAtomic).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return safefile.WriteFileAtomic(path, data, perm)
}
