// Package planner computes a plan: a pure function of the configuration, the
// prior state and an inventory of what the sources offer and the
// destinations hold. All I/O happens before (the inventory) and after (apply).
package planner

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/internal/limit"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/planner/retention"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// Inventory is what the sources offer and the destinations hold, gathered
// before planning.
type Inventory struct {
	// Refreshed is false when the destination was not checked (-refresh=false).
	Refreshed bool `json:"refreshed"`
	// Sources lists each source's artifacts, by source address ("http.tools").
	Sources map[string][]providers.Artifact `json:"sources"`
	// Destinations holds, by destination address and key, what a stat found.
	// A key that is absent was not checked.
	Destinations map[string]map[string]Object `json:"destinations,omitempty"`
	// SizeHints are sizes learnt cheaply (an HTTP HEAD) for artifacts whose
	// source declares none, by source address and key. They are shown in the
	// plan but not enforced while streaming; declared sizes are.
	SizeHints map[string]map[string]int64 `json:"size_hints,omitempty"`
	// Notes are a source's explanations of what it cannot mirror (a
	// dependency without a checksum), by source address; the plan shows them.
	Notes map[string][]string `json:"notes,omitempty"`
	// Warnings are problems met while gathering that do not stop planning.
	Warnings []string `json:"warnings,omitempty"`
	// ConsumerWarnings are problems consumers of rewritten files or bindings
	// would meet downloading from a destination.
	ConsumerWarnings []string `json:"consumer_warnings,omitempty"`
	// Outputs are, by mirror name, what the Publisher owning the mirror's
	// consumer outputs read of them; absent for mirrors without any.
	Outputs map[string]OutputInventory `json:"outputs,omitempty"`
	// Upstream is set for sources that select from a larger upstream (npm):
	// by source address, for each key a mirror owns that the source did not
	// list and whose package it read, whether the upstream still has it
	// (true: merely not selected; false: removed upstream). A key absent
	// from a present map was outside what the source read.
	Upstream map[string]map[string]bool `json:"upstream,omitempty"`
	// Feeds are, by source address and feed URL, where the next plan
	// starts reading each changes feed a source followed.
	Feeds map[string]map[string]string `json:"feeds,omitempty"`
}

// Object is the result of one destination stat.
type Object struct {
	Exists  bool              `json:"exists"`
	Size    int64             `json:"size,omitempty"`
	Digests providers.Digests `json:"digests,omitempty"`
	// Claimed: the digests are the uploader's claim (providers.Artifact.Claimed).
	Claimed bool `json:"claimed,omitempty"`
}

// Lookup returns what a stat of key at dest found, and whether it was checked.
func (inv *Inventory) Lookup(dest, key string) (Object, bool) {
	o, ok := inv.Destinations[dest][key]
	return o, ok
}

// Options are the planning inputs that do not come from config, state or inventory.
type Options struct {
	// Now is the clock for max_age and the plan's timestamp.
	Now         time.Time
	ToolVersion string
	// Targets, if any, restrict the plan to these mirrors or artifacts.
	Targets []plan.Target
	// Excludes remove these mirrors or artifacts from the plan.
	Excludes []plan.Target
	// Replaces force a replace of these artifacts.
	Replaces []plan.Target
	// AllowDeletes confirm the delete of these owned artifacts (or of every
	// artifact of these mirrors) although their content changed at the
	// destination since ferry wrote it.
	AllowDeletes []plan.Target
	// Destinations describes each configured destination ("dir /srv/m"); it
	// is recorded in the plan so apply can refuse a plan whose destination moved.
	Destinations map[string]string
}

// Plan computes the changes that bring the destinations in line with the
// configuration. Errors (a delete guard crossed, an object ferry does not own
// in the way) are diagnostics; the plan is returned even then, for display,
// but must not be applied.
func Plan(cfg *config.Config, prior *state.State, inv *Inventory, opts Options) (*plan.Plan, hcl.Diagnostics) {
	p, _, diags := build(cfg, prior, inv, opts)
	return p, diags
}

// build is Plan, also returning the builder, whose no-ops Validate needs.
func build(cfg *config.Config, prior *state.State, inv *Inventory, opts Options) (*plan.Plan, *builder, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if prior == nil {
		prior = &state.State{}
	}
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		ToolVersion:   opts.ToolVersion,
		CreatedAt:     opts.Now.UTC(),
		ConfigDigest:  cfg.Digest,
		PriorState:    plan.StateRef{Lineage: prior.Lineage, Serial: prior.Serial},
		Refreshed:     inv.Refreshed,
		Feeds:         inv.Feeds,
	}
	for _, t := range opts.Targets {
		p.Targets = append(p.Targets, t.String())
	}
	for _, t := range opts.Excludes {
		p.Excludes = append(p.Excludes, t.String())
	}
	for _, t := range opts.Replaces {
		p.Replaces = append(p.Replaces, t.String())
	}
	for _, t := range opts.AllowDeletes {
		p.AllowDeletes = append(p.AllowDeletes, t.String())
	}

	// owners gets an entry per listed artifact: size it once instead of
	// rehashing it as it grows (100,000 keys rehash many times).
	listed := 0
	for _, m := range cfg.Mirrors {
		listed += len(inv.Sources[m.From])
	}
	b := &builder{cfg: cfg, prior: prior, inv: inv, opts: opts, owners: make(map[object]string, listed)}
	for _, name := range slices.Sorted(maps.Keys(cfg.Mirrors)) {
		diags = append(diags, b.planMirror(cfg.Mirrors[name])...)
	}
	diags = append(diags, b.notes()...)
	for _, w := range inv.Warnings {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Upstream did not answer", Detail: w})
	}
	for _, w := range inv.ConsumerWarnings {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Consumers may not be able to download", Detail: w})
	}
	for _, name := range slices.Sorted(maps.Keys(prior.Mirrors)) {
		if _, ok := cfg.Mirrors[name]; !ok {
			diags = append(diags, b.planRemovedMirror(name, prior.Mirrors[name])...)
		}
	}
	diags = append(diags, b.checkReplaces()...)
	b.forgetMoved()

	// Targeting: keep only what is in scope; a filtered run never touches
	// anything outside it.
	noOps := 0
	for _, n := range b.noOps {
		if inScope(n.mirror.Name, n.artifact.Key, opts) {
			noOps++
		}
	}
	for _, c := range b.changes {
		if inScope(c.Mirror, c.Key, opts) {
			p.Changes = append(p.Changes, c)
		}
	}
	diags = append(diags, b.checkChangedDeletes(p.Changes)...)

	// Consumer outputs point at what will be at the destination once this
	// plan is applied: what is there already, plus what this (possibly
	// targeted) plan transfers. So a targeted plan rewrites consistently.
	// Only planOutputs reads present, and only for a mirror whose outputs
	// were inventoried: the keys of other mirrors are not collected.
	b.present = map[string]map[string]bool{}
	mark := func(mirror, key string) {
		if _, ok := inv.Outputs[mirror]; !ok {
			return
		}
		if b.present[mirror] == nil {
			b.present[mirror] = map[string]bool{}
		}
		b.present[mirror][key] = true
	}
	for _, n := range b.noOps {
		mark(n.mirror.Name, n.artifact.Key)
	}
	for mirror, kept := range b.kept {
		for key := range kept {
			mark(mirror, key)
		}
	}
	for _, c := range p.Changes {
		if c.Action == plan.Add || c.Action == plan.Replace {
			mark(c.Mirror, c.Key)
		}
	}
	b.changes = nil
	for _, name := range slices.Sorted(maps.Keys(cfg.Mirrors)) {
		m := cfg.Mirrors[name]
		if !outputInScope(name, "", opts) {
			continue
		}
		diags = append(diags, b.planOutputs(m, p)...)
	}
	for _, c := range b.changes {
		if outputInScope(c.Mirror, c.Key, opts) {
			p.Changes = append(p.Changes, c)
		}
	}
	diags = append(diags, b.checkDeleteGuards(p.Changes)...)

	for _, c := range p.Changes {
		if d, ok := opts.Destinations[c.Destination]; ok {
			if p.Destinations == nil {
				p.Destinations = map[string]string{}
			}
			p.Destinations[c.Destination] = d
		}
	}
	p.DeleteQuotas = deleteQuotas(cfg, prior, p.Changes, opts.Now)
	p.DeleteNotes = deleteNotes(cfg, p.Changes)
	p.Sort()
	p.Summarize(noOps)
	return p, b, diags
}

// deleteQuotas says, for each destination with a delete quota that
// changes delete from, how long those deletes take at its rate: the
// wait apply's pacing (the same limit.Window) would see, given the
// deletes the state records in the hour before now. By destination.
func deleteQuotas(cfg *config.Config, prior *state.State, changes []plan.Change, now time.Time) []plan.DeleteQuota {
	deletes := executedDeletes(changes)
	var out []plan.DeleteQuota
	for _, addr := range slices.Sorted(maps.Keys(deletes)) {
		d := cfg.Destinations[addr]
		if d == nil || d.DeletesPerHour <= 0 {
			continue
		}
		w := limit.NewWindow(d.DeletesPerHour, limit.Hour, prior.RecentDeletes[addr])
		out = append(out, plan.DeleteQuota{
			Destination: addr,
			Deletes:     deletes[addr],
			PerHour:     d.DeletesPerHour,
			WaitSeconds: int64(w.Wait(now, deletes[addr]).Round(time.Second) / time.Second),
		})
	}
	return out
}

// deleteNotes says, for each destination whose type declares what its
// deletes do, how many the plan makes there and what they do.
func deleteNotes(cfg *config.Config, changes []plan.Change) []plan.DeleteNote {
	deletes := executedDeletes(changes)
	var out []plan.DeleteNote
	for _, addr := range slices.Sorted(maps.Keys(deletes)) {
		if d := cfg.Destinations[addr]; d != nil && d.DeleteNote != "" {
			out = append(out, plan.DeleteNote{Destination: addr, Deletes: deletes[addr], Note: d.DeleteNote})
		}
	}
	return out
}

// executedDeletes counts the deletes changes execute, by destination.
func executedDeletes(changes []plan.Change) map[string]int {
	deletes := map[string]int{}
	for _, c := range changes {
		if c.Action == plan.Delete && c.Executes() {
			deletes[c.Destination]++
		}
	}
	return deletes
}

// object is an object at a destination: its address and key.
type object struct{ destination, key string }

type builder struct {
	cfg     *config.Config
	prior   *state.State
	inv     *Inventory
	opts    Options
	changes []plan.Change
	// noOps are the listed artifacts that need nothing: most of a large
	// mirror. They are kept compact; noOpChange makes the change of one
	// when Validate needs it (a plan only counts them).
	noOps []noOp
	// owners maps each object to the mirror that writes it, to catch two
	// mirrors writing one object.
	owners       map[object]string
	usedReplaces []bool
	// present holds, per mirror with inventoried consumer outputs, the
	// keys that will be at the destination once the plan is applied (kept
	// by retention, not in error); build fills it for planOutputs.
	present map[string]map[string]bool
	// kept holds, per mirror, the owned artifacts removed upstream that
	// on_upstream_removed keeps; deprecations, per mirror, those of them to
	// mark deprecated.
	kept         map[string]map[string]*state.Artifact
	deprecations map[string][]providers.Artifact
}

// versionOrder is the version order of m's source type (retention ranks
// keep_last by it); nil, retention's plain order, when the type declares
// none.
func (b *builder) versionOrder(m *config.Mirror) func(a, b string) int {
	if src := b.cfg.SourceFor(m); src != nil {
		return src.VersionOrder
	}
	return nil
}

// outputInScope reports whether a mirror's consumer output (at path; empty
// for the mirror as a whole) is in scope: any target naming the mirror brings
// its outputs in, and an exclude of the mirror or of the output drops them.
func outputInScope(mirror, path string, opts Options) bool {
	if len(opts.Targets) > 0 && !slices.ContainsFunc(opts.Targets, func(t plan.Target) bool { return t.Mirror == mirror }) {
		return false
	}
	return !slices.ContainsFunc(opts.Excludes, func(t plan.Target) bool {
		return t.Mirror == mirror && (t.Key == "" || path != "" && t.Key == path)
	})
}

func inScope(mirror, key string, opts Options) bool {
	if len(opts.Targets) > 0 && !slices.ContainsFunc(opts.Targets, func(t plan.Target) bool { return t.Matches(mirror, key) }) {
		return false
	}
	return !slices.ContainsFunc(opts.Excludes, func(t plan.Target) bool { return t.Matches(mirror, key) })
}

func (b *builder) replaceRequested(mirror, key string) bool {
	if b.usedReplaces == nil {
		b.usedReplaces = make([]bool, len(b.opts.Replaces))
	}
	hit := false
	for i, t := range b.opts.Replaces {
		if t.Mirror == mirror && t.Key == key {
			b.usedReplaces[i] = true
			hit = true
		}
	}
	return hit
}

func (b *builder) checkReplaces() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, t := range b.opts.Replaces {
		if b.usedReplaces == nil || !b.usedReplaces[i] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Replace target matches nothing",
				Detail:   fmt.Sprintf("-replace %s names no artifact that ferry owns and the configuration still mirrors; nothing is replaced for it.", t),
			})
		}
	}
	return diags
}

func (b *builder) planMirror(m *config.Mirror) hcl.Diagnostics {
	var diags hcl.Diagnostics
	listed, ok := b.inv.Sources[m.From]
	if !ok {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Source not inventoried",
			Detail:   fmt.Sprintf("The inventory has no listing for source %s, so mirror %q cannot be planned.", m.From, m.Name),
			Subject:  m.FromRange.Ptr(),
		}}
	}
	owned := map[string]*state.Artifact{}
	if sm := b.prior.Mirrors[m.Name]; sm != nil {
		if sm.Destination != m.To {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Mirror destination changed",
				Detail: fmt.Sprintf("Mirror %q owns %s at %s, but its configuration now sends it to %s. ferry does not move mirrors: "+
					"restore `to = destination.%s`, or run `ferry state rm mirror.%s` to forget the old objects (they stay where they are) and plan again.",
					m.Name, plan.Plural(len(sm.Artifacts), "object"), sm.Destination, m.To, sm.Destination, m.Name),
				Subject: m.ToRange.Ptr(),
			}}
		}
		owned = sm.Artifacts
	}

	policy := retention.Policy{KeepLast: m.Retention.KeepLast, MaxAge: m.Retention.MaxAge, Keep: m.Retention.Keep, Order: b.versionOrder(m)}
	seen := make(map[string]bool, len(listed))
	var cands []retention.Candidate
	if policy.MayDrop() {
		cands = make([]retention.Candidate, 0, len(listed))
	}
	ageless := 0
	for _, a := range listed {
		// One map operation per key: the set grows unless it held the key.
		n := len(seen)
		seen[a.Key] = true
		if len(seen) == n {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate artifact key",
				Detail:   fmt.Sprintf("Source %s lists the key %q more than once.", m.From, a.Key),
				Subject:  m.FromRange.Ptr(),
			})
			continue
		}
		// Age is the upstream publish time only. Measuring from when ferry
		// mirrored it would delete, then re-add, then delete again.
		if cands != nil {
			cands = append(cands, retention.Candidate{Key: a.Key, Name: a.Name, Version: a.Version, Time: a.Created})
		}
		if a.Created.IsZero() {
			ageless++
		}
	}
	if policy.MaxAge > 0 && ageless > 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "max_age cannot judge every artifact",
			Detail: fmt.Sprintf("Source %s gives no publish time for %s of mirror %q, so max_age keeps them. "+
				"For an http source, declare published = \"…\" (RFC 3339) on each artifact.", m.From, plan.Plural(ageless, "artifact"), m.Name),
			Subject: m.Retention.MaxAgeRange.Ptr(),
		})
	}
	if diags.HasErrors() {
		return diags
	}
	// A policy that drops nothing keeps every key: a nil map answers Kept.
	var verdicts map[string]retention.Verdict
	if cands != nil {
		verdicts = retention.Decide(policy, b.opts.Now, cands)
	}
	// No-ops are owned artifacts still listed: reserve for them at once
	// (append grows a large slice by a quarter, copying it again and again).
	b.noOps = slices.Grow(b.noOps, min(len(listed), len(owned)))

	stillListed := 0 // owned keys listed (each once: duplicates returned above)
	for i := range listed {
		a := &listed[i]
		o := owned[a.Key]
		if o != nil {
			stillListed++
		}
		if v := verdicts[a.Key]; v != retention.Kept {
			if o != nil {
				c := deleteChange(plan.Change{
					Address: plan.Address(m.Name, a.Key), Mirror: m.Name, Key: a.Key, Destination: m.To,
					Name: a.Name, Version: a.Version, Created: a.Created,
				}, o)
				c.Reason = plan.RetentionKeepLast
				if v == retention.DroppedMaxAge {
					c.Reason = plan.RetentionMaxAge
				}
				c.Detail = policy.Detail(v)
				c.DryRun = m.Retention.DryRun
				b.changes = append(b.changes, c)
			}
			continue
		}
		id := object{m.To, a.Key}
		if prev, dup := b.owners[id]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Two mirrors write one object",
				Detail:   fmt.Sprintf("Mirrors %q and %q both write %q to %s. Give one of them another destination or different artifact keys.", prev, m.Name, a.Key, m.To),
				Subject:  m.ToRange.Ptr(),
			})
			continue
		}
		b.owners[id] = m.Name

		obj, checked := b.inv.Lookup(m.To, a.Key)
		replace := b.replaceRequested(m.Name, a.Key)
		if o != nil && !a.Digests.Conflicts(o.SourceDigests) && !replace && (!checked || obj.Exists && !obj.Digests.Conflicts(o.Digests)) {
			// Owned, the same upstream, no replace asked, and the
			// destination (when checked) holds what ferry wrote: nothing
			// to do. The common case by far; its change is made only when
			// someone asks for it (noOpChange).
			b.noOps = append(b.noOps, noOp{mirror: m, artifact: a, owned: o})
			continue
		}
		c := b.listedChange(m, a, o)
		switch {
		case o != nil:
			// One of these holds: the no-op test above failed.
			switch {
			case a.Digests.Conflicts(o.SourceDigests):
				c.Action, c.Reason = plan.Replace, plan.UpstreamChanged
				c.Detail = "state has " + o.SourceDigests.Primary().String() + ", source declares " + a.Digests.Primary().String()
			case replace:
				c.Action, c.Reason = plan.Replace, plan.ReplaceRequested
			case checked && !obj.Exists:
				c.Action, c.Reason = plan.Add, plan.MissingAtDestination
				c.Before = nil
			case checked && obj.Digests.Conflicts(o.Digests):
				c.Action, c.Reason = plan.Replace, plan.ChangedAtDestination
				c.Before = &plan.Object{Size: obj.Size, Digests: obj.Digests}
				c.Detail = "state has " + o.Digests.Primary().String() + ", destination has " + obj.Digests.Primary().String()
			}
			if c.Reason != plan.UpstreamChanged {
				pinRecordedSize(&c, o)
			}
		case checked && obj.Exists && obj.Digests.Matches(a.Digests):
			c.Action, c.Reason = plan.Add, plan.AlreadyAtDestination
			c.Before = &plan.Object{Size: obj.Size, Digests: obj.Digests}
			c.After = &plan.Object{Size: obj.Size, Digests: a.Digests}
			if obj.Claimed {
				// Apply adopts only verified bytes (apply.Adopt); say so
				// where the digest shown is merely claimed.
				c.Detail = "its digest is only the uploader's claim, so apply reads it back and verifies its bytes first"
			}
		case checked && obj.Exists && obj.Digests.Conflicts(a.Digests) && !replace:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Destination object not owned by ferry",
				Detail: fmt.Sprintf("%s already holds %q with digest %s, but source %s declares %s, and ferry's state does not own the object. "+
					"ferry never overwrites what it does not own: remove the object, or pass -replace='%s' to overwrite it.",
					m.To, a.Key, obj.Digests.Primary(), m.From, a.Digests.Primary(), c.Address),
				Subject: m.DeclRange.Ptr(),
			})
			continue
		case replace && checked && obj.Exists:
			c.Action, c.Reason = plan.Replace, plan.ReplaceRequested
			c.Before = &plan.Object{Size: obj.Size, Digests: obj.Digests}
		default:
			// Not checked (refresh off), or checked and absent. If something
			// appeared meanwhile, apply's create-only put refuses to clobber it.
			c.Action, c.Reason = plan.Add, plan.NewInSource
		}
		b.changes = append(b.changes, c)
	}

	// Owned keys the source no longer lists: usually none, so they are
	// looked for (and sorted) only when some are.
	var gone []string
	if stillListed < len(owned) {
		for key := range owned {
			if !seen[key] {
				gone = append(gone, key)
			}
		}
		slices.Sort(gone)
	}
	upstream, selective := b.inv.Upstream[m.From]
	for _, key := range gone {
		o := owned[key]
		c := deleteChange(plan.Change{
			Address: plan.Address(m.Name, key), Mirror: m.Name, Key: key, Destination: m.To,
		}, o)
		c.Reason = plan.RemovedFromSource
		c.DryRun = m.Retention.DryRun
		if has, known := upstream[key]; selective && (has || !known) {
			// Still upstream: the selection moved, not the upstream.
			c.Reason = plan.NoLongerSelected
			b.changes = append(b.changes, c)
			continue
		}
		switch m.OnUpstreamRemoved {
		case config.RemovedKeep, config.RemovedDeprecate:
			b.keep(m, o)
			if m.OnUpstreamRemoved == config.RemovedDeprecate {
				b.deprecate(m, o)
			}
			c.Action, c.Reason, c.DryRun = plan.NoOp, plan.KeptRemovedFromSource, false
			b.changes = append(b.changes, c)
		default:
			b.changes = append(b.changes, c)
		}
	}
	return diags
}

// noOp is a listed artifact the plan leaves as it is: owned by mirror
// (the state's record), unchanged upstream and at the destination.
type noOp struct {
	mirror   *config.Mirror
	artifact *providers.Artifact // in the inventory's listing
	owned    *state.Artifact
}

// noOpChange is n's change, as a plan would hold it.
func (b *builder) noOpChange(n noOp) plan.Change {
	c := b.listedChange(n.mirror, n.artifact, n.owned)
	pinRecordedSize(&c, n.owned)
	return c
}

// listedChange is the change of listed artifact a of mirror m, before
// its action is decided: what the source offers (After), what ferry
// recorded when it owns the key (o non-nil: Before), and where to fetch.
func (b *builder) listedChange(m *config.Mirror, a *providers.Artifact, o *state.Artifact) plan.Change {
	c := plan.Change{
		Address: plan.Address(m.Name, a.Key), Mirror: m.Name, Key: a.Key,
		Source: m.From, Destination: m.To,
		Name: a.Name, Version: a.Version, Origin: a.Origin, Created: a.Created,
		After: &plan.Object{Size: a.Size, Digests: a.Digests}, SizeDeclared: a.Size >= 0,
	}
	if hint, ok := b.inv.SizeHints[m.From][a.Key]; ok && a.Size < 0 {
		c.After.Size = hint
	}
	if o != nil {
		c.Before = &plan.Object{Size: o.Size, Digests: o.Digests}
		if served := b.inv.Outputs[m.Name].Served[a.Key]; o.Origin != "" && served != "" && a.Origin == served {
			// The file was rewritten in place and names the mirror now:
			// fetch from the upstream ferry recorded instead.
			c.Origin = o.Origin
		}
	}
	return c
}

// pinRecordedSize enforces the size ferry recorded for an owned artifact
// whose source declares no size but the same digest as when ferry mirrored
// it: same bytes, so the recorded size is exact.
func pinRecordedSize(c *plan.Change, o *state.Artifact) {
	if c.After.Size < 0 && o.Size >= 0 {
		c.After.Size, c.SizeDeclared = o.Size, true
	}
}

func (b *builder) planRemovedMirror(name string, sm *state.Mirror) hcl.Diagnostics {
	if _, ok := b.cfg.Destinations[sm.Destination]; !ok && len(sm.Artifacts) > 0 {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Destination of a removed mirror is not configured",
			Detail: fmt.Sprintf("Mirror %q was removed from the configuration; ferry would delete the %s it owns at %s, but that destination is no longer configured. "+
				"Restore the destination block so ferry can delete them, or run `ferry state rm mirror.%s` to forget them (they stay where they are).",
				name, plan.Plural(len(sm.Artifacts), "object"), sm.Destination, name),
		}}
	}
	for _, key := range slices.Sorted(maps.Keys(sm.Artifacts)) {
		c := deleteChange(plan.Change{
			Address: plan.Address(name, key), Mirror: name, Key: key, Destination: sm.Destination,
		}, sm.Artifacts[key])
		c.Reason = plan.MirrorRemovedFromConfig
		b.changes = append(b.changes, c)
	}
	return nil
}

// forgetMoved turns the delete of an object that another mirror now writes
// into a forget: deleting it would destroy what that mirror is adopting
// (the usual case is a renamed mirror).
func (b *builder) forgetMoved() {
	for i := range b.changes {
		c := &b.changes[i]
		if c.Action != plan.Delete {
			continue
		}
		if owner, ok := b.owners[object{c.Destination, c.Key}]; ok && owner != c.Mirror {
			c.Action, c.Reason, c.DryRun = plan.Forget, plan.MovedToMirror, false
			c.Detail = "now mirror." + owner
		}
	}
}

// checkChangedDeletes marks each delete of an owned object whose content
// changed at the destination since ferry wrote it, and refuses it unless
// -allow-delete confirms it: someone replaced those bytes, and a retention or
// removal delete would destroy them silently.
func (b *builder) checkChangedDeletes(changes []plan.Change) hcl.Diagnostics {
	var diags hcl.Diagnostics
	used := make([]bool, len(b.opts.AllowDeletes))
	for i := range changes {
		c := &changes[i]
		if c.Action != plan.Delete {
			continue
		}
		o := b.prior.Artifact(c.Mirror, c.Key)
		obj, checked := b.inv.Lookup(c.Destination, c.Key)
		if o == nil || !checked || !obj.Exists || !obj.Digests.Conflicts(o.Digests) {
			continue
		}
		why := c.ReasonText()
		c.DestinationChanged = true
		c.Before = &plan.Object{Size: obj.Size, Digests: obj.Digests}
		allowed := false
		for j, t := range b.opts.AllowDeletes {
			if t.Matches(c.Mirror, c.Key) {
				used[j], allowed = true, true
			}
		}
		if allowed || c.DryRun {
			continue
		}
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Owned object changed at destination",
			Detail: fmt.Sprintf("The plan would delete %s (%s), but %s holds other bytes under %q than ferry wrote (state has %s, destination has %s): "+
				"someone replaced them, and deleting would destroy content ferry did not write. Nothing is deleted. "+
				"If the delete is intended, plan again with -allow-delete='%s'; to leave the object where it is and stop managing it, run ferry state rm '%s'.",
				c.Address, why, c.Destination, c.Key, o.Digests.Primary(), obj.Digests.Primary(), c.Address, c.Address),
		}
		if m := b.cfg.Mirrors[c.Mirror]; m != nil {
			d.Subject = m.DeclRange.Ptr()
		}
		diags = append(diags, d)
	}
	for j, t := range b.opts.AllowDeletes {
		if !used[j] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Allow-delete target matches nothing",
				Detail:   fmt.Sprintf("-allow-delete %s names no delete of an object that changed at the destination; it has no effect.", t),
			})
		}
	}
	return diags
}

func deleteChange(c plan.Change, o *state.Artifact) plan.Change {
	c.Action = plan.Delete
	c.Name, c.Version = o.Name, o.Version
	c.Before = &plan.Object{Size: o.Size, Digests: o.Digests}
	c.After = nil
	return c
}

// Default mass-deletion guard, for mirrors without an explicit max_deletes:
// a plan may delete at most half of what a mirror owns once it owns
// guardMinOwned objects or more (smaller mirrors change by whole versions, a
// half is one or two objects), and nothing at all through a source that
// lists nothing. Both catch a broken upstream document (a buildpack.toml that
// lost its dependencies, an OCI repository that lists no tags) before it
// empties the mirror.
const guardMinOwned = 4

func (b *builder) checkDeleteGuards(changes []plan.Change) hcl.Diagnostics {
	var diags hcl.Diagnostics
	counts := map[string]int{}
	for _, c := range changes {
		if c.Action == plan.Delete && !c.DryRun {
			counts[c.Mirror]++
		}
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		n := counts[name]
		limit := b.cfg.Settings.MaxDeletes
		rng := b.cfg.Settings.MaxDeletesRange
		where := "ferry.max_deletes"
		m := b.cfg.Mirrors[name]
		if m != nil && m.Retention.MaxDeletes != nil {
			limit, rng, where = m.Retention.MaxDeletes, m.Retention.MaxDeletesRange, fmt.Sprintf("mirror %q retention.max_deletes", name)
		}
		if limit == nil {
			// A mirror removed from the configuration is deleted on purpose:
			// only an explicit ferry.max_deletes guards it.
			if m != nil {
				if d := b.defaultGuard(m, n); d != nil {
					diags = append(diags, d)
				}
			}
			continue
		}
		if n <= *limit {
			continue
		}
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Too many deletes",
			Detail: fmt.Sprintf("The plan would delete %s of mirror %q, more than %s = %d allows. Nothing is deleted. "+
				"Review the plan: if the deletes are intended, raise the limit; if not, check the source and the retention rules.",
				plan.Plural(n, "object"), name, where, *limit),
		}
		if rng.Filename != "" {
			d.Subject = rng.Ptr()
		}
		diags = append(diags, d)
	}
	return diags
}

// defaultGuard applies the default mass-deletion guard to n deletes of a
// configured mirror that sets no max_deletes.
func (b *builder) defaultGuard(m *config.Mirror, n int) *hcl.Diagnostic {
	owned := 0
	if sm := b.prior.Mirrors[m.Name]; sm != nil {
		owned = len(sm.Artifacts)
	}
	var why string
	switch {
	case len(b.inv.Sources[m.From]) == 0:
		why = fmt.Sprintf("source %s lists nothing, and the plan would delete %s of the %s mirror %q owns",
			m.From, plan.Plural(n, "object"), plan.Plural(owned, "object"), m.Name)
	case owned >= guardMinOwned && 2*n > owned:
		why = fmt.Sprintf("the plan would delete %s of the %s mirror %q owns, more than half",
			plan.Plural(n, "object"), plan.Plural(owned, "object"), m.Name)
	default:
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Too many deletes",
		Detail: fmt.Sprintf("Mass-deletion guard: %s. Nothing is deleted. A source that suddenly lists less (a broken upstream document, an emptied repository) "+
			"looks exactly like this. Review the plan: if the deletes are intended, set max_deletes = %d (or more) in the retention block of mirror %q "+
			"or in the ferry block, which replaces this default guard.", why, n, m.Name),
		Subject: m.DeclRange.Ptr(),
	}
}
