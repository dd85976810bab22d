package proget

import (
	"net/url"
	"strings"

	"github.com/ferry-mirror/ferry/providers"
)

var (
	_ providers.Locator = (*UpackConfig)(nil)
	_ providers.Locator = (*AssetConfig)(nil)
)

// Location is the feed on its server: ProGet matches feed names
// case-insensitively, so the prefix is lower case.
func (c *UpackConfig) Location() providers.Location {
	l := providers.URLLocation(c.URL)
	l.Prefix += "api/packages/" + url.PathEscape(strings.ToLower(c.Feed)) + "/"
	return l
}

// Location is the folder in the asset directory on its server.
func (c *AssetConfig) Location() providers.Location {
	l := providers.URLLocation(c.URL)
	l.Prefix += "endpoints/" + url.PathEscape(strings.ToLower(c.Directory)) + "/content/"
	if c.Path != "" {
		l.Prefix += escape(c.Path) + "/"
	}
	return l
}

// DeleteLimit is the block's deletes_per_hour: the destination's API
// delete quota (0: none). The type declares ProGet Free's quota
// (schema.Limits.DeletesPerHour); a block on a paid edition raises or
// lifts it here.
func (c *UpackConfig) DeleteLimit() int { return c.DeletesPerHour }

// DeleteLimit is the block's deletes_per_hour, as for UpackConfig.
func (c *AssetConfig) DeleteLimit() int { return c.DeletesPerHour }
