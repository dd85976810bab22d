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
	neturl "net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/ferry-mirror/ferry/internal/safefile"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/buildpack/bptoml"
)

// A buildpack source owns three consumer outputs of its mirror: the
// rewritten buildpack.toml (rewrite block), the dependency-mapping binding
// (bindings block), and, in the dependency_mirror layout, the report of what
// BP_DEPENDENCY_MIRROR covers.
var (
	_ providers.Publisher     = (*Source)(nil)
	_ providers.OutputPlanner = (*SourceConfig)(nil)
)

// Output kinds (RewriteDetail.Kind) and the mirror blocks that ask for them.
const (
	KindBuildpackTOML = "buildpack_toml"
	KindBindings      = "bindings"
)

// outputState is what ReadOutputs read, in the inventory. Paths are
// relative to the configuration directory unless the config wrote them
// absolute.
type outputState struct {
	// Input is the buildpack.toml path and InputData its bytes.
	Input     string `json:"input"`
	InputData string `json:"input_data"`
	// Keys maps a dependency index to the artifact keys serving its uri and
	// source ("" when not mirrored).
	Keys map[int]DepKeys `json:"keys"`
	// Output is the rewrite output path ("" without a rewrite block);
	// OutputData its bytes when OutputExists. Sources also rewrites the
	// dependencies' source URLs.
	Output       string `json:"output,omitempty"`
	Sources      bool   `json:"sources,omitempty"`
	OutputExists bool   `json:"output_exists,omitempty"`
	OutputData   string `json:"output_data,omitempty"`
	// URLs are the consumer URLs of the mirror's keys at its destination.
	URLs map[string]string `json:"urls"`
	// MirrorBase is the destination's base URL (URLs are MirrorBase/KEY);
	// empty when unknown.
	MirrorBase string `json:"mirror_base,omitempty"`
	// Layout is the source's key layout.
	Layout string `json:"layout,omitempty"`
	// Bindings is the binding directory ("" without a bindings block);
	// BindingFiles its current files by name (nil: no directory).
	Bindings     string            `json:"bindings,omitempty"`
	BindingFiles map[string]string `json:"binding_files,omitempty"`
	// URLError says why the destination cannot give URLs, if it cannot.
	URLError string `json:"url_error,omitempty"`
}

// RewriteDetail is the provider detail of an output change: what Publish
// writes.
type RewriteDetail struct {
	// Kind is KindBuildpackTOML (a rewritten buildpack.toml) or
	// KindBindings (a binding directory).
	Kind string `json:"kind"`
	// Path is the file written, or the binding directory.
	Path string `json:"path"`
	// Input is the buildpack.toml the edits apply to, and InputDigest its
	// sha256 when planned: Publish refuses to rewrite a file that moved.
	Input       string           `json:"input"`
	InputDigest providers.Digest `json:"input_digest"`
	// Edits are the value changes, relative to Input.
	Edits []RewriteEdit `json:"edits"`
	// Files are the binding files to write, Remove the stale mapping
	// files to remove (KindBindings).
	Files  []OutputFile `json:"files,omitempty"`
	Remove []string     `json:"remove,omitempty"`
}

// RewriteEdit changes one dependency field.
type RewriteEdit struct {
	Index   int    `json:"index"` // dependency index in the file
	Line    int    `json:"line"`  // line of its [[metadata.dependencies]] header
	ID      string `json:"id"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
	Field   string `json:"field"` // "uri" or "source"
	Key     string `json:"key"`   // the artifact now serving it
	Old     string `json:"old"`
	New     string `json:"new"`
}

// OutputFile is one file of a binding directory.
type OutputFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
	// Key is the artifact the file points at; empty for the type file.
	Key string `json:"key,omitempty"`
}

// Coverage reports, for a mirror laid out for BP_DEPENDENCY_MIRROR, the
// setting consumers use and every dependency of the buildpack.toml that is
// not at the mirror (a build that needs one fails to download it).
type Coverage struct {
	// Setting is "BP_DEPENDENCY_MIRROR=<base>/{originalHost}"; empty when the
	// destination has no base URL.
	Setting string `json:"setting,omitempty"`
	// Note warns about the setting (buildpacks refuse http:// mirrors).
	Note string        `json:"note,omitempty"`
	Gaps []CoverageGap `json:"gaps"`
	// Covered counts the dependencies that are (or will be) at the mirror.
	Covered int `json:"covered"`
}

// CoverageGap is one dependency the mirror layout does not serve.
type CoverageGap struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
	Line    int    `json:"line"`
	URI     string `json:"uri"`
	Reason  string `json:"reason"`
}

// ReadOutputs reads the source document, the current rewrite output and
// binding files, and the consumer URL of every listed key. It reads local
// files only (and asks the destination for URLs, which is no I/O).
func (s *Source) ReadOutputs(ctx context.Context, req providers.OutputRequest) (providers.OutputRead, error) {
	doc, err := s.Document()
	if err != nil {
		return providers.OutputRead{}, err
	}
	if req.Rewrite == "" && req.Bindings == "" && doc.Layout != LayoutDependencyMirror {
		return providers.OutputRead{}, nil
	}
	in := outputState{
		Input:     relPath(req.Dir, doc.Path),
		InputData: string(doc.Data),
		Keys:      map[int]DepKeys{},
		URLs:      map[string]string{},
		Layout:    doc.Layout,
	}
	for i, k := range doc.Keys {
		in.Keys[i] = k
	}
	if req.Rewrite != "" {
		in.Output, in.Sources = relPath(req.Dir, req.Rewrite), req.RewriteSources
		// Never through a symbolic link: the plan would show the
		// content of whatever it points at (a private key, say).
		out, _, err := safefile.ReadRegularFile(req.Rewrite)
		switch {
		case err == nil:
			in.OutputExists, in.OutputData = true, string(out)
		case !errors.Is(err, fs.ErrNotExist):
			return providers.OutputRead{}, fmt.Errorf("reading rewrite output: %w", err)
		}
	}
	if req.Bindings != "" {
		in.Bindings = relPath(req.Dir, req.Bindings)
		files, err := readBindingDir(req.Bindings)
		if err != nil {
			return providers.OutputRead{}, fmt.Errorf("reading bindings: %w", err)
		}
		in.BindingFiles = files
	}
	if u, ok := req.Destination.(providers.URLer); !ok {
		in.URLError = "the destination cannot give consumers URLs"
	} else {
		for _, a := range req.Listed {
			url, err := u.URL(a)
			if err != nil {
				in.URLError = err.Error()
				break
			}
			in.URLs[a.Key] = url
			if in.MirrorBase == "" {
				in.MirrorBase = mirrorBase(url, a.Key)
			}
		}
	}
	state, err := json.Marshal(in)
	if err != nil {
		return providers.OutputRead{}, err
	}
	return providers.OutputRead{State: state, Served: in.URLs, CheckAccess: req.Rewrite != "" || req.Bindings != ""}, nil
}

// Publish writes a rewrite or bindings change (see Rewriter.Publish), for
// the files of the configuration directory the source was decoded in.
func (s *Source) Publish(ctx context.Context, o providers.Output, missing []string) error {
	return Rewriter{Dir: s.cfg.Dir}.Publish(ctx, o, missing)
}

// PlanOutputs plans the rewrite and bindings changes and the coverage
// report of a mirror from what ReadOutputs read. It is pure.
func (c *SourceConfig) PlanOutputs(in providers.OutputInput) (providers.OutputPlan, error) {
	var st outputState
	if err := json.Unmarshal(in.State, &st); err != nil {
		return providers.OutputPlan{}, fmt.Errorf("reading the inventoried consumer outputs: %w", err)
	}
	present := map[string]bool{}
	for _, a := range in.Present {
		present[a.Key] = true
	}
	var res providers.OutputPlan
	if st.Output != "" {
		o, err := planRewrite(&st, present)
		if err != nil {
			return res, err
		}
		if o != nil {
			res.Outputs = append(res.Outputs, *o)
		}
	}
	if st.Bindings != "" {
		o, err := planBindings(&st, present)
		if err != nil {
			return res, err
		}
		if o != nil {
			res.Outputs = append(res.Outputs, *o)
		}
	}
	if st.Layout == LayoutDependencyMirror {
		res.Reports = append(res.Reports, coverage(in.Mirror, &st, present))
	}
	return res, nil
}

// planRewrite plans the rewrite of a buildpack.toml: every uri (and, with
// sources = true, every source) of a dependency whose artifact will be at
// the destination is pointed at the destination's URL for it. Nothing else
// in the file changes. No change is planned when the output already says so.
func planRewrite(in *outputState, present map[string]bool) (*providers.Output, error) {
	file, err := bptoml.Parse([]byte(in.InputData))
	if err != nil {
		return nil, &providers.OutputError{Block: "rewrite", Summary: "Cannot rewrite the buildpack file", Detail: fmt.Sprintf("%s: %s", in.Input, err)}
	}
	var edits []RewriteEdit
	var missingURL []string
	for _, d := range file.Dependencies {
		keys := in.Keys[d.Index]
		fields := []struct{ name, key, old string }{{"uri", keys.URI, d.URI}}
		if in.Sources {
			fields = append(fields, struct{ name, key, old string }{"source", keys.Source, d.Source})
		}
		for _, f := range fields {
			if f.key == "" || !present[f.key] {
				continue
			}
			url, ok := in.URLs[f.key]
			if !ok {
				missingURL = append(missingURL, f.key)
				continue
			}
			if f.old == url {
				continue
			}
			edits = append(edits, RewriteEdit{
				Index: d.Index, Line: d.Line, ID: d.ID, Version: d.Version, Arch: d.Arch,
				Field: f.name, Key: f.key, Old: f.old, New: url,
			})
		}
	}
	if len(missingURL) > 0 {
		detail := in.URLError
		if detail == "" {
			detail = fmt.Sprintf("no URL is known for %s", strings.Join(missingURL, ", "))
		}
		return nil, &providers.OutputError{Block: "rewrite", Summary: "Destination gives no download URL",
			Detail: fmt.Sprintf("The mirror rewrites %s, which needs the URL each dependency is served from at its destination: %s.", in.Output, detail)}
	}

	bpEdits := make([]bptoml.Edit, len(edits))
	for i, e := range edits {
		bpEdits[i] = bptoml.Edit{Index: e.Index, Field: e.Field, New: e.New}
	}
	desired := []byte(in.InputData)
	if len(edits) > 0 {
		if desired, err = file.Rewrite(bpEdits); err != nil {
			return nil, &providers.OutputError{Block: "rewrite", Summary: "Cannot rewrite the buildpack file", Detail: fmt.Sprintf("%s: %s", in.Input, err)}
		}
	}

	var current []byte
	switch {
	case in.Output == in.Input:
		current = []byte(in.InputData)
	case in.OutputExists:
		current = []byte(in.OutputData)
	}
	if current != nil && bytes.Equal(current, desired) {
		return nil, nil
	}
	rd := RewriteDetail{Kind: KindBuildpackTOML, Path: in.Output, Input: in.Input, InputDigest: digestOf([]byte(in.InputData)), Edits: edits}
	if edits == nil {
		rd.Edits = []RewriteEdit{}
	}
	o := &providers.Output{
		Block:  "rewrite",
		Path:   in.Output,
		Verb:   "rewrite",
		Reason: "uri points upstream",
		Unit:   "uri",
		After:  providers.NewDigests(digestOf(desired)),
	}
	from := current
	if current == nil {
		o.Reason = "output missing"
		from = []byte(in.InputData)
	} else {
		o.Before = providers.NewDigests(digestOf(current))
	}
	deps := map[string]bool{}
	for _, e := range edits {
		deps[e.Key] = true
	}
	o.DependsOn = sortedSet(deps)
	o.Diff, o.Count = lineDiff(in.Output, from, desired)
	if o.Count < 0 {
		o.Count = len(edits)
	}
	o.Done = fmt.Sprintf("rewritten (%s)", plural(o.Count, "uri"))
	detail, err := json.Marshal(rd)
	if err != nil {
		return nil, err
	}
	o.Detail = detail
	return o, nil
}

// planBindings plans the dependency-mapping binding: a type file and, per
// mirrored dependency, a file named by its checksum holding its mirror URL.
// Mapping files of dependencies no longer mirrored are removed; files that
// are not mapping entries are left alone.
func planBindings(in *outputState, present map[string]bool) (*providers.Output, error) {
	file, err := bptoml.Parse([]byte(in.InputData))
	if err != nil {
		return nil, &providers.OutputError{Block: "bindings", Summary: "Cannot read the buildpack file", Detail: fmt.Sprintf("%s: %s", in.Input, err)}
	}
	desired := map[string]OutputFile{"type": {Name: "type", Content: "dependency-mapping"}}
	var missingURL []string
	for _, d := range file.Dependencies {
		key := in.Keys[d.Index].URI
		if key == "" || !present[key] || d.Checksum.IsZero() {
			continue
		}
		url, ok := in.URLs[key]
		if !ok {
			missingURL = append(missingURL, key)
			continue
		}
		name := bindingName(d.Checksum)
		desired[name] = OutputFile{Name: name, Content: url, Key: key}
	}
	if len(missingURL) > 0 {
		detail := in.URLError
		if detail == "" {
			detail = "no URL is known for " + strings.Join(missingURL, ", ")
		}
		return nil, &providers.OutputError{Block: "bindings", Summary: "Destination gives no download URL",
			Detail: fmt.Sprintf("The mirror writes bindings to %s, which needs the URL each dependency is served from at its destination: %s.", in.Bindings, detail)}
	}

	var files []OutputFile
	var remove []string
	var diffLines []string
	deps := map[string]bool{}
	result := map[string]string{}
	for name, content := range in.BindingFiles {
		result[name] = content
	}
	for _, name := range sortedSet(desired) {
		f := desired[name]
		if cur, ok := in.BindingFiles[name]; ok && cur == f.Content {
			continue
		}
		files = append(files, f)
		result[name] = f.Content
		if f.Key != "" {
			deps[f.Key] = true
		}
		if cur, ok := in.BindingFiles[name]; ok {
			diffLines = append(diffLines, fmt.Sprintf("-%s: %s", name, cur))
		}
		diffLines = append(diffLines, fmt.Sprintf("+%s: %s", name, f.Content))
	}
	for _, name := range sortedSet(in.BindingFiles) {
		if _, keep := desired[name]; !keep && isMappingName(name) {
			remove = append(remove, name)
			delete(result, name)
			diffLines = append(diffLines, fmt.Sprintf("-%s: %s", name, in.BindingFiles[name]))
		}
	}
	if len(files) == 0 && len(remove) == 0 {
		return nil, nil
	}
	o := &providers.Output{
		Block:     "bindings",
		Path:      in.Bindings,
		Verb:      "rewrite",
		Reason:    "uri points upstream",
		Count:     len(files) + len(remove),
		Unit:      "file",
		After:     providers.NewDigests(dirDigest(result)),
		DependsOn: sortedSet(deps),
		Diff:      "--- " + in.Bindings + " (binding files: name: content)\n" + strings.Join(diffLines, "\n") + "\n",
	}
	if in.BindingFiles == nil {
		o.Reason = "output missing"
	} else {
		o.Before = providers.NewDigests(dirDigest(in.BindingFiles))
	}
	o.Done = fmt.Sprintf("bindings written (%s)", plural(o.Count, "file"))
	detail, err := json.Marshal(RewriteDetail{Kind: KindBindings, Path: in.Bindings, Input: in.Input, InputDigest: digestOf([]byte(in.InputData)),
		Edits: []RewriteEdit{}, Files: files, Remove: remove})
	if err != nil {
		return nil, err
	}
	o.Detail = detail
	return o, nil
}

// coverage lists the dependencies a BP_DEPENDENCY_MIRROR consumer would not
// find at the mirror.
func coverage(mirror string, in *outputState, present map[string]bool) providers.OutputReport {
	cov := Coverage{Gaps: []CoverageGap{}}
	if in.MirrorBase != "" {
		cov.Setting = "BP_DEPENDENCY_MIRROR=" + in.MirrorBase + "/{originalHost}"
		if !strings.HasPrefix(in.MirrorBase, "https://") && !strings.HasPrefix(in.MirrorBase, "file://") {
			cov.Note = "buildpacks accept only https:// and file:// dependency mirrors; serve the destination over https"
		}
	}
	if file, err := bptoml.Parse([]byte(in.InputData)); err == nil {
		for _, d := range file.Dependencies {
			k, selected := in.Keys[d.Index]
			reason := ""
			switch {
			case !selected:
				reason = "not selected by the source's include, exclude or latest"
			case k.URI == "":
				reason = "not mirrored (see the warnings)"
			case !present[k.URI]:
				reason = "dropped by retention, or in error"
			}
			if reason == "" {
				cov.Covered++
				continue
			}
			cov.Gaps = append(cov.Gaps, CoverageGap{ID: d.ID, Version: d.Version, Arch: d.Arch, Line: d.Line, URI: d.URI, Reason: reason})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Dependency mirror layout of mirror.%s: %d covered", mirror, cov.Covered)
	if cov.Setting != "" {
		fmt.Fprintf(&b, "; consumers set %s", cov.Setting)
	}
	b.WriteString("\n")
	if cov.Note != "" {
		fmt.Fprintf(&b, "  Note: %s.\n", cov.Note)
	}
	if len(cov.Gaps) > 0 {
		fmt.Fprintf(&b, "  Not covered (a build that needs one fails to download it): %d\n", len(cov.Gaps))
		for _, g := range cov.Gaps {
			arch := ""
			if g.Arch != "" {
				arch = " (" + g.Arch + ")"
			}
			fmt.Fprintf(&b, "    %s %s%s, line %d: %s\n", g.ID, g.Version, arch, g.Line, g.Reason)
		}
	}
	detail, _ := json.Marshal(cov) // plain data: cannot fail
	return providers.OutputReport{Text: b.String(), Detail: detail}
}

// lineDiff renders a unified diff of only the changed lines when both sides
// have the same number of lines (the rewrite never adds or removes lines),
// and counts them; otherwise a regular unified diff with context, and -1.
func lineDiff(name string, from, to []byte) (string, int) {
	a, bb := strings.SplitAfter(string(from), "\n"), strings.SplitAfter(string(to), "\n")
	if len(a) != len(bb) {
		return string(diff.Diff(name, from, name+" (rewritten)", to)), -1
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s (rewritten)\n", name, name)
	n := 0
	for i := range a {
		if a[i] == bb[i] {
			continue
		}
		n++
		fmt.Fprintf(&out, "@@ -%d +%d @@\n-%s\n+%s\n", i+1, i+1, strings.TrimRight(a[i], "\r\n"), strings.TrimRight(bb[i], "\r\n"))
	}
	return out.String(), n
}

// bindingName is the file name of a dependency-mapping entry: the bare hex
// for sha256 (what packit and libpak both accept), ALG_HEX otherwise.
func bindingName(d providers.Digest) string {
	if d.Algorithm == providers.SHA256 {
		return d.Hex
	}
	return string(d.Algorithm) + "_" + d.Hex
}

// isMappingName reports whether a file in a binding directory is a mapping
// entry ferry may own (a digest name), as opposed to a file someone else put there.
func isMappingName(name string) bool {
	for _, prefix := range []string{"", "sha256_", "sha256:", "sha512_", "sha512:"} {
		if hx, ok := strings.CutPrefix(name, prefix); ok && (len(hx) == 64 || len(hx) == 128) && strings.Trim(hx, "0123456789abcdef") == "" {
			return true
		}
	}
	return false
}

// dirDigest is the sha256 of a binding directory's files: each name and
// content, sorted by name, length-prefixed.
func dirDigest(files map[string]string) providers.Digest {
	h := sha256.New()
	for _, name := range sortedSet(files) {
		fmt.Fprintf(h, "%d:%s%d:%s", len(name), name, len(files[name]), files[name])
	}
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(h.Sum(nil))}
}

// readBindingDir returns the regular files of a binding directory by name;
// a missing directory is nil. The directory, or a file in it, that is a
// symbolic link is an error: the plan would show what it points at, and
// apply would write there.
func readBindingDir(dir string) (map[string]string, error) {
	if err := safefile.CheckRealDir(dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue // not a binding file, and never written
		}
		b, _, err := safefile.ReadRegularFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files[e.Name()] = string(b)
	}
	return files, nil
}

// mirrorBase is url without the trailing key path, when it ends with it.
func mirrorBase(url, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = neturl.PathEscape(s)
	}
	if base, ok := strings.CutSuffix(url, "/"+strings.Join(segs, "/")); ok {
		return base
	}
	return ""
}

// relPath is p relative to dir when p lies below it, else p.
func relPath(dir, p string) string {
	if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return p
}

func sortedSet[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// plural renders "1 uri", "2 uris".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
