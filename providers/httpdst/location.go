package httpdst

import "github.com/ferry-mirror/ferry/providers"

var _ providers.Locator = (*Config)(nil)

// Location is the base URL's origin and path: objects go to URL/KEY, so
// destinations on one origin overlap when one path is the other's or below
// it.
func (c *Config) Location() providers.Location { return providers.URLLocation(c.URL) }
