package gitea

import "github.com/ferry-mirror/ferry/providers"

var _ providers.Locator = (*CondaConfig)(nil)

// Location is the channel's URL path ended by '|', a character channel
// names cannot hold: Gitea keeps each channel apart (a package's channel
// is a property, not a directory), so "tools" and "tools/extra" do not
// overlap, while any destination writing the URLs above it does.
func (c *CondaConfig) Location() providers.Location {
	l := providers.URLLocation(c.channelURL())
	l.Prefix = l.Prefix[:len(l.Prefix)-1] + "|"
	return l
}
