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
const FormatVersion = "1"

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
	// Rewrite edits a consumer file (a buildpack.toml) to point at the mirror.
	Rewrite
	// Update changes a package's metadata at the destination (npm
	// dist-tags, deprecations); Key is the package name.
	Update
)

var actionNames = [...]string{NoOp: "no-op", Add: "add", Replace: "replace", Delete: "delete", Forget: "forget", Rewrite: "rewrite", Update: "update"}

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
	case Rewrite, Update:
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
	// URIPointsUpstream: a consumer file still names upstream locations for
	// dependencies that are (or will be) at the mirror.
	URIPointsUpstream
	// OutputMissing: the rewritten consumer file does not exist yet.
	OutputMissing
	// NoLongerSelected: the upstream still has the artifact, but the
	// source's selection (a version range, latest = N, the package list)
	// no longer covers it.
	NoLongerSelected
	// DistTagsBehind: the destination's dist-tags differ from the
	// upstream's for versions the mirror holds.
	DistTagsBehind
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
	URIPointsUpstream:       "uri_points_upstream",
	OutputMissing:           "output_missing",
	NoLongerSelected:        "no_longer_selected",
	DistTagsBehind:          "dist_tags_behind",
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
	// Rewrite details a rewrite change; nil for every other action.
	Rewrite *RewriteDetail `json:"rewrite,omitempty"`
	// Package details an update change; nil for every other action.
	Package *PackageDetail `json:"package,omitempty"`
}

// PackageDetail is what an update change does to a package's metadata.
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
	// DependsOn are the artifact keys this plan adds that SetTags point
	// at; TagKeys maps each such tag to its key. Apply leaves out the tags
	// of versions that failed to land.
	DependsOn []string          `json:"depends_on,omitempty"`
	TagKeys   map[string]string `json:"tag_keys,omitempty"`
}

// RewriteDetail is what a rewrite change does to a consumer file. Paths are
// relative to the configuration directory unless the config wrote them
// absolute.
type RewriteDetail struct {
	// Kind is KindBuildpackTOML (a rewritten buildpack.toml) or KindBindings
	// (a dependency-mapping binding directory).
	Kind string `json:"kind"`
	// Path is the file written (the rewrite output), or the binding directory.
	Path string `json:"path"`
	// Input is the buildpack.toml the edits apply to, and InputDigest its
	// sha256 when planned: apply refuses to rewrite a file that moved since.
	Input       string           `json:"input"`
	InputDigest providers.Digest `json:"input_digest"`
	// Edits are the value changes, relative to Input.
	Edits []RewriteEdit `json:"edits"`
	// DependsOn are the artifact keys that must be at the destination first;
	// apply skips the rewrite if any of them failed.
	DependsOn []string `json:"depends_on"`
	// Changed is the number of uri/source values the output changes (the
	// edits relative to the input may be more, when the output already has
	// some of them).
	Changed int `json:"changed"`
	// Files are the binding files to write (KindBindings), Remove the stale
	// mapping files to remove.
	Files  []OutputFile `json:"files,omitempty"`
	Remove []string     `json:"remove,omitempty"`
	// Diff is a unified diff of the changed lines, from the output as it is
	// (or the input, when the output does not exist yet) to the result.
	Diff string `json:"diff"`
}

// Consumer output kinds.
const (
	KindBuildpackTOML = "buildpack_toml"
	KindBindings      = "bindings"
)

// OutputFile is one file of a binding directory.
type OutputFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
	// Key is the artifact the file points at; empty for the type file.
	Key string `json:"key,omitempty"`
}

// Coverage reports, for a mirror laid out for BP_DEPENDENCY_MIRROR, the
// setting consumers use and every dependency of the buildpack.toml that is
// not at the mirror (a build that needs one fails to download it).
type Coverage struct {
	Mirror string `json:"mirror"`
	// Setting is "BP_DEPENDENCY_MIRROR=<base>/{originalHost}"; empty when the
	// destination has no base URL.
	Setting string `json:"setting,omitempty"`
	// Note warns about the setting (buildpacks refuse http:// mirrors).
	Note string        `json:"note,omitempty"`
	Gaps []CoverageGap `json:"gaps"`
	// Covered counts the dependencies that are (or will be) at the mirror.
	Covered int `json:"covered"`
}

// CoverageGap is one dependency the mirror layout does not serve.
type CoverageGap struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
	Line    int    `json:"line"`
	URI     string `json:"uri"`
	Reason  string `json:"reason"`
}

// RewriteEdit changes one dependency field.
type RewriteEdit struct {
	Index   int    `json:"index"` // dependency index in the file
	Line    int    `json:"line"`  // line of its [[metadata.dependencies]] header
	ID      string `json:"id"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
	Field   string `json:"field"` // "uri" or "source"
	Key     string `json:"key"`   // the artifact now serving it
	Old     string `json:"old"`
	New     string `json:"new"`
}

// RewriteAddress renders mirror.NAME.rewrite["PATH"] for a rewritten file,
// mirror.NAME.bindings["PATH"] for a binding directory.
func RewriteAddress(mirror, kind, path string) string {
	block := "rewrite"
	if kind == KindBindings {
		block = "bindings"
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
	Add          int `json:"add"`
	Replace      int `json:"replace"`
	Delete       int `json:"delete"`
	Forget       int `json:"forget"`
	Rewrite      int `json:"rewrite"`
	Update       int `json:"update,omitempty"`
	DryRunDelete int `json:"dry_run_delete"`
	NoOp         int `json:"no_op"`
	// TransferBytes is the sum of known sizes of changes that move bytes.
	TransferBytes int64 `json:"transfer_bytes"`
	// UnknownSizes counts transfers whose size is not known before fetching.
	UnknownSizes int `json:"unknown_sizes"`
}

// Changed reports whether applying would change anything.
func (s Summary) Changed() bool { return s.Add+s.Replace+s.Delete+s.Forget+s.Rewrite+s.Update > 0 }

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
	// Coverage is reported for mirrors laid out for BP_DEPENDENCY_MIRROR.
	Coverage []Coverage `json:"coverage,omitempty"`
	// Feeds are, by source address and changes feed URL, the positions
	// apply records in the state: where the next plan starts reading.
	// They are not changes (a plan with only feeds has nothing to apply).
	Feeds   map[string]map[string]string `json:"feeds,omitempty"`
	Summary Summary                      `json:"summary"`
}

// phase orders a mirror's changes as apply runs them: artifacts, package
// updates, consumer rewrites.
func phase(c Change) int {
	switch c.Action {
	case Update:
		return 1
	case Rewrite:
		return 2
	}
	return 0
}

// Sort puts changes in canonical order: by mirror, then key, with a
// mirror's package updates and rewrites after its artifacts (the order
// apply runs them in).
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
		case c.Action == Rewrite:
			s.Rewrite++
		case c.Action == Update:
			s.Update++
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
	for i, c := range p.Changes {
		if c.Mirror == "" || c.Key == "" || c.Destination == "" {
			return nil, fmt.Errorf("invalid plan file: change %d lacks mirror, key or destination", i)
		}
		if c.Action == Rewrite {
			if c.Rewrite == nil || c.After == nil || c.Address != RewriteAddress(c.Mirror, c.Rewrite.Kind, c.Key) || c.Rewrite.Path == "" || c.Rewrite.Input == "" {
				return nil, fmt.Errorf("invalid plan file: rewrite change %d is incomplete", i)
			}
			continue
		}
		if c.Action == Update && (c.Package == nil || c.Package.fields() == 0) {
			return nil, fmt.Errorf("invalid plan file: update change %d is incomplete", i)
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
