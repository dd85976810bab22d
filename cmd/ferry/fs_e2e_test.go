package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A rewrite output, a bindings directory or a binding file that is a
// symbolic link is never read or written through: plan refuses it naming
// the path, and neither the terminal, the plan file nor the link's target
// ever sees or gets the target's content.
func TestSymlinkedConsumerFilesRefused(t *testing.T) {
	const secret = "-----BEGIN PRIVATE KEY----- hunter2"
	tests := []struct {
		name string
		// link makes the link in the example directory dir, pointing into
		// outside, which holds "key" = secret; it returns the path the
		// error must name.
		link func(t *testing.T, dir, outside string) string
	}{
		{
			name: "rewrite output",
			link: func(t *testing.T, dir, outside string) string {
				os.MkdirAll(filepath.Join(dir, "out/node-engine"), 0o755)
				symlink(t, filepath.Join(outside, "key"), filepath.Join(dir, "out/node-engine/buildpack.toml"))
				return "out/node-engine/buildpack.toml"
			},
		},
		{
			name: "bindings directory",
			link: func(t *testing.T, dir, outside string) string {
				os.MkdirAll(filepath.Join(dir, "out/bindings"), 0o755)
				symlink(t, outside, filepath.Join(dir, "out/bindings/node-engine"))
				return "out/bindings/node-engine"
			},
		},
		{
			name: "binding file",
			link: func(t *testing.T, dir, outside string) string {
				os.MkdirAll(filepath.Join(dir, "out/bindings/node-engine"), 0o755)
				symlink(t, filepath.Join(outside, "key"), filepath.Join(dir, "out/bindings/node-engine/type"))
				return "out/bindings/node-engine/type"
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, _, env := buildpackExample(t)
			outside := t.TempDir()
			if err := os.WriteFile(filepath.Join(outside, "key"), []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			path := tc.link(t, dir, outside)

			r := ferry(t, dir, env, "plan", "-out", "plan.json")
			r.must(t, 1, path, "symbolic link")
			if strings.Contains(r.stdout+r.stderr, "hunter2") {
				t.Errorf("plan printed the link target's content:\n%s\n%s", r.stdout, r.stderr)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "plan.json")); err == nil && strings.Contains(string(b), "hunter2") {
				t.Errorf("the plan file holds the link target's content")
			}
			r = ferry(t, dir, env, "apply", "-auto-approve")
			r.must(t, 1, path, "symbolic link")
			if strings.Contains(r.stdout+r.stderr, "hunter2") {
				t.Errorf("apply printed the link target's content:\n%s\n%s", r.stdout, r.stderr)
			}
			entries, _ := os.ReadDir(outside)
			if b, _ := os.ReadFile(filepath.Join(outside, "key")); len(entries) != 1 || string(b) != secret {
				t.Errorf("the link's target directory holds %d entries, key = %q; want it untouched", len(entries), b)
			}
			if fi, err := os.Lstat(filepath.Join(dir, path)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s afterwards: %v, %v; want the link left alone", path, fi, err)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
