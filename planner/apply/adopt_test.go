package apply_test

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

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/google/go-cmp/cmp"
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

func digestOf(alg providers.Algorithm, s string) providers.Digest {
	if alg == providers.SHA512 {
		h := sha512.Sum512([]byte(s))
		return providers.Digest{Algorithm: alg, Hex: hex.EncodeToString(h[:])}
	}
	h := sha256.Sum256([]byte(s))
	return providers.Digest{Algorithm: alg, Hex: hex.EncodeToString(h[:])}
}

// TestAdopt: an object ferry did not write is recorded only once its bytes
// are proven to be the source's: read back and hashed where the
// destination can read objects (whatever digest it reports), else by a
// sha256/sha512 it computed from them (never a claimed one); anything
// else is refused with what differs.
func TestAdopt(t *testing.T) {
	const body = "hello, world\n"
	good256, good512 := digestOf(providers.SHA256, body), digestOf(providers.SHA512, body)
	bad256 := digestOf(providers.SHA256, "tampered\n")
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
			name:    "claimed sha256 agrees, cannot read back",
			dst:     &statOnly{obj: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(good256), Claimed: true}},
			want:    want,
			wantErr: "reports " + good256.String() + " for \"k\" only as a claim (set by whoever uploaded it, not computed from its bytes), and it cannot read the object back: not verified",
		},
		{
			name:    "claimed sha256 agrees, the bytes read back do not",
			dst:     &readable{statOnly: statOnly{obj: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(good256), Claimed: true}}, body: "hello, WORLD\n"},
			want:    want,
			wantErr: "(read back), but source src declares " + good256.String() + ": digest mismatch",
		},
		{
			name: "claimed sha256 agrees, the bytes read back too",
			dst:  &readable{statOnly: statOnly{obj: providers.Artifact{Key: "k", Size: 13, Digests: providers.NewDigests(good256), Claimed: true}}, body: body},
			want: want, how: "read back and hashed",
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pair, err := providers.NewPair(tt.src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			got, how, err := apply.Adopt(t.Context(), pair, "src", "dst", tt.want, 0)
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

// claimingStore holds body under every key and its Stat claims digest
// claim (as S3 reports an uploader's x-amz-meta-sha256) whatever body is.
type claimingStore struct {
	claim providers.Digest
	body  []byte
	puts  int
}

func (d *claimingStore) Stat(_ context.Context, key string) (providers.Artifact, error) {
	return providers.Artifact{Key: key, Size: int64(len(d.body)), Digests: providers.NewDigests(d.claim), Claimed: true}, nil
}

func (d *claimingStore) Fetch(context.Context, providers.Artifact) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(string(d.body))), nil
}

func (d *claimingStore) Put(_ context.Context, a providers.Artifact, _ io.Reader, _ providers.PutOptions) error {
	d.puts++
	return fmt.Errorf("put %s: %w", a.Key, providers.ErrAlreadyExists)
}

func (d *claimingStore) Delete(context.Context, string) error { return errors.New("unused") }

// claimWorld is w's source with dst as dir.local.
type claimWorld struct {
	*world
	dst providers.Destination
}

func (w claimWorld) Destination(string) (providers.Destination, error) { return w.dst, nil }

// TestApplyAdoptsOnlyVerifiedBytes: an object ferry does not own whose
// destination claims the source's digest (planned already_at_destination,
// or met by a create-only put) is recorded only when its bytes read back
// match; a false claim fails the change and records nothing.
func TestApplyAdoptsOnlyVerifiedBytes(t *testing.T) {
	good := []byte("the source's bytes")
	for _, tt := range []struct {
		name   string
		reason plan.Reason
		body   []byte // what the destination really holds
		want   []string
	}{
		{name: "planned adoption, false claim", reason: plan.AlreadyAtDestination, body: []byte("someone else's bytes")},
		{name: "put meets an object, false claim", reason: plan.NewInSource, body: []byte("someone else's bytes")},
		{name: "planned adoption, true claim", reason: plan.AlreadyAtDestination, body: good, want: []string{"k/a.txt"}},
		{name: "put meets an object, true claim", reason: plan.NewInSource, body: good, want: []string{"k/a.txt"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, map[string][]byte{"a.txt": good})
			dst := &claimingStore{claim: sha(good), body: tt.body}
			mgr, st, path := openState(t)
			c := addChange("a.txt", sha(good))
			c.Reason = tt.reason
			res, err := apply.Apply(t.Context(), &plan.Plan{Changes: []plan.Change{c}}, st, mgr, claimWorld{w, dst}, apply.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil && (len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, apply.ErrNotOwned) || !errors.Is(res.Failed[0].Err, providers.ErrDigestMismatch)) {
				t.Fatalf("failures %+v; want one ErrNotOwned wrapping a digest mismatch", res.Failed)
			}
			if tt.want != nil && len(res.Failed) != 0 {
				t.Fatalf("failures %+v; want none", res.Failed)
			}
			if tt.want == nil {
				if a := st.Artifact("m", "k/a.txt"); a != nil {
					t.Errorf("recorded %+v, whose bytes were never verified", a)
				}
				return
			}
			if diff := cmp.Diff(tt.want, stateKeys(t, path)); diff != "" {
				t.Errorf("persisted keys (-want +got):\n%s", diff)
			}
		})
	}
}
