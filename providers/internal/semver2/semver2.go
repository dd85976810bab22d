// Package semver2 is the Semantic Versioning 2.0.0 order the providers
// whose ecosystems use it share (npm, ProGet universal packages).
package semver2

import (
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Compare orders two versions by semantic versioning 2.0: negative, zero
// or positive as a is older than, the same version as, or newer than b.
// Prereleases are older than their release, prerelease identifiers compare
// numerically when numeric, and build metadata is ignored ("1.0.0+a" ==
// "1.0.0+b"). Anything that is not strict semver sorts before every valid
// version and among itself bytewise, so the order stays total.
func Compare(a, b string) int {
	va, errA := semver.StrictNewVersion(a)
	vb, errB := semver.StrictNewVersion(b)
	switch {
	case errA == nil && errB == nil:
		return va.Compare(vb)
	case errA == nil:
		return 1
	case errB == nil:
		return -1
	}
	return strings.Compare(a, b)
}

// Valid reports whether v is a strict semantic version 2.0 ("1.2.3",
// "1.0.0-rc.1+build.5"; not "v1.2.3" or "1.2").
func Valid(v string) bool {
	_, err := semver.StrictNewVersion(v)
	return err == nil
}
