package dir

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

func TestCopierCopy(t *testing.T) {
	content := make([]byte, 10*copyBufSize+7) // past writebackEvery
	for i := range content {
		content[i] = byte(i * 7)
	}
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		size    int64 // passed to copy; -1: unknown
		want    []byte
		wantErr error
	}{
		{name: "empty", r: bytes.NewReader(nil), size: 0, want: []byte{}},
		{name: "small", r: bytes.NewReader(content[:100]), size: 100, want: content[:100]},
		{name: "one buffer exactly", r: bytes.NewReader(content[:copyBufSize]), size: copyBufSize, want: content[:copyBufSize]},
		{name: "one buffer and a byte", r: bytes.NewReader(content[:copyBufSize+1]), size: copyBufSize + 1, want: content[:copyBufSize+1]},
		{name: "big", r: bytes.NewReader(content), size: int64(len(content)), want: content},
		{name: "big, size unknown", r: bytes.NewReader(content), size: -1, want: content},
		{name: "big, one byte a read", r: iotest.OneByteReader(bytes.NewReader(content[:3*copyBufSize])), size: -1, want: content[:3*copyBufSize]},
		{name: "error in the first buffer", r: iotest.TimeoutReader(bytes.NewReader(content)), size: -1, wantErr: iotest.ErrTimeout},
		{name: "error after some buffers", r: io.MultiReader(bytes.NewReader(content[:5*copyBufSize+3]), iotest.ErrReader(boom)), size: -1, wantErr: boom},
	}
	var c copier
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "f"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n, err := c.copy(f, tt.r, tt.size)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(tt.want)) || !bytes.Equal(got, tt.want) {
				t.Errorf("copied %d bytes, file has %d, want %d (equal: %v)", n, len(got), len(tt.want), bytes.Equal(got, tt.want))
			}
		})
	}
}

// A failing write stops the copy without reading the whole stream.
func TestCopierWriteError(t *testing.T) {
	f, err := os.Open(os.DevNull) // read-only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &countingReader{r: bytes.NewReader(make([]byte, 64*copyBufSize))}
	var c copier
	if _, err := c.copy(f, r, -1); err == nil {
		t.Fatal("copy into a read-only file succeeded")
	}
	if r.n > (copyBufs+2)*copyBufSize {
		t.Errorf("read %d bytes after the write failed, want at most a few buffers", r.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
