// Package buildpack is the "buildpack" source: one artifact per
// [[metadata.dependencies]] entry of a Paketo buildpack.toml, verified
// against the checksum the file declares, plus the format-preserving
// rewrite of the file's uris once the dependencies are at the mirror.
package buildpack

import (
	"slices"

	"github.com/Masterminds/semver/v3"
)

// Config is the decoded source "buildpack" block.
type Config struct {
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
	// Targets are "os/arch" pairs; a dependency without os is "linux", one
	// without arch is "amd64" (the libpak and packit defaults).
	Targets []string
}

// Empty reports whether the filter sets no criterion.
func (f *Filter) Empty() bool {
	return f == nil || len(f.IDs) == 0 && f.Versions == nil && len(f.Stacks) == 0 && len(f.Targets) == 0
}

// dep is the part of a dependency a filter looks at.
type dep struct {
	ID, Version, OS, Arch string
	Stacks                []string
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
		os, arch := d.OS, d.Arch
		if os == "" {
			os = "linux"
		}
		if arch == "" {
			arch = "amd64"
		}
		if !slices.Contains(f.Targets, os+"/"+arch) {
			return false
		}
	}
	return true
}
