package verify_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/verify"
)

func sha256Of(b []byte) providers.Digest {
	s := sha256.Sum256(b)
	return providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(s[:])}
}

func sha512Of(b []byte) providers.Digest {
	s := sha512.Sum512(b)
	return providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(s[:])}
}

func TestReader(t *testing.T) {
	content := bytes.Repeat([]byte("ferry verifies every byte. "), 4000) // crosses io.Copy buffers
	other := []byte("something else")
	size := int64(len(content))

	tests := []struct {
		name     string
		body     []byte
		size     int64
		want     providers.Digests
		wantErr  error  // sentinel the error must wrap; nil for success
		wantWhat string // MismatchError.What
		wantN    int64
		// wantDigests is what Digests reports after a successful read.
		wantDigests providers.Digests
	}{
		{
			name:        "match sha256",
			body:        content,
			size:        size,
			want:        providers.NewDigests(sha256Of(content)),
			wantN:       size,
			wantDigests: providers.NewDigests(sha256Of(content)),
		},
		{
			name:        "match sha256 and sha512",
			body:        content,
			size:        size,
			want:        providers.NewDigests(sha256Of(content), sha512Of(content)),
			wantN:       size,
			wantDigests: providers.NewDigests(sha256Of(content), sha512Of(content)),
		},
		{
			name:        "match sha512 only still computes sha256",
			body:        content,
			size:        size,
			want:        providers.NewDigests(sha512Of(content)),
			wantN:       size,
			wantDigests: providers.NewDigests(sha256Of(content), sha512Of(content)),
		},
		{
			name:     "wrong sha256",
			body:     content,
			size:     size,
			want:     providers.NewDigests(sha256Of(other)),
			wantErr:  providers.ErrDigestMismatch,
			wantWhat: "sha256",
			wantN:    size,
		},
		{
			name:     "wrong sha512 with right sha256",
			body:     content,
			size:     size,
			want:     providers.NewDigests(sha256Of(content), sha512Of(other)),
			wantErr:  providers.ErrDigestMismatch,
			wantWhat: "sha512",
			wantN:    size,
		},
		{
			name:     "short body",
			body:     content[:size-1],
			size:     size,
			want:     providers.NewDigests(sha256Of(content)),
			wantErr:  providers.ErrSizeMismatch,
			wantWhat: "size",
			wantN:    size - 1,
		},
		{
			name:     "long body",
			body:     append(append([]byte{}, content...), 'x'),
			size:     size,
			want:     providers.NewDigests(sha256Of(content)),
			wantErr:  providers.ErrSizeMismatch,
			wantWhat: "size",
			wantN:    size,
		},
		{
			name:        "size unknown",
			body:        content,
			size:        -1,
			want:        providers.NewDigests(sha256Of(content)),
			wantN:       size,
			wantDigests: providers.NewDigests(sha256Of(content)),
		},
		{
			name:     "size unknown wrong digest",
			body:     content,
			size:     -1,
			want:     providers.NewDigests(sha256Of(other)),
			wantErr:  providers.ErrDigestMismatch,
			wantWhat: "sha256",
			wantN:    size,
		},
		{
			name:        "empty want computes sha256 only",
			body:        content,
			size:        -1,
			wantN:       size,
			wantDigests: providers.NewDigests(sha256Of(content)),
		},
		{
			name:        "empty body",
			body:        nil,
			size:        0,
			want:        providers.NewDigests(sha256Of(nil)),
			wantN:       0,
			wantDigests: providers.NewDigests(sha256Of(nil)),
		},
		{
			name:     "unexpected byte after empty",
			body:     []byte("x"),
			size:     0,
			wantErr:  providers.ErrSizeMismatch,
			wantWhat: "size",
			wantN:    0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// OneByteReader and DataErrReader exercise the boundary cases:
			// EOF together with data and EOF after the last byte.
			for _, wrap := range []struct {
				name string
				fn   func(io.Reader) io.Reader
			}{
				{"plain", func(r io.Reader) io.Reader { return r }},
				{"onebyte", iotest.OneByteReader},
				{"dataerr", iotest.DataErrReader},
			} {
				t.Run(wrap.name, func(t *testing.T) {
					vr := verify.NewReader(wrap.fn(bytes.NewReader(tc.body)), tc.size, tc.want)
					var dst bytes.Buffer
					_, err := io.Copy(&dst, vr)
					if tc.wantErr == nil {
						if err != nil {
							t.Fatalf("io.Copy: %v", err)
						}
						if !vr.Verified() {
							t.Error("Verified() = false, want true")
						}
						if diff := cmp.Diff(tc.wantDigests, vr.Digests()); diff != "" {
							t.Errorf("Digests() mismatch (-want +got):\n%s", diff)
						}
					} else {
						if !errors.Is(err, tc.wantErr) {
							t.Fatalf("io.Copy error = %v, want one wrapping %v", err, tc.wantErr)
						}
						var me *providers.MismatchError
						if !errors.As(err, &me) || me.What != tc.wantWhat {
							t.Errorf("error = %#v, want *MismatchError with What %q", err, tc.wantWhat)
						}
						if vr.Verified() {
							t.Error("Verified() = true after a mismatch")
						}
						if got := vr.Digests(); got != nil {
							t.Errorf("Digests() = %v after a mismatch, want nil", got)
						}
						// The error is sticky: a retry of Read must not report EOF.
						if _, err2 := vr.Read(make([]byte, 8)); !errors.Is(err2, tc.wantErr) {
							t.Errorf("second Read error = %v, want %v", err2, tc.wantErr)
						}
					}
					if got := vr.N(); got != tc.wantN {
						t.Errorf("N() = %d, want %d", got, tc.wantN)
					}
					if int64(dst.Len()) != tc.wantN {
						t.Errorf("copied %d bytes, want %d", dst.Len(), tc.wantN)
					}
				})
			}
		})
	}
}

// An oversized body must fail as soon as the extra byte arrives, not after
// the whole (possibly endless) stream has been read.
func TestReaderStopsAtSize(t *testing.T) {
	endless := iotest.OneByteReader(strings.NewReader(strings.Repeat("a", 1<<20)))
	counting := &countingReader{r: endless}
	vr := verify.NewReader(counting, 10, nil)
	_, err := io.Copy(io.Discard, vr)
	if !errors.Is(err, providers.ErrSizeMismatch) {
		t.Fatalf("error = %v, want ErrSizeMismatch", err)
	}
	if counting.n > 11 {
		t.Errorf("read %d bytes from the source, want at most 11", counting.n)
	}
}

func TestReaderUnsupportedAlgorithm(t *testing.T) {
	want := providers.Digests{{Algorithm: "md4", Hex: "31d6cfe0d16ae931b73c59d7e0c089c0"}}
	vr := verify.NewReader(strings.NewReader(""), 0, want)
	_, err := io.Copy(io.Discard, vr)
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Fatalf("error = %v, want ErrUnsupported", err)
	}
	if vr.Verified() {
		t.Error("Verified() = true with an unsupported algorithm")
	}
}

func TestReaderPassesThroughSourceErrors(t *testing.T) {
	boom := errors.New("boom")
	vr := verify.NewReader(iotest.ErrReader(boom), 10, nil)
	if _, err := io.Copy(io.Discard, vr); !errors.Is(err, boom) {
		t.Fatalf("error = %v, want %v", err, boom)
	}
	if vr.Verified() {
		t.Error("Verified() = true after a source error")
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

func TestReuse(t *testing.T) {
	content := []byte("the bytes")
	sum := sha256Of(content)
	engine := func() *verify.Reader {
		return verify.NewReader(bytes.NewReader(content), int64(len(content)), providers.NewDigests(sum))
	}
	tests := []struct {
		name   string
		r      func() io.Reader
		size   int64
		want   providers.Digests
		reused bool
	}{
		{name: "same size and digests", r: func() io.Reader { return engine() }, size: int64(len(content)), want: providers.NewDigests(sum), reused: true},
		{name: "no digests wanted", r: func() io.Reader { return engine() }, size: int64(len(content)), reused: true},
		{name: "other size", r: func() io.Reader { return engine() }, size: 3, want: providers.NewDigests(sum)},
		{name: "unknown size, unbounded verifier", r: func() io.Reader {
			return verify.NewReader(bytes.NewReader(content), -1, providers.NewDigests(sum))
		}, size: -1, want: providers.NewDigests(sum)},
		{name: "unknown size, bounded verifier", r: func() io.Reader {
			return verify.NewReader(bytes.NewReader(content), -1, providers.NewDigests(sum)).Limit(100, errors.New("too large"))
		}, size: -1, want: providers.NewDigests(sum), reused: true},
		{name: "other digest", r: func() io.Reader { return engine() }, size: int64(len(content)), want: providers.NewDigests(sha256Of([]byte("other")))},
		{name: "digest it does not check", r: func() io.Reader { return engine() }, size: int64(len(content)), want: providers.NewDigests(sum, sha512Of(content))},
		{name: "already read from", r: func() io.Reader {
			v := engine()
			_, _ = v.Read(make([]byte, 1))
			return v
		}, size: int64(len(content)), want: providers.NewDigests(sum)},
		{name: "not a verifier", r: func() io.Reader { return bytes.NewReader(content) }, size: int64(len(content)), want: providers.NewDigests(sum)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r()
			v := verify.Reuse(r, tt.size, tt.want)
			if got := v == r; got != tt.reused {
				t.Errorf("reused = %v, want %v", got, tt.reused)
			}
		})
	}

	// A new verifier over a verifier still checks what the store wants.
	v := verify.Reuse(engine(), int64(len(content)), providers.NewDigests(sha256Of([]byte("other"))))
	if _, err := io.ReadAll(v); !errors.Is(err, providers.ErrDigestMismatch) {
		t.Errorf("error = %v, want ErrDigestMismatch", err)
	}
}
