package schema

import (
	"math/bits"
	"strings"
)

// Capabilities is a set of things one side of a mirror offers the other,
// declared as data on a Type (Provides, Needs) so that loading the
// configuration judges a mirror's pairing without building a provider or
// touching the network. Each capability goes with an optional interface in
// package providers, which the provider must implement when its type
// declares it.
type Capabilities uint

const (
	// Manifest: a source gives each artifact's package document
	// (providers.Manifester); a registry that publishes versions only
	// together with their document (npm) needs it.
	Manifest Capabilities = 1 << iota
	// Graph: a source's artifacts are graphs it copies itself
	// (providers.Copier: an OCI image's index, manifests and blobs), and
	// a destination can hold and stat graphs (providers.GraphStater). A
	// source that provides it needs it of its destination.
	Graph
	// DistTags: a source reports each package's tags (providers.TagLister).
	DistTags
	// Feed: a source follows an upstream changes feed
	// (providers.FeedFollower).
	Feed
	// ConsumerOutputs: a source reads a document consumers use (a
	// buildpack.toml) that a mirror's rewrite and bindings blocks point at
	// the mirror.
	ConsumerOutputs
	// PackageMetadata: a destination keeps package metadata beyond files
	// (providers.PackageUpdater: dist-tags, deprecations), which
	// on_upstream_removed = "deprecate" needs.
	PackageMetadata
)

// capabilityNames are the capabilities' names in messages, in bit order.
var capabilityNames = [...]string{
	"package manifests",
	"graphs (images copied manifest by manifest)",
	"dist-tags",
	"changes feeds",
	"consumer outputs (rewrite, bindings)",
	"package metadata",
}

// Has reports whether c holds every capability in o.
func (c Capabilities) Has(o Capabilities) bool { return c&o == o }

// String names the capabilities in c, joined with "and"; "" when empty.
func (c Capabilities) String() string {
	var names []string
	for c != 0 {
		i := bits.TrailingZeros(uint(c))
		c &^= 1 << i
		if i < len(capabilityNames) {
			names = append(names, capabilityNames[i])
		} else {
			names = append(names, "unknown capability")
		}
	}
	return strings.Join(names, " and ")
}

// Limits are what a type declares about how hard it may be driven. Zero
// means no limit.
type Limits struct {
	// Connections caps the requests in flight to one provider of the type
	// (a registry that throttles per client).
	Connections int
	// DeletesPerHour caps deletes at one destination of the type (a
	// registry with a delete quota, such as ProGet Free's).
	DeletesPerHour int
}
