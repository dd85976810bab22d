package proget

import (
	"context"
	"io"
	"os"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// spooled is verified content in a temporary file, read from the start.
type spooled struct {
	*os.File
	size    int64
	digests providers.Digests // sha256 and every algorithm a declared
}

// spool copies r into a temporary file, verifying it against a's size
// and digests (and stopping when ctx is done); nothing is kept on error.
// Close removes the file.
func spool(ctx context.Context, r io.Reader, a providers.Artifact) (*spooled, error) {
	f, err := os.CreateTemp("", "ferry-proget-*")
	if err != nil {
		return nil, err
	}
	v := verify.NewReader(providers.ContextReader(ctx, r), a.Size, a.Digests)
	n, err := io.Copy(f, v)
	if err == nil && !v.Verified() {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &spooled{File: f, size: n, digests: v.Digests()}, nil
}

// Close closes and removes the file.
func (s *spooled) Close() error {
	err := s.File.Close()
	os.Remove(s.Name())
	return err
}

// reader reads the whole content from the start without moving or closing
// the file (an HTTP transport closes a request body it was given).
func (s *spooled) reader() io.Reader { return io.NewSectionReader(s.File, 0, s.size) }
