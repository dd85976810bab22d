package main_test

import (
	"fmt"
	"math/rand/v2"
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

// Two dir destination blocks on the same or nested directories, each with a
// mirror of the same upstream: each mirror would own the same files, and
// removing one mirror would delete files the other still owns and mirrors.
// The configuration is refused by validate, plan and apply, with a
// diagnostic on the second block naming the first, and nothing is written.
func TestOverlappingDirDestinationsRefused(t *testing.T) {
	tests := []struct {
		name, inner string
		relation    string
	}{
		{name: "same directory", inner: "./mirror/", relation: "the same place as"},
		{name: "nested directory", inner: "mirror/sub", relation: "inside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			work, upDir := t.TempDir(), t.TempDir()
			blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(11, 11)), 2, 1<<10, 2<<10)
			up := startUpstream(t, upDir)
			env := []string{"FERRY_VAR_upstream=" + up.URL}
			// The source takes lines 1-…; the destinations follow.
			src := blobs.sourceHCL()
			line := strings.Count(src, "\n") + 1
			cfg := src +
				"destination \"dir\" \"outer\" {\n  path = \"mirror\"\n}\n" +
				"destination \"dir\" \"inner\" {\n  path = \"" + tc.inner + "\"\n}\n" +
				"mirror \"a\" {\n  from = source.http.up\n  to   = destination.dir.outer\n}\n" +
				"mirror \"b\" {\n  from = source.http.up\n  to   = destination.dir.inner\n}\n"
			if err := os.WriteFile(filepath.Join(work, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			mirror := filepath.Join(work, "mirror")
			for _, args := range [][]string{{"validate"}, {"plan"}, {"apply", "-auto-approve"}} {
				ferry(t, work, env, args...).must(t, 1, "Overlapping destinations",
					fmt.Sprintf("main.ferry.hcl:%d:1", line+3), // the inner block
					"Destination dir.inner stores into file://"+filepath.ToSlash(mirror),
					tc.relation+" file://"+filepath.ToSlash(mirror)+"/ of destination dir.outer",
					fmt.Sprintf("main.ferry.hcl:%d:1)", line), // the outer block, named in the detail
					"removing one mirror would delete files the other still owns")
			}
			if _, err := os.Stat(mirror); !os.IsNotExist(err) {
				t.Errorf("the refused apply created %s (%v)", mirror, err)
			}
			if _, err := os.Stat(filepath.Join(work, "ferry.state.json")); !os.IsNotExist(err) {
				t.Errorf("the refused apply wrote a state (%v)", err)
			}
			if up.total() != 0 {
				t.Errorf("the refused commands fetched %d bytes from the upstream", up.total())
			}
		})
	}
}
