// Package buildpack is the "buildpack" source: one artifact per
// [[metadata.dependencies]] entry of a Paketo buildpack.toml, verified
// against the checksum the file declares, plus the format-preserving
// rewrite of the file's uris once the dependencies are at the mirror.
package buildpack

import (
	"net/url"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// SourceConfig is the decoded source "buildpack" block.
type SourceConfig struct {
	// Dir is the configuration directory: paths of consumer outputs in a
	// plan are relative to it.
	Dir string
	// File is the absolute path of the buildpack.toml.
	File string
	// Include keeps only matching dependencies; nil keeps all.
	Include *Filter
	// Exclude drops matching dependencies.
	Exclude *Filter
	// Latest keeps the newest N versions per dependency id; 0 keeps all.
	Latest int
	// Sources also mirrors each dependency's source tarball (the source
	// field), verified against its source checksum.
	Sources bool
	// Layout is how artifact keys are formed: LayoutDigest (the default,
	// ID/VERSION/HEX/BASENAME, HEX being the declared checksum's) or
	// LayoutDependencyMirror (HOST/PATH of the original uri, what
	// BP_DEPENDENCY_MIRROR expects).
	Layout string
}

// Key layouts.
const (
	LayoutDigest           = "digest"
	LayoutDependencyMirror = "dependency_mirror"
)

// Filter matches dependencies; every criterion that is set must match.
type Filter struct {
	IDs []string
	// Versions is a semver constraint such as ">= 20, < 23".
	Versions    *semver.Constraints
	VersionsRaw string
	// Stacks match a dependency listing the stack or "*".
	Stacks []string
	// Targets are "os/arch" pairs. A dependency matches one when its os is
	// empty or the target's and its arch is empty or the target's; its arch
	// is the arch field, else the purl's arch qualifier (libpak's rule).
	// packit resolves a dependency without os and arch on every platform,
	// and libpak one whose purl names no arch on the build's own; defaulting
	// them to linux/amd64 left arm64 mirrors without them.
	Targets []string
}

// Empty reports whether the filter sets no criterion.
func (f *Filter) Empty() bool {
	return f == nil || len(f.IDs) == 0 && f.Versions == nil && len(f.Stacks) == 0 && len(f.Targets) == 0
}

// dep is the part of a dependency a filter looks at.
type dep struct {
	ID, Version, OS, Arch, PURL string
	Stacks                      []string
}

// arch is the dependency's architecture: its arch field, else the arch
// qualifier of its purl ("pkg:generic/bellsoft-jdk@8.0.492?arch=arm64"),
// else "" (any).
func (d dep) arch() string {
	if d.Arch != "" {
		return d.Arch
	}
	_, q, ok := strings.Cut(d.PURL, "?")
	if !ok {
		return ""
	}
	q, _, _ = strings.Cut(q, "#") // a purl's subpath follows its qualifiers
	v, err := url.ParseQuery(q)
	if err != nil {
		return ""
	}
	return v.Get("arch")
}

// Match reports whether d satisfies every criterion the filter sets.
func (f *Filter) match(d dep) bool {
	if len(f.IDs) > 0 && !slices.Contains(f.IDs, d.ID) {
		return false
	}
	if f.Versions != nil {
		v, err := semver.NewVersion(d.Version)
		if err != nil || !f.Versions.Check(v) {
			return false
		}
	}
	if len(f.Stacks) > 0 && !slices.Contains(d.Stacks, "*") && !slices.ContainsFunc(f.Stacks, func(s string) bool { return slices.Contains(d.Stacks, s) }) {
		return false
	}
	if len(f.Targets) > 0 {
		arch := d.arch()
		if !slices.ContainsFunc(f.Targets, func(t string) bool {
			tos, tarch, _ := strings.Cut(t, "/")
			return (d.OS == "" || d.OS == tos) && (arch == "" || arch == tarch)
		}) {
			return false
		}
	}
	return true
}
