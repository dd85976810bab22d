package buildpack

import "github.com/ferry-mirror/ferry/providers"

var _ providers.Offliner = (*Source)(nil)

// CheckOffline: the dependencies come from the local buildpack.toml, so the
// source lists without the network and works from an air-gap cache.
func (s *Source) CheckOffline() error { return nil }
