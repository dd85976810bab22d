package apply

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// Adopt proves that what pair's destination (dst, its address, for
// messages) holds under want.Key is want, as source src declares it, before
// ferry records as its own an object it did not write: a plan's
// already_at_destination change, a create-only Put answered "already
// exists", ferry import. Every adoption goes through it.
//
// When the destination can read objects back (providers.Fetcher; not a
// graph, which is no single stream) the object is read and hashed, once:
// a digest the destination merely reports may be a claim (S3's
// x-amz-meta-sha256, set by whoever uploaded) while the bytes can be
// checked. Otherwise (registries, OCI graphs) the size and digests the
// pair's Stat reports must agree with want's, include a sha256 or sha512,
// and be computed from the stored bytes (not providers.Artifact.Claimed).
// maxSize bounds a read-back when want.Size is unknown (<= 0:
// DefaultMaxArtifactSize). It returns the object as observed and how it
// was verified; a mismatch wraps providers.ErrDigestMismatch or
// ErrSizeMismatch, a missing object providers.ErrNotFound.
func Adopt(ctx context.Context, pair providers.Pair, src, dst string, want providers.Artifact, maxSize int64) (providers.Artifact, string, error) {
	missing := func(err error) error {
		if errors.Is(err, providers.ErrNotFound) {
			return fmt.Errorf("destination %s holds nothing under %q: %w", dst, want.Key, err)
		}
		return err
	}
	// differs names what the destination holds against what the source
	// declares.
	differs := func(got, declared, how string, kind error) error {
		return fmt.Errorf("destination %s holds %s under %q%s, but source %s declares %s: %w", dst, got, want.Key, how, src, declared, kind)
	}
	if f, ok := pair.Destination.(providers.Fetcher); ok && pair.Transfer != providers.GraphCopy {
		rc, err := f.Fetch(ctx, providers.Artifact{Key: want.Key, Size: -1})
		if err != nil {
			return providers.Artifact{}, "", missing(err)
		}
		defer rc.Close()
		if maxSize <= 0 {
			maxSize = DefaultMaxArtifactSize
		}
		vr := verify.NewReader(rc, want.Size, want.Digests).Limit(maxSize, fmt.Errorf("more than %d bytes (max_artifact_size): %w", maxSize, ErrTooLarge))
		_, err = io.Copy(io.Discard, vr)
		var mm *providers.MismatchError
		switch {
		case errors.As(err, &mm) && mm.What == "size":
			return providers.Artifact{}, "", differs(mm.Got+" bytes", mm.Want+" bytes", " (read back)", mm.Unwrap())
		case errors.As(err, &mm):
			return providers.Artifact{}, "", differs(mm.What+":"+mm.Got, mm.What+":"+mm.Want, " (read back)", mm.Unwrap())
		case err != nil:
			return providers.Artifact{}, "", fmt.Errorf("reading %q back from destination %s: %w", want.Key, dst, err)
		case !vr.Verified():
			return providers.Artifact{}, "", fmt.Errorf("reading %q back from destination %s: the stream ended unverified", want.Key, dst)
		}
		return providers.Artifact{Key: want.Key, Size: vr.N(), Digests: vr.Digests()}, "read back and hashed", nil
	}

	obj, err := pair.Stat(ctx, want.Key)
	if err != nil {
		return providers.Artifact{}, "", missing(err)
	}
	if want.Size >= 0 && obj.Size >= 0 && want.Size != obj.Size {
		return providers.Artifact{}, "", differs(fmt.Sprintf("%d bytes", obj.Size), fmt.Sprintf("%d bytes", want.Size), "", providers.ErrSizeMismatch)
	}
	for _, d := range want.Digests {
		if od, ok := obj.Digests.Get(d.Algorithm); ok && od.Hex != d.Hex {
			return providers.Artifact{}, "", differs(od.String(), d.String(), "", providers.ErrDigestMismatch)
		}
	}
	if obj.Claimed {
		return providers.Artifact{}, "", fmt.Errorf("destination %s reports %s for %q only as a claim (set by whoever uploaded it, not computed from its bytes), and it cannot read the object back: not verified", dst, describeDigests(obj.Digests), want.Key)
	}
	if !provenByStat(obj.Digests, want.Digests) {
		return providers.Artifact{}, "", fmt.Errorf("destination %s reports %s for %q, which cannot prove the source's %s, and it cannot read the object back: not verified", dst, describeDigests(obj.Digests), want.Key, want.Digests.Primary())
	}
	return obj, "by the digest the destination reports", nil
}

// provenByStat reports whether observed digests prove the declared ones:
// they agree on every shared algorithm and share sha256 or sha512 (an md5
// or sha1 alone is no proof).
func provenByStat(observed, declared providers.Digests) bool {
	if !observed.Matches(declared) {
		return false
	}
	for _, alg := range []providers.Algorithm{providers.SHA256, providers.SHA512} {
		_, o := observed.Get(alg)
		_, d := declared.Get(alg)
		if o && d {
			return true
		}
	}
	return false
}

func describeDigests(ds providers.Digests) string {
	if len(ds) == 0 {
		return "no digest"
	}
	return ds.Primary().String()
}
