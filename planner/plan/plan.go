// Package plan is the plan model: typed actions and reasons, the versioned
// JSON form written by `plan -out`, and the human rendering. The human text
// is rendered from the same struct the JSON encodes, so the two cannot
// disagree.
package plan

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ferry-mirror/ferry/providers"
)

// FormatVersion is the plan file format. Bump it whenever a consumer's parser
// would have to change; Read refuses other versions.
const FormatVersion = "2"

// Action is what apply does to one artifact.
type Action uint8

const (
	NoOp    Action = iota // no-op
	Add                   // copy to the destination
	Replace               // copy again over what is there
	Delete                // remove from the destination
	// Forget drops the artifact from this mirror's state and leaves the object
	// alone, because another mirror now owns it (a renamed mirror).
	Forget
	// Publish writes a consumer output (a rewritten buildpack.toml, a
	// binding directory, a package's dist-tags): what the provider that owns
	// it planned, described by Change.Output; Key is the output's path.
	Publish
)

var actionNames = [...]string{NoOp: "no-op", Add: "add", Replace: "replace", Delete: "delete", Forget: "forget", Publish: "publish"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", a)
}

// Symbol is the marker in the human plan.
func (a Action) Symbol() string {
	switch a {
	case Add:
		return "+"
	case Replace:
		return "-/+"
	case Delete:
		return "-"
	case Forget:
		return "="
	case Publish:
		return "~"
	}
	return " "
}

// MarshalText implements encoding.TextMarshaler.
func (a Action) MarshalText() ([]byte, error) {
	if int(a) >= len(actionNames) {
		return nil, fmt.Errorf("unknown action %d", a)
	}
	return []byte(actionNames[a]), nil
}

// UnmarshalText rejects unknown spellings, so an old ferry never applies a
// plan it does not understand.
func (a *Action) UnmarshalText(b []byte) error {
	i := slices.Index(actionNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown action %q", b)
	}
	*a = Action(i)
	return nil
}

// Reason says why a change is planned.
type Reason uint8

const (
	ReasonNone Reason = iota
	// NewInSource: the source lists an artifact ferry has never mirrored.
	NewInSource
	// AlreadyAtDestination: an artifact ferry does not own yet is already at
	// the destination with the expected digest; apply records it without
	// transferring (this is how an interrupted apply resumes).
	AlreadyAtDestination
	// MissingAtDestination: drift; an artifact ferry owns is gone from the destination.
	MissingAtDestination
	// ChangedAtDestination: drift; the destination holds other bytes than ferry wrote.
	ChangedAtDestination
	// UpstreamChanged: the source now declares another digest for the key.
	UpstreamChanged
	// ReplaceRequested: -replace named the artifact.
	ReplaceRequested
	// RetentionKeepLast: outside the newest keep_last versions of its package.
	RetentionKeepLast
	// RetentionMaxAge: older than max_age.
	RetentionMaxAge
	// RemovedFromSource: the source no longer lists the artifact.
	RemovedFromSource
	// MirrorRemovedFromConfig: the mirror that owns it is gone from the config.
	MirrorRemovedFromConfig
	// MovedToMirror: another mirror of the config now writes the same object
	// (e.g. the mirror was renamed), so the old owner forgets it.
	MovedToMirror
	// OutputOutOfDate: a consumer output does not say what the mirror
	// holds; the output's own reason says how (Output.Reason).
	OutputOutOfDate
	// NoLongerSelected: the upstream still has the artifact, but the
	// source's selection (a version range, latest = N, the package list)
	// no longer covers it.
	NoLongerSelected
	// KeptRemovedFromSource: the upstream removed it and the mirror keeps
	// it (on_upstream_removed = "keep"); shown, not acted on.
	KeptRemovedFromSource
)

var reasonNames = [...]string{
	ReasonNone:              "",
	NewInSource:             "new_in_source",
	AlreadyAtDestination:    "already_at_destination",
	MissingAtDestination:    "missing_at_destination",
	ChangedAtDestination:    "changed_at_destination",
	UpstreamChanged:         "upstream_changed",
	ReplaceRequested:        "replace_requested",
	RetentionKeepLast:       "retention_keep_last",
	RetentionMaxAge:         "retention_max_age",
	RemovedFromSource:       "removed_from_source",
	MirrorRemovedFromConfig: "mirror_removed_from_config",
	MovedToMirror:           "moved_to_mirror",
	OutputOutOfDate:         "output_out_of_date",
	NoLongerSelected:        "no_longer_selected",
	KeptRemovedFromSource:   "kept_removed_from_source",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) {
	if int(r) >= len(reasonNames) {
		return nil, fmt.Errorf("unknown reason %d", r)
	}
	return []byte(reasonNames[r]), nil
}

// UnmarshalText rejects unknown spellings.
func (r *Reason) UnmarshalText(b []byte) error {
	i := slices.Index(reasonNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown reason %q", b)
	}
	*r = Reason(i)
	return nil
}

// Drift reports whether the reason describes the destination moving away
// from what ferry recorded.
func (r Reason) Drift() bool { return r == MissingAtDestination || r == ChangedAtDestination }

// Object is what a change expects to find or leave at the destination.
type Object struct {
	Size    int64             `json:"size"`
	Digests providers.Digests `json:"digests,omitempty"`
}

// Change is one planned action on one artifact.
type Change struct {
	Address string `json:"address"` // mirror.NAME["KEY"]
	Mirror  string `json:"mirror"`
	Key     string `json:"key"`
	Action  Action `json:"action"`
	Reason  Reason `json:"reason"`
	// Detail completes the reason for people, e.g. "keep_last = 3".
	Detail string `json:"detail,omitempty"`
	// DryRun marks a delete that is shown but never executed (retention dry_run).
	DryRun bool `json:"dry_run,omitempty"`
	// DestinationChanged marks a delete of an owned object whose content
	// changed at the destination since ferry wrote it (refresh saw another
	// digest; Before is what the destination holds now). A plan holds such a
	// delete only when -allow-delete named it: deleting destroys bytes ferry
	// did not write.
	DestinationChanged bool `json:"destination_changed,omitempty"`

	Source      string `json:"source,omitempty"` // source address, e.g. "http.tools"; empty for deletes
	Destination string `json:"destination"`      // destination address, e.g. "dir.local"
	Name        string `json:"name,omitempty"`
	Version     string `json:"version,omitempty"`
	// Origin is the secret-free upstream location, for review.
	Origin  string    `json:"origin,omitempty"`
	Created time.Time `json:"created,omitzero"`

	// After is what the destination holds once the change is applied: the
	// expected size (-1 unknown) and the digests the bytes are verified
	// against. Nil for deletes.
	After *Object `json:"after,omitempty"`
	// SizeDeclared is true when After.Size was declared by the source (and is
	// enforced while streaming), false when it is an estimate.
	SizeDeclared bool `json:"size_declared,omitempty"`
	// Before is what ferry recorded or found at the destination; nil when
	// nothing was there. For a rewrite: the output file as it is now.
	Before *Object `json:"before,omitempty"`
	// Output details a publish change; nil for every other action.
	Output *OutputDetail `json:"output,omitempty"`
}

// OutputDetail is a publish change: the output change its provider
// planned, and which side of the mirror publishes it. The core renders and
// checks the generic fields; Detail travels to the provider unread.
type OutputDetail struct {
	// Side is the mirror's side whose provider publishes the output.
	Side providers.Side `json:"side"`
	providers.Output
}

// Report is a provider's report on a mirror's consumer outputs (what a
// BP_DEPENDENCY_MIRROR setting covers), shown after the changes.
type Report struct {
	Mirror string `json:"mirror"`
	providers.OutputReport
}

// OutputAddress renders mirror.NAME.BLOCK["PATH"] for a consumer output, or
// mirror.NAME["PATH"] when block is empty.
func OutputAddress(mirror, block, path string) string {
	if block == "" {
		return Address(mirror, path)
	}
	return "mirror." + mirror + "." + block + "[" + hclQuote(path) + "]"
}

// Transfers reports whether applying the change moves bytes.
func (c *Change) Transfers() bool {
	return (c.Action == Add || c.Action == Replace) && c.Reason != AlreadyAtDestination
}

// Executes reports whether apply acts on the change at all.
func (c *Change) Executes() bool { return c.Action != NoOp && !c.DryRun }

// StateRef pins the state a plan was made against.
type StateRef struct {
	// Lineage is empty when there was no state yet.
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
}

// Summary counts a plan's changes.
type Summary struct {
	Add     int `json:"add"`
	Replace int `json:"replace"`
	Delete  int `json:"delete"`
	Forget  int `json:"forget"`
	// Publish counts consumer output changes by their verb ("rewrite",
	// "update").
	Publish      map[string]int `json:"publish,omitempty"`
	DryRunDelete int            `json:"dry_run_delete"`
	NoOp         int            `json:"no_op"`
	// TransferBytes is the sum of known sizes of changes that move bytes.
	TransferBytes int64 `json:"transfer_bytes"`
	// UnknownSizes counts transfers whose size is not known before fetching.
	UnknownSizes int `json:"unknown_sizes"`
}

// Changed reports whether applying would change anything.
func (s Summary) Changed() bool {
	n := s.Add + s.Replace + s.Delete + s.Forget
	for _, k := range s.Publish {
		n += k
	}
	return n > 0
}

// Plan is the versioned plan document.
type Plan struct {
	FormatVersion string    `json:"format_version"`
	ToolVersion   string    `json:"tool_version"`
	CreatedAt     time.Time `json:"created_at"`
	// ConfigDigest is the loaded config's digest; apply refuses the plan when
	// the config no longer has it.
	ConfigDigest string   `json:"config_digest"`
	PriorState   StateRef `json:"prior_state"`
	// Refreshed is false for -refresh=false plans, which trusted the state.
	Refreshed bool     `json:"refreshed"`
	Targets   []string `json:"targets,omitempty"`
	Excludes  []string `json:"excludes,omitempty"`
	Replaces  []string `json:"replaces,omitempty"`
	// AllowDeletes are the -allow-delete addresses: owned objects (or whole
	// mirrors) whose delete may proceed although they changed at the destination.
	AllowDeletes []string `json:"allow_deletes,omitempty"`
	// Destinations maps each destination address the plan touches to its
	// description (e.g. "dir /srv/mirror"); apply refuses the plan if one moved.
	Destinations map[string]string `json:"destinations,omitempty"`
	Changes      []Change          `json:"changes"`
	// Reports are the providers' reports on consumer outputs, by mirror.
	Reports []Report `json:"reports,omitempty"`
	// Feeds are, by source address and changes feed URL, the positions
	// apply records in the state: where the next plan starts reading.
	// They are not changes (a plan with only feeds has nothing to apply).
	Feeds map[string]map[string]string `json:"feeds,omitempty"`
	// DeleteQuotas are, for each destination with a delete quota that
	// the plan deletes from, how long its deletes take at that rate.
	DeleteQuotas []DeleteQuota `json:"delete_quotas,omitempty"`
	// DeleteNotes are, for each destination whose type declares what its
	// deletes do (more than removing one object), what the plan's deletes
	// there will do.
	DeleteNotes []DeleteNote `json:"delete_notes,omitempty"`
	Summary     Summary      `json:"summary"`
}

// DeleteNote is what the deletes a plan makes at one destination do.
type DeleteNote struct {
	// Destination is the destination address ("nuget.internal").
	Destination string `json:"destination"`
	// Deletes counts the plan's executed deletes at the destination.
	Deletes int `json:"deletes"`
	// Note is the destination type's DeleteNote.
	Note string `json:"note"`
}

// DeleteQuota is a destination's delete quota as it bears on a plan.
type DeleteQuota struct {
	// Destination is the destination address ("proget.feed").
	Destination string `json:"destination"`
	// Deletes counts the plan's executed deletes at the destination.
	Deletes int `json:"deletes"`
	// PerHour is the most deletes the destination takes in any rolling
	// hour (deletes_per_hour), shared by every mirror writing to it.
	PerHour int `json:"per_hour"`
	// WaitSeconds is how long after the plan was made the last of them
	// may start, counting the deletes the state records in the hour
	// before: 0 when the quota takes them all now. An apply waits at
	// most -max-delete-wait and leaves the rest for the next apply.
	WaitSeconds int64 `json:"wait_seconds"`
}

// phase orders a mirror's changes: artifacts, then consumer outputs.
func phase(c Change) int {
	if c.Action == Publish {
		return 1
	}
	return 0
}

// Sort puts changes in canonical order: by mirror, then key, with a
// mirror's consumer outputs after its artifacts.
func (p *Plan) Sort() {
	slices.SortFunc(p.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Mirror, b.Mirror), cmp.Compare(phase(a), phase(b)), cmp.Compare(a.Key, b.Key))
	})
}

// Summarize recomputes Summary from Changes; noOps is the count of
// artifacts that need nothing.
func (p *Plan) Summarize(noOps int) {
	s := Summary{NoOp: noOps}
	for i := range p.Changes {
		c := &p.Changes[i]
		switch {
		case c.Action == Add:
			s.Add++
		case c.Action == Replace:
			s.Replace++
		case c.Action == Delete && c.DryRun:
			s.DryRunDelete++
		case c.Action == Delete:
			s.Delete++
		case c.Action == Forget:
			s.Forget++
		case c.Action == Publish && c.Output != nil:
			if s.Publish == nil {
				s.Publish = map[string]int{}
			}
			s.Publish[c.Output.Verb]++
		}
		if c.Transfers() {
			if c.After != nil && c.After.Size >= 0 {
				s.TransferBytes += c.After.Size
			} else {
				s.UnknownSizes++
			}
		}
	}
	p.Summary = s
}

// Marshal returns the plan's canonical JSON (indented, trailing newline).
func Marshal(p *Plan) ([]byte, error) {
	if p.Changes == nil {
		p.Changes = []Change{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // URLs with & stay readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal parses a plan file, refusing other format versions and unknown
// actions or reasons.
func Unmarshal(b []byte) (*Plan, error) {
	var probe struct {
		FormatVersion *string `json:"format_version"`
		ToolVersion   string  `json:"tool_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not a ferry plan file: %w", err)
	}
	if probe.FormatVersion == nil {
		return nil, fmt.Errorf("not a ferry plan file: no format_version")
	}
	if *probe.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("plan file format version %q (written by ferry %s) is not supported; this ferry reads version %q", *probe.FormatVersion, probe.ToolVersion, FormatVersion)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("invalid plan file: %w", err)
	}
	for i := range p.Reports {
		if d := p.Reports[i].Detail; len(d) > 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, d); err != nil {
				return nil, fmt.Errorf("invalid plan file: report %d: %w", i, err)
			}
			p.Reports[i].Detail = buf.Bytes()
		}
	}
	for i, c := range p.Changes {
		if c.Mirror == "" || c.Key == "" || c.Destination == "" {
			return nil, fmt.Errorf("invalid plan file: change %d lacks mirror, key or destination", i)
		}
		if c.Action == Publish {
			o := c.Output
			if o == nil || o.Path != c.Key || o.Verb == "" || c.Address != OutputAddress(c.Mirror, o.Block, c.Key) ||
				(o.Side != providers.SideSource && o.Side != providers.SideDestination) {
				return nil, fmt.Errorf("invalid plan file: publish change %d is incomplete", i)
			}
			// Canonical bytes: the file's indentation is not the detail's.
			if len(o.Detail) > 0 {
				var buf bytes.Buffer
				if err := json.Compact(&buf, o.Detail); err != nil {
					return nil, fmt.Errorf("invalid plan file: publish change %d: %w", i, err)
				}
				p.Changes[i].Output.Detail = buf.Bytes()
			}
			continue
		}
		if c.Output != nil {
			return nil, fmt.Errorf("invalid plan file: %s change %s has an output", c.Action, c.Address)
		}
		if c.Address != Address(c.Mirror, c.Key) {
			return nil, fmt.Errorf("invalid plan file: change %d address %q does not match mirror %q and key %q", i, c.Address, c.Mirror, c.Key)
		}
		if (c.Action == Add || c.Action == Replace) && (c.After == nil || c.Source == "") {
			return nil, fmt.Errorf("invalid plan file: %s change %s lacks a source or expected digests", c.Action, c.Address)
		}
		if c.Transfers() && len(c.After.Digests) == 0 {
			return nil, fmt.Errorf("invalid plan file: %s change %s has no expected digest", c.Action, c.Address)
		}
	}
	return &p, nil
}
