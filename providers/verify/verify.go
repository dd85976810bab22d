// Package verify checks streamed content against an expected size and set of
// digests while it is being read, so a destination can refuse to publish
// bytes that do not match before they become visible.
package verify

import (
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/ferry-mirror/ferry/providers"
)

// Reader streams an underlying reader through sha256 (always) and every
// algorithm in the wanted digest set, counting bytes.
//
// Reading past the expected size fails at once with a *providers.MismatchError
// (What "size"), so an oversized body is never read unbounded. At the end of
// the stream the size and every wanted digest are checked; on a mismatch Read
// returns the *providers.MismatchError instead of io.EOF, so an io.Copy into
// a destination fails before the destination commits.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	r      io.Reader
	size   int64
	want   providers.Digests
	hashes []algHash
	n      int64
	// max bounds a stream of unknown size (-1: no bound); maxErr is the
	// error reading past it returns.
	max    int64
	maxErr error
	// err is the terminal result: io.EOF once everything matched, a mismatch
	// or configuration error otherwise. It is returned by every later Read.
	err      error
	verified bool
}

type algHash struct {
	alg providers.Algorithm
	h   hash.Hash
}

// NewReader returns a Reader over r expecting size bytes (size < 0: unknown)
// and the digests in want. An empty want only computes sha256 and accepts any
// content. A digest with an unsupported algorithm makes the first Read fail
// with an error wrapping providers.ErrUnsupported.
func NewReader(r io.Reader, size int64, want providers.Digests) *Reader {
	v := &Reader{r: r, size: size, want: want, max: -1}
	v.hashes = append(v.hashes, algHash{providers.SHA256, providers.SHA256.New()})
	for _, d := range want {
		if v.hasher(d.Algorithm) != nil {
			continue
		}
		h := d.Algorithm.New()
		if h == nil {
			v.err = fmt.Errorf("cannot verify %s digest: %w", d.Algorithm, providers.ErrUnsupported)
			break
		}
		v.hashes = append(v.hashes, algHash{d.Algorithm, h})
	}
	return v
}

// Reuse returns r itself when it is a *Reader no byte has been read from
// yet that checks exactly size (or, for size < 0, is bounded) and every
// digest in want, and NewReader(r, size, want) otherwise. A destination
// handed the apply engine's verifier (which checks the change's size and
// digests) thus checks the same stream without hashing every byte a
// second time: what it reads still fails before EOF unless it matches.
func Reuse(r io.Reader, size int64, want providers.Digests) *Reader {
	if v, ok := r.(*Reader); ok && v.n == 0 && v.err == nil && v.covers(size, want) {
		return v
	}
	return NewReader(r, size, want)
}

// covers reports whether v checks at least what a new Reader for size and
// want would.
func (v *Reader) covers(size int64, want providers.Digests) bool {
	if size != v.size || size < 0 && v.max < 0 {
		return false
	}
	for _, d := range want {
		if got, ok := v.want.Get(d.Algorithm); !ok || got.Hex != d.Hex {
			return false
		}
	}
	return true
}

// Limit bounds a stream whose size is unknown (NewReader's size < 0): once
// more than max bytes arrive, Read fails with err, having read at most one
// byte past max. It does nothing when the size is known, since that is
// enforced exactly. It returns v.
func (v *Reader) Limit(max int64, err error) *Reader {
	if v.size < 0 && max >= 0 {
		v.max, v.maxErr = max, err
	}
	return v
}

func (v *Reader) hasher(alg providers.Algorithm) hash.Hash {
	for _, ah := range v.hashes {
		if ah.alg == alg {
			return ah.h
		}
	}
	return nil
}

// Read implements io.Reader.
func (v *Reader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.size >= 0 {
		// Ask for at most one byte more than expected: enough to detect an
		// oversized body without reading it.
		if limit := v.size - v.n + 1; int64(len(p)) > limit {
			p = p[:limit]
		}
	}
	if v.max >= 0 {
		if limit := v.max - v.n + 1; int64(len(p)) > limit {
			p = p[:limit]
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := v.r.Read(p)
	if v.max >= 0 && v.n+int64(n) > v.max {
		keep := int(v.max - v.n)
		v.write(p[:keep])
		v.err = v.maxErr
		return keep, v.err
	}
	if v.size >= 0 && v.n+int64(n) > v.size {
		keep := int(v.size - v.n)
		v.write(p[:keep])
		v.err = &providers.MismatchError{
			What: "size",
			Want: strconv.FormatInt(v.size, 10),
			Got:  "more than " + strconv.FormatInt(v.size, 10),
		}
		return keep, v.err
	}
	v.write(p[:n])
	if err == io.EOF {
		v.err = v.check()
		if v.err == nil {
			v.verified = true
			v.err = io.EOF
		}
		return n, v.err
	}
	return n, err
}

func (v *Reader) write(p []byte) {
	for _, ah := range v.hashes {
		ah.h.Write(p) // hash.Hash.Write never returns an error
	}
	v.n += int64(len(p))
}

// check compares what was read with what was wanted, at EOF.
func (v *Reader) check() error {
	if v.size >= 0 && v.n != v.size {
		return &providers.MismatchError{
			What: "size",
			Want: strconv.FormatInt(v.size, 10),
			Got:  strconv.FormatInt(v.n, 10),
		}
	}
	for _, d := range v.want {
		got := hex.EncodeToString(v.hasher(d.Algorithm).Sum(nil))
		if got != d.Hex {
			return &providers.MismatchError{What: string(d.Algorithm), Want: d.Hex, Got: got}
		}
	}
	return nil
}

// Verified reports whether the end of the stream was reached and the size
// and every wanted digest matched.
func (v *Reader) Verified() bool { return v.verified }

// Failed returns the error that ended the stream when it did not verify
// (a *providers.MismatchError, say), nil otherwise: what a destination
// reports when its client hides the read error behind its own.
func (v *Reader) Failed() error {
	if v.err == io.EOF {
		return nil
	}
	return v.err
}

// Digests returns the computed sha256 plus every wanted algorithm. It returns
// nil until Verified reports true.
func (v *Reader) Digests() providers.Digests {
	if !v.verified {
		return nil
	}
	var ds []providers.Digest
	for _, ah := range v.hashes {
		ds = append(ds, providers.Digest{Algorithm: ah.alg, Hex: hex.EncodeToString(ah.h.Sum(nil))})
	}
	return providers.NewDigests(ds...)
}

// N returns the number of bytes read so far (never more than the expected
// size when that is known).
func (v *Reader) N() int64 { return v.n }
