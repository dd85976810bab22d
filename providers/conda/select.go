package conda

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ferry-mirror/ferry/providers/conda/matchspec"
	"github.com/ferry-mirror/ferry/providers/conda/repodata"
)

// candidate is one record of one subdir's index.
type candidate struct {
	subdir, file string
	rec          *repodata.Record
	origin       string // a loose package's input, "" for a channel record
}

func (c *candidate) pkg() matchspec.Package {
	r := c.rec
	return matchspec.Package{
		Name: r.Name, Version: r.Version, Build: r.Build, BuildNumber: r.BuildNumber,
		License: r.License, Subdir: c.subdir, FileName: c.file, MD5: r.MD5, SHA256: r.SHA256,
	}
}

// candidates are every mirrorable record of the indexes, sorted by key;
// the notes say which records cannot be mirrored and why.
func candidates(idx map[string]*repodata.Repodata) ([]*candidate, []string) {
	var out []*candidate
	var notes []string
	for _, sd := range slices.Sorted(maps.Keys(idx)) {
		rd := idx[sd]
		seen := map[string]bool{}
		// packages.conda first: Fetch looks there first too, so a file
		// named in both maps is the .conda map's record.
		for _, recs := range []map[string]*repodata.Record{rd.PackagesConda, rd.Packages} {
			for _, fn := range slices.Sorted(maps.Keys(recs)) {
				r := recs[fn]
				if seen[fn] {
					notes = append(notes, fmt.Sprintf("%s/%s is named in both packages and packages.conda; the packages.conda record is used.", sd, fn))
					continue
				}
				seen[fn] = true
				if err := r.Check(fn); err != nil {
					notes = append(notes, fmt.Sprintf("%s/%s is not mirrored: %v.", sd, fn, err))
					continue
				}
				out = append(out, &candidate{subdir: sd, file: fn, rec: r})
			}
		}
	}
	return out, notes
}

// selector applies include, exclude, pins, latest and the closure.
//
// Precedence, in this order: exclude drops a record whatever else selects
// it (include, a pin or the closure); a pin keeps a record whatever latest
// says; include (everything when empty) selects, then latest keeps the
// newest N per subdir and name; the closure adds dependencies of what is
// selected, ignoring latest (it picks the newest match) but not exclude.
type selector struct {
	include, exclude, pins []*matchspec.Spec
	latest                 int
	deps                   bool
	maxPackages            int
}

func newSelector(cfg *SourceConfig) (*selector, error) {
	sel := &selector{latest: cfg.Latest, deps: cfg.Dependencies, maxPackages: cfg.MaxPackages}
	for _, l := range []struct {
		in  []string
		dst *[]*matchspec.Spec
	}{{cfg.Include, &sel.include}, {cfg.Exclude, &sel.exclude}, {cfg.Pins, &sel.pins}} {
		for _, s := range l.in {
			m, err := matchspec.Parse(s)
			if err != nil {
				return nil, err
			}
			*l.dst = append(*l.dst, m)
		}
	}
	return sel, nil
}

func anyMatch(specs []*matchspec.Spec, p matchspec.Package) bool {
	for _, s := range specs {
		if s.Match(p, CompareVersions) {
			return true
		}
	}
	return false
}

// newer orders records newest first: conda version order, then build
// number, then file name (so the order is total).
func newer(a, b *candidate) int {
	if c := CompareVersions(b.rec.Version, a.rec.Version); c != 0 {
		return c
	}
	if c := cmp.Compare(b.rec.BuildNumber, a.rec.BuildNumber); c != 0 {
		return c
	}
	return strings.Compare(a.file, b.file)
}

// sameRank reports whether a and b are the same (version, build number).
func sameRank(a, b *candidate) bool {
	return CompareVersions(a.rec.Version, b.rec.Version) == 0 && a.rec.BuildNumber == b.rec.BuildNumber
}

// choose returns the selected candidates, sorted by key, and notes.
func (sel *selector) choose(cands []*candidate) ([]*candidate, []string, error) {
	var notes []string
	chosen := map[*candidate]bool{}
	groups := map[string][]*candidate{} // subdir + "/" + name → included, unpinned
	for _, c := range cands {
		p := c.pkg()
		if anyMatch(sel.exclude, p) {
			continue
		}
		if anyMatch(sel.pins, p) {
			chosen[c] = true
			continue
		}
		if len(sel.include) > 0 && !anyMatch(sel.include, p) {
			continue
		}
		g := c.subdir + "/" + strings.ToLower(c.rec.Name)
		groups[g] = append(groups[g], c)
	}
	for _, g := range groups {
		slices.SortFunc(g, newer)
		ranks := 0
		for i, c := range g {
			if i == 0 || !sameRank(g[i-1], c) {
				ranks++
			}
			if sel.latest > 0 && ranks > sel.latest {
				break
			}
			chosen[c] = true
		}
	}
	if sel.deps {
		added, err := sel.closure(cands, chosen)
		if err != nil {
			return nil, nil, err
		}
		if added > 0 {
			notes = append(notes, fmt.Sprintf("The dependency closure adds %d package(s).", added))
		}
	}
	out := slices.Collect(maps.Keys(chosen))
	slices.SortFunc(out, func(a, b *candidate) int { return strings.Compare(Key(a.subdir, a.file), Key(b.subdir, b.file)) })
	return out, notes, nil
}

// closure adds, until nothing changes, for every depends of every chosen
// record, the records of the newest (version, build number) matching it
// in the record's subdir and noarch (for a noarch record: every subdir
// read). Virtual packages ("__glibc") and excluded records are never
// added; a dependency nothing satisfies is left out silently (a solver
// reports it). It fails once more than maxPackages names are added.
func (sel *selector) closure(cands []*candidate, chosen map[*candidate]bool) (int, error) {
	byName := map[string][]*candidate{}
	for _, c := range cands {
		if !anyMatch(sel.exclude, c.pkg()) {
			n := strings.ToLower(c.rec.Name)
			byName[n] = append(byName[n], c)
		}
	}
	for _, g := range byName {
		slices.SortFunc(g, newer)
	}
	names := map[string]bool{}
	for c := range chosen {
		names[strings.ToLower(c.rec.Name)] = true
	}
	added := map[string]bool{}
	frontier := slices.Collect(maps.Keys(chosen))
	slices.SortFunc(frontier, newer)
	for len(frontier) > 0 {
		var next []*candidate
		for _, c := range frontier {
			for _, dep := range c.rec.Depends {
				spec, err := matchspec.Parse(dep)
				if err != nil || strings.HasPrefix(spec.Name, "__") || strings.Contains(spec.Name, "*") {
					continue
				}
				var best *candidate
				for _, d := range byName[spec.Name] {
					if best != nil && !sameRank(best, d) {
						break
					}
					if d.subdir != c.subdir && d.subdir != "noarch" && c.subdir != "noarch" {
						continue
					}
					if !spec.Match(d.pkg(), CompareVersions) {
						continue
					}
					if best == nil {
						best = d
					}
					if !chosen[d] {
						chosen[d] = true
						next = append(next, d)
						if !names[spec.Name] && !added[spec.Name] {
							added[spec.Name] = true
							if len(added) > sel.maxPackages {
								return 0, fmt.Errorf("the dependency closure needs more than max_packages = %d packages; "+
									"raise max_packages, narrow include or exclude what is not needed", sel.maxPackages)
							}
						}
					}
				}
			}
		}
		frontier = next
	}
	return len(added), nil
}
