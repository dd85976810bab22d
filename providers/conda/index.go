package conda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/conda/repodata"
)

// A conda source owns its mirror's channel index: each subdir's
// repodata.json (and .json.zst, .json.bz2) at the destination, naming
// exactly the packages present there once the plan is applied. It needs no
// mirror block: every conda mirror into a file store publishes its index.
//
// The destination must read its objects back (providers.Fetcher: dir and
// http do): the index is read through it to plan (drift) and again at
// Publish for the compare-and-swap.
var (
	_ providers.Publisher     = (*Source)(nil)
	_ providers.OutputPlanner = (*SourceConfig)(nil)
)

// indexState is what ReadOutputs read, in the inventory.
type indexState struct {
	// Subdirs are the configured subdirs (noarch among them).
	Subdirs []string `json:"subdirs"`
	// Upstream are the upstream records of the listed keys, by key.
	Upstream map[string]indexRecord `json:"upstream"`
	// Removed are the upstream indexes' "removed" lists, by subdir.
	Removed map[string][]string `json:"removed,omitempty"`
	// Current are the indexes at the destination, by subdir.
	Current map[string]*currentIndex `json:"current"`
	// Owned are the keys the state records the mirror owns: a record the
	// index gains or loses for another key is drift, not a package change.
	Owned []string `json:"owned,omitempty"`
	// NoRead says why the destination cannot be read back, if it cannot.
	NoRead string `json:"no_read,omitempty"`
	// IndexedBy names the registry that writes the index itself
	// (providers.SelfIndexer); no index is then planned.
	IndexedBy string `json:"indexed_by,omitempty"`
	// Unread is true when the destination was not read (plan
	// -refresh=false): Current is unknown, and the state's Owned stand
	// for what the indexes name.
	Unread bool `json:"unread,omitempty"`
}

// indexRecord is one record: its JSON, and whether it sits under
// "packages.conda" (else "packages").
type indexRecord struct {
	Conda  bool   `json:"conda,omitempty"`
	Record string `json:"record"`
}

// currentIndex is one subdir's index at the destination.
type currentIndex struct {
	// Files are the sha256 of repodata.json, .json.zst and .json.bz2 by
	// file name; a missing file is absent.
	Files map[string]string `json:"files"`
	// Names are the file names repodata.json lists (both maps).
	Names []string `json:"names"`
	// Kept are its records of keys the mirror owns that upstream no longer
	// lists (a retention policy may keep them), by file name.
	Kept map[string]indexRecord `json:"kept,omitempty"`
	// Invalid says why repodata.json does not parse, if it does not.
	Invalid string `json:"invalid,omitempty"`
}

// IndexDetail is the detail of an index change: what Publish writes.
type IndexDetail struct {
	// Mirror is the mirror whose destination holds the index.
	Mirror string `json:"mirror"`
	Subdir string `json:"subdir"`
	// Packages and PackagesConda are the records by file name, as written.
	Packages      map[string]string `json:"packages"`
	PackagesConda map[string]string `json:"packages.conda"`
	Removed       []string          `json:"removed,omitempty"`
	// Before are the sha256 of the index files as planned, by file name
	// (absent: the file was absent); Publish refuses when one moved.
	Before map[string]string `json:"before"`
	// Unread is true when the plan did not read the index (-refresh=false):
	// Publish then writes it whatever is there (still atomically).
	Unread bool `json:"unread,omitempty"`
}

// ReadOutputs reads, for every configured subdir and every subdir the
// mirror owns packages in, the index at the destination, and the upstream
// record of every listed package. Without refresh the destination is not
// read (Unread): the indexes are planned from the state.
func (s *Source) ReadOutputs(ctx context.Context, req providers.OutputRequest) (providers.OutputRead, error) {
	if si, ok := req.Destination.(providers.SelfIndexer); ok {
		state, err := json.Marshal(indexState{IndexedBy: si.IndexedBy()})
		return providers.OutputRead{State: state}, err
	}
	st := indexState{Subdirs: s.cfg.Subdirs, Upstream: map[string]indexRecord{}, Current: map[string]*currentIndex{}}
	listed := map[string]bool{}
	for _, a := range req.Listed {
		listed[a.Key] = true
		if rec, ok := s.upstreamRecord(a.Key); ok {
			st.Upstream[a.Key] = rec
		}
	}
	subdirs := slices.Clone(s.cfg.Subdirs)
	for _, sd := range s.cfg.Subdirs {
		if rd := s.readIndexOf(sd); rd != nil && len(rd.Removed) > 0 {
			if st.Removed == nil {
				st.Removed = map[string][]string{}
			}
			st.Removed[sd] = rd.Removed
		}
	}
	owned := map[string]map[string]bool{}
	for _, a := range req.Owned {
		st.Owned = append(st.Owned, a.Key)
		subdir, file, err := ParseKey(a.Key)
		if err != nil || listed[a.Key] {
			continue
		}
		if owned[subdir] == nil {
			owned[subdir] = map[string]bool{}
		}
		owned[subdir][file] = true
		subdirs = appendNew(subdirs, subdir)
	}
	f, ok := req.Destination.(providers.Fetcher)
	switch {
	case !ok:
		st.NoRead = "the destination cannot read its objects back, so ferry cannot check or compare-and-swap the channel index"
	case !req.Refresh:
		st.Unread = true
		s.rememberDestination(req.Mirror, req.Destination)
	default:
		s.rememberDestination(req.Mirror, req.Destination)
		for _, sd := range subdirs {
			cur, err := readCurrent(ctx, f, sd, owned[sd])
			if err != nil {
				return providers.OutputRead{}, err
			}
			st.Current[sd] = cur
		}
	}
	state, err := json.Marshal(st)
	if err != nil {
		return providers.OutputRead{}, err
	}
	return providers.OutputRead{State: state}, nil
}

// upstreamRecord is the record the last List chose for key, and whether
// upstream keeps it under "packages.conda": the map the channel's index
// holds it in, else (a record not from the channel's index) by extension.
func (s *Source) upstreamRecord(key string) (indexRecord, bool) {
	s.mu.Lock()
	r := s.listed[key]
	s.mu.Unlock()
	if r == nil {
		return indexRecord{}, false
	}
	subdir, file, err := ParseKey(key)
	if err != nil {
		return indexRecord{}, false
	}
	if rd := s.readIndexOf(subdir); rd != nil {
		if rd.PackagesConda[file] == r {
			return indexRecord{Conda: true, Record: string(r.Raw)}, true
		}
		if rd.Packages[file] == r {
			return indexRecord{Record: string(r.Raw)}, true
		}
	}
	return indexRecord{Conda: strings.HasSuffix(file, ".conda"), Record: string(r.Raw)}, true
}

// readIndexOf is subdir's channel index when List has read it, else nil;
// it never reads.
func (s *Source) readIndexOf(subdir string) *repodata.Repodata {
	s.mu.Lock()
	ix := s.subdirs[subdir]
	s.mu.Unlock()
	if ix == nil {
		return nil
	}
	select {
	case <-ix.ready:
		if ix.err == nil {
			return ix.rd
		}
	default:
	}
	return nil
}

// rememberDestination keeps the mirror's destination for Publish, which is
// handed only the planned change: ReadOutputs runs in every command that
// publishes (plan, apply, and apply PLANFILE before it checks the plan).
func (s *Source) rememberDestination(mirror string, d providers.Destination) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dsts == nil {
		s.dsts = map[string]providers.Destination{}
	}
	s.dsts[mirror] = d
}

// readCurrent reads subdir's index files at the destination.
func readCurrent(ctx context.Context, f providers.Fetcher, subdir string, owned map[string]bool) (*currentIndex, error) {
	cur := &currentIndex{Files: map[string]string{}}
	for _, enc := range repodata.Encodings {
		name := repodata.FileName(subdir, enc)
		data, err := fetchIndexFile(ctx, f, name)
		if errors.Is(err, providers.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the channel index %s at the destination: %w", name, err)
		}
		cur.Files[name] = sha256Hex(data)
		if enc != repodata.Plain {
			continue
		}
		rd, err := repodata.Parse(data)
		if err != nil {
			cur.Invalid = err.Error()
			continue
		}
		for fn, r := range rd.Packages {
			cur.Names = append(cur.Names, fn)
			if owned[fn] {
				if cur.Kept == nil {
					cur.Kept = map[string]indexRecord{}
				}
				cur.Kept[fn] = indexRecord{Record: string(r.Raw)}
			}
		}
		for fn, r := range rd.PackagesConda {
			cur.Names = append(cur.Names, fn)
			if owned[fn] {
				if cur.Kept == nil {
					cur.Kept = map[string]indexRecord{}
				}
				cur.Kept[fn] = indexRecord{Conda: true, Record: string(r.Raw)}
			}
		}
		sort.Strings(cur.Names)
	}
	return cur, nil
}

func fetchIndexFile(ctx context.Context, f providers.Fetcher, key string) ([]byte, error) {
	rc, err := f.Fetch(ctx, providers.Artifact{Key: key, Size: -1})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, repodata.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > repodata.MaxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", key, repodata.MaxSize)
	}
	return data, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// PlanOutputs plans, per subdir, the index naming exactly the packages
// present once the plan is applied: upstream records as served (a record
// that says where its file is loses that "url": the mirror serves it next
// to the index), records of kept packages as the current index holds them.
// A subdir whose three files already hold that index has no change.
// Without refresh (Unread) the plan trusts the state: a subdir whose
// packages change is published whatever its index holds, one whose
// packages do not change is left alone; a kept package's record, which
// only the index at the destination holds, refuses the plan. Pure.
func (c *SourceConfig) PlanOutputs(in providers.OutputInput) (providers.OutputPlan, error) {
	var st indexState
	if err := json.Unmarshal(in.State, &st); err != nil {
		return providers.OutputPlan{}, fmt.Errorf("reading the inventoried channel index: %w", err)
	}
	if st.IndexedBy != "" {
		return providers.OutputPlan{Reports: []providers.OutputReport{{Text: fmt.Sprintf(
			"%s: the channel index is written by %s from the uploaded packages, not by ferry: "+
				"upstream repodata patches (hotfixed depends) and constrains are not carried into it", in.Mirror, st.IndexedBy)}}}, nil
	}
	if st.NoRead != "" {
		return providers.OutputPlan{}, &providers.OutputError{Summary: "Destination cannot hold a conda channel index", Detail: st.NoRead + "."}
	}
	ownedSet := map[string]bool{}
	ownedIn := map[string][]string{} // file names by subdir
	subdirs := slices.Clone(st.Subdirs)
	subdirs = appendNew(subdirs, "noarch")
	for _, k := range st.Owned {
		ownedSet[k] = true
		if subdir, file, err := ParseKey(k); err == nil {
			ownedIn[subdir] = append(ownedIn[subdir], file)
			// A subdir the mirror no longer reads: its index must stop
			// naming the packages deleted there.
			subdirs = appendNew(subdirs, subdir)
		}
	}
	present := map[string][]string{}
	for _, a := range in.Present {
		subdir, file, err := ParseKey(a.Key)
		if err != nil {
			continue
		}
		present[subdir] = append(present[subdir], file)
		subdirs = appendNew(subdirs, subdir)
	}
	sort.Strings(subdirs)
	var res providers.OutputPlan
	var unindexed []string
	for _, sd := range subdirs {
		cur := st.Current[sd]
		if cur == nil {
			cur = &currentIndex{}
		}
		if st.Unread {
			if sameFiles(present[sd], ownedIn[sd]) {
				continue
			}
			cur = &currentIndex{Names: ownedIn[sd]}
		}
		d := IndexDetail{Mirror: in.Mirror, Subdir: sd, Packages: map[string]string{}, PackagesConda: map[string]string{}, Before: cur.Files, Unread: st.Unread}
		var deps []string
		names := map[string]bool{}
		for _, fn := range present[sd] {
			key := Key(sd, fn)
			rec, ok := st.Upstream[key]
			if !ok {
				rec, ok = cur.Kept[fn]
			}
			if !ok {
				unindexed = append(unindexed, key)
				continue
			}
			raw, _, err := repodata.MirrorRecord(json.RawMessage(rec.Record))
			if err != nil {
				return res, fmt.Errorf("%s: %w", key, err)
			}
			if rec.Conda {
				d.PackagesConda[fn] = string(raw)
			} else {
				d.Packages[fn] = string(raw)
			}
			deps = append(deps, key)
			names[fn] = true
		}
		for _, fn := range st.Removed[sd] {
			if !names[fn] {
				d.Removed = append(d.Removed, fn)
			}
		}
		files, err := d.render()
		if err != nil {
			return res, fmt.Errorf("subdir %s: %w", sd, err)
		}
		after := map[string]string{}
		for name, data := range files {
			after[name] = sha256Hex(data)
		}
		jsonName := repodata.FileName(sd, repodata.Plain)
		if maps.Equal(after, cur.Files) {
			continue
		}
		var added, removed []string
		for fn := range names {
			if !slices.Contains(cur.Names, fn) {
				added = append(added, fn)
			}
		}
		for _, fn := range cur.Names {
			if !names[fn] {
				removed = append(removed, fn)
			}
		}
		sort.Strings(added)
		o := providers.Output{
			Path:      jsonName,
			Verb:      "publish",
			Count:     len(added) + len(removed),
			Unit:      "record",
			After:     providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: after[jsonName]}),
			DependsOn: deps,
		}
		if h, ok := cur.Files[jsonName]; ok {
			o.Before = providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: h})
		}
		var diff strings.Builder
		fmt.Fprintf(&diff, "--- %s (records)\n", jsonName)
		for _, fn := range removed {
			fmt.Fprintf(&diff, "-%s\n", fn)
		}
		for _, fn := range added {
			fmt.Fprintf(&diff, "+%s\n", fn)
		}
		switch {
		case st.Unread:
			o.Reason = "packages changed; index not read: -refresh=false"
		case len(cur.Files) == 0:
			o.Reason = "index missing"
		case packagesChanged(sd, added, removed, ownedSet):
			o.Reason = "packages changed"
		case cur.Invalid != "":
			o.Reason = "index at the destination does not parse (drift)"
		default:
			o.Reason = "index differs at the destination (drift)"
		}
		for _, name := range slices.Sorted(maps.Keys(after)) {
			if cur.Files[name] != after[name] {
				if st.Unread {
					fmt.Fprintf(&diff, "  %s: not read -> sha256:%s\n", name, after[name])
				} else if cur.Files[name] == "" {
					fmt.Fprintf(&diff, "  %s: absent -> sha256:%s\n", name, after[name])
				} else {
					fmt.Fprintf(&diff, "  %s: sha256:%s -> sha256:%s\n", name, cur.Files[name], after[name])
				}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(cur.Files)) {
			if _, ok := after[name]; !ok {
				fmt.Fprintf(&diff, "  %s: stale, rewritten\n", name)
			}
		}
		o.Diff = diff.String()
		o.Done = fmt.Sprintf("published (%d records)", len(names))
		detail, err := json.Marshal(d)
		if err != nil {
			return res, err
		}
		o.Detail = detail
		res.Outputs = append(res.Outputs, o)
	}
	if len(unindexed) > 0 && st.Unread {
		return providers.OutputPlan{}, &providers.OutputError{Summary: "Channel index cannot be planned without refresh", Detail: fmt.Sprintf(
			"mirror.%s keeps packages upstream no longer lists (%s); their records are in the channel index at the destination, which plan -refresh=false does not read. Plan without -refresh=false.",
			in.Mirror, strings.Join(unindexed, ", "))}
	}
	if len(unindexed) > 0 {
		res.Reports = append(res.Reports, providers.OutputReport{Text: fmt.Sprintf(
			"Channel index of mirror.%s: no record is known for %d packages kept at the destination, which the index therefore does not name: %s\n",
			in.Mirror, len(unindexed), strings.Join(unindexed, ", "))})
	}
	return res, nil
}

// sameFiles reports whether a and b hold the same file names.
func sameFiles(a, b []string) bool {
	return maps.Equal(setOf(a), setOf(b))
}

func setOf(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

// packagesChanged tells whether an index change adds a package the mirror
// did not own yet or drops one it owned; otherwise the index at the
// destination was edited (drift).
func packagesChanged(subdir string, added, removed []string, owned map[string]bool) bool {
	for _, fn := range added {
		if !owned[Key(subdir, fn)] {
			return true
		}
	}
	for _, fn := range removed {
		if owned[Key(subdir, fn)] {
			return true
		}
	}
	return false
}

// render is the index files of d: repodata.json, .json.zst, .json.bz2 by
// destination key.
func (d *IndexDetail) render() (map[string][]byte, error) {
	ix := repodata.Index{Subdir: d.Subdir, Packages: map[string]json.RawMessage{}, PackagesConda: map[string]json.RawMessage{}, Removed: d.Removed}
	for fn, r := range d.Packages {
		ix.Packages[fn] = json.RawMessage(r)
	}
	for fn, r := range d.PackagesConda {
		ix.PackagesConda[fn] = json.RawMessage(r)
	}
	js, err := ix.JSON()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, enc := range repodata.Encodings {
		data, err := repodata.Compress(js, enc)
		if err != nil {
			return nil, err
		}
		files[repodata.FileName(d.Subdir, enc)] = data
	}
	return files, nil
}

// Publish writes one subdir's index: it first checks every index file still
// has the digest the plan saw (else ErrChangedSincePlan, nothing written;
// a plan made without refresh saw none, and checks nothing),
// drops the records of packages that did not land, then puts repodata.json.zst,
// .json.bz2 and last repodata.json, each atomically and verified by the
// destination's Put (a reader never sees a truncated file).
func (s *Source) Publish(ctx context.Context, o providers.Output, missing []string) error {
	var d IndexDetail
	if err := json.Unmarshal(o.Detail, &d); err != nil {
		return fmt.Errorf("channel index %s: reading the planned change: %w", o.Path, err)
	}
	// A plan file is input too: check the change before touching anything.
	if !repodata.ValidSubdir(d.Subdir) || o.Path != repodata.FileName(d.Subdir, repodata.Plain) {
		return fmt.Errorf("channel index %s: the planned change is for subdir %q", o.Path, d.Subdir)
	}
	for _, m := range []map[string]string{d.Packages, d.PackagesConda} {
		for fn := range m {
			if !repodata.ValidFileName(fn) {
				return fmt.Errorf("channel index %s: %q is not a package file name", o.Path, fn)
			}
		}
	}
	s.mu.Lock()
	dst := s.dsts[d.Mirror]
	s.mu.Unlock()
	return publishIndex(ctx, dst, d, missing)
}

// publishIndex is Publish against dst.
func publishIndex(ctx context.Context, dst providers.Destination, d IndexDetail, missing []string) error {
	f, ok := dst.(providers.Fetcher)
	if dst == nil || !ok {
		return fmt.Errorf("channel index of %s: no destination that reads back its objects: %w", d.Subdir, providers.ErrUnsupported)
	}
	for _, enc := range repodata.Encodings {
		if d.Unread {
			break // planned without reading it: nothing to compare
		}
		name := repodata.FileName(d.Subdir, enc)
		data, err := fetchIndexFile(ctx, f, name)
		got := ""
		switch {
		case err == nil:
			got = sha256Hex(data)
		case !errors.Is(err, providers.ErrNotFound):
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if got != d.Before[name] {
			return fmt.Errorf("channel index %s: %w", name, providers.ErrChangedSincePlan)
		}
	}
	for _, key := range missing {
		subdir, fn, err := ParseKey(key)
		if err != nil || subdir != d.Subdir {
			continue
		}
		delete(d.Packages, fn)
		delete(d.PackagesConda, fn)
	}
	files, err := d.render()
	if err != nil {
		return err
	}
	for _, enc := range []repodata.Encoding{repodata.Zstd, repodata.Bzip2, repodata.Plain} {
		name := repodata.FileName(d.Subdir, enc)
		data := files[name]
		a := providers.Artifact{Key: name, Size: int64(len(data)),
			Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: sha256Hex(data)})}
		if err := dst.Put(ctx, a, bytes.NewReader(data), providers.PutOptions{Overwrite: true}); err != nil {
			return err
		}
	}
	return nil
}
