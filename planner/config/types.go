// Package config loads *.ferry.hcl files into a typed Config. Every problem
// is an hcl.Diagnostic with a source range; diagnostics are never flattened
// into strings on the way to the user.
package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// DefaultStatePath is the state file used when the ferry block names none.
const DefaultStatePath = "ferry.state.json"

// DefaultParallelism is the transfer concurrency when neither the ferry block
// nor -parallelism sets one.
const DefaultParallelism = 8

// Config is the loaded, validated configuration of one working directory.
type Config struct {
	// Dir is the absolute working directory the files were loaded from.
	Dir string
	// Files holds every parsed file by name, for rendering diagnostics with
	// source snippets. It is set even when loading failed.
	Files map[string]*hcl.File
	// Digest is "sha256:…" over the config files' names and bytes and the
	// values of non-sensitive variables. A saved plan records it; apply
	// refuses the plan when it no longer matches.
	Digest string

	Settings     Settings
	Variables    map[string]*Variable
	Sources      map[string]*Source      // by address "TYPE.NAME", e.g. "http.tools"
	Destinations map[string]*Destination // by address "TYPE.NAME", e.g. "dir.local"
	Mirrors      map[string]*Mirror      // by name
}

// Settings is the ferry {} block. The zero value of each field means "not set".
type Settings struct {
	// StatePath is relative to Dir unless absolute. Defaults to DefaultStatePath.
	StatePath string
	// Backend is where the state is kept when not in the local file; nil:
	// the file at StatePath.
	Backend *Backend
	// Parallelism is the default transfer concurrency; 0 means DefaultParallelism.
	Parallelism int
	// MaxDeletes is the default delete guard for mirrors without their own
	// retention.max_deletes, and for mirrors removed from the config. nil: no guard.
	MaxDeletes      *int
	MaxDeletesRange hcl.Range
	// MaxArtifactSize bounds, in bytes, an artifact whose source declares no
	// size; 0 means the apply engine's default.
	MaxArtifactSize int64
	// HTTPIdleTimeout is how long an HTTP response body may deliver no byte;
	// 0 means the HTTP client's default.
	HTTPIdleTimeout time.Duration
	DeclRange       hcl.Range
}

// Variable is one variable block with its resolved value.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type // cty.DynamicPseudoType when the block declares no type
	Default     cty.Value
	Sensitive   bool
	// Value is the resolved value (default < FERRY_VAR_name < -var-file and
	// -var in command-line order). Sensitive values carry the sensitive mark.
	Value     cty.Value
	DeclRange hcl.Range
}

// Source is one source "TYPE" "NAME" block.
type Source struct {
	Type, Name string
	// Settings is what the schema.Type's Decode returned.
	Settings any
	// VersionOrder is the type's schema.Type.VersionOrder; nil means
	// retention.CompareVersions.
	VersionOrder func(a, b string) int
	DeclRange    hcl.Range
}

// Addr is "TYPE.NAME".
func (s *Source) Addr() string { return s.Type + "." + s.Name }

// Destination is one destination "TYPE" "NAME" block.
type Destination struct {
	Type, Name string
	Settings   any
	// DeletesPerHour caps the deletes sent to the destination in any
	// rolling hour, shared by every mirror writing to it: the block's
	// deletes_per_hour, else its type's Limits.DeletesPerHour. 0: no cap.
	DeletesPerHour int
	// DeleteNote is its type's DeleteNote: what a delete does there.
	DeleteNote string
	DeclRange  hcl.Range
}

// Addr is "TYPE.NAME".
func (d *Destination) Addr() string { return d.Type + "." + d.Name }

// Mirror is one mirror "NAME" block.
type Mirror struct {
	Name string
	// From is the source address "TYPE.NAME" (from = source.TYPE.NAME).
	From      string
	FromRange hcl.Range
	// To is the destination address "TYPE.NAME" (to = destination.TYPE.NAME).
	To        string
	ToRange   hcl.Range
	Retention Retention
	// Outputs are the settings of the mirror's consumer outputs, from the
	// blocks its source or destination type declares for mirrors; nil
	// when the mirror holds none.
	Outputs *MirrorOutputs
	// OnUpstreamRemoved is what happens to an object ferry owns once the
	// upstream no longer has it; "" means RemovedDelete.
	OnUpstreamRemoved UpstreamRemovedPolicy
	DeclRange         hcl.Range
}

// UpstreamRemovedPolicy is a mirror's on_upstream_removed.
type UpstreamRemovedPolicy string

const (
	// RemovedDelete deletes the object at the destination (the default).
	RemovedDelete UpstreamRemovedPolicy = "delete"
	// RemovedKeep keeps it, still owned by the mirror.
	RemovedKeep UpstreamRemovedPolicy = "keep"
	// RemovedDeprecate keeps it and marks it deprecated (npm).
	RemovedDeprecate UpstreamRemovedPolicy = "deprecate"
)

// MirrorOutputs are what a mirror's blocks for consumer outputs decoded
// to (schema.Type.MirrorBlocks): opaque to the core, which hands Settings
// to the owning provider's Publisher and places diagnostics with Blocks.
type MirrorOutputs struct {
	// Side is the kind of the type that declared and decoded the blocks:
	// its provider owns the mirror's consumer outputs.
	Side schema.Kind
	// Settings is what the type's DecodeMirror returned.
	Settings any
	// Blocks are the decoded blocks' types and header ranges, in file
	// order.
	Blocks []BlockRange
}

// BlockRange is a block's type and the range of its header.
type BlockRange struct {
	Type      string
	DeclRange hcl.Range
}

// Range is the header range of the first block of type typ, or nil when
// there is none.
func (o *MirrorOutputs) Range(typ string) *hcl.Range {
	if o == nil {
		return nil
	}
	for _, b := range o.Blocks {
		if b.Type == typ {
			return b.DeclRange.Ptr()
		}
	}
	return nil
}

// Retention is the retention {} block of a mirror; the zero value keeps
// everything the source lists.
type Retention struct {
	// KeepLast keeps the newest N versions per package; 0 means no limit.
	KeepLast      int
	KeepLastRange hcl.Range
	// MaxAge drops artifacts older than this; 0 means no limit.
	MaxAge      time.Duration
	MaxAgeRange hcl.Range
	// Keep pins versions or keys that retention never drops.
	Keep      []string
	KeepRange hcl.Range
	// MaxDeletes makes the plan fail instead of deleting more than this many
	// objects of the mirror; nil falls back to Settings.MaxDeletes.
	MaxDeletes      *int
	MaxDeletesRange hcl.Range
	// DryRun plans and shows deletes but never executes them.
	DryRun    bool
	DeclRange hcl.Range // zero when the mirror has no retention block
}

// VarArg is one -var or -var-file command-line argument, in command-line order.
type VarArg struct {
	// File is true for -var-file (Value is a path, relative to the process
	// working directory); false for -var (Value is "name=value").
	File  bool
	Value string
}

// LoadOptions control Load.
type LoadOptions struct {
	// Dir is the directory whose *.ferry.hcl files are loaded.
	Dir string
	// Env is the environment in os.Environ form; FERRY_VAR_name entries set
	// variables. nil means no environment.
	Env []string
	// Vars are -var and -var-file arguments in command-line order.
	Vars []VarArg
	// Types are the accepted source and destination types.
	Types []schema.Type
	// Backends decode the backend "TYPE" block of the ferry block, by
	// type: a remote state. nil: no backend type is accepted.
	Backends map[string]BackendDecoder
	// SettingsDecoded, when set, is called once the ferry block decoded
	// without error and before the source and destination blocks decode,
	// with the settings Load will return and the configuration directory.
	// Where the state is kept is known from then on, so a caller can read
	// it while the providers decode (artifact lists can take as long as
	// their state). It is not called when the ferry block has errors.
	SettingsDecoded func(s Settings, dir string)
}

// BackendDecoder decodes the body of a backend block into its settings.
type BackendDecoder func(body hcl.Body, ectx *hcl.EvalContext) (any, hcl.Diagnostics)

// Backend is the backend "TYPE" block of the ferry block: the state is kept
// there instead of in a local file.
type Backend struct {
	Type string
	// Settings is what the type's BackendDecoder returned.
	Settings  any
	DeclRange hcl.Range
}
