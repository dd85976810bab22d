package conda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/conda/repodata"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// memDest is an in-memory destination that reads back (Fetcher), with a
// verified Put like the real ones.
type memDest struct {
	mu    sync.Mutex
	files map[string][]byte
	puts  []string
	// failPut fails the next Put of this key (an apply killed mid-publish).
	failPut string
}

func (d *memDest) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	return providers.Artifact{}, providers.ErrUnsupported
}

func (d *memDest) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	vr := verify.NewReader(r, a.Size, a.Digests)
	b, err := io.ReadAll(vr)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if a.Key == d.failPut {
		d.failPut = ""
		return errors.New("killed")
	}
	if d.files == nil {
		d.files = map[string][]byte{}
	}
	d.files[a.Key] = b
	d.puts = append(d.puts, a.Key)
	return nil
}

func (d *memDest) Delete(ctx context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.files, key)
	return nil
}

func (d *memDest) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.files[a.Key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", a.Key, providers.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// planIndex lists the channel, reads the outputs against dst and plans
// them with every listed package present.
func planIndex(t *testing.T, cfg *SourceConfig, dst providers.Destination) (*Source, []providers.Artifact, providers.OutputPlan) {
	t.Helper()
	s, err := NewSource("conda.test", cfg, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var listed []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error {
		listed = append(listed, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read, err := s.ReadOutputs(context.Background(), providers.OutputRequest{Mirror: "m", Listed: listed, Owned: listed, Destination: dst, Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.PlanOutputs(providers.OutputInput{Mirror: "m", Present: listed, State: read.State})
	if err != nil {
		t.Fatal(err)
	}
	return s, listed, p
}

func publishAll(t *testing.T, s *Source, p providers.OutputPlan) {
	t.Helper()
	for _, o := range p.Outputs {
		if err := s.Publish(context.Background(), o, nil); err != nil {
			t.Fatalf("publish %s: %v", o.Path, err)
		}
	}
}

// checkVerbatim fails unless every record of want appears in dst's
// subdir index byte for byte, in the same map, and nothing else does.
func checkVerbatim(t *testing.T, dst *memDest, subdir string, want *repodata.Repodata) {
	t.Helper()
	js := dst.files[subdir+"/repodata.json"]
	for _, enc := range []repodata.Encoding{repodata.Zstd, repodata.Bzip2} {
		got, err := repodata.Decompress(dst.files[repodata.FileName(subdir, enc)], enc)
		if err != nil || !bytes.Equal(got, js) {
			t.Fatalf("%s%s does not decompress to repodata.json: %v", subdir, enc, err)
		}
	}
	got, err := repodata.Parse(js)
	if err != nil {
		t.Fatalf("published index does not parse: %v", err)
	}
	if got.Subdir != subdir || got.Version != repodata.WriteVersion {
		t.Errorf("info.subdir %q, repodata_version %d", got.Subdir, got.Version)
	}
	for _, m := range []struct {
		name      string
		want, got map[string]*repodata.Record
	}{{"packages", want.Packages, got.Packages}, {"packages.conda", want.PackagesConda, got.PackagesConda}} {
		if len(m.want) != len(m.got) {
			t.Errorf("%s: %d records, want %d", m.name, len(m.got), len(m.want))
		}
		for fn, r := range m.want {
			g := m.got[fn]
			if g == nil {
				t.Errorf("%s[%s] missing", m.name, fn)
				continue
			}
			if !bytes.Equal(g.Raw, r.Raw) {
				t.Errorf("%s[%s] not verbatim:\n got %s\nwant %s", m.name, fn, g.Raw, r.Raw)
			}
		}
	}
}

// The real pytorch index: every record is copied byte for byte into the
// mirror's linux-64 index, a noarch index exists though upstream has none,
// and a re-plan after publishing plans nothing.
func TestIndexPytorchVerbatim(t *testing.T) {
	ch := pytorchChannel(t)
	cfg := &SourceConfig{Dir: ch, Subdirs: []string{"linux-64", "noarch"}}
	dst := &memDest{}
	s, listed, p := planIndex(t, cfg, dst)
	if len(p.Outputs) != 2 {
		t.Fatalf("planned %d outputs, want linux-64 and noarch", len(p.Outputs))
	}
	o := p.Outputs[0]
	if o.Path != "linux-64/repodata.json" || o.Reason != "index missing" || o.Count != len(listed) || o.Unit != "record" || len(o.Before) != 0 || len(o.After) != 1 || len(o.DependsOn) != len(listed) {
		t.Errorf("linux-64 output: %+v", o)
	}
	if p.Outputs[1].Path != "noarch/repodata.json" || p.Outputs[1].Count != 0 {
		t.Errorf("noarch output: %+v", p.Outputs[1])
	}
	publishAll(t, s, p)
	data, err := os.ReadFile(filepath.Join(ch, "linux-64", "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	up, err := repodata.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	checkVerbatim(t, dst, "linux-64", up)
	checkVerbatim(t, dst, "noarch", &repodata.Repodata{})
	if got := sha256Hex(dst.files["linux-64/repodata.json"]); got != o.After.Primary().Hex {
		t.Errorf("published digest %s, planned %s", got, o.After.Primary().Hex)
	}
	if _, _, p := planIndex(t, cfg, dst); len(p.Outputs) != 0 {
		t.Errorf("re-plan after publish: %+v", p.Outputs)
	}
	// Zst and bz2 before repodata.json: the digest the plan compares is the
	// last to change.
	if diff := cmp.Diff([]string{"linux-64/repodata.json.zst", "linux-64/repodata.json.bz2", "linux-64/repodata.json"}, dst.puts[:3]); diff != "" {
		t.Errorf("put order (-want +got):\n%s", diff)
	}
}

// A channel whose index carries conda's hotfixes (the real patch
// instructions of testdata/conda/repodata/patch-linux-64 applied to its
// repodata_from_packages.json, as the channel serves them): the hotfixed
// records (license, depends, constrains) and "removed" are kept as served.
func TestIndexHotfixedRecordsVerbatim(t *testing.T) {
	base := "../../testdata/conda/repodata/patch-linux-64/"
	var doc map[string]map[string]map[string]any
	var removed struct {
		Removed []string `json:"removed"`
	}
	raw, err := os.ReadFile(base + "repodata_from_packages.json")
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(raw, &removed)
	doc = map[string]map[string]map[string]any{}
	for _, k := range []string{"packages", "packages.conda"} {
		m := map[string]map[string]any{}
		if err := json.Unmarshal(top[k], &m); err != nil {
			t.Fatal(err)
		}
		doc[k] = m
	}
	pb, err := os.ReadFile(base + "patch_instructions.json")
	if err != nil {
		t.Fatal(err)
	}
	var patch map[string]map[string]map[string]any
	if err := json.Unmarshal(pb, &patch); err != nil {
		t.Fatal(err)
	}
	patched := 0
	for k, recs := range patch {
		for fn, fields := range recs {
			for f, v := range fields {
				doc[k][fn][f] = v
			}
			patched++
		}
	}
	served, err := json.MarshalIndent(map[string]any{"info": map[string]string{"subdir": "linux-64"}, "packages": doc["packages"],
		"packages.conda": doc["packages.conda"], "removed": removed.Removed, "repodata_version": 1}, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	if patched == 0 || !bytes.Contains(served, []byte("WOLF LICENSE")) {
		t.Fatal("the patch instructions changed nothing")
	}
	ch := t.TempDir()
	writeFile(t, filepath.Join(ch, "linux-64", "repodata.json"), served)
	cfg := &SourceConfig{Dir: ch, Subdirs: []string{"linux-64", "noarch"}}
	dst := &memDest{}
	s, _, p := planIndex(t, cfg, dst)
	publishAll(t, s, p)
	up, err := repodata.Parse(served)
	if err != nil {
		t.Fatal(err)
	}
	checkVerbatim(t, dst, "linux-64", up)
	got, _ := repodata.Parse(dst.files["linux-64/repodata.json"])
	if diff := cmp.Diff(up.Removed, got.Removed); diff != "" {
		t.Errorf("removed (-upstream +published):\n%s", diff)
	}
}

// A record that says where its file is ("url", absolute upstream) loses
// that key: consumers fetch the package from the mirror, next to the index.
func TestIndexRecordURLDropped(t *testing.T) {
	ch := t.TempDir()
	sha := strings.Repeat("ab", 32)
	writeFile(t, filepath.Join(ch, "noarch", "repodata.json"), []byte(`{"packages": {"a-1-0.tar.bz2": {"name": "a", "version": "1", "build": "0", "size": 1, "sha256": "`+sha+`", "url": "https://upstream.example/noarch/a-1-0.tar.bz2", "depends": ["b >=1"]}}}`))
	dst := &memDest{}
	s, _, p := planIndex(t, &SourceConfig{Dir: ch, Subdirs: []string{"noarch"}}, dst)
	publishAll(t, s, p)
	js := dst.files["noarch/repodata.json"]
	if bytes.Contains(js, []byte("upstream.example")) || !bytes.Contains(js, []byte(`"depends": ["b >=1"]`)) {
		t.Errorf("published:\n%s", js)
	}
}

// Publish is a compare-and-swap: an index changed since the plan is left
// alone (ErrChangedSincePlan); a package that did not land is not named.
func TestIndexPublishCASAndMissing(t *testing.T) {
	ch := pytorchChannel(t)
	cfg := &SourceConfig{Dir: ch, Subdirs: []string{"linux-64", "noarch"}}
	dst := &memDest{}
	s, _, p := planIndex(t, cfg, dst)
	dst.files = map[string][]byte{"linux-64/repodata.json.bz2": []byte("someone else's")}
	err := s.Publish(context.Background(), p.Outputs[0], nil)
	if !errors.Is(err, providers.ErrChangedSincePlan) {
		t.Fatalf("publish over a changed index: %v", err)
	}
	if len(dst.puts) != 0 {
		t.Fatalf("wrote %q", dst.puts)
	}
	dst.files = nil
	o := p.Outputs[0]
	miss := o.DependsOn[0]
	if err := s.Publish(context.Background(), o, []string{miss}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dst.files["linux-64/repodata.json"], []byte(strings.TrimPrefix(miss, "linux-64/"))) {
		t.Errorf("the index names %s, which did not land", miss)
	}
}

// A planned change edited in the plan file (another subdir's path, a file
// name with a path, a record that is not a JSON object) is refused before
// anything is read or written.
func TestIndexPublishRefusesEditedDetail(t *testing.T) {
	ch := pytorchChannel(t)
	cfg := &SourceConfig{Dir: ch, Subdirs: []string{"linux-64", "noarch"}}
	dst := &memDest{}
	s, _, p := planIndex(t, cfg, dst)
	for name, edit := range map[string]func(d *IndexDetail, o *providers.Output){
		"path":     func(d *IndexDetail, o *providers.Output) { o.Path = "noarch/repodata.json" },
		"subdir":   func(d *IndexDetail, o *providers.Output) { d.Subdir = "../x" },
		"filename": func(d *IndexDetail, o *providers.Output) { d.Packages["../../evil.tar.bz2"] = "{}" },
		"record":   func(d *IndexDetail, o *providers.Output) { d.Packages["x-1-0.tar.bz2"] = `"not an object"` },
	} {
		o := p.Outputs[0]
		var d IndexDetail
		if err := json.Unmarshal(o.Detail, &d); err != nil {
			t.Fatal(err)
		}
		edit(&d, &o)
		o.Detail, _ = json.Marshal(d)
		if err := s.Publish(context.Background(), o, nil); err == nil {
			t.Errorf("%s: an edited change was published", name)
		}
		if len(dst.puts) != 0 {
			t.Fatalf("%s: wrote %q", name, dst.puts)
		}
	}
}

// A publish interrupted after the .zst and .bz2 landed but before
// repodata.json did: the next plan sees the index differ (drift) and
// publishes it whole; then nothing is left to do.
func TestIndexInterruptedPublishConverges(t *testing.T) {
	ch := pytorchChannel(t)
	cfg := &SourceConfig{Dir: ch, Subdirs: []string{"linux-64", "noarch"}}
	dst := &memDest{failPut: "linux-64/repodata.json"}
	s, _, p := planIndex(t, cfg, dst)
	if err := s.Publish(context.Background(), p.Outputs[0], nil); err == nil {
		t.Fatal("the interrupted publish succeeded")
	}
	if _, ok := dst.files["linux-64/repodata.json"]; ok {
		t.Fatal("repodata.json landed")
	}
	s, _, p = planIndex(t, cfg, dst)
	if len(p.Outputs) != 2 || p.Outputs[0].Path != "linux-64/repodata.json" {
		t.Fatalf("re-plan after the interruption: %+v", p.Outputs)
	}
	publishAll(t, s, p)
	if _, _, p := planIndex(t, cfg, dst); len(p.Outputs) != 0 {
		t.Errorf("re-plan after the repair: %+v", p.Outputs)
	}
}

// selfIndexingDest is a registry that writes its own index (Gitea's conda
// registry): it must never be handed one.
type selfIndexingDest struct{ memDest }

func (*selfIndexingDest) IndexedBy() string { return "the test registry" }

// A destination that indexes itself gets no index planned, and the plan
// says who writes it and what that index lacks.
func TestIndexNotPlannedForSelfIndexingRegistry(t *testing.T) {
	ch := t.TempDir()
	sha := strings.Repeat("ab", 32)
	writeFile(t, filepath.Join(ch, "noarch", "repodata.json"), []byte(`{"packages": {"a-1-0.tar.bz2": {"name": "a", "version": "1", "build": "0", "size": 1, "sha256": "`+sha+`"}}}`))
	dst := &selfIndexingDest{}
	_, _, p := planIndex(t, &SourceConfig{Dir: ch, Subdirs: []string{"noarch"}}, dst)
	if len(p.Outputs) != 0 {
		t.Errorf("planned %d index changes for a registry that writes its own: %+v", len(p.Outputs), p.Outputs)
	}
	want := []providers.OutputReport{{Text: "m: the channel index is written by the test registry from the uploaded packages, not by ferry: " +
		"upstream repodata patches (hotfixed depends) and constrains are not carried into it"}}
	if diff := cmp.Diff(want, p.Reports); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
	if len(dst.files) != 0 {
		t.Errorf("the destination was read or written: %v", dst.files)
	}
}

// Without refresh (plan -refresh=false) the destination is not read: a
// subdir whose packages change is planned from the state and the listing
// and published whatever its index holds, as exactly the index a refreshed
// plan publishes (which then plans nothing); a subdir whose packages do
// not change is not planned; a kept package in one that does, whose record
// only the index at the destination holds, refuses the plan.
func TestIndexWithoutRefresh(t *testing.T) {
	ch := pytorchChannel(t)
	cfg := &SourceConfig{Dir: ch, Subdirs: []string{"linux-64", "noarch"}, Include: []string{"magma-cuda92"}}
	s := newTestSource(t, cfg)
	var listed []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error {
		listed = append(listed, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	plan := func(dst *memDest, owned, present []providers.Artifact, refresh bool) (providers.OutputPlan, error) {
		t.Helper()
		read, err := s.ReadOutputs(context.Background(), providers.OutputRequest{Mirror: "m", Listed: listed, Owned: owned, Destination: dst, Refresh: refresh})
		if err != nil {
			t.Fatal(err)
		}
		if read.State == nil {
			t.Fatal("no index state without refresh: no index planned")
		}
		return cfg.PlanOutputs(providers.OutputInput{Mirror: "m", Present: present, State: read.State})
	}
	// The destination holds an index ferry would not write: not read.
	dst := &memDest{files: map[string][]byte{"linux-64/repodata.json": []byte(`{"packages": {}}`)}}
	p, err := plan(dst, listed[:1], listed, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Outputs) != 1 {
		t.Fatalf("planned %d outputs, want linux-64 only (noarch has no package change): %+v", len(p.Outputs), p.Outputs)
	}
	o := p.Outputs[0]
	if o.Path != "linux-64/repodata.json" || len(o.Before) != 0 || o.Count != len(listed)-1 || !strings.Contains(o.Reason, "-refresh=false") || !strings.Contains(o.Diff, "not read -> sha256:") {
		t.Errorf("output: %+v", o)
	}
	publishAll(t, s, p)
	if got := sha256Hex(dst.files["linux-64/repodata.json"]); got != o.After.Primary().Hex {
		t.Errorf("published %s, planned %s", got, o.After.Primary().Hex)
	}
	refreshed, err := plan(dst, listed, listed, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range refreshed.Outputs {
		if o.Path == "linux-64/repodata.json" {
			t.Errorf("a refreshed plan after publishing without refresh: %+v", o)
		}
	}
	if p, err := plan(dst, listed, listed, false); err != nil || len(p.Outputs) != 0 {
		t.Errorf("no package change, without refresh: %+v, %v", p.Outputs, err)
	}
	// Every package of a subdir deleted: its index is emptied.
	if p, err := plan(dst, listed, nil, false); err != nil || len(p.Outputs) != 1 || p.Outputs[0].Count != len(listed) {
		t.Errorf("every package deleted, without refresh: %+v, %v", p.Outputs, err)
	}
	kept := providers.Artifact{Key: "linux-64/magma-cuda92-2.0.0-1.tar.bz2"}
	if p, err := plan(dst, append(slices.Clone(listed), kept), append(slices.Clone(listed), kept), false); err != nil || len(p.Outputs) != 0 {
		t.Errorf("a kept package, no package change, without refresh: %+v, %v", p.Outputs, err)
	}
	_, err = plan(dst, []providers.Artifact{listed[0], kept}, append(slices.Clone(listed), kept), false)
	var oe *providers.OutputError
	if !errors.As(err, &oe) || !strings.Contains(oe.Detail, kept.Key) || !strings.Contains(oe.Detail, "Plan without -refresh=false") {
		t.Errorf("a kept package without refresh: %v", err)
	}
}

// A subdir the mirror no longer reads (dropped from subdirs) whose
// packages are deleted: its index stops naming them, with refresh and
// without.
func TestIndexSubdirNoLongerRead(t *testing.T) {
	ch := pytorchChannel(t)
	cfg := &SourceConfig{Dir: ch, Subdirs: []string{"linux-64", "noarch"}, Include: []string{"magma-cuda92"}}
	s := newTestSource(t, cfg)
	var listed []providers.Artifact
	if err := s.List(context.Background(), func(a providers.Artifact) error {
		listed = append(listed, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	gone := providers.Artifact{Key: "osx-64/magma-cuda92-2.5.2-1.tar.bz2"}
	old := `{"packages": {"magma-cuda92-2.5.2-1.tar.bz2": {"name": "magma-cuda92"}}, "packages.conda": {}}`
	for _, refresh := range []bool{true, false} {
		dst := &memDest{files: map[string][]byte{"osx-64/repodata.json": []byte(old)}}
		read, err := s.ReadOutputs(context.Background(), providers.OutputRequest{Mirror: "m", Listed: listed, Owned: append(slices.Clone(listed), gone), Destination: dst, Refresh: refresh})
		if err != nil {
			t.Fatal(err)
		}
		p, err := cfg.PlanOutputs(providers.OutputInput{Mirror: "m", Present: listed, State: read.State})
		if err != nil {
			t.Fatal(err)
		}
		var o *providers.Output
		for i := range p.Outputs {
			if p.Outputs[i].Path == "osx-64/repodata.json" {
				o = &p.Outputs[i]
			}
		}
		if o == nil || !strings.Contains(o.Diff, "-magma-cuda92-2.5.2-1.tar.bz2") {
			t.Fatalf("refresh %v: the osx-64 index is not planned to drop the deleted package: %+v", refresh, p.Outputs)
		}
		if err := s.Publish(context.Background(), *o, nil); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(dst.files["osx-64/repodata.json"], []byte("magma")) {
			t.Errorf("refresh %v: the osx-64 index still names the deleted package", refresh)
		}
	}
}
