//go:build linux

package dir_test

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

// ListStat walks the root without following anything: symbolic links (to
// files, to directories, out of the root), non-regular files, the temp
// directory and names that are not keys are never reported; every regular
// file is, with its size and the token PutToken returned for it.
func TestListStat(t *testing.T) {
	s, root := newStore(t)
	ctx := t.Context()
	tokens := map[string]string{}
	for _, key := range []string{"a.bin", "sub/b.bin", "sub/deep/c.bin"} {
		content := []byte("content of " + key)
		tok, err := s.PutToken(ctx, artifact(key, content), bytes.NewReader(content), providers.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tok == "" {
			t.Fatalf("PutToken(%s) returned no token", key)
		}
		tokens[key] = tok
	}
	// Overwriting returns the new file's token.
	content := []byte("new content of a.bin")
	tok, err := s.PutToken(ctx, artifact("a.bin", content), bytes.NewReader(content), providers.PutOptions{Overwrite: true})
	if err != nil || tok == "" || tok == tokens["a.bin"] {
		t.Fatalf("overwriting PutToken: token %q (was %q), error %v; want a new token", tok, tokens["a.bin"], err)
	}
	tokens["a.bin"] = tok

	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside the root"), 0o644)
	for _, l := range []struct{ target, link string }{
		{filepath.Join(outside, "secret"), "link-out"},
		{outside, "dir-link-out"},
		{"a.bin", "link-in"},
		{"sub", "dir-link-in"},
	} {
		if err := os.Symlink(l.target, filepath.Join(root, l.link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "sub", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, ".ferry-tmp", "123-leftover"), []byte("temp"), 0o644)
	os.WriteFile(filepath.Join(root, "sub", "back\\slash"), []byte("not a key"), 0o644)

	got := map[string]providers.Artifact{}
	if err := s.ListStat(ctx, func(a providers.Artifact) error {
		got[a.Key] = a
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]providers.Artifact{}
	for key, tok := range tokens {
		fi, err := os.Lstat(filepath.Join(root, key))
		if err != nil {
			t.Fatal(err)
		}
		want[key] = providers.Artifact{Key: key, Size: fi.Size(), Token: tok}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListStat (-want +got):\n%s", diff)
	}
	// Stat reports the same token.
	for key, tok := range tokens {
		a, err := s.Stat(ctx, key)
		if err != nil || a.Token != tok {
			t.Errorf("Stat(%s): token %q, error %v; want %q", key, a.Token, err, tok)
		}
	}
}

// Every way of changing a file's bytes behind ferry's back changes the
// token the listing reports, even with the size kept and the mtime set
// back: rewriting in place, replacing by rename, deleting and recreating.
func TestListStatTokenChanges(t *testing.T) {
	content := []byte("ferry's verified bytes")
	other := []byte("someone else's bytes!!") // same length
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{name: "rewritten in place, mtime set back", change: func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(other, 0)
			f.Close()
			os.Chtimes(path, fi.ModTime(), fi.ModTime())
		}},
		{name: "replaced by rename", change: func(t *testing.T, path string) {
			tmp := path + ".new"
			os.WriteFile(tmp, other, 0o644)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "deleted and recreated", change: func(t *testing.T, path string) {
			os.Remove(path)
			os.WriteFile(path, other, 0o644)
		}},
		{name: "touched", change: func(t *testing.T, path string) {
			now := time.Now()
			os.Chtimes(path, now, now)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, root := newStore(t)
			tok, err := s.PutToken(t.Context(), artifact("k/file.bin", content), bytes.NewReader(content), providers.PutOptions{})
			if err != nil || tok == "" {
				t.Fatalf("PutToken: %q, %v", tok, err)
			}
			tc.change(t, filepath.Join(root, "k", "file.bin"))
			var listed providers.Artifact
			s.ListStat(t.Context(), func(a providers.Artifact) error { listed = a; return nil })
			if listed.Key != "k/file.bin" || listed.Size != int64(len(content)) {
				t.Fatalf("listed %+v", listed)
			}
			if listed.Token == tok {
				t.Errorf("token unchanged (%s) after the file changed", tok)
			}
		})
	}
}
