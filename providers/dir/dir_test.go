package dir_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

func newStore(t *testing.T) (*dir.Store, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "mirror") // created by the first Put
	s, err := dir.NewDestination("dir.local", &dir.DestinationConfig{Path: root}, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

// The conformance suite, built from an HCL block (a path relative to the
// config directory) through the registry.
func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) providers.Destination {
			dir := t.TempDir()
			s := providertest.NewDestination(t, `destination "dir" "local" {
  path = "mirror"
}`, dir, registry.Env{})
			t.Cleanup(func() { checkNoTemps(t, filepath.Join(dir, "mirror")) })
			return s
		},
	})
}

// checkNoTemps fails if a temp file survived.
func checkNoTemps(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, ".ferry-tmp"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("temp file %s left behind", e.Name())
	}
}

func artifact(key string, content []byte) providers.Artifact {
	return providers.Artifact{Key: key, Size: int64(len(content)), Digests: providers.NewDigests(providertest.SHA256(content))}
}

func TestInvalidKeys(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"absolute", "/etc/passwd"},
		{"dotdot", "../escape"},
		{"inner dotdot", "a/../../escape"},
		{"dotdot segment at end", "a/.."},
		{"dot segment", "a/./b"},
		{"only dot", "."},
		{"empty segment", "a//b"},
		{"trailing slash", "a/b/"},
		{"backslash", `a\b`},
		{"windows escape", `..\escape`},
		{"nul byte", "a\x00b"},
		{"temp dir", ".ferry-tmp/123-abc"},
	}
	s, root := newStore(t)
	content := []byte("x")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops := map[string]error{
				"put":    s.Put(t.Context(), artifact(tc.key, content), bytes.NewReader(content), providers.PutOptions{}),
				"delete": s.Delete(t.Context(), tc.key),
			}
			_, ops["stat"] = s.Stat(t.Context(), tc.key)
			for op, err := range ops {
				if !errors.Is(err, dir.ErrInvalidKey) {
					t.Errorf("%s(%q) error = %v, want one wrapping ErrInvalidKey", op, tc.key, err)
				}
				var oe *providers.OpError
				if !errors.As(err, &oe) || oe.Op != op || oe.Side != providers.SideDestination || oe.Provider != "dir.local" {
					t.Errorf("%s(%q) error = %#v, want an *OpError for %s", op, tc.key, err, op)
				}
			}
		})
	}
	// Nothing was written anywhere, inside or next to the root.
	if entries, _ := os.ReadDir(filepath.Dir(root)); len(entries) > 1 {
		t.Errorf("entries next to the root: %v", entries)
	}
}

func TestSymlinkEscapeRefused(t *testing.T) {
	s, root := newStore(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	content := []byte("payload")
	put := func(key string) error {
		return s.Put(t.Context(), artifact(key, content), bytes.NewReader(content), providers.PutOptions{Overwrite: true})
	}
	if err := put("ok/file"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "ok", "link")); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{"evil/new", "evil/secret", "ok/link"} {
		if err := put(key); !errors.Is(err, dir.ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(t.Context(), key); !errors.Is(err, dir.ErrInvalidKey) {
			t.Errorf("Stat(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(t.Context(), key); !errors.Is(err, dir.ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "outside" {
		t.Errorf("file outside the root = %q, %v; want it untouched", b, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("outside directory has %d entries, want 1", len(entries))
	}
	var keys []string
	if err := s.List(t.Context(), func(a providers.Artifact) error { keys = append(keys, a.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"ok/file"}) {
		t.Errorf("List = %q, want only ok/file (symlinks are not followed)", keys)
	}
}

func TestStaleTempsOfDeadProcessesAreRemoved(t *testing.T) {
	s, root := newStore(t)
	tmp := filepath.Join(root, ".ferry-tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	// A PID that surely belongs to no process: one that just exited.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)
	keep := []string{
		strconv.Itoa(os.Getpid()) + "-inflight", // this process: maybe in use
		"1-init",                                // a live process
		"notapid-x",                             // not ours
	}
	for _, name := range append([]string{dead + "-0123abcd"}, keep...) {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	content := []byte("x")
	if err := s.Put(t.Context(), artifact("a", content), bytes.NewReader(content), providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(keep)
	if !slices.Equal(got, keep) {
		t.Errorf("temp dir holds %q, want %q", got, keep)
	}
}

func TestFailedPutLeavesNothing(t *testing.T) {
	s, root := newStore(t)
	content := providertest.Content(1, 100_000)
	a := artifact("pkg/1.0/file", content)
	a.Digests = providers.NewDigests(providertest.SHA256([]byte("wrong")))
	if err := s.Put(t.Context(), a, bytes.NewReader(content), providers.PutOptions{}); !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("error = %v, want ErrDigestMismatch", err)
	}
	checkNoTemps(t, root)
	if _, err := os.Stat(filepath.Join(root, "pkg", "1.0", "file")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("final file: %v, want it absent", err)
	}

	// A cancelled context before publishing leaves nothing either.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Put(ctx, artifact("pkg/2.0/file", content), bytes.NewReader(content), providers.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	checkNoTemps(t, root)
}

func TestDeleteRemovesEmptyParents(t *testing.T) {
	s, root := newStore(t)
	content := []byte("x")
	for _, key := range []string{"a/b/c/one", "a/two"} {
		if err := s.Put(t.Context(), artifact(key, content), bytes.NewReader(content), providers.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(t.Context(), "a/b/c/one"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a/b: %v, want it removed once empty", err)
	}
	if err := s.Delete(t.Context(), "a/two"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("root: %v (it must survive)", err)
	}
	for _, e := range entries {
		if e.Name() != ".ferry-tmp" {
			t.Errorf("root still holds %s", e.Name())
		}
	}
}

func TestPutFileModeAndLayout(t *testing.T) {
	s, root := newStore(t)
	content := []byte("hello")
	if err := s.Put(t.Context(), artifact("x/y/z.txt", content), bytes.NewReader(content), providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "x", "y", "z.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	if got := s.Describe(); got != "dir "+root {
		t.Errorf("Describe() = %q, want %q", got, "dir "+root)
	}
}

func TestMissingRoot(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.Stat(t.Context(), "a"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat error = %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), "a"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Delete error = %v, want ErrNotFound", err)
	}
	n := 0
	if err := s.List(t.Context(), func(providers.Artifact) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List = %v with %d artifacts, want nil and none", err, n)
	}
}

func TestStatThroughFileParent(t *testing.T) {
	s, _ := newStore(t)
	content := []byte("x")
	if err := s.Put(t.Context(), artifact("file", content), bytes.NewReader(content), providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "file/child"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat below a file: %v, want ErrNotFound", err)
	}
	err := s.Put(t.Context(), artifact("file/child", content), bytes.NewReader(content), providers.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Put below a file: %v, want a not-a-directory error", err)
	}
}

// A .ferry-tmp that is a symbolic link (to a directory outside the root or
// to one inside it) is never followed: Put refuses it, naming the link, and
// the stale-temp sweep deletes nothing in the linked directory.
func TestTempDirSymlinkRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inside bool
	}{
		{name: "outside the root"},
		{name: "inside the root", inside: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, root := newStore(t)
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			target := t.TempDir()
			link := target
			if tc.inside {
				// A relative link, which os.Root alone would follow.
				target, link = filepath.Join(root, "other"), "other"
				if err := os.Mkdir(target, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// Named like a temp file of a dead process, so a sweep that
			// followed the link would delete it.
			victim := filepath.Join(target, "999999999-0123abcd")
			if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(link, filepath.Join(root, ".ferry-tmp")); err != nil {
				t.Fatal(err)
			}
			content := []byte("x")
			err := s.Put(t.Context(), artifact("a", content), bytes.NewReader(content), providers.PutOptions{})
			if err == nil || !strings.Contains(err.Error(), ".ferry-tmp") || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("Put error = %v, want one naming .ferry-tmp as a symbolic link", err)
			}
			if b, err := os.ReadFile(victim); err != nil || string(b) != "keep me" {
				t.Errorf("file in the linked directory = %q, %v; want it untouched", b, err)
			}
			if entries, _ := os.ReadDir(target); len(entries) != 1 {
				t.Errorf("linked directory has %d entries, want 1 (nothing written through the link)", len(entries))
			}
			if fi, err := os.Lstat(filepath.Join(root, ".ferry-tmp")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf(".ferry-tmp = %v, %v; want the link left as it was", fi, err)
			}
		})
	}
}

// Put handed the engine's verifier (which it reads through rather than
// hashing each byte again: verify.TestReuse) stores the bytes, and one
// expecting other bytes still fails the Put and leaves nothing.
func TestPutThroughEnginesVerifier(t *testing.T) {
	s, root := newStore(t)
	content := providertest.Content(2, 3<<20)
	a := artifact("pkg/1.0/file", content)
	vr := verify.NewReader(bytes.NewReader(content), a.Size, a.Digests)
	if err := s.Put(t.Context(), a, vr, providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if !vr.Verified() {
		t.Error("the engine's verifier was not read to the end")
	}
	if got, err := os.ReadFile(filepath.Join(root, "pkg", "1.0", "file")); err != nil || !bytes.Equal(got, content) {
		t.Errorf("stored file: %d bytes, %v; want the content", len(got), err)
	}

	wrong := artifact("pkg/2.0/file", content)
	wrong.Digests = providers.NewDigests(providertest.SHA256([]byte("other")))
	vr = verify.NewReader(bytes.NewReader(content), wrong.Size, wrong.Digests)
	if err := s.Put(t.Context(), wrong, vr, providers.PutOptions{}); !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("error = %v, want ErrDigestMismatch", err)
	}
	checkNoTemps(t, root)
}
