package verify

import (
	"context"
	"fmt"
	"io"

	"github.com/ferry-mirror/ferry/providers"
)

// ReadBlob reads the content of digest d from blobs, at most max bytes,
// verified against d: a cache file that changed since it was stored is an
// error wrapping ErrDigestMismatch, never content.
func ReadBlob(ctx context.Context, blobs providers.Blobs, d providers.Digest, max int64) ([]byte, error) {
	rc, err := blobs.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	vr := NewReader(rc, -1, providers.NewDigests(d)).Limit(max, fmt.Errorf("blob %s is larger than %d bytes", d, max))
	b, err := io.ReadAll(vr)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return b, nil
}
