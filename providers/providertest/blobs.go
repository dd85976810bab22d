package providertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// MemBlobs is an in-memory providers.Blobs for tests of Offliner: Put
// verifies like the air-gap cache does. The zero value is ready to use.
type MemBlobs struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

var _ providers.Blobs = (*MemBlobs)(nil)

// Open implements providers.Blobs.
func (m *MemBlobs) Open(_ context.Context, d providers.Digest) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d.String()]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, providers.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Put implements providers.Blobs.
func (m *MemBlobs) Put(_ context.Context, d providers.Digest, size int64, r io.Reader) error {
	b, err := io.ReadAll(verify.NewReader(r, size, providers.NewDigests(d)))
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[string][]byte{}
	}
	m.blobs[d.String()] = b
	return nil
}

// Len is the number of blobs stored.
func (m *MemBlobs) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blobs)
}

// Corrupt flips a byte of every blob stored, as a damaged cache would.
func (m *MemBlobs) Corrupt() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.blobs {
		if len(b) > 0 {
			b[0] ^= 0xff
		}
	}
}
