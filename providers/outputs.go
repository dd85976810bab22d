package providers

import (
	"context"
	"encoding/json"
	"errors"
)

// Consumer outputs are the files and indexes that tell consumers what a
// mirror holds and where: a buildpack.toml rewritten to point at the mirror,
// a binding directory, npm dist-tags, a conda channel's repodata.json. The
// provider that owns them plans and writes them; the core only carries them
// from plan to apply, renders them and orders them: transfers, then
// outputs, then deletes, so an output never names an artifact that has not
// landed or is about to be deleted.
//
// The work is split in three, like planning itself:
//   - ReadOutputs (inventory, I/O): the current outputs, as an opaque state;
//   - PlanOutputs (planning, pure): the changes that bring them in line with
//     the artifacts present once the plan is applied;
//   - Publish (apply): one change, as a compare-and-swap against what the
//     plan saw.

// Publisher is an optional capability of the side of a mirror (its source
// or its destination) that owns the mirror's consumer outputs. The pure
// planning half is an OutputPlanner on the same provider's decoded settings.
type Publisher interface {
	// ReadOutputs reads the current outputs of one mirror. A zero
	// OutputRead (nil State) means the mirror has none to plan.
	ReadOutputs(ctx context.Context, req OutputRequest) (OutputRead, error)
	// Publish applies one output change planned by PlanOutputs. It fails
	// with an error wrapping ErrChangedSincePlan when the output no longer
	// has o.Before (nil: absent, or not compared: see Output.Before), and
	// leaves it untouched then. missing are the keys of o.DependsOn that
	// did not land: the output must not name them (refuse, with an error
	// wrapping ErrNotLanded, or publish the rest when the output allows
	// it).
	Publish(ctx context.Context, o Output, missing []string) error
}

// SelfIndexer is an optional Destination capability: a package registry
// that builds the indexes consumers read from the packages uploaded to it
// (Gitea's conda registry writes each subdir's repodata.json itself). A
// Publisher whose output is such an index plans none for it and says so in
// the plan: the index is the registry's, not ferry's to write or repair.
type SelfIndexer interface {
	// IndexedBy names what writes the index, for the plan ("Gitea's conda
	// registry"); no secrets.
	IndexedBy() string
}

// OutputPlanner is the pure half of a Publisher, implemented by the
// provider's decoded settings (what its config type's Decode returns): the
// planner sees only the configuration, the state and the inventory, never
// a live provider. PlanOutputs must be deterministic and do no I/O.
type OutputPlanner interface {
	PlanOutputs(in OutputInput) (OutputPlan, error)
}

// OutputRequest is what ReadOutputs is asked for: one mirror's outputs.
type OutputRequest struct {
	Mirror string
	// Dir is the configuration directory; paths shown in a plan are
	// relative to it when they lie below it.
	Dir string
	// Settings are the mirror's settings for the outputs: what the
	// DecodeMirror of this provider's type returned from the blocks it
	// declares for mirrors (schema.Type.MirrorBlocks); nil when the mirror
	// holds none.
	Settings any
	// Listed is what the source listed for the mirror; Owned what the state
	// records the mirror owns.
	Listed []Artifact
	Owned  []Artifact
	// Source and Destination are the mirror's two sides, for what the
	// outputs need of the other side (consumer URLs, upstream tags).
	Source      Source
	Destination Destination
	// Refresh is false when the destination must not be read (plan
	// -refresh=false); outputs kept at the destination are then unknown.
	Refresh bool
}

// OutputRead is what ReadOutputs found.
type OutputRead struct {
	// State is the current outputs and whatever else PlanOutputs needs, in
	// the provider's own JSON; the core stores it in the inventory and hands
	// it back unread.
	State json.RawMessage `json:"state,omitempty"`
	// Served maps artifact keys to the URLs consumers download them from at
	// the destination. A source whose document was rewritten in place lists
	// these URLs as origins; the planner fetches such keys from the origin
	// the state recorded instead.
	Served map[string]string `json:"served,omitempty"`
	// CheckAccess asks the inventory to check that consumers can download
	// from the destination (ConsumerChecker).
	CheckAccess bool `json:"check_access,omitempty"`
}

// OutputInput is what PlanOutputs plans from.
type OutputInput struct {
	Mirror string
	// Present are the artifacts that will be at the destination once the
	// plan is applied (including those a retention policy keeps after the
	// upstream removed them), sorted by key.
	Present []Artifact
	// Deprecate are the artifacts removed upstream that the mirror keeps
	// and marks deprecated (on_upstream_removed = "deprecate").
	Deprecate []Artifact
	// State is OutputRead.State.
	State json.RawMessage
}

// OutputPlan is what PlanOutputs planned.
type OutputPlan struct {
	// Outputs are the changes, one per file, directory or package.
	Outputs []Output
	// Reports are shown after the plan's changes (what a consumer setting
	// covers, say); they change nothing.
	Reports []OutputReport
}

// OutputReport is a provider's report in a plan.
type OutputReport struct {
	// Text is shown as it is, one line per line.
	Text string `json:"text"`
	// Detail is the same in the provider's JSON, for machines.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// Output is one planned output change. The core renders Block, Path,
// Reason, Count and Unit, Diff; it checks DependsOn before Publish; it
// never reads Detail.
type Output struct {
	// Block and Path address the change: mirror.NAME.BLOCK["PATH"], or
	// mirror.NAME["PATH"] when Block is empty (an npm package). Path is the
	// file, directory or package written.
	Block string `json:"block,omitempty"`
	Path  string `json:"path"`
	// Verb is what the plan summary counts the change as ("rewrite": "1 to
	// rewrite") and apply reports a failure as ("rewrite failed").
	Verb string `json:"verb"`
	// Reason is why, for people ("uri points upstream").
	Reason string `json:"reason"`
	// Count and Unit size the change in the plan ("2 uris").
	Count int    `json:"count"`
	Unit  string `json:"unit"`
	// Done is what apply prints once the change is published.
	Done string `json:"done"`
	// Before is the digest of the output as planned (empty: absent, or not
	// compared), After the digest it has once published (empty: not told).
	Before Digests `json:"before,omitempty"`
	After  Digests `json:"after,omitempty"`
	// Diff shows the change, one line per line.
	Diff string `json:"diff,omitempty"`
	// DependsOn are the artifact keys the output names that must have
	// landed (sorted).
	DependsOn []string `json:"depends_on,omitempty"`
	// Detail is the provider's own description of the change, opaque to the
	// core (OpenTofu's PlannedPrivate); Publish acts on it.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// OutputError is a PlanOutputs error the plan shows as a diagnostic on the
// mirror's block of type Block (one its type declares for mirrors; the
// mirror itself when it holds none).
type OutputError struct {
	Block   string
	Summary string
	Detail  string
}

func (e *OutputError) Error() string { return e.Summary + ": " + e.Detail }

// Sentinel errors of Publish.
var (
	ErrChangedSincePlan = errors.New("changed since the plan was made")
	ErrNotLanded        = errors.New("a dependency it points at did not land")
)
