package providers

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// Algorithm names a supported content hash.
type Algorithm string

const (
	SHA256 Algorithm = "sha256"
	SHA512 Algorithm = "sha512"
	// SHA1 is only for upstreams that declare nothing stronger (an npm
	// version's shasum when it has no integrity); it is never the only
	// digest ferry computes.
	SHA1 Algorithm = "sha1"
	// MD5 is only for verifying what an upstream declares next to a
	// stronger digest (a conda record's md5 beside its sha256); it is never
	// the primary digest while any other is present.
	MD5 Algorithm = "md5"
)

// New returns a fresh hasher, or nil for an unsupported algorithm.
func (a Algorithm) New() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case SHA512:
		return sha512.New()
	case SHA1:
		return sha1.New()
	case MD5:
		return md5.New()
	}
	return nil
}

// HexLen is the length of the algorithm's hex encoding, 0 if unsupported.
func (a Algorithm) HexLen() int {
	switch a {
	case SHA256:
		return 64
	case SHA512:
		return 128
	case SHA1:
		return 40
	case MD5:
		return 32
	}
	return 0
}

// Digest is an algorithm-qualified content hash, written "sha256:9f86…".
type Digest struct {
	Algorithm Algorithm
	Hex       string
}

// ParseDigest parses "alg:hex" and checks the hex length and alphabet.
func ParseDigest(s string) (Digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	if !ok {
		return Digest{}, fmt.Errorf("digest %q: want algorithm:hex", s)
	}
	d := Digest{Algorithm: Algorithm(alg), Hex: hx}
	return d, d.Validate()
}

// Validate checks the algorithm is supported and Hex is lowercase hex of the right length.
func (d Digest) Validate() error {
	n := d.Algorithm.HexLen()
	if n == 0 {
		return fmt.Errorf("digest algorithm %q is not supported (use sha256, sha512, sha1 or md5)", d.Algorithm)
	}
	if len(d.Hex) != n {
		return fmt.Errorf("%s digest must be %d hex characters, got %d", d.Algorithm, n, len(d.Hex))
	}
	for i := 0; i < len(d.Hex); i++ { // no allocation: a state checks one per artifact
		if c := d.Hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%s digest must be lowercase hexadecimal", d.Algorithm)
		}
	}
	return nil
}

func (d Digest) String() string {
	if d.IsZero() {
		return ""
	}
	return string(d.Algorithm) + ":" + d.Hex
}

// IsZero reports whether d is the unknown digest.
func (d Digest) IsZero() bool { return d.Algorithm == "" && d.Hex == "" }

// MarshalText implements encoding.TextMarshaler.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Digest) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Digest{}
		return nil
	}
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Digests is a set of digests with at most one per algorithm, kept sorted by
// algorithm so equal sets compare and serialise equally.
type Digests []Digest

// NewDigests builds a normalised set; later entries win for a repeated
// algorithm. It allocates once: a list file builds one set per row.
func NewDigests(ds ...Digest) Digests {
	var out Digests
	for _, d := range ds {
		if d.IsZero() {
			continue
		}
		if out == nil {
			out = make(Digests, 0, len(ds))
		}
		if i := slices.IndexFunc(out, func(e Digest) bool { return e.Algorithm == d.Algorithm }); i >= 0 {
			out[i] = d
			continue
		}
		out = append(out, d)
	}
	slices.SortFunc(out, byAlgorithm)
	return out
}

// With returns a copy with d set (replacing any digest of the same algorithm).
func (s Digests) With(d Digest) Digests {
	out := make(Digests, 0, len(s)+1)
	for _, e := range s {
		if e.Algorithm != d.Algorithm {
			out = append(out, e)
		}
	}
	out = append(out, d)
	slices.SortFunc(out, byAlgorithm)
	return out
}

func byAlgorithm(a, b Digest) int { return strings.Compare(string(a.Algorithm), string(b.Algorithm)) }

// Get returns the digest for alg, if present.
func (s Digests) Get(alg Algorithm) (Digest, bool) {
	for _, d := range s {
		if d.Algorithm == alg {
			return d, true
		}
	}
	return Digest{}, false
}

// Primary is the digest that identifies content: sha256 when present, else
// sha512, else sha1, else md5. Zero when the set is empty.
func (s Digests) Primary() Digest {
	for _, alg := range []Algorithm{SHA256, SHA512, SHA1, MD5} {
		if d, ok := s.Get(alg); ok {
			return d
		}
	}
	if len(s) > 0 {
		return s[0]
	}
	return Digest{}
}

// Conflicts reports whether s and o disagree on any algorithm both carry.
// Sets with no algorithm in common never conflict.
func (s Digests) Conflicts(o Digests) bool {
	for _, d := range s {
		if od, ok := o.Get(d.Algorithm); ok && od.Hex != d.Hex {
			return true
		}
	}
	return false
}

// Matches reports whether s and o share at least one algorithm and agree on
// every shared one.
func (s Digests) Matches(o Digests) bool {
	shared := false
	for _, d := range s {
		if od, ok := o.Get(d.Algorithm); ok {
			if od.Hex != d.Hex {
				return false
			}
			shared = true
		}
	}
	return shared
}

// Equal reports whether both sets hold exactly the same digests.
func (s Digests) Equal(o Digests) bool { return slices.Equal(s, o) }
