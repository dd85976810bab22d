package dir

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

const (
	// copyBufSize is the unit read from the source (through its verifier)
	// and written to the temp file: large, so a big file costs few write
	// system calls.
	copyBufSize = 1 << 20
	// copyBufs are the buffers of one copy: one being filled while the
	// others are written.
	copyBufs = 3
	// writebackEvery is how much is written before the kernel is asked to
	// start writing it to disk (see startWriteback).
	writebackEvery = 8 << 20
)

// copier writes streams into temp files; its buffers are shared by every
// Put of a Store.
type copier struct {
	bufs sync.Pool // *[]byte of copyBufSize
}

func (c *copier) get() *[]byte {
	if b, ok := c.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, copyBufSize)
	return &b
}

// copy writes r into f and returns the bytes written. A stream larger than
// one buffer is pipelined: this goroutine reads (hashing in r's verifier)
// while another writes the buffer before into f, so hashing and the
// kernel's copy into the page cache run on two cores, and writeback to disk
// starts as the file grows rather than all at the fsync before publishing.
// It stops at r's first error or f's first write error, which it returns.
func (c *copier) copy(f *os.File, r io.Reader, size int64) (int64, error) {
	first := c.get()
	defer func() { c.bufs.Put(first) }() // whichever buffer is held last
	n, rerr := readFull(r, *first)
	if rerr != nil && rerr != io.EOF {
		return 0, rerr
	}
	if rerr == io.EOF || size >= 0 && size <= int64(n) {
		// Small: one write, no pipeline. (A stream with more than size
		// bytes ends here too, since its verifier fails the read.)
		if _, err := f.Write((*first)[:n]); err != nil {
			return 0, err
		}
		if rerr == nil {
			if _, rerr = io.Copy(f, r); rerr != nil {
				return int64(n), rerr
			}
		}
		return int64(n), nil
	}

	type chunk struct {
		b *[]byte
		n int
	}
	full := make(chan chunk, copyBufs)
	free := make(chan *[]byte, copyBufs)
	for range copyBufs - 1 {
		free <- c.get()
	}
	var (
		failed  atomic.Bool
		written int64
		werr    error
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		var synced int64
		for ch := range full {
			if werr == nil {
				_, werr = f.Write((*ch.b)[:ch.n])
				if werr != nil {
					failed.Store(true)
				} else {
					written += int64(ch.n)
					if written-synced >= writebackEvery {
						startWriteback(f, synced, written-synced)
						synced = written
					}
				}
			}
			free <- ch.b
		}
	}()
	full <- chunk{first, n}
	first = <-free
	for rerr == nil && !failed.Load() {
		n, rerr = readFull(r, *first)
		if n > 0 {
			full <- chunk{first, n}
			first = <-free
		}
	}
	close(full)
	<-done
	for range copyBufs - 1 {
		c.bufs.Put(<-free)
	}
	if werr != nil {
		return written, werr
	}
	if rerr != io.EOF {
		return written, rerr
	}
	return written, nil
}

// readFull reads into b until it is full or r fails; io.EOF only when
// the stream ended, whatever was read before.
func readFull(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
		if k == 0 {
			// A reader that keeps returning nothing would spin here.
			return n, errors.New("reading the source: no progress")
		}
	}
	return n, nil
}
