package npm

import (
	"strings"

	"github.com/Masterminds/semver/v3"
)

// CompareVersions orders two npm versions by semantic versioning 2.0 (what
// node-semver's compare does): negative, zero or positive as a is older
// than, the same version as, or newer than b. Prereleases are older than
// their release, prerelease identifiers compare numerically when numeric,
// and build metadata is ignored ("1.0.0+a" == "1.0.0+b"). The registry
// only accepts strict semver; anything else sorts before every valid
// version and among itself bytewise, so the order stays total.
func CompareVersions(a, b string) int {
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
