package npm

import (
	"errors"

	"github.com/ferry-mirror/ferry/providers"
)

var _ providers.Offliner = (*Source)(nil)

// CheckOffline: an npm source cannot work from an air-gap cache. Its
// listing reads the package documents from the registry (versions,
// dist-tags, integrity), and an npm destination publishes each tarball
// together with its version's document, neither of which the cache holds.
func (s *Source) CheckOffline() error {
	return errors.New("an npm source lists versions from the registry's package documents, " +
		"and npm destinations need each version's document; the cache holds only tarballs")
}
