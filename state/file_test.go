package state

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

func mustDigest(t *testing.T, s string) providers.Digest {
	t.Helper()
	d, err := providers.ParseDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dirEntries lists the names in dir, sorted.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestReadBasic(t *testing.T) {
	got, err := Read(filepath.Join("testdata", "v1-basic.json"))
	if err != nil {
		t.Fatal(err)
	}
	jq := mustDigest(t, "sha256:4ce7266314b17910fceaa72edecc063fed2b269485d2441843561f82ed20905a")
	want := &State{
		Version:     FormatVersion, // upgraded on read
		ToolVersion: "0.4.0",
		Serial:      7,
		Lineage:     "6a0c1e4e-5b8f-4c52-9d3c-1f2e0b7a9c11",
		Mirrors: map[string]*Mirror{
			"buildpack_node": {Source: "http.nodejs", Destination: "dir.local", Artifacts: map[string]*Artifact{
				"node/20.11.0/node-v20.11.0-linux-x64.tar.xz": {
					Key:     "node/20.11.0/node-v20.11.0-linux-x64.tar.xz",
					Name:    "node",
					Version: "20.11.0",
					Size:    24718120,
					Digests: providers.Digests{mustDigest(t, "sha256:eb8f0c402a49674df4988ee3bf8b27230b4d7dde24c9e118996723a0c9796649")},
					AddedAt: time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC),
				},
			}},
			"tools": {Source: "http.tools", Destination: "dir.local", Artifacts: map[string]*Artifact{
				"jq/1.7.1/jq-linux-amd64": {
					Key:     "jq/1.7.1/jq-linux-amd64",
					Name:    "jq",
					Version: "1.7.1",
					Size:    2201936,
					Digests: providers.Digests{jq, mustDigest(t,
						"sha512:f2bcb8e638caf0c815eff4bc0179ae8e1bd8ef014661b5434b946206e3f830d81610b2db565c66565c7009c9ebaf0352abd492e9b84205308e6c33e7e0f21fbf")},
					SourceDigests: providers.Digests{jq},
					Created:       time.Date(2023, 12, 13, 19, 56, 32, 0, time.UTC),
					AddedAt:       time.Date(2026, 3, 1, 9, 12, 0, 0, time.UTC),
				},
				"jq/1.7.1/jq-linux-arm64": {
					Key:     "jq/1.7.1/jq-linux-arm64",
					Name:    "jq",
					Version: "1.7.1",
					Size:    2096280,
					Digests: providers.Digests{mustDigest(t, "sha256:ba61ea5131720f6ece0582f77c715f64376412405152767d7453d2ebff3c3ee7")},
					AddedAt: time.Date(2026, 3, 1, 9, 12, 1, 0, time.UTC),
				},
			}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

func TestMarshalCanonical(t *testing.T) {
	canonical := readFixture(t, "v4-basic.json")
	tests := []struct {
		name    string
		fixture string
		want    string // fixture of the canonical bytes; empty: v4-basic.json
	}{
		{name: "canonical input round-trips byte for byte", fixture: "v4-basic.json"},
		{name: "version 4 input with a token round-trips byte for byte", fixture: "v4-token.json", want: "v4-token.json"},
		{name: "version 3 input is upgraded to the canonical bytes", fixture: "v3-basic.json"},
		{name: "version 2 input is upgraded to the canonical bytes", fixture: "v2-basic.json"},
		{name: "version 1 input is upgraded to the canonical bytes", fixture: "v1-basic.json"},
		{name: "unsorted input gives the canonical bytes", fixture: "v1-unsorted.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Read(filepath.Join("testdata", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			want := canonical
			if tc.want != "" {
				want = readFixture(t, tc.want)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Marshal (-want +got):\n%s", diff)
			}
			// And the bytes read back into the same state.
			again, err := decode("again.json", got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s, again); diff != "" {
				t.Errorf("Read(Marshal(s)) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalDeterministic(t *testing.T) {
	build := func(order []int) *State {
		s := New("0.4.0")
		s.Lineage = "fixed"
		for _, i := range order {
			name := string(rune('a' + i))
			s.EnsureMirror(name, "http.src", "dir.dst")
			for _, j := range order {
				s.SetArtifact(name, &Artifact{Key: "k" + string(rune('a'+j)), Size: int64(j), Digests: providers.Digests{sha512A, sha256A}})
			}
		}
		return s
	}
	first, err := Marshal(build([]int{0, 1, 2, 3, 4, 5, 6, 7}))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		got, err := Marshal(build([]int{7, 3, 5, 0, 6, 2, 4, 1}))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, got) {
			t.Fatalf("equal states marshalled differently:\n%s\n---\n%s", first, got)
		}
	}
	if !bytes.HasSuffix(first, []byte("}\n")) || !bytes.HasPrefix(first, []byte("{\n  \"version\": 4,\n")) {
		t.Errorf("not indented JSON with a trailing newline:\n%s", first)
	}
}

func TestMarshalDoesNotModifyInput(t *testing.T) {
	s := New("0.4.0")
	s.Version = 0
	s.EnsureMirror("tools", "http.tools", "dir.local")
	s.Mirror("tools").Artifacts["jq"] = &Artifact{Key: "jq", Digests: providers.Digests{sha512A, sha256A}}
	before := s.DeepCopy()
	if _, err := Marshal(s); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, s); diff != "" {
		t.Errorf("Marshal changed its input (-want +got):\n%s", diff)
	}
}

func TestMarshalRefusesInvalid(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(s *State)
		wantMsg string
	}{
		{
			name:    "missing lineage",
			mutate:  func(s *State) { s.Lineage = "" },
			wantMsg: "lineage is missing",
		},
		{
			name:    "key mismatch",
			mutate:  func(s *State) { s.Mirror("tools").Artifacts["jq"].Key = "yq" },
			wantMsg: `mirrors["tools"].artifacts["jq"]: key "yq" does not match its map key`,
		},
		{
			name: "duplicate algorithm",
			mutate: func(s *State) {
				s.Mirror("tools").Artifacts["jq"].Digests = providers.Digests{sha256B, sha256A}
			},
			wantMsg: "more than one sha256 digest",
		},
		{
			name: "invalid digest",
			mutate: func(s *State) {
				s.Mirror("tools").Artifacts["jq"].SourceDigests = providers.Digests{{Algorithm: "md4", Hex: "00"}}
			},
			wantMsg: `source_digests: digest algorithm "md4" is not supported`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New("0.4.0")
			s.EnsureMirror("tools", "http.tools", "dir.local")
			s.SetArtifact("tools", &Artifact{Key: "jq", Digests: providers.Digests{sha256A}})
			tc.mutate(s)
			_, err := Marshal(s)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Marshal error = %v, want one containing %q", err, tc.wantMsg)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name     string
		fixture  string // under testdata; or
		content  string // written to a temp file
		wantIs   error
		wantMsgs []string
	}{
		{
			name:    "newer format",
			fixture: "v5-future.json",
			wantIs:  ErrNewerVersion,
			wantMsgs: []string{
				"v5-future.json has format version 5, written by ferry 0.9.0; this ferry reads up to version 4: upgrade ferry",
			},
		},
		{
			name:     "newer format without tool version",
			content:  `{"version": 5, "whatever": true}`,
			wantIs:   ErrNewerVersion,
			wantMsgs: []string{"format version 5, written by an unknown ferry version"},
		},
		{
			name:     "truncated",
			fixture:  "truncated.json",
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"truncated.json is corrupt", "truncated JSON at byte 420 (line 15)"},
		},
		{
			name:     "not json",
			fixture:  "not-json.txt",
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"not-json.txt is corrupt", "invalid JSON at byte 2 (line 1, column 2)", "invalid character 'h' in literal true"},
		},
		{
			name:    "bad digest",
			fixture: "bad-digest.json",
			wantIs:  ErrCorrupt,
			wantMsgs: []string{
				"bad-digest.json is corrupt",
				`mirrors["tools"].artifacts["jq/1.7.1/jq-linux-amd64"].digests[0]: sha256 digest must be 64 hex characters, got 12`,
			},
		},
		{
			name:     "syntax error on a later line",
			content:  "{\n  \"version\": 1,\n  \"serial\": 1,,\n}\n",
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"line 3, column 15"},
		},
		{
			name:     "empty file",
			content:  "",
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"the file is empty"},
		},
		{
			name:     "top level is a list",
			content:  `[{"version": 1}]`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"line 1, column 1: the top level: want a JSON object, got array"},
		},
		{
			name:     "no version",
			content:  `{"lineage": "x", "mirrors": {}}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`no format version (want a top-level "version": 4)`},
		},
		{
			name:     "version zero",
			content:  `{"version": 0, "lineage": "x"}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"invalid format version 0"},
		},
		{
			name:     "version is a string",
			content:  `{"version": "1", "lineage": "x"}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`format version "1" is not a whole number`},
		},
		{
			name:     "missing lineage",
			content:  `{"version": 1, "serial": 1, "mirrors": {}}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"lineage is missing"},
		},
		{
			name: "artifact key does not match its map key",
			content: `{"version": 1, "lineage": "x", "mirrors": {"tools": {"artifacts": {
				"jq": {"key": "yq", "size": 1, "digests": []}}}}}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`mirrors["tools"].artifacts["jq"]: key "yq" does not match its map key`},
		},
		{
			name:     "null mirror",
			content:  `{"version": 1, "lineage": "x", "mirrors": {"tools": null}}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`mirrors["tools"] is null`},
		},
		{
			name:     "null artifact",
			content:  `{"version": 1, "lineage": "x", "mirrors": {"tools": {"artifacts": {"jq": null}}}}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`mirrors["tools"].artifacts["jq"] is null`},
		},
		{
			name:     "size is a string",
			content:  "{\"version\": 1, \"lineage\": \"x\", \"mirrors\": {\"tools\": {\"artifacts\": {\n\"jq\": {\"key\": \"jq\", \"size\": \"12\"}}}}}",
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"line 2, column", "size: want a JSON number, got string"},
		},
		{
			name:     "duplicate digest algorithm",
			content:  `{"version": 1, "lineage": "x", "mirrors": {"tools": {"artifacts": {"jq": {"key": "jq", "digests": ["sha256:` + sha256A.Hex + `", "sha256:` + sha256B.Hex + `"]}}}}}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`mirrors["tools"].artifacts["jq"].digests: more than one sha256 digest`},
		},
		{
			name:     "empty digest string",
			content:  `{"version": 1, "lineage": "x", "mirrors": {"tools": {"artifacts": {"jq": {"key": "jq", "source_digests": [""]}}}}}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`mirrors["tools"].artifacts["jq"].source_digests: empty digest`},
		},
		{
			name:     "unknown field",
			content:  `{"version": 1, "lineage": "x", "mirrors": {}, "rewrites": []}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`unknown field "rewrites"`},
		},
		{
			name:     "bad time",
			content:  `{"version": 1, "lineage": "x", "mirrors": {"tools": {"artifacts": {"jq": {"key": "jq", "added_at": "yesterday"}}}}}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{`mirrors["tools"].artifacts["jq"].added_at: "yesterday" is not an RFC 3339 time`},
		},
		{
			name:     "trailing garbage",
			content:  `{"version": 1, "lineage": "x", "mirrors": {}} {}`,
			wantIs:   ErrCorrupt,
			wantMsgs: []string{"invalid character '{' after top-level value"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.fixture)
			if tc.fixture == "" {
				path = filepath.Join(t.TempDir(), "ferry.state.json")
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Read(path)
			if err == nil {
				t.Fatalf("Read succeeded: %+v", s)
			}
			if !errors.Is(err, tc.wantIs) {
				t.Errorf("Read error %q does not wrap %v", err, tc.wantIs)
			}
			for _, want := range append(tc.wantMsgs, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Read error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestReadNullMapsBecomeEmpty(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    *State
	}{
		{
			name:    "no mirrors",
			content: `{"version": 1, "lineage": "x", "serial": 2, "mirrors": null}`,
			want:    &State{Version: FormatVersion, Lineage: "x", Serial: 2, Mirrors: map[string]*Mirror{}},
		},
		{
			name:    "no artifacts",
			content: `{"version": 1, "lineage": "x", "mirrors": {"tools": {"source": "http.tools"}}}`,
			want: &State{Version: FormatVersion, Lineage: "x", Mirrors: map[string]*Mirror{
				"tools": {Source: "http.tools", Artifacts: map[string]*Artifact{}},
			}},
		},
		{
			name:    "null and empty digests",
			content: `{"version": 1, "lineage": "x", "mirrors": {"tools": {"artifacts": {"jq": {"key": "jq", "digests": null, "source_digests": []}}}}}`,
			want: &State{Version: FormatVersion, Lineage: "x", Mirrors: map[string]*Mirror{
				"tools": {Artifacts: map[string]*Artifact{"jq": {Key: "jq"}}},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode("ferry.state.json", []byte(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	_, err := Read(path)
	if !errors.Is(err, ErrNoState) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want ErrNoState and fs.ErrNotExist", err)
	}
}

func TestOpenLeavesUnreadableFileAlone(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		wantIs  error
	}{
		{name: "newer format", fixture: "v5-future.json", wantIs: ErrNewerVersion},
		{name: "truncated", fixture: "truncated.json", wantIs: ErrCorrupt},
		{name: "not json", fixture: "not-json.txt", wantIs: ErrCorrupt},
		{name: "bad digest", fixture: "bad-digest.json", wantIs: ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ferry.state.json")
			orig := readFixture(t, tc.fixture)
			if err := os.WriteFile(path, orig, 0o644); err != nil {
				t.Fatal(err)
			}
			m, s, err := Open(path, "0.4.0")
			if !errors.Is(err, tc.wantIs) || m != nil || s != nil {
				t.Fatalf("Open = %v, %v, %v; want nil, nil and an error wrapping %v", m, s, err, tc.wantIs)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(orig, got) {
				t.Errorf("Open modified the file it could not read")
			}
			if diff := cmp.Diff([]string{"ferry.state.json"}, dirEntries(t, dir)); diff != "" {
				t.Errorf("directory after Open (-want +got):\n%s", diff)
			}
		})
	}
}

func statFile(t *testing.T, path string) (data []byte, mtime time.Time) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, fi.ModTime()
}

func TestPersistLifecycle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.state.json")

	m, s, err := Open(path, "0.4.0")
	if err != nil {
		t.Fatal(err)
	}
	lineage := s.Lineage
	if m.Exists() {
		t.Errorf("Exists() = true before any write")
	}

	// A fresh state with nothing in it is never written.
	changed, err := m.Persist(s)
	if err != nil || changed {
		t.Fatalf("Persist(fresh) = %v, %v; want false, nil", changed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a fresh empty state created %s: %v", path, err)
	}

	// The first content is written with serial 1 and no backup.
	s.EnsureMirror("tools", "http.tools", "dir.local")
	s.SetArtifact("tools", &Artifact{Key: "jq", Size: 1, Digests: providers.Digests{sha256A}})
	changed, err = m.Persist(s)
	if err != nil || !changed {
		t.Fatalf("Persist(first artifact) = %v, %v; want true, nil", changed, err)
	}
	if s.Serial != 1 || s.ToolVersion != "0.4.0" {
		t.Errorf("after first write: serial %d, tool version %q; want 1, 0.4.0", s.Serial, s.ToolVersion)
	}
	if diff := cmp.Diff([]string{"ferry.state.json"}, dirEntries(t, dir)); diff != "" {
		t.Errorf("directory after first write (-want +got):\n%s", diff)
	}
	if !m.Exists() {
		t.Errorf("Exists() = false after a write")
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("state file mode = %v (%v), want 0600", fi.Mode().Perm(), err)
		}
	}
	first, firstMtime := statFile(t, path)

	// Nothing changed: no write, even with a different serial or tool version.
	time.Sleep(10 * time.Millisecond) // let a rewrite show in the mtime
	same := s.DeepCopy()
	same.Serial = 42
	same.ToolVersion = "9.9.9"
	changed, err = m.Persist(same)
	if err != nil || changed {
		t.Fatalf("Persist(unchanged) = %v, %v; want false, nil", changed, err)
	}
	if same.Serial != 42 {
		t.Errorf("Persist(unchanged) changed the snapshot's serial to %d", same.Serial)
	}
	if data, mtime := statFile(t, path); !bytes.Equal(data, first) || !mtime.Equal(firstMtime) {
		t.Errorf("Persist(unchanged) rewrote the file")
	}

	// A change bumps the serial by one and backs up the previous bytes.
	s.SetArtifact("tools", &Artifact{Key: "yq", Size: 2, Digests: providers.Digests{sha256B}})
	changed, err = m.Persist(s)
	if err != nil || !changed {
		t.Fatalf("Persist(second artifact) = %v, %v; want true, nil", changed, err)
	}
	if s.Serial != 2 {
		t.Errorf("serial after second write = %d, want 2", s.Serial)
	}
	backup, _ := statFile(t, path+".backup")
	if diff := cmp.Diff(string(first), string(backup)); diff != "" {
		t.Errorf("backup does not hold the previous state (-want +got):\n%s", diff)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path + ".backup"); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup mode = %v (%v), want 0600", fi.Mode().Perm(), err)
		}
	}
	if diff := cmp.Diff([]string{"ferry.state.json", "ferry.state.json.backup"}, dirEntries(t, dir)); diff != "" {
		t.Errorf("directory after second write (-want +got):\n%s", diff)
	}

	// What is on disk is exactly s, and reopening picks up where we left.
	onDisk, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, onDisk); diff != "" {
		t.Errorf("state on disk (-want +got):\n%s", diff)
	}
	m2, s2, err := Open(path, "0.5.0")
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := m2.Persist(s2); err != nil || changed {
		t.Errorf("Persist right after Open = %v, %v; want false, nil", changed, err)
	}

	// Removing everything is a change that is written; the lineage stays.
	s2.RemoveArtifact("tools", "jq")
	s2.RemoveArtifact("tools", "yq")
	changed, err = m2.Persist(s2)
	if err != nil || !changed {
		t.Fatalf("Persist(emptied) = %v, %v; want true, nil", changed, err)
	}
	final, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &State{Version: FormatVersion, ToolVersion: "0.5.0", Serial: 3, Lineage: lineage, Mirrors: map[string]*Mirror{}}
	if diff := cmp.Diff(want, final); diff != "" {
		t.Errorf("final state (-want +got):\n%s", diff)
	}
}

func TestPersistRefusesOtherLineage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	m, _, err := Open(path, "0.4.0")
	if err != nil {
		t.Fatal(err)
	}
	other := New("0.4.0")
	other.EnsureMirror("tools", "http.tools", "dir.local")
	if _, err := m.Persist(other); err == nil || !strings.Contains(err.Error(), "lineage") {
		t.Errorf("Persist(other lineage) error = %v, want a lineage error", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Persist wrote %s", path)
	}
}

// A read-only Manager (a plan) keeps no copy of the file it read and never
// writes, even a changed state.
func TestReadOnlyRefusesPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	m, s, err := Open(path, "0.4.0")
	if err != nil {
		t.Fatal(err)
	}
	s.EnsureMirror("tools", "http.tools", "dir.local")
	s.SetArtifact("tools", &Artifact{Key: "a", Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat("0", 64)})})
	if _, err := m.Persist(s); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, s, err = Open(path, "0.4.0")
	if err != nil {
		t.Fatal(err)
	}
	m.ReadOnly()
	if m.raw != nil {
		t.Errorf("a read-only Manager keeps the %d bytes it read", len(m.raw))
	}
	s.RemoveArtifact("tools", "a")
	if changed, err := m.Persist(s); err == nil || changed || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Persist on a read-only Manager = %v, %v; want a read-only error", changed, err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("a refused Persist changed %s (%v)", path, err)
	}
}

func TestPersistConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.state.json")
	m, s, err := Open(path, "0.4.0")
	if err != nil {
		t.Fatal(err)
	}
	s.EnsureMirror("tools", "http.tools", "dir.local")
	var snapshots []*State
	for i := range 16 {
		s.SetArtifact("tools", &Artifact{Key: "k" + string(rune('a'+i%8)), Size: int64(i)})
		snapshots = append(snapshots, s.DeepCopy())
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	writes := 0
	for _, snap := range snapshots {
		wg.Go(func() {
			changed, err := m.Persist(snap)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if changed {
				writes++
			}
		})
	}
	wg.Wait()
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != uint64(writes) {
		t.Errorf("serial on disk = %d after %d writes", got.Serial, writes)
	}
}

func TestPersistBackupFailureKeepsState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.state.json")
	m, s, err := Open(path, "0.4.0")
	if err != nil {
		t.Fatal(err)
	}
	s.EnsureMirror("tools", "http.tools", "dir.local")
	s.SetArtifact("tools", &Artifact{Key: "jq"})
	if _, err := m.Persist(s); err != nil {
		t.Fatal(err)
	}
	before, _ := statFile(t, path)

	// A non-empty directory where the backup goes makes the backup fail.
	if err := os.MkdirAll(filepath.Join(path+".backup", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.SetArtifact("tools", &Artifact{Key: "yq"})
	if changed, err := m.Persist(s); err == nil || changed {
		t.Fatalf("Persist with a broken backup = %v, %v; want false and an error", changed, err)
	}
	if s.Serial != 1 {
		t.Errorf("failed Persist changed the snapshot serial to %d", s.Serial)
	}
	if after, _ := statFile(t, path); !bytes.Equal(before, after) {
		t.Errorf("state file changed although its backup failed")
	}
	if diff := cmp.Diff([]string{"ferry.state.json", "ferry.state.json.backup"}, dirEntries(t, dir)); diff != "" {
		t.Errorf("leftovers after failed Persist (-want +got):\n%s", diff)
	}

	// Once the obstacle is gone the same change is written, with serial 2.
	if err := os.RemoveAll(path + ".backup"); err != nil {
		t.Fatal(err)
	}
	if changed, err := m.Persist(s); err != nil || !changed || s.Serial != 2 {
		t.Errorf("Persist after recovery = %v, %v (serial %d); want true, nil, 2", changed, err, s.Serial)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	for _, content := range []string{"first\n", "second, longer\n", ""} {
		if err := WriteFileAtomic(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("content = %q, want %q", got, content)
		}
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("mode = %v (%v), want 0640", fi.Mode().Perm(), err)
		}
	}
	if diff := cmp.Diff([]string{"plan.json"}, dirEntries(t, dir)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
}

func TestWriteFileAtomicFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the target path
		wantDir []string
	}{
		{
			name: "rename onto a non-empty directory",
			setup: func(t *testing.T, dir string) string {
				target := filepath.Join(dir, "ferry.state.json")
				if err := os.MkdirAll(filepath.Join(target, "inside"), 0o755); err != nil {
					t.Fatal(err)
				}
				return target
			},
			wantDir: []string{"ferry.state.json"},
		},
		{
			name: "missing directory",
			setup: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "nope", "ferry.state.json")
			},
			wantDir: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			target := tc.setup(t, dir)
			if err := WriteFileAtomic(target, []byte("data"), 0o600); err == nil {
				t.Fatalf("WriteFileAtomic(%s) succeeded", target)
			}
			if diff := cmp.Diff(tc.wantDir, dirEntries(t, dir)); diff != "" {
				t.Errorf("directory after the failure (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPositionOfOffset(t *testing.T) {
	data := []byte("ab\ncde\nf")
	tests := []struct {
		name     string
		off      int64
		wantLine int
		wantCol  int
	}{
		{name: "first byte", off: 1, wantLine: 1, wantCol: 1},
		{name: "end of first line", off: 2, wantLine: 1, wantCol: 2},
		{name: "second line", off: 5, wantLine: 2, wantCol: 2},
		{name: "past the end", off: 99, wantLine: 3, wantCol: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, col := position(data, tc.off)
			if diff := cmp.Diff([2]int{tc.wantLine, tc.wantCol}, [2]int{line, col}); diff != "" {
				t.Errorf("position(%d) (-want +got):\n%s", tc.off, diff)
			}
		})
	}
}

func TestPersistSweepsStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.state.json")
	// What a writer killed between creating its temp file and renaming it
	// leaves behind, and a file that only looks alike.
	stale := filepath.Join(dir, ".ferry.state.json.tmp-1234567")
	other := filepath.Join(dir, ".other.json.tmp-1234567")
	for _, f := range []string{stale, other} {
		if err := os.WriteFile(f, []byte(`{"version": 2, "serial": 9`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, s, err := Open(path, "0.6.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("Open removed the temp file (only a writer may): %v", err)
	}
	s.EnsureMirror("tools", "http.tools", "dir.local").Artifacts["jq"] = &Artifact{Key: "jq", Digests: providers.Digests{sha256A}}
	if _, err := m.Persist(s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file after the first write: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's temp file was removed: %v", err)
	}
}

// A state file that is a symbolic link (a state shared between working
// directories) is written through: the link stays, the file it points at
// gets the new snapshot, and the backup, temp files and lock live beside
// that file, so every working directory sharing it locks the same lock.
func TestPersistWritesThroughSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	for _, tc := range []struct {
		name     string
		existing bool // whether the shared file exists before the first write
	}{
		{name: "existing shared state", existing: true},
		{name: "dangling link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			shared := filepath.Join(base, "shared")
			work := filepath.Join(base, "work")
			for _, d := range []string{shared, work} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			target := filepath.Join(shared, "ferry.state.json")
			link := filepath.Join(work, "ferry.state.json")
			if err := os.Symlink(filepath.Join("..", "shared", "ferry.state.json"), link); err != nil {
				t.Fatal(err)
			}
			if tc.existing {
				m, s, err := Open(target, "0.4.0")
				if err != nil {
					t.Fatal(err)
				}
				s.EnsureMirror("tools", "http.tools", "dir.local")
				if _, err := m.Persist(s); err != nil {
					t.Fatal(err)
				}
			}

			l := mustLock(t, link, "apply")
			if _, err := Lock(context.Background(), target, "apply", "0.4.0", 0); !errors.Is(err, ErrLocked) {
				t.Errorf("Lock(shared file) while locked through the link: %v, want ErrLocked", err)
			}
			m, s, err := Open(link, "0.4.0")
			if err != nil {
				t.Fatal(err)
			}
			if m.Path() != target {
				t.Errorf("Manager.Path() = %q, want the link's target %q", m.Path(), target)
			}
			s.EnsureMirror("tools", "http.tools", "dir.local")
			s.SetArtifact("tools", &Artifact{Key: "jq", Size: 1, Digests: providers.Digests{sha256A}})
			if _, err := m.Persist(s); err != nil {
				t.Fatal(err)
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}

			if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Fatalf("state path after a write: %v, %v; want it still a symbolic link", fi, err)
			}
			got, err := Read(target)
			if err != nil {
				t.Fatal(err)
			}
			if got.Serial != s.Serial || got.Mirrors["tools"] == nil || len(got.Mirrors["tools"].Artifacts) != 1 {
				t.Errorf("shared state = serial %d, mirrors %v; want the snapshot just written (serial %d)", got.Serial, got.Mirrors, s.Serial)
			}
			if diff := cmp.Diff([]string{"ferry.state.json"}, dirEntries(t, work)); diff != "" {
				t.Errorf("working directory (-want +got):\n%s", diff)
			}
			want := []string{"ferry.state.json"}
			if tc.existing {
				want = append(want, "ferry.state.json.backup")
			}
			if diff := cmp.Diff(want, dirEntries(t, shared)); diff != "" {
				t.Errorf("shared directory (-want +got):\n%s", diff)
			}
		})
	}
}
