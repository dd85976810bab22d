// Package gitea holds the destinations that are Gitea's package registries.
// "gitea_conda" is a conda channel in Gitea's conda registry: ferry uploads
// the packages, Gitea indexes them itself (it writes each subdir's
// repodata.json from the package files it holds).
package gitea

// CondaConfig is the decoded destination "gitea_conda" block.
type CondaConfig struct {
	// URL is Gitea's root URL ("https://gitea.internal"), no trailing slash.
	URL string
	// Owner is the user or organization the packages belong to.
	Owner string
	// Channel is the channel path under the owner's conda registry
	// ("conda-forge" or "team/tools"); empty is the owner's root channel.
	Channel string
	// Username and Password are basic auth; Token is a Gitea access token
	// (sent as "Authorization: token …"). They never leave this package.
	Username, Password, Token string
}

// channelURL is the channel's base URL: consumers read
// channelURL/SUBDIR/repodata.json, uploads go to channelURL/FILENAME.
func (c *CondaConfig) channelURL() string {
	u := c.URL + "/api/packages/" + pathEscape(c.Owner) + "/conda"
	if c.Channel != "" {
		u += "/" + escapePath(c.Channel)
	}
	return u
}
