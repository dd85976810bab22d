package oci

import (
	"strings"

	"github.com/ferry-mirror/ferry/providers"
)

var _ providers.Locator = (*DestinationConfig)(nil)

// Location is the registry and repository. One repository ends with ":",
// which repository names cannot hold, so only the same repository overlaps
// it (a/b is another repository than a). A template may produce any
// repository that starts with its text before the first placeholder.
func (c *DestinationConfig) Location() providers.Location {
	host := strings.ToLower(c.Registry)
	if !strings.Contains(host, ":") {
		if c.PlainHTTP {
			host += ":80"
		} else {
			host += ":443"
		}
	}
	prefix := "/" + c.Repository + ":"
	if t, ok, err := parseRepoTemplate(c.Repository); ok && err == nil {
		var lit strings.Builder
		for _, p := range t.parts {
			if p.segment >= 0 {
				break
			}
			lit.WriteString(p.literal)
		}
		prefix = "/" + lit.String()
	}
	return providers.Location{Store: "oci://" + host, Prefix: prefix}
}
