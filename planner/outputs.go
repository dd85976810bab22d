package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// OutputInventory is what a mirror's Publisher read of its consumer
// outputs, and which side of the mirror it is.
type OutputInventory struct {
	Side providers.Side `json:"side"`
	providers.OutputRead
}

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

// deprecate records that o is kept and to be marked deprecated.
func (b *builder) deprecate(m *config.Mirror, o *state.Artifact) {
	if b.deprecations == nil {
		b.deprecations = map[string][]providers.Artifact{}
	}
	b.deprecations[m.Name] = append(b.deprecations[m.Name], stateArtifact(o))
}

func stateArtifact(o *state.Artifact) providers.Artifact {
	return providers.Artifact{Key: o.Key, Name: o.Name, Version: o.Version, Size: o.Size, Digests: o.Digests, Created: o.Created, Origin: o.Origin}
}

// outputPlanner is the pure planning half of the provider on side of m:
// its decoded settings.
func (b *builder) outputPlanner(m *config.Mirror, side providers.Side) (providers.OutputPlanner, bool) {
	var settings any
	switch side {
	case providers.SideSource:
		if s := b.cfg.Sources[m.From]; s != nil {
			settings = s.Settings
		}
	case providers.SideDestination:
		if d := b.cfg.Destinations[m.To]; d != nil {
			settings = d.Settings
		}
	}
	op, ok := settings.(providers.OutputPlanner)
	return op, ok
}

// outputRange is where a diagnostic about m's block of type block (a
// providers.OutputError's Block) is shown: that block's header when the
// mirror holds one, else the mirror's.
func outputRange(m *config.Mirror, block string) *hcl.Range {
	if r := m.Outputs.Range(block); r != nil {
		return r
	}
	return m.DeclRange.Ptr()
}

// planOutputs asks the provider owning m's consumer outputs to plan them
// against what will be at the destination once the plan is applied, and
// appends its changes and reports.
func (b *builder) planOutputs(m *config.Mirror, p *plan.Plan) hcl.Diagnostics {
	in, ok := b.inv.Outputs[m.Name]
	if !ok {
		if m.Outputs != nil && len(m.Outputs.Blocks) > 0 {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Consumer outputs not inventoried",
				Detail:   fmt.Sprintf("The inventory has no consumer outputs of mirror %q.", m.Name),
				Subject:  m.Outputs.Blocks[0].DeclRange.Ptr(),
			}}
		}
		return nil
	}
	op, ok := b.outputPlanner(m, in.Side)
	if !ok {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Consumer outputs cannot be planned",
			Detail:   fmt.Sprintf("The %s of mirror %q read consumer outputs, but its settings do not plan them.", in.Side, m.Name),
			Subject:  m.DeclRange.Ptr(),
		}}
	}
	listed := map[string]providers.Artifact{}
	for _, a := range b.inv.Sources[m.From] {
		listed[a.Key] = a
	}
	var present []providers.Artifact
	for _, key := range slices.Sorted(maps.Keys(b.present[m.Name])) {
		if a, ok := listed[key]; ok {
			present = append(present, a)
		} else if o := b.kept[m.Name][key]; o != nil {
			present = append(present, stateArtifact(o))
		}
	}
	deprecate := slices.Clone(b.deprecations[m.Name])
	slices.SortFunc(deprecate, func(x, y providers.Artifact) int { return strings.Compare(x.Key, y.Key) })
	res, err := op.PlanOutputs(providers.OutputInput{Mirror: m.Name, Present: present, Deprecate: deprecate, State: in.State})
	if err != nil {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot plan the consumer outputs", Detail: fmt.Sprintf("Mirror %q: %s.", m.Name, err), Subject: m.DeclRange.Ptr()}
		var oe *providers.OutputError
		if errors.As(err, &oe) {
			d.Summary, d.Detail, d.Subject = oe.Summary, oe.Detail, outputRange(m, oe.Block)
		}
		return hcl.Diagnostics{d}
	}
	for _, o := range res.Outputs {
		if len(o.Detail) > 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, o.Detail); err != nil {
				return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot plan the consumer outputs",
					Detail: fmt.Sprintf("Mirror %q: the %s planned %s with an invalid detail: %s.", m.Name, in.Side, o.Path, err), Subject: m.DeclRange.Ptr()}}
			}
			o.Detail = buf.Bytes()
		}
		b.changes = append(b.changes, plan.Change{
			Address:     plan.OutputAddress(m.Name, o.Block, o.Path),
			Mirror:      m.Name,
			Key:         o.Path,
			Action:      plan.Publish,
			Reason:      plan.OutputOutOfDate,
			Source:      m.From,
			Destination: m.To,
			Output:      &plan.OutputDetail{Side: in.Side, Output: o},
		})
	}
	for _, r := range res.Reports {
		if len(r.Detail) > 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, r.Detail); err == nil {
				r.Detail = buf.Bytes()
			}
		}
		p.Reports = append(p.Reports, plan.Report{Mirror: m.Name, OutputReport: r})
	}
	return nil
}

// notes turns what sources could not mirror into warnings on the mirrors
// reading them, once per source.
func (b *builder) notes() hcl.Diagnostics {
	var diags hcl.Diagnostics
	srcs := make([]string, 0, len(b.inv.Notes))
	for s := range b.inv.Notes {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		var subject *hcl.Range
		for _, name := range slices.Sorted(maps.Keys(b.cfg.Mirrors)) {
			if m := b.cfg.Mirrors[name]; m.From == src {
				subject = m.FromRange.Ptr()
				break
			}
		}
		if subject == nil {
			continue
		}
		notes := slices.Clone(b.inv.Notes[src])
		for _, n := range notes {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Not mirrored",
				Detail:   fmt.Sprintf("Source %s: %s", src, n),
				Subject:  subject,
			})
		}
	}
	return diags
}
