package planner_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// goldenCase loads a golden case's config, state and inventory and plans it.
// modify, if set, changes the inventory first.
func goldenCase(t *testing.T, name string, modify func(*planner.Inventory)) (*config.Config, *state.State, *planner.Inventory, *plan.Plan, time.Time) {
	t.Helper()
	_, cfg, prior, inv, popts := goldenInputs(t, filepath.Join("testdata", name))
	if modify != nil {
		modify(&inv)
	}
	p, diags := planner.Plan(cfg, prior, &inv, popts)
	if diags.HasErrors() {
		t.Fatalf("plan: %s", renderDiags(diags))
	}
	return cfg, prior, &inv, p, popts.Now
}

// change returns the change of p at addr.
func change(t *testing.T, p *plan.Plan, addr string) *plan.Change {
	t.Helper()
	for i := range p.Changes {
		if p.Changes[i].Address == addr {
			return &p.Changes[i]
		}
	}
	t.Fatalf("no change at %s", addr)
	return nil
}

func otherDigest(b byte) providers.Digests {
	return providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat(string(b), 64)})
}

// TestValidateRefusesEditedPlans edits one field of a plan ferry made and
// checks that Validate refuses it, naming the change and why.
func TestValidateRefusesEditedPlans(t *testing.T) {
	const (
		jq15    = `mirror.tools["jq/1.5/jq-1.5"]`
		jq16    = `mirror.tools["jq/1.6/jq-1.6"]`
		rewrite = `mirror.tools.rewrite["out/buildpack.toml"]`
	)
	tests := []struct {
		name   string
		golden string
		// inv, if set, changes the golden inventory before planning.
		inv  func(*planner.Inventory)
		edit func(t *testing.T, p *plan.Plan)
		// want is in the error; empty: the plan is accepted.
		want string
	}{
		{name: "unedited transfers", golden: "retention_keep_last", edit: func(*testing.T, *plan.Plan) {}},
		{name: "unedited drift repair", golden: "drift", edit: func(*testing.T, *plan.Plan) {}},
		{
			name: "delete of a key the state does not own", golden: "removed_from_source",
			edit: func(t *testing.T, p *plan.Plan) {
				p.Changes = append(p.Changes, plan.Change{Address: plan.Address("tools", "etc/passwd"), Mirror: "tools", Key: "etc/passwd",
					Action: plan.Delete, Reason: plan.RemovedFromSource, Destination: "dir.local"})
			},
			want: `mirror.tools["etc/passwd"] (delete): the state records no object "etc/passwd" of mirror "tools" at dir.local`,
		},
		{
			name: "delete of an owned key the config still mirrors", golden: "removed_from_source",
			edit: func(t *testing.T, p *plan.Plan) {
				p.Changes = append(p.Changes, plan.Change{Address: jq15, Mirror: "tools", Key: "jq/1.5/jq-1.5",
					Action: plan.Delete, Reason: plan.RemovedFromSource, Destination: "dir.local"})
			},
			want: jq15 + " (delete): the configuration still mirrors it",
		},
		{
			name: "delete at another destination", golden: "removed_from_source",
			edit: func(t *testing.T, p *plan.Plan) {
				change(t, p, `mirror.tools["jq/1.7/jq-1.7"]`).Destination = "dir.other"
			},
			want: `mirror.tools["jq/1.7/jq-1.7"] (delete): ferry owns it at dir.local, not dir.other`,
		},
		{
			name: "dry-run delete made real", golden: "retention_dry_run",
			edit: func(t *testing.T, p *plan.Plan) {
				for i := range p.Changes {
					p.Changes[i].DryRun = false
				}
			},
			want: "retention is a dry run",
		},
		{
			name: "changed-at-destination delete not allowed", golden: "delete_changed_at_destination_allowed",
			edit: func(t *testing.T, p *plan.Plan) {
				p.AllowDeletes = []string{`mirror.old`}
			},
			want: jq15 + " (delete): it changed at the destination since ferry wrote it, and -allow-delete does not name it",
		},
		{
			name: "digest changed", golden: "retention_keep_last",
			edit: func(t *testing.T, p *plan.Plan) {
				for i := range p.Changes {
					if p.Changes[i].Action == plan.Add {
						p.Changes[i].After.Digests = otherDigest('a')
						return
					}
				}
			},
			want: "it expects digests sha256:aaaa",
		},
		{
			name: "weaker digest set", golden: "drift",
			edit: func(t *testing.T, p *plan.Plan) { change(t, p, jq15).After.Digests = nil },
			want: jq15 + " (add): it expects digests none, but source http.tools declares sha256:7646",
		},
		{
			name: "declared size changed", golden: "first_plan",
			inv: func(inv *planner.Inventory) {
				for i := range inv.Sources["http.tools"] {
					inv.Sources["http.tools"][i].Size = 100
				}
			},
			edit: func(t *testing.T, p *plan.Plan) {
				if !p.Changes[0].SizeDeclared {
					t.Fatal("the size is not declared")
				}
				p.Changes[0].After.Size = 1 << 40
			},
			want: "it expects size 1099511627776, but source http.tools declares 100",
		},
		{
			name: "size nobody vouches for enforced", golden: "first_plan",
			edit: func(t *testing.T, p *plan.Plan) {
				for i := range p.Changes {
					if !p.Changes[i].SizeDeclared {
						p.Changes[i].SizeDeclared, p.Changes[i].After.Size = true, 1
						return
					}
				}
				t.Fatal("no change with an undeclared size")
			},
			want: "that neither source http.tools nor the state vouches for",
		},
		{
			name: "origin changed", golden: "retention_keep_last",
			edit: func(t *testing.T, p *plan.Plan) {
				for i := range p.Changes {
					if p.Changes[i].Action == plan.Add {
						p.Changes[i].Origin = "https://attacker.example/x"
						return
					}
				}
			},
			want: `it fetches from "https://attacker.example/x"`,
		},
		{
			name: "transfer to another destination", golden: "drift",
			edit: func(t *testing.T, p *plan.Plan) { change(t, p, jq15).Destination = "dir.other" },
			want: "it writes to dir.other, but mirror \"tools\" writes to dir.local",
		},
		{
			name: "transfer of a key the source does not list", golden: "first_plan",
			edit: func(t *testing.T, p *plan.Plan) {
				c := p.Changes[0]
				c.Key, c.Address = "evil", plan.Address(c.Mirror, "evil")
				p.Changes = append(p.Changes, c)
			},
			want: `mirror.tools["evil"] (add): the configuration does not mirror this key now`,
		},
		{
			name: "add turned into an overwrite of an object ferry does not own", golden: "first_plan",
			edit: func(t *testing.T, p *plan.Plan) { p.Changes[0].Action = plan.Replace },
			want: "it overwrites an object ferry does not own",
		},
		{
			name: "overwrite named by -replace", golden: "first_plan",
			edit: func(t *testing.T, p *plan.Plan) {
				p.Changes[0].Action = plan.Replace
				p.Replaces = []string{p.Changes[0].Address}
			},
		},
		{
			name: "rewrite output moved to another directory", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) {
				c := change(t, p, rewrite)
				c.Key, c.Output.Path = "../../elsewhere/buildpack.toml", "../../elsewhere/buildpack.toml"
				editDetail(t, c, func(d map[string]any) { d["path"] = c.Key })
				c.Address = plan.OutputAddress(c.Mirror, c.Output.Block, c.Key)
			},
			want: `mirror.tools.rewrite["../../elsewhere/buildpack.toml"] (rewrite): mirror "tools" has no such consumer output`,
		},
		{
			name: "rewrite path differs from its address", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, rewrite), func(d map[string]any) { d["path"] = "/etc/buildpack.toml" })
			},
			want: rewrite + " (rewrite): its changes differ",
		},
		{
			name: "rewrite reads another input", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, rewrite), func(d map[string]any) { d["input"] = "../secret.toml" })
			},
			want: "its changes differ",
		},
		{
			name: "rewrite points a uri elsewhere", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, rewrite), func(d map[string]any) {
					d["edits"].([]any)[0].(map[string]any)["new"] = "https://attacker.example/tool.tgz"
				})
			},
			want: "its changes differ",
		},
		{
			name: "rewrite promises another result", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) { change(t, p, rewrite).Output.After = otherDigest('c') },
			want: "it changes the output from none to sha256:cccc",
		},
		{
			name: "rewrite published by the destination", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) { change(t, p, rewrite).Output.Side = providers.SideDestination },
			want: "it is published by the destination",
		},
		{
			name: "rewrite diff shows something else", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) { change(t, p, rewrite).Output.Diff = "(nothing to see)\n" },
			want: "its description differs",
		},
		{
			name: "rewrite turned into bindings", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) {
				c := change(t, p, rewrite)
				c.Output.Block = "bindings"
				c.Address = plan.OutputAddress(c.Mirror, c.Output.Block, c.Key)
				editDetail(t, c, func(d map[string]any) { d["kind"], d["remove"] = "bindings", []string{"id_rsa"} })
			},
			want: `mirror "tools" has no such consumer output`,
		},
		{
			name: "rewrite no longer waits for what it points at", golden: "rewrite_buildpack",
			edit: func(t *testing.T, p *plan.Plan) { change(t, p, rewrite).Output.DependsOn = nil },
			want: "it depends on other artifacts",
		},
		{
			name: "dist-tag pointed elsewhere", golden: "npm_tags_and_removals",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, `mirror.npm["pkg"]`), func(d map[string]any) { d["set_tags"].(map[string]any)["latest"] = "1.0.0" })
			},
			want: `mirror.npm["pkg"] (update): its changes differ`,
		},
		{
			name: "dist-tag no longer waits for its version", golden: "npm_tags_and_removals",
			edit: func(t *testing.T, p *plan.Plan) { change(t, p, `mirror.npm["pkg"]`).Output.DependsOn = nil },
			want: "it depends on other artifacts",
		},
		{
			name: "dist-tag no longer tied to its version", golden: "npm_tags_and_removals",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, `mirror.npm["pkg"]`), func(d map[string]any) { delete(d, "tag_keys") })
			},
			want: "its changes differ",
		},
		{
			name: "deprecation of a version still upstream", golden: "npm_tags_and_removals",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, `mirror.npm["pkg"]`), func(d map[string]any) { d["deprecate"].(map[string]any)["2.1.0"] = "gone" })
			},
			want: "its changes differ",
		},
		{
			name: "unedited dist-tag removal", golden: "npm_tag_moved", edit: func(*testing.T, *plan.Plan) {},
		},
		{
			name: "removal of a tag the mirror sets", golden: "npm_tag_moved",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, `mirror.npm["pkg"]`), func(d map[string]any) { d["remove_tags"].(map[string]any)["beta"] = "2.0.0" })
			},
			want: "its changes differ",
		},
		{
			name: "removal of latest", golden: "npm_tag_moved",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, `mirror.npm["pkg"]`), func(d map[string]any) { d["remove_tags"].(map[string]any)["latest"] = "2.0.0" })
			},
			want: "its changes differ",
		},
		{
			name: "removal of a tag the upstream does not have", golden: "npm_tag_moved",
			edit: func(t *testing.T, p *plan.Plan) {
				editDetail(t, change(t, p, `mirror.npm["pkg"]`), func(d map[string]any) { d["remove_tags"].(map[string]any)["stable"] = "1.0.0" })
			},
			want: "its changes differ",
		},
		{
			// A removal-only update ferry planned (the destination has every
			// tag the plan would set) passes; dropping the tags of a
			// planned update does not.
			name: "unedited removal-only update", golden: "npm_tag_moved",
			inv: func(inv *planner.Inventory) {
				editState(t, inv, "npm", func(st map[string]any) {
					tags := st["packages"].(map[string]any)["pkg"].(map[string]any)["tags"].(map[string]any)
					tags["beta"] = "2.0.0"
				})
			},
			edit: func(t *testing.T, p *plan.Plan) {
				if c := change(t, p, `mirror.npm["pkg"]`); strings.Contains(string(c.Output.Detail), "set_tags") {
					t.Fatalf("the plan still sets tags: %s", c.Output.Detail)
				}
			},
		},
		{
			name: "removal-only update made of a planned update", golden: "npm_tag_moved",
			edit: func(t *testing.T, p *plan.Plan) {
				c := change(t, p, `mirror.npm["pkg"]`)
				editDetail(t, c, func(d map[string]any) { delete(d, "set_tags"); delete(d, "tag_keys") })
				c.Output.DependsOn = nil
			},
			want: "it depends on other artifacts",
		},
		{
			name: "removal-only update of a package outside the mirror", golden: "npm_tag_moved",
			edit: func(t *testing.T, p *plan.Plan) {
				c := *change(t, p, `mirror.npm["pkg"]`)
				out := *c.Output
				c.Output = &out
				c.Key, c.Name, c.Address, c.Output.Path = "left-pad", "left-pad", plan.Address("npm", "left-pad"), "left-pad"
				c.Output.DependsOn = nil
				c.Output.Detail = []byte(`{"remove_tags":{"next":"3.0.0-rc.1"}}`)
				p.Changes = append(p.Changes, c)
			},
			want: `mirror.npm["left-pad"] (update): mirror "npm" has no such consumer output`,
		},
		{
			name: "update of a package outside the mirror", golden: "npm_tags_and_removals",
			edit: func(t *testing.T, p *plan.Plan) {
				c := *change(t, p, `mirror.npm["pkg"]`)
				out := *c.Output
				c.Output = &out
				c.Key, c.Name, c.Address, c.Output.Path = "left-pad", "left-pad", plan.Address("npm", "left-pad"), "left-pad"
				p.Changes = append(p.Changes, c)
			},
			want: `mirror "npm" has no such consumer output`,
		},
		{
			name: "forget of an object no other mirror writes", golden: "removed_from_source",
			edit: func(t *testing.T, p *plan.Plan) { p.Changes[0].Action = plan.Forget },
			want: "no other mirror of the configuration now writes this object",
		},
		{
			name: "feed positions of a source no mirror reads", golden: "first_plan",
			edit: func(t *testing.T, p *plan.Plan) {
				p.Feeds = map[string]map[string]string{"npm.other": {"https://x/_changes": "99"}}
			},
			want: "no configured mirror reads source npm.other",
		},
		{
			name: "a target that does not parse", golden: "first_plan",
			edit: func(t *testing.T, p *plan.Plan) { p.Targets = []string{"mirror["} },
			want: "-target mirror[",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, prior, inv, p, now := goldenCase(t, tt.golden, tt.inv)
			// Through the file format, as apply reads it.
			b, err := plan.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			saved, err := plan.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(t, saved)
			got := renderDiags(planner.Validate(cfg, prior, inv, saved, now))
			if tt.want == "" {
				if got != "" {
					t.Fatalf("Validate refused the plan:\n%s", got)
				}
				return
			}
			if !strings.Contains(got, "error: ") || !strings.Contains(got, tt.want) {
				t.Fatalf("Validate says:\n%s\nwant an error containing %q", got, tt.want)
			}
		})
	}
}

// TestValidateSourceChanged: a plan made before the upstream changed a digest
// is refused; nothing it would fetch matches what is declared now.
func TestValidateSourceChanged(t *testing.T) {
	cfg, prior, inv, p, now := goldenCase(t, "first_plan", nil)
	arts := inv.Sources["http.tools"]
	changed := append([]providers.Artifact(nil), arts...)
	changed[0].Digests = otherDigest('b')
	inv.Sources = map[string][]providers.Artifact{"http.tools": changed}
	got := renderDiags(planner.Validate(cfg, prior, inv, p, now))
	if !strings.Contains(got, plan.Address("tools", arts[0].Key)+" (add): it expects digests") {
		t.Fatalf("Validate says:\n%s", got)
	}
}

// TestValidateUsesTheRealClock: retention judges by the clock of apply, not
// by the plan's created_at, which an edit could move.
func TestValidateUsesTheRealClock(t *testing.T) {
	cfg, prior, inv, p, now := goldenCase(t, "retention_max_age_pin", nil)
	if got := renderDiags(planner.Validate(cfg, prior, inv, p, now.Add(time.Hour))); got != "" {
		t.Fatalf("Validate refused the plan an hour later:\n%s", got)
	}
	// At a time when nothing was too old yet, the max_age delete is unjustified.
	p.CreatedAt = now.AddDate(-10, 0, 0)
	got := renderDiags(planner.Validate(cfg, prior, inv, p, now.AddDate(-10, 0, 0)))
	if !strings.Contains(got, "(delete): the configuration still mirrors it") {
		t.Fatalf("Validate says:\n%s", got)
	}
}

// editDetail edits a publish change's opaque detail as JSON.
func editDetail(t *testing.T, c *plan.Change, edit func(d map[string]any)) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(c.Output.Detail, &d); err != nil {
		t.Fatal(err)
	}
	edit(d)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	c.Output.Detail = b
}

// editState edits the inventoried output state of a mirror as JSON.
func editState(t *testing.T, inv *planner.Inventory, mirror string, edit func(st map[string]any)) {
	t.Helper()
	o := inv.Outputs[mirror]
	var st map[string]any
	if err := json.Unmarshal(o.State, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	o.State = b
	inv.Outputs[mirror] = o
}
