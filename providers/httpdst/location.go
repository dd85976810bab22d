package httpdst

import "github.com/ferry-mirror/ferry/providers"

var _ providers.Locator = (*DestinationConfig)(nil)

// Location is the base URL's origin and path: objects go to URL/KEY, so
// destinations on one origin overlap when one path is the other's or below
// it.
func (c *DestinationConfig) Location() providers.Location { return providers.URLLocation(c.URL) }
