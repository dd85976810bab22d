package nuget

import (
	"strings"

	"github.com/ferry-mirror/ferry/providers"
)

var _ providers.Locator = (*DestinationConfig)(nil)

// Location is the service index's directory: a feed's packages live below
// it (Gitea: /api/packages/OWNER/nuget/), so two destinations on one feed
// overlap and two owners' feeds do not.
func (c *DestinationConfig) Location() providers.Location {
	u := c.ServiceIndex
	return providers.URLLocation(u[:strings.LastIndex(u, "/")+1])
}
