package oci

import (
	"errors"

	"github.com/ferry-mirror/ferry/providers"
)

var _ providers.Offliner = (*Source)(nil)

// CheckOffline: an oci source cannot work from an air-gap cache. Its
// listing asks the registry for tags, and each tag is a graph of manifests
// and blobs that the source copies itself, not one file the cache could
// hold.
func (s *Source) CheckOffline() error {
	return errors.New("an oci source lists tags from the registry, and each image is a graph of " +
		"manifests and blobs the source copies itself; the cache holds single files")
}
