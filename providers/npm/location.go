package npm

import "github.com/ferry-mirror/ferry/providers"

var _ providers.Locator = (*DestinationConfig)(nil)

// Location is the registry's origin and path: a registry destination may
// publish any package below it.
func (c *DestinationConfig) Location() providers.Location { return providers.URLLocation(c.URL) }
