// Package all is the one list of the source and destination types this
// build of ferry accepts. The CLI, the config fuzzer, the config fixture
// tests and the planner golden tests all read it, so adding a provider is
// one line here (see docs/providers.md).
package all

import (
	"github.com/ferry-mirror/ferry/providers/buildpack"
	"github.com/ferry-mirror/ferry/providers/conda"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/gitea"
	"github.com/ferry-mirror/ferry/providers/httpdst"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/npm"
	"github.com/ferry-mirror/ferry/providers/nuget"
	"github.com/ferry-mirror/ferry/providers/oci"
	"github.com/ferry-mirror/ferry/providers/proget"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/s3"
)

// Types returns every registered type, sources and destinations. It builds
// a fresh slice on each call, so callers may append to it.
func Types() []registry.Type {
	return []registry.Type{
		httpsrc.SourceType(),
		buildpack.SourceType(),
		oci.SourceType(),
		npm.SourceType(),
		conda.SourceType(),
		nuget.SourceType(),
		proget.UpackSourceType(),
		proget.AssetSourceType(),
		dir.DestinationType(),
		httpdst.DestinationType(),
		oci.DestinationType(),
		npm.DestinationType(),
		s3.DestinationType(),
		gitea.CondaDestinationType(),
		nuget.DestinationType(),
		proget.UpackDestinationType(),
		proget.AssetDestinationType(),
	}
}
