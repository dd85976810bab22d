package buildpack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-mirror/ferry/internal/safefile"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/buildpack/bptoml"
)

// ErrChangedSincePlan reports a consumer file that moved between plan and
// apply; ferry never writes over edits it has not shown.
var ErrChangedSincePlan = providers.ErrChangedSincePlan

// Rewriter publishes rewrite and bindings changes for the files of one
// configuration directory (the plan's paths are relative to it).
type Rewriter struct {
	Dir string
}

// Publish applies o's edits to its input and writes the output atomically,
// as a compare-and-swap: the input must still have the digest the plan saw,
// the output must still be what the plan saw (or still be absent), and the
// result must have the digest the plan promised. Nothing is written when a
// dependency it points at did not land (missing).
func (r Rewriter) Publish(ctx context.Context, o providers.Output, missing []string) error {
	var rd RewriteDetail
	if err := json.Unmarshal(o.Detail, &rd); err != nil || rd.Path != o.Path || rd.Path == "" || rd.Input == "" {
		return fmt.Errorf("%s: not a rewrite or bindings change", o.Path)
	}
	if len(missing) > 0 {
		return fmt.Errorf("not rewritten: %w: %s", providers.ErrNotLanded, strings.Join(missing, ", "))
	}
	in, out := r.abs(rd.Input), r.abs(rd.Path)
	data, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("rewrite %s: reading %s: %w", rd.Path, rd.Input, err)
	}
	if got := digestOf(data); got != rd.InputDigest {
		return fmt.Errorf("rewrite %s: %s %w (now %s, planned %s): plan again", rd.Path, rd.Input, ErrChangedSincePlan, got, rd.InputDigest)
	}
	if rd.Kind == KindBindings {
		return writeBindings(ctx, out, &rd, o.Before)
	}
	if rd.Kind != KindBuildpackTOML {
		return fmt.Errorf("rewrite %s: unknown kind %q", rd.Path, rd.Kind)
	}
	f, err := bptoml.Parse(data)
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", rd.Path, err)
	}
	edits := make([]bptoml.Edit, len(rd.Edits))
	for i, e := range rd.Edits {
		edits[i] = bptoml.Edit{Index: e.Index, Field: e.Field, New: e.New}
	}
	result := data
	if len(edits) > 0 {
		if result, err = f.Rewrite(edits); err != nil {
			return fmt.Errorf("rewrite %s: %w", rd.Path, err)
		}
	}
	want, _ := o.After.Get(providers.SHA256)
	if got := digestOf(result); got != want {
		return fmt.Errorf("rewrite %s: the result has digest %s, the plan promised %s: not written", rd.Path, got, want)
	}

	mode := os.FileMode(0o644)
	// Never through a symbolic link: it could point at a file someone else
	// owns (safefile.ReadRegularFile refuses anything but a regular file).
	current, perm, err := safefile.ReadRegularFile(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if len(o.Before) > 0 {
			return fmt.Errorf("rewrite %s: the file was removed, %w: plan again", rd.Path, ErrChangedSincePlan)
		}
	case err != nil:
		return fmt.Errorf("rewrite %s: %w", rd.Path, err)
	default:
		if len(o.Before) == 0 {
			return fmt.Errorf("rewrite %s: the file appeared since the plan (%w): plan again", rd.Path, ErrChangedSincePlan)
		}
		if before, _ := o.Before.Get(providers.SHA256); digestOf(current) != before {
			return fmt.Errorf("rewrite %s: %w: plan again", rd.Path, ErrChangedSincePlan)
		}
		mode = perm
		if bytes.Equal(current, result) {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("rewrite %s: %w", rd.Path, err)
	}
	if err := safefile.WriteRegularFileAtomic(out, result, mode); err != nil {
		return fmt.Errorf("rewrite %s: %w", rd.Path, err)
	}
	return nil
}

func (r Rewriter) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(r.Dir, filepath.FromSlash(p))
}

func digestOf(b []byte) providers.Digest {
	s := sha256.Sum256(b)
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(s[:])}
}

// writeBindings writes the planned binding files (each atomically) and
// removes the stale mapping files the plan names. When the plan saw the
// directory (before is set), it must still hold what the plan saw.
func writeBindings(ctx context.Context, dir string, rd *RewriteDetail, before providers.Digests) error {
	// Check every name before touching anything: a plan file is input too.
	valid := func(name string) bool {
		return name != "" && name != "." && name != ".." && name == filepath.Base(name)
	}
	for _, f := range rd.Files {
		if !valid(f.Name) {
			return fmt.Errorf("bindings %s: invalid file name %q in the plan", rd.Path, f.Name)
		}
	}
	for _, name := range rd.Remove {
		if !valid(name) {
			return fmt.Errorf("bindings %s: invalid file name %q in the plan", rd.Path, name)
		}
	}
	// The directory and every file in it are written and removed only as
	// themselves, never through a symbolic link; everything is checked
	// before anything is touched.
	if err := safefile.CheckRealDir(dir); err != nil {
		return fmt.Errorf("bindings %s: %w", rd.Path, err)
	}
	for _, name := range append(fileNames(rd.Files), rd.Remove...) {
		if err := safefile.CheckRegularFile(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("bindings %s: %w", rd.Path, err)
		}
	}
	if want, ok := before.Get(providers.SHA256); ok {
		current, err := readBindingDir(dir)
		if err != nil {
			return fmt.Errorf("bindings %s: %w", rd.Path, err)
		}
		if current == nil || dirDigest(current) != want {
			return fmt.Errorf("bindings %s: %w: plan again", rd.Path, ErrChangedSincePlan)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bindings %s: %w", rd.Path, err)
	}
	if err := safefile.CheckRealDir(dir); err != nil {
		return fmt.Errorf("bindings %s: %w", rd.Path, err)
	}
	for _, f := range rd.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := safefile.WriteRegularFileAtomic(filepath.Join(dir, f.Name), []byte(f.Content), 0o644); err != nil {
			return fmt.Errorf("bindings %s: %w", rd.Path, err)
		}
	}
	for _, name := range rd.Remove {
		p := filepath.Join(dir, name)
		if err := safefile.CheckRegularFile(p); err != nil {
			return fmt.Errorf("bindings %s: %w", rd.Path, err)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("bindings %s: %w", rd.Path, err)
		}
	}
	return nil
}

func fileNames(files []OutputFile) []string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	return names
}
