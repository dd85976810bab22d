package npm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/ferry-mirror/ferry/providers"
)

// An npm destination owns one consumer output per package: its dist-tags
// and deprecations, made to match the upstream's for the versions the
// mirror holds.
var (
	_ providers.Publisher     = (*Store)(nil)
	_ providers.OutputPlanner = (*DestinationConfig)(nil)
)

// deprecationMessage is what a version removed upstream is deprecated with.
const deprecationMessage = "removed from the upstream registry (deprecated by ferry: on_upstream_removed = \"deprecate\")"

// errTagsSkipped is reported for dist-tags not set because the version
// they point at did not land.
var errTagsSkipped = errors.New("the versions they point at did not land")

// statParallelism bounds the concurrent package reads of ReadOutputs.
const statParallelism = 8

// outputState is what ReadOutputs read, in the inventory.
type outputState struct {
	// Tagged is true when the source reports dist-tags; SourceTags are
	// they, by package name.
	Tagged     bool                         `json:"tagged,omitempty"`
	SourceTags map[string]map[string]string `json:"source_tags,omitempty"`
	// Refreshed is true when the destination's package metadata was read;
	// Packages is it, by package name (empty for a package the destination
	// does not have yet).
	Refreshed bool                   `json:"refreshed,omitempty"`
	Packages  map[string]PackageMeta `json:"packages,omitempty"`
}

// PackageMeta is registry metadata of one package beyond its files.
type PackageMeta struct {
	// Tags maps dist-tags to versions.
	Tags map[string]string `json:"tags,omitempty"`
	// Deprecated maps the deprecated versions to their messages.
	Deprecated map[string]string `json:"deprecated,omitempty"`
}

// PackageUpdate changes a package's metadata at a destination.
type PackageUpdate struct {
	// SetTags points dist-tags at versions.
	SetTags map[string]string `json:"set_tags,omitempty"`
	// RemoveTags removes dist-tags (one already gone is not an error).
	RemoveTags []string `json:"remove_tags,omitempty"`
	// Deprecate marks versions deprecated with a message.
	Deprecate map[string]string `json:"deprecate,omitempty"`
}

// PackageDetail is the provider detail of an output change: what Publish
// does to a package's metadata.
type PackageDetail struct {
	// TagsBefore are the dist-tags the destination had when planned.
	TagsBefore map[string]string `json:"tags_before,omitempty"`
	// SetTags point dist-tags at versions.
	SetTags map[string]string `json:"set_tags,omitempty"`
	// Deprecate marks versions deprecated, with the message.
	Deprecate map[string]string `json:"deprecate,omitempty"`
	// RemoveTags are dist-tags to remove, each with the version the
	// upstream moved it to, which the mirror does not have: kept, the
	// destination's tag would point at a version the upstream no longer
	// tags.
	RemoveTags map[string]string `json:"remove_tags,omitempty"`
	// TagKeys maps each tag of SetTags to the artifact key of its version
	// (all of them in the output's DependsOn). Publish leaves out the tags
	// of versions that did not land.
	TagKeys map[string]string `json:"tag_keys,omitempty"`
}

// ReadOutputs reads the source's dist-tags of the packages it listed and,
// when refreshing, the destination's metadata of those and of the packages
// the mirror owns.
func (s *Store) ReadOutputs(ctx context.Context, req providers.OutputRequest) (providers.OutputRead, error) {
	listed := map[string]bool{}
	for _, a := range req.Listed {
		if a.Name != "" {
			listed[a.Name] = true
		}
	}
	var st outputState
	if tl, ok := providers.As[providers.TagLister](req.Source); ok {
		st.Tagged, st.SourceTags = true, map[string]map[string]string{}
		for _, n := range slices.Sorted(maps.Keys(listed)) {
			tags, err := tl.DistTags(ctx, n)
			if err != nil {
				return providers.OutputRead{}, fmt.Errorf("listing source dist-tags: %w", err)
			}
			st.SourceTags[n] = tags
		}
	}
	if req.Refresh {
		names := maps.Clone(listed)
		for _, a := range req.Owned {
			if a.Name != "" {
				names[a.Name] = true
			}
		}
		st.Refreshed, st.Packages = true, map[string]PackageMeta{}
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(statParallelism)
		for _, n := range slices.Sorted(maps.Keys(names)) {
			g.Go(func() error {
				meta, err := s.StatPackage(gctx, n)
				if err != nil && !errors.Is(err, providers.ErrNotFound) {
					return err
				}
				mu.Lock()
				st.Packages[n] = meta
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return providers.OutputRead{}, err
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return providers.OutputRead{}, err
	}
	return providers.OutputRead{State: b, CheckAccess: true}, nil
}

// PlanOutputs plans one update per package: its dist-tags made to match
// the upstream's for the versions present once the plan is applied (with
// latest on the newest of them when the upstream's latest is not), and its
// deprecations. A tag the upstream does not have is left alone (ferry did
// not set it); one the upstream moved to a version the mirror will not
// have is removed (except latest, which is then set to the newest mirrored
// release), since keeping it would say the upstream still tags the old
// version. Tags are planned only when both the upstream's and the
// destination's are known. It is pure.
func (c *DestinationConfig) PlanOutputs(in providers.OutputInput) (providers.OutputPlan, error) {
	var st outputState
	if err := json.Unmarshal(in.State, &st); err != nil {
		return providers.OutputPlan{}, fmt.Errorf("reading the inventoried package metadata: %w", err)
	}
	deps := map[string]map[string]string{} // name → version → message
	for _, a := range in.Deprecate {
		if st.Packages[a.Name].Deprecated[a.Version] != "" {
			continue // already deprecated
		}
		if deps[a.Name] == nil {
			deps[a.Name] = map[string]string{}
		}
		deps[a.Name][a.Version] = deprecationMessage
	}
	tags := st.Refreshed && st.Tagged
	if len(deps) == 0 && !tags {
		return providers.OutputPlan{}, nil
	}
	present := map[string]map[string]string{} // name → version → key
	for _, a := range in.Present {
		if a.Name == "" || a.Version == "" {
			continue
		}
		if present[a.Name] == nil {
			present[a.Name] = map[string]string{}
		}
		present[a.Name][a.Version] = a.Key
	}
	names := map[string]bool{}
	for n := range deps {
		names[n] = true
	}
	if tags {
		for n := range present {
			names[n] = true
		}
	}
	var res providers.OutputPlan
	for _, name := range slices.Sorted(maps.Keys(names)) {
		d := PackageDetail{Deprecate: deps[name]}
		var dependsOn []string
		if tags && len(present[name]) > 0 {
			before := st.Packages[name].Tags
			want := map[string]string{}
			for tag, v := range st.SourceTags[name] {
				if _, ok := present[name][v]; ok {
					want[tag] = v
				}
			}
			if _, ok := want["latest"]; !ok {
				want["latest"] = newest(slices.Collect(maps.Keys(present[name])))
			}
			for tag, v := range want {
				if before[tag] == v {
					continue
				}
				if d.SetTags == nil {
					d.SetTags, d.TagKeys = map[string]string{}, map[string]string{}
				}
				d.SetTags[tag] = v
				key := present[name][v]
				d.TagKeys[tag] = key
				if !slices.Contains(dependsOn, key) {
					dependsOn = append(dependsOn, key)
				}
			}
			for tag, v := range st.SourceTags[name] {
				if _, kept := want[tag]; kept {
					continue
				}
				if old, ok := before[tag]; ok && old != v {
					if d.RemoveTags == nil {
						d.RemoveTags = map[string]string{}
					}
					d.RemoveTags[tag] = v
				}
			}
			if len(d.SetTags)+len(d.RemoveTags) > 0 {
				d.TagsBefore = before
			}
			slices.Sort(dependsOn)
		}
		n := len(d.SetTags) + len(d.RemoveTags) + len(d.Deprecate)
		if n == 0 {
			continue
		}
		detail, err := json.Marshal(d)
		if err != nil {
			return res, err
		}
		o := providers.Output{
			Path: name, Verb: "update", Reason: "dist-tags differ from the upstream",
			Count: n, Unit: "field", Done: "updated",
			Diff: strings.Join(d.lines(), "\n"), DependsOn: dependsOn, Detail: detail,
		}
		if len(d.Deprecate) > 0 {
			o.Reason = "removed from source"
		}
		res.Outputs = append(res.Outputs, o)
	}
	return res, nil
}

// lines describe an update: one per tag and deprecation, sorted.
func (d *PackageDetail) lines() []string {
	var out []string
	for _, tag := range slices.Sorted(maps.Keys(d.SetTags)) {
		before := d.TagsBefore[tag]
		if before == "" {
			before = "(none)"
		}
		out = append(out, fmt.Sprintf("dist-tag %s: %s -> %s", tag, before, d.SetTags[tag]))
	}
	for _, tag := range slices.Sorted(maps.Keys(d.RemoveTags)) {
		out = append(out, fmt.Sprintf("dist-tag %s: %s -> (removed: the upstream moved it to %s, which this mirror does not have)",
			tag, d.TagsBefore[tag], d.RemoveTags[tag]))
	}
	for _, v := range slices.Sorted(maps.Keys(d.Deprecate)) {
		out = append(out, fmt.Sprintf("deprecate %s: %q", v, d.Deprecate[v]))
	}
	return out
}

// newest is the highest version in npm's (semver) order, preferring
// releases to prereleases.
func newest(versions []string) string {
	slices.SortFunc(versions, func(a, b string) int {
		if pa, pb := strings.Contains(a, "-"), strings.Contains(b, "-"); pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		if c := CompareVersions(a, b); c != 0 {
			return c
		}
		return strings.Compare(a, b) // equal versions ("1.0.0+a", "1.0.0+b"): stable pick
	})
	return versions[len(versions)-1]
}

// Publish changes a package's metadata as planned. Tags pointing at
// versions that did not land (missing) are left out and reported;
// deprecations always apply. There is no compare-and-swap on the
// package's metadata: publishing a version changes its document (a
// registry may point latest at it), so the plan's view of it cannot be
// compared; each tag is set or removed as planned.
func (s *Store) Publish(ctx context.Context, o providers.Output, missing []string) error {
	var d PackageDetail
	if err := json.Unmarshal(o.Detail, &d); err != nil || o.Path == "" {
		return s.opErr("update", o.Path, errors.New("not a package update"))
	}
	u := PackageUpdate{Deprecate: d.Deprecate, SetTags: map[string]string{}}
	u.RemoveTags = slices.Sorted(maps.Keys(d.RemoveTags))
	var skipped []string
	for tag, v := range d.SetTags {
		if key := d.TagKeys[tag]; slices.Contains(missing, key) {
			skipped = append(skipped, tag+" -> "+v)
			continue
		}
		u.SetTags[tag] = v
	}
	if len(u.SetTags)+len(u.RemoveTags)+len(u.Deprecate) > 0 {
		if err := s.UpdatePackage(ctx, o.Path, u); err != nil {
			return err
		}
	}
	if len(skipped) > 0 {
		slices.Sort(skipped)
		return fmt.Errorf("dist-tags not set (%s): %w", strings.Join(skipped, ", "), errTagsSkipped)
	}
	return nil
}
