// Package schema is the decode vocabulary shared by the config loader and
// the provider decoders: provider types, the decode environment, the
// attribute helpers and sensitive marks. It imports only hcl, cty and the
// standard library, so providers can decode their own blocks without
// seeing the loader, the config model or each other.
package schema

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"
)

// Kind tells sources from destinations.
type Kind string

const (
	KindSource      Kind = "source"
	KindDestination Kind = "destination"
)

// Type is one source or destination type the config language accepts.
// Decode turns the block body into the provider's own settings (e.g.
// *httpsrc.SourceConfig), reporting ranged diagnostics. Sensitive values
// keep their marks in ectx; use the helpers in this package to read them.
type Type struct {
	Kind   Kind
	Name   string // "http", "dir", …
	Decode func(body hcl.Body, ectx *hcl.EvalContext, env DecodeEnv) (any, hcl.Diagnostics)
	// VersionOrder is a source type's version order (negative, zero or
	// positive as a is older than, the same version as, or newer than b),
	// which retention's keep_last ranks by: the ecosystem's own, declared
	// by the provider package (its CompareVersions). nil means
	// retention.CompareVersions (plain). Destination types leave it nil.
	VersionOrder func(a, b string) int
	// Provides is what the type offers the other side of a mirror, and
	// Needs what it requires of it: config.Load refuses a mirror whose
	// source or destination needs something its partner does not provide,
	// at the mirror's from or to. The provider implements the optional
	// interface that goes with each capability it provides.
	Provides, Needs Capabilities
	// Limits bounds how hard ferry drives providers of the type; the zero
	// value is no limit (see docs/providers.md for which are honoured).
	Limits Limits
	// DeleteNote, for a destination type whose deletes are more (or other)
	// than removing one object, says what a delete does there, for every
	// plan that deletes at such a destination ("hard deletes: the version
	// is removed from the feed, not unlisted"). Empty: a plain removal.
	DeleteNote string
	// MirrorBlocks are the blocks, besides retention, that a mirror whose
	// source (or destination) is of this type may hold: the settings of
	// the consumer outputs the type's provider publishes. config.Load
	// hands the ones a mirror holds, in file order, to DecodeMirror and
	// keeps what it returns on the mirror, unread, for the provider's
	// Publisher. A type that declares mirror blocks provides
	// ConsumerOutputs; it sets both fields or neither.
	MirrorBlocks []MirrorBlock
	// DecodeMirror decodes one mirror's MirrorBlocks (at least one; it
	// reports duplicates itself) into the provider's own mirror settings.
	// env.Address is "mirror.NAME", env.DeclRange the mirror's header and
	// env.Dir the configuration directory relative paths resolve against.
	DecodeMirror func(blocks hcl.Blocks, ectx *hcl.EvalContext, env DecodeEnv) (any, hcl.Diagnostics)
}

// MirrorBlock is a block a type accepts inside a mirror. Purpose and
// Summary word the diagnostic for a mirror that holds the block although
// its types do not take it (the mirror reads from another kind of source).
type MirrorBlock struct {
	// Name is the block type, as written in the mirror.
	Name string
	// Purpose completes "A NAME block …" ("points a buildpack.toml's
	// dependency uris at the mirror").
	Purpose string
	// Summary is that diagnostic's summary ("Rewrite needs a source with
	// consumer outputs"); empty: a generic one.
	Summary string
}

// DecodeEnv is what a provider decoder may need from the loader.
type DecodeEnv struct {
	// Dir is the absolute config directory; relative paths resolve against it.
	Dir string
	// Address is the block's address, e.g. "source.http.tools".
	Address string
	// DeclRange is the block header's range, for diagnostics about the block itself.
	DeclRange hcl.Range
	// Inputs records the data files the decoder reads through ReadInput;
	// nil records nothing (tests).
	Inputs *Inputs
}

// Inputs are the data files provider decoders read besides the *.ferry.hcl
// files (an artifact list). config.Load makes each one part of the config
// digest, so a saved plan is refused once a file it was planned from changed.
type Inputs struct {
	files []InputFile
}

// InputFile is one data file read while decoding.
type InputFile struct {
	// Name is the path as written in the configuration, cleaned; it does
	// not depend on where the configuration directory is.
	Name string
	// SHA256 is the digest of the bytes the decoder read.
	SHA256 [sha256.Size]byte
}

// Files returns the files read, sorted by name (then digest).
func (in *Inputs) Files() []InputFile {
	if in == nil {
		return nil
	}
	out := slices.Clone(in.files)
	slices.SortFunc(out, func(a, b InputFile) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), bytes.Compare(a.SHA256[:], b.SHA256[:]))
	})
	return out
}

// ReadInput reads the data file name (relative to Dir unless absolute) and
// records it in Inputs.
func (e DecodeEnv) ReadInput(name string) (src []byte, err error) {
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.Dir, p)
	}
	src, err = os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if e.Inputs != nil {
		e.Inputs.files = append(e.Inputs.files, InputFile{Name: filepath.ToSlash(filepath.Clean(name)), SHA256: sha256.Sum256(src)})
	}
	return src, nil
}

// AttrError is the error diagnostic about attr's value: Subject is the
// attribute's expression, so the user sees the value that is wrong.
func AttrError(attr *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  attr.Expr.Range().Ptr(),
	}
}
