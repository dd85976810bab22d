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
