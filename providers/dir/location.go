package dir

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/ferry-mirror/ferry/providers"
)

var _ providers.Locator = (*DestinationConfig)(nil)

// Location is the directory, absolute, with symbolic links evaluated as
// far as it exists (a directory reached through a link is the directory
// linked to), ending with a separator so that only the same or nested
// directories overlap.
func (c *DestinationConfig) Location() providers.Location {
	p := resolveExisting(filepath.Clean(c.Path))
	if !strings.HasSuffix(p, string(filepath.Separator)) {
		p += string(filepath.Separator)
	}
	return providers.Location{Store: "file://", Prefix: filepath.ToSlash(p)}
}

// resolveExisting evaluates the symbolic links of the longest part of p
// that exists and appends the rest unchanged. Where nothing can be
// resolved (no permission) p is returned as it is.
func resolveExisting(p string) string {
	rest := ""
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if !errors.Is(err, fs.ErrNotExist) || parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
