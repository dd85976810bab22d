package planner

import (
	"bytes"
	"fmt"
	"maps"
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
// inv is a listing of the sources (no destination stats) and a fresh read
// of the consumer outputs (with the destination's, such as dist-tags, when
// the saved plan was refreshed), taken now. The saved plan is compared with
// a plan made from it with refresh off: that reuses the planner's own rules
// (ownership, retention, selection, consumer outputs) instead of a second
// copy that could drift from them, and costs one source listing and one
// output read, no object stat. What a refresh adds to a plan is accepted
// where the refresh-off plan agrees on the substance:
//   - drift repairs and adoptions (missing_at_destination,
//     changed_at_destination, already_at_destination): the refresh-off plan
//     keeps the same key, from the same source, with the same digests;
//   - -replace of an object ferry does not own: the plan names it in its
//     replaces (the refresh-off plan cannot see the object).
//
// A consumer output change must equal the fresh plan's change for the same
// output: its provider planned both from the same outputs, so any
// difference is an edit (or the outputs moved since, and apply's
// compare-and-swap would refuse it anyway).
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
	want, b, _ := build(cfg, prior, &fresh, opts)

	// The fresh plan's changes and no-ops, by address; one address can hold
	// an artifact change and (for a package named like a key) an output.
	byAddr := map[string][]plan.Change{}
	for _, c := range want.Changes {
		byAddr[c.Address] = append(byAddr[c.Address], c)
	}
	for _, n := range b.noOps {
		if inScope(n.mirror.Name, n.artifact.Key, opts) {
			c := b.noOpChange(n)
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
			refuse(fmt.Sprintf("%s (%s)", c.Address, c.Verb()), why)
		}
	}
	diags = append(diags, b.checkDeleteGuards(saved.Changes)...)

	used := map[string]bool{}
	for _, m := range cfg.Mirrors {
		used[m.From] = true
	}
	for _, src := range slices.Sorted(maps.Keys(saved.Feeds)) {
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
	case c.Action == plan.Publish:
		return v.justifyOutput(c)
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

func (v validator) justifyOutput(c *plan.Change) string {
	f := v.find(c.Address, plan.Publish)
	if f == nil {
		if v.b.cfg.Mirrors[c.Mirror] == nil {
			return fmt.Sprintf("mirror %q is not configured", c.Mirror)
		}
		return fmt.Sprintf("mirror %q has no such consumer output, or it is in sync now", c.Mirror)
	}
	got, want := c.Output, f.Output
	switch {
	case c.Source != f.Source || c.Destination != f.Destination || got.Side != want.Side:
		return fmt.Sprintf("it is published by the %s of %s -> %s, but mirror %q publishes it by its %s (%s -> %s)",
			got.Side, c.Source, c.Destination, c.Mirror, want.Side, f.Source, f.Destination)
	case !got.Before.Equal(want.Before) || !got.After.Equal(want.After):
		return fmt.Sprintf("it changes the output from %s to %s, but the configuration, the state and the output as it is now make %s to %s",
			digestList(got.Before), digestList(got.After), digestList(want.Before), digestList(want.After))
	case !slices.Equal(got.DependsOn, want.DependsOn):
		return "it depends on other artifacts than the ones it points at"
	case !bytes.Equal(got.Detail, want.Detail):
		return "its changes differ from what the configuration, the state and the output as it is now make"
	case got.Output.Diff != want.Output.Diff || got.Verb != want.Verb || got.Reason != want.Reason ||
		got.Count != want.Count || got.Unit != want.Unit || got.Done != want.Done:
		return "its description differs from what the configuration, the state and the output as it is now make"
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
