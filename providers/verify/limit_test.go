package verify_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers/verify"
)

// Limit bounds only a stream of unknown size, reads at most one byte past
// the bound, and fails with the caller's error.
func TestLimit(t *testing.T) {
	tooLarge := errors.New("too large")
	tests := []struct {
		name     string
		size     int64 // declared; -1 unknown
		max      int64
		body     string
		wantErr  error // nil: read to the end and verified
		wantRead int64 // bytes the underlying reader gave, at most
	}{
		{name: "under the bound", size: -1, max: 10, body: "123456789"},
		{name: "at the bound", size: -1, max: 10, body: "1234567890"},
		{name: "past the bound", size: -1, max: 10, body: strings.Repeat("x", 1<<20), wantErr: tooLarge, wantRead: 11},
		{name: "declared size wins", size: 20, max: 10, body: strings.Repeat("x", 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingReader{r: strings.NewReader(tt.body)}
			vr := verify.NewReader(src, tt.size, nil).Limit(tt.max, tooLarge)
			n, err := io.Copy(io.Discard, vr)
			if tt.wantErr == nil {
				if err != nil || !vr.Verified() || n != int64(len(tt.body)) {
					t.Fatalf("copied %d, err %v, verified %v; want all %d bytes verified", n, err, vr.Verified(), len(tt.body))
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || vr.Verified() {
				t.Fatalf("err = %v, verified %v; want %v", err, vr.Verified(), tt.wantErr)
			}
			if n > tt.max || int64(src.n) > tt.wantRead {
				t.Errorf("passed on %d bytes and read %d; want at most %d and %d", n, src.n, tt.max, tt.wantRead)
			}
		})
	}
}
