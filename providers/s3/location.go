package s3

import "github.com/ferry-mirror/ferry/providers"

var _ providers.Locator = (*DestinationConfig)(nil)

// Location is the bucket (at its endpoint, when not AWS: two servers may
// both have a bucket of that name) and the key prefix itself: an S3 key
// prefix "a/" and "a/b/" overlap, "a/" and "ab/" do not, since the decoder
// ends every prefix with "/".
func (c *DestinationConfig) Location() providers.Location {
	store := "s3://" + c.Bucket + "/"
	if c.Endpoint != "" {
		store = "s3+" + providers.URLLocation(c.Endpoint).Store + "/" + c.Bucket + "/"
	}
	return providers.Location{Store: store, Prefix: c.Prefix}
}
