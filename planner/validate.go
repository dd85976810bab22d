package planner

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// Validate checks a saved plan before apply executes any of it: every change
// must be one the configuration and the prior state justify now. A plan file
// is input like any other; the staleness checks (state lineage and serial,
// config digest, destination descriptions) prove it was made against this
// state and config, not that it still says what ferry planned. Errors name
// each unjustified change; apply must then execute nothing.
//
// inv is a listing of the sources only (no destination refresh), taken now.
// The saved plan is compared with a plan made from it with refresh off: that
// reuses the planner's own rules (ownership, retention, selection, consumer
// outputs) instead of a second copy that could drift from them, and costs one
// source listing, no destination call. What a refresh adds to a plan is
// accepted where the refresh-off plan agrees on the substance:
//   - drift repairs and adoptions (missing_at_destination,
//     changed_at_destination, already_at_destination): the refresh-off plan
//     keeps the same key, from the same source, with the same digests;
//   - dist-tags and deprecations: planned against empty destination
//     metadata, every tag the upstream justifies is planned, and a saved
//     update may only set a part of them;
//   - -replace of an object ferry does not own: the plan names it in its
//     replaces (the refresh-off plan cannot see the object).
//
// now is the clock for retention: the real time, never the plan's, so an
// edited created_at cannot widen what max_age drops.
func Validate(cfg *config.Config, prior *state.State, inv *Inventory, saved *plan.Plan, now time.Time) hcl.Diagnostics {
	if prior == nil {
		prior = &state.State{}
	}
	var diags hcl.Diagnostics
	refuse := func(addr, why string) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Saved plan not justified by the configuration and state",
			Detail: fmt.Sprintf("%s: %s. Nothing was applied. If the plan file was edited, discard it; "+
				"if the sources changed since it was made, run ferry plan again.", addr, why),
		})
	}
	opts := Options{Now: now}
	for _, list := range []struct {
		flag string
		in   []string
		out  *[]plan.Target
	}{
		{"target", saved.Targets, &opts.Targets},
		{"exclude", saved.Excludes, &opts.Excludes},
		{"replace", saved.Replaces, &opts.Replaces},
		{"allow-delete", saved.AllowDeletes, &opts.AllowDeletes},
	} {
		for _, s := range list.in {
			t, err := plan.ParseTarget(s)
			if err != nil {
				refuse("-"+list.flag+" "+s, err.Error())
				continue
			}
			*list.out = append(*list.out, t)
		}
	}
	if diags.HasErrors() {
		return diags
	}

	fresh := *inv
	fresh.Refreshed, fresh.Destinations, fresh.SizeHints = false, nil, nil
	fresh.Packages = map[string]map[string]providers.PackageMeta{}
	for _, m := range cfg.Mirrors {
		fresh.Packages[m.To] = map[string]providers.PackageMeta{}
	}
	want, b, _ := build(cfg, prior, &fresh, opts)

	// The fresh plan's changes and no-ops, by address; one address can hold
	// an artifact change and (for a package named like a key) an update.
	byAddr := map[string][]plan.Change{}
	for _, c := range want.Changes {
		byAddr[c.Address] = append(byAddr[c.Address], c)
	}
	for _, c := range b.noOps {
		if inScope(c.Mirror, c.Key, opts) {
			byAddr[c.Address] = append(byAddr[c.Address], c)
		}
	}
	find := func(addr string, actions ...plan.Action) *plan.Change {
		for i, c := range byAddr[addr] {
			if slices.Contains(actions, c.Action) {
				return &byAddr[addr][i]
			}
		}
		return nil
	}
	sizes := map[string]int64{}
	for src, arts := range fresh.Sources {
		for _, a := range arts {
			sizes[src+"\x00"+a.Key] = a.Size
		}
	}
	v := validator{b: b, opts: opts, find: find, sizes: sizes}
	for i := range saved.Changes {
		c := &saved.Changes[i]
		if why := v.justify(c); why != "" {
			refuse(fmt.Sprintf("%s (%s)", c.Address, c.Action), why)
		}
	}
	diags = append(diags, b.checkDeleteGuards(saved.Changes)...)

	used := map[string]bool{}
	for _, m := range cfg.Mirrors {
		used[m.From] = true
	}
	for _, src := range sortedKeys(saved.Feeds) {
		if !used[src] {
			refuse("feeds of "+src, "no configured mirror reads source "+src)
		}
	}
	return diags
}

type validator struct {
	b    *builder
	opts Options
	find func(addr string, actions ...plan.Action) *plan.Change
	// sizes are the sizes sources declare, by source address and key.
	sizes map[string]int64
}

// justify returns why the configuration and state do not justify c, or "".
func (v validator) justify(c *plan.Change) string {
	switch {
	case c.Action == plan.NoOp, c.Action == plan.Delete && c.DryRun:
		return "" // shown, never executed
	case c.Action == plan.Add, c.Action == plan.Replace:
		return v.justifyTransfer(c)
	case c.Action == plan.Delete:
		return v.justifyDelete(c)
	case c.Action == plan.Forget:
		f := v.find(c.Address, plan.Forget)
		if f == nil || f.Destination != c.Destination {
			return "no other mirror of the configuration now writes this object, so the state must not forget it"
		}
		return ""
	case c.Action == plan.Rewrite:
		return v.justifyRewrite(c)
	case c.Action == plan.Update:
		return v.justifyUpdate(c)
	}
	return "unknown action"
}

func (v validator) justifyTransfer(c *plan.Change) string {
	f := v.find(c.Address, plan.Add, plan.Replace, plan.NoOp)
	if f == nil {
		return "the configuration does not mirror this key now (the mirror is not configured, its source does not list the key, or retention drops it)"
	}
	declared, ok := v.sizes[f.Source+"\x00"+c.Key]
	if !ok {
		declared = -1
	}
	switch {
	case c.Destination != f.Destination:
		return fmt.Sprintf("it writes to %s, but mirror %q writes to %s", c.Destination, c.Mirror, f.Destination)
	case c.Source != f.Source:
		return fmt.Sprintf("it reads from %s, but mirror %q reads from %s", c.Source, c.Mirror, f.Source)
	case !c.After.Digests.Equal(f.After.Digests):
		return fmt.Sprintf("it expects digests %s, but source %s declares %s", digestList(c.After.Digests), f.Source, digestList(f.After.Digests))
	case declared >= 0 && (!c.SizeDeclared || c.After.Size != declared):
		return fmt.Sprintf("it expects size %d, but source %s declares %d", c.After.Size, f.Source, declared)
	case c.SizeDeclared && (!f.SizeDeclared || c.After.Size != f.After.Size):
		// An undeclared size may be enforced only as ferry recorded it
		// for the same bytes (the refresh-off plan pins it too).
		return fmt.Sprintf("it enforces a size of %d that neither source %s nor the state vouches for", c.After.Size, f.Source)
	case c.Origin != f.Origin:
		return fmt.Sprintf("it fetches from %q, but the source declares %q", c.Origin, f.Origin)
	case c.Name != f.Name || c.Version != f.Version || !c.Created.Equal(f.Created):
		return "its name, version or publish time differ from what the source declares"
	}
	if c.Action == plan.Replace && f.Action != plan.Replace && v.b.prior.Artifact(c.Mirror, c.Key) == nil &&
		!slices.ContainsFunc(v.opts.Replaces, func(t plan.Target) bool { return t.Matches(c.Mirror, c.Key) }) {
		return "it overwrites an object ferry does not own, and the plan's replaces do not name it"
	}
	return ""
}

func (v validator) justifyDelete(c *plan.Change) string {
	f := v.find(c.Address, plan.Delete)
	if f == nil {
		sm := v.b.prior.Mirror(c.Mirror)
		if sm == nil || sm.Artifacts[c.Key] == nil || sm.Destination != c.Destination {
			return fmt.Sprintf("the state records no object %q of mirror %q at %s, and ferry deletes only what it owns", c.Key, c.Mirror, c.Destination)
		}
		return "the configuration still mirrors it: neither retention, the source nor a removed mirror drops it"
	}
	switch {
	case c.Destination != f.Destination:
		return fmt.Sprintf("ferry owns it at %s, not %s", f.Destination, c.Destination)
	case f.DryRun:
		return "the mirror's retention is a dry run: the delete must stay one"
	case c.DestinationChanged && !slices.ContainsFunc(v.opts.AllowDeletes, func(t plan.Target) bool { return t.Matches(c.Mirror, c.Key) }):
		return "it changed at the destination since ferry wrote it, and -allow-delete does not name it"
	}
	return ""
}

func (v validator) justifyRewrite(c *plan.Change) string {
	f := v.find(c.Address, plan.Rewrite)
	if f == nil {
		m := v.b.cfg.Mirrors[c.Mirror]
		switch {
		case m == nil:
			return fmt.Sprintf("mirror %q is not configured", c.Mirror)
		case c.Rewrite.Kind == plan.KindBindings && m.Bindings != nil:
			return fmt.Sprintf("mirror %q writes its bindings to %q only, or they are in sync now", c.Mirror, v.b.inv.Rewrites[c.Mirror].Bindings)
		case c.Rewrite.Kind == plan.KindBuildpackTOML && m.Rewrite != nil:
			return fmt.Sprintf("mirror %q rewrites %q only, or it is in sync now", c.Mirror, v.b.inv.Rewrites[c.Mirror].Output)
		}
		return fmt.Sprintf("mirror %q has no such consumer output", c.Mirror)
	}
	got, wantRD := c.Rewrite, f.Rewrite
	switch {
	case got.Kind != wantRD.Kind || got.Path != wantRD.Path:
		return fmt.Sprintf("it writes %s %q, but the configuration says %q", got.Kind, got.Path, wantRD.Path)
	case got.Input != wantRD.Input || got.InputDigest != wantRD.InputDigest:
		return fmt.Sprintf("it edits %q (%s), but the source's document is %q (%s)", got.Input, got.InputDigest, wantRD.Input, wantRD.InputDigest)
	case !slices.Equal(got.Edits, wantRD.Edits) || !c.After.Digests.Equal(f.After.Digests):
		return "its edits differ from what the configuration and the source's document make"
	case !slices.Equal(got.Files, wantRD.Files):
		return "its binding files differ from what the configuration and the source's document make"
	case !slices.Equal(got.DependsOn, wantRD.DependsOn):
		return "it depends on other artifacts than the ones it points at"
	}
	for _, name := range got.Remove {
		if !slices.Contains(wantRD.Remove, name) {
			return fmt.Sprintf("it removes %q, which is not a stale mapping file of %q", name, wantRD.Path)
		}
	}
	return ""
}

func (v validator) justifyUpdate(c *plan.Change) string {
	m := v.b.cfg.Mirrors[c.Mirror]
	upstream, read := map[string]string(nil), false
	if m != nil && c.Source == m.From && c.Destination == m.To {
		upstream, read = v.b.inv.SourceTags[m.From][c.Key]
	}
	f := v.find(c.Address, plan.Update)
	wantPD := &plan.PackageDetail{}
	switch {
	case f != nil && f.Destination == c.Destination:
		wantPD = f.Package
	case !read || len(c.Package.RemoveTags) == 0:
		// Only a removal can be planned for a package the refresh-off
		// plan (no destination tags to compare) leaves alone.
		return fmt.Sprintf("package %q is not one of mirror %q's packages with dist-tags or deprecations to set", c.Key, c.Mirror)
	}
	got := c.Package
	// A tag is removed only where the upstream now points it at a version
	// this mirror does not tag (the planner's rule; which version the
	// destination had is refresh-only knowledge the plan records).
	for _, tag := range sortedKeys(got.RemoveTags) {
		if _, set := wantPD.SetTags[tag]; set || tag == "latest" || !read || upstream[tag] == "" || upstream[tag] != got.RemoveTags[tag] {
			return fmt.Sprintf("it removes dist-tag %q, which the upstream's tags do not justify", tag)
		}
	}
	for _, tag := range sortedKeys(got.SetTags) {
		if wantPD.SetTags[tag] != got.SetTags[tag] {
			return fmt.Sprintf("it points dist-tag %q at %q, which the upstream's tags and the mirrored versions do not justify", tag, got.SetTags[tag])
		}
		if key := wantPD.TagKeys[tag]; key != "" && (got.TagKeys[tag] != key || !slices.Contains(got.DependsOn, key)) {
			return fmt.Sprintf("dist-tag %q must wait for %q to land", tag, key)
		}
	}
	for _, ver := range sortedKeys(got.Deprecate) {
		if msg, ok := wantPD.Deprecate[ver]; !ok || msg != got.Deprecate[ver] {
			return fmt.Sprintf("it deprecates version %q, which the configuration does not justify", ver)
		}
	}
	return ""
}

func digestList(ds providers.Digests) string {
	if len(ds) == 0 {
		return "none"
	}
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += ", "
		}
		s += d.String()
	}
	return s
}
