package cli

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/providers"
)

// statOnly is a destination that reports stat and nothing else.
type statOnly struct {
	obj providers.Artifact
	err error
}

func (d *statOnly) Stat(context.Context, string) (providers.Artifact, error) { return d.obj, d.err }
func (d *statOnly) Put(context.Context, providers.Artifact, io.Reader, providers.PutOptions) error {
	return errors.New("import must not write")
}
func (d *statOnly) Delete(context.Context, string) error { return errors.New("import must not delete") }

// readable is a destination that can also read objects back.
type readable struct {
	statOnly
	body string
}

func (d *readable) Fetch(context.Context, providers.Artifact) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(d.body)), nil
}

// missingReadable can read objects back but holds none.
type missingReadable struct{ statOnly }

func (d *missingReadable) Fetch(context.Context, providers.Artifact) (io.ReadCloser, error) {
	return nil, fmt.Errorf("fetch k: %w", providers.ErrNotFound)
}

// graphSource copies graphs (an OCI-like source); graphDest stats them.
type graphSource struct{ providers.Source }

func (graphSource) CopyTo(context.Context, providers.Artifact, providers.Destination) (providers.Artifact, error) {
	return providers.Artifact{}, errors.New("unused")
}

type graphDest struct {
	statOnly
	graph providers.Artifact
}

func (d *graphDest) StatGraph(context.Context, string) (providers.Artifact, error) {
	return d.graph, nil
}

func sha(alg providers.Algorithm, s string) providers.Digest {
	if alg == providers.SHA512 {
		h := sha512.Sum512([]byte(s))
		return providers.Digest{Algorithm: alg, Hex: hex.EncodeToString(h[:])}
	}
	h := sha256.Sum256([]byte(s))
	return providers.Digest{Algorithm: alg, Hex: hex.EncodeToString(h[:])}
}

// TestVerifyAtDestination: import records an object only once its bytes
// are proven to be the source's: read back and hashed where the
// destination can read objects (whatever digest it reports), else by a
// sha256/sha512 it reports; anything else is refused with what differs.
func TestVerifyAtDestination(t *testing.T) {
	const body = "hello, world\n"
	good256, good512 := sha(providers.SHA256, body), sha(providers.SHA512, body)
	bad256 := sha(providers.SHA256, "tampered\n")
	want := providers.Artifact{Key: "k", Size: int64(len(body)), Digests: providers.NewDigests(good256)}
	want512 := providers.Artifact{Key: "k", Size: -1, Digests: providers.NewDigests(good512)}
	tests := []struct {
		name    string
		src     providers.Source
		dst     providers.Destination
		want    providers.Artifact
		how     string // how it was verified; empty: refused
		wantErr string
	}{
		{
			name: "reported sha256 agrees, no read back",
			dst:  &statOnly{obj: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(good256)}},
			want: want, how: "by the digest the destination reports",
		},
		{
			name:    "read back, not the reported digest believed",
			dst:     &readable{statOnly: statOnly{obj: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(good256)}}, body: "tampered\n"},
			want:    providers.Artifact{Key: "k", Size: -1, Digests: want.Digests},
			wantErr: "destination dst holds " + bad256.String() + " under \"k\" (read back), but source src declares " + good256.String() + ": digest mismatch",
		},
		{
			name: "size only, read back matches",
			dst:  &readable{statOnly: statOnly{obj: providers.Artifact{Key: "k", Size: 13}}, body: body},
			want: want512, how: "read back and hashed",
		},
		{
			name: "read back, longer than declared",
			dst:  &readable{body: body + "x"},
			want: want, wantErr: "destination dst holds more than 13 bytes under \"k\" (read back), but source src declares 13 bytes: size mismatch",
		},
		{
			name: "read back, missing",
			dst:  &missingReadable{},
			want: want, wantErr: "destination dst holds nothing under \"k\"",
		},
		{
			name: "size only, cannot read back",
			dst:  &statOnly{obj: providers.Artifact{Key: "k", Size: 13}},
			want: want, wantErr: "reports no digest for \"k\", which cannot prove the source's sha256:",
		},
		{
			name:    "only sha1 reported is no proof",
			dst:     &statOnly{obj: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA1, Hex: strings.Repeat("a", 40)})}},
			want:    providers.Artifact{Key: "k", Size: -1, Digests: providers.NewDigests(good256, providers.Digest{Algorithm: providers.SHA1, Hex: strings.Repeat("a", 40)})},
			wantErr: "cannot prove",
		},
		{
			name: "reported digest differs",
			dst:  &statOnly{obj: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(bad256)}},
			want: want, wantErr: "destination dst holds " + bad256.String() + " under \"k\", but source src declares " + good256.String() + ": digest mismatch",
		},
		{
			name: "reported size differs",
			dst:  &statOnly{obj: providers.Artifact{Key: "k", Size: 12, Digests: providers.NewDigests(good256)}},
			want: want, wantErr: "destination dst holds 12 bytes under \"k\", but source src declares 13 bytes: size mismatch",
		},
		{
			name: "missing",
			dst:  &statOnly{err: fmt.Errorf("stat k: %w", providers.ErrNotFound)},
			want: want, wantErr: "destination dst holds nothing under \"k\"",
		},
		{
			name: "graph: the root manifest digest agrees",
			src:  graphSource{},
			dst:  &graphDest{graph: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(good256)}},
			want: want, how: "by the digest the destination reports",
		},
		{
			name: "graph: the root manifest digest differs",
			src:  graphSource{},
			dst:  &graphDest{graph: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(bad256)}},
			want: want, wantErr: "digest mismatch",
		},
	}
	m := &config.Mirror{Name: "m", From: "src", To: "dst"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pair, err := providers.NewPair(tt.src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			got, how, err := verifyAtDestination(t.Context(), pair, m, tt.want, 0)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if how != tt.how {
				t.Errorf("verified %q; want %q", how, tt.how)
			}
			if !got.Digests.Matches(tt.want.Digests) || got.Size != int64(len(body)) {
				t.Errorf("observed %+v; want %d bytes matching %v", got, len(body), tt.want.Digests)
			}
			if _, ok := got.Digests.Get(providers.SHA256); !ok {
				t.Errorf("observed %v without a sha256 (the state always records one)", got.Digests)
			}
		})
	}
}

// TestParseImportAddress: one artifact; a whole mirror or a consumer
// output is refused.
func TestParseImportAddress(t *testing.T) {
	for in, want := range map[string]string{
		`mirror.tools["a/b"]`:             "",
		`mirror.tools`:                    "name one artifact",
		`mirror.tools.rewrite["bp.toml"]`: "a consumer output is not imported",
		`nonsense[`:                       "invalid address",
	} {
		_, err := parseImportAddress(in)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v; want %q", in, err, want)
		}
	}
}
