package planner

import (
	"maps"
	"slices"
	"strings"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/planner/retention"
	"github.com/ferry-mirror/ferry/state"
)

// deprecationMessage is what a version removed upstream is deprecated with.
const deprecationMessage = "removed from the upstream registry (deprecated by ferry: on_upstream_removed = \"deprecate\")"

// keep records an owned artifact removed upstream that the mirror keeps.
func (b *builder) keep(m *config.Mirror, o *state.Artifact) {
	if b.kept == nil {
		b.kept = map[string]map[string]*state.Artifact{}
	}
	if b.kept[m.Name] == nil {
		b.kept[m.Name] = map[string]*state.Artifact{}
	}
	b.kept[m.Name][o.Key] = o
}

// deprecate records that o's version is to be deprecated.
func (b *builder) deprecate(m *config.Mirror, o *state.Artifact) {
	if b.deprecations == nil {
		b.deprecations = map[string]map[string]map[string]string{}
	}
	if b.deprecations[m.Name] == nil {
		b.deprecations[m.Name] = map[string]map[string]string{}
	}
	if b.deprecations[m.Name][o.Name] == nil {
		b.deprecations[m.Name][o.Name] = map[string]string{}
	}
	b.deprecations[m.Name][o.Name][o.Version] = deprecationMessage
}

// planPackages plans one update per package of a mirror whose destination
// has package metadata: its dist-tags made to match the upstream's for the
// versions that will be at the destination once changes are applied (with
// latest on the newest of them when the upstream's latest is not), and its
// deprecations. A tag the upstream does not have is left alone (ferry did
// not set it); one the upstream moved to a version the mirror will not
// have is removed (except latest, which is then set to the newest
// mirrored release), since keeping it would say the upstream still tags
// the old version.
func (b *builder) planPackages(m *config.Mirror, changes []plan.Change) {
	dstPkgs, refreshed := b.inv.Packages[m.To]
	srcTags, tagged := b.inv.SourceTags[m.From]
	deps := b.deprecations[m.Name]
	if len(deps) == 0 && !(refreshed && tagged) {
		return
	}
	type version struct{ name, version string }
	versions := map[string]version{} // key → name and version
	for _, a := range b.inv.Sources[m.From] {
		versions[a.Key] = version{a.Name, a.Version}
	}
	for key, o := range b.kept[m.Name] {
		versions[key] = version{o.Name, o.Version}
	}
	adding := map[string]bool{}
	for _, c := range changes {
		if c.Mirror == m.Name && c.Transfers() {
			adding[c.Key] = true
		}
	}
	present := map[string]map[string]string{} // name → version → key
	for key := range b.present[m.Name] {
		v, ok := versions[key]
		if !ok || v.name == "" || v.version == "" {
			continue
		}
		if present[v.name] == nil {
			present[v.name] = map[string]string{}
		}
		present[v.name][v.version] = key
	}

	names := map[string]bool{}
	for n := range deps {
		names[n] = true
	}
	if refreshed && tagged {
		for n := range present {
			names[n] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if !outputInScope(m.Name, name, b.opts) {
			continue
		}
		d := &plan.PackageDetail{Deprecate: deps[name]}
		if refreshed && tagged && len(present[name]) > 0 {
			before := dstPkgs[name].Tags
			want := map[string]string{}
			for tag, v := range srcTags[name] {
				if _, ok := present[name][v]; ok {
					want[tag] = v
				}
			}
			if _, ok := want["latest"]; !ok {
				want["latest"] = newest(slices.Collect(maps.Keys(present[name])), b.versionOrder(m))
			}
			for tag, v := range want {
				if before[tag] == v {
					continue
				}
				if d.SetTags == nil {
					d.SetTags = map[string]string{}
				}
				d.SetTags[tag] = v
				if key := present[name][v]; adding[key] {
					if d.TagKeys == nil {
						d.TagKeys = map[string]string{}
					}
					d.TagKeys[tag] = key
					if !slices.Contains(d.DependsOn, key) {
						d.DependsOn = append(d.DependsOn, key)
					}
				}
			}
			for tag, v := range srcTags[name] {
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
			slices.Sort(d.DependsOn)
		}
		if len(d.SetTags)+len(d.RemoveTags)+len(d.Deprecate) == 0 {
			continue
		}
		c := plan.Change{
			Address: plan.Address(m.Name, name), Mirror: m.Name, Key: name, Name: name,
			Action: plan.Update, Reason: plan.DistTagsBehind, Source: m.From, Destination: m.To, Package: d,
		}
		if len(d.Deprecate) > 0 {
			c.Reason = plan.RemovedFromSource
		}
		b.changes = append(b.changes, c)
	}
}

// newest is the highest version, preferring releases to prereleases, by
// order (the source type's version order; nil is retention's plain order).
func newest(versions []string, order func(a, b string) int) string {
	if order == nil {
		order = retention.CompareVersions
	}
	slices.SortFunc(versions, func(a, b string) int {
		if pa, pb := strings.Contains(a, "-"), strings.Contains(b, "-"); pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		if c := order(a, b); c != 0 {
			return c
		}
		return strings.Compare(a, b) // equal versions ("1.0.0+a", "1.0.0+b"): stable pick
	})
	return versions[len(versions)-1]
}
