package npm

import "github.com/ferry-mirror/ferry/providers/internal/semver2"

// CompareVersions orders two npm versions by semantic versioning 2.0 (what
// node-semver's compare does; see semver2.Compare): negative, zero or
// positive as a is older than, the same version as, or newer than b. The
// registry only accepts strict semver; anything else sorts before every
// valid version and among itself bytewise, so the order stays total.
func CompareVersions(a, b string) int { return semver2.Compare(a, b) }
