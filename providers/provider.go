// Package providers defines the vocabulary shared by every source and
// destination: artifacts, digests, the small capability interfaces the
// planner and the apply engine consume, and the sentinel errors providers
// wrap.
//
// Contracts every implementation keeps:
//   - safe for concurrent use;
//   - List order is unspecified (callers sort);
//   - Size -1 means unknown;
//   - Put verifies what it reads against the artifact's size and digests
//     before the object becomes visible, and leaves nothing partial behind
//     on any error;
//   - "not found" is always reported by wrapping ErrNotFound;
//   - cancelling ctx interrupts streaming.
package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Sentinel errors. Providers wrap them (usually in an *OpError) so callers
// test with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrAlreadyExists  = errors.New("already exists")
	ErrDigestMismatch = errors.New("digest mismatch")
	ErrSizeMismatch   = errors.New("size mismatch")
	ErrUnsupported    = errors.New("unsupported")
)

// Artifact describes one object as a provider sees it.
type Artifact struct {
	// Key is the provider-scoped stable identity, e.g. "jq/1.7.1/jq-linux-amd64".
	// It is also the key under which a destination stores the object.
	Key string `json:"key"`
	// Name groups versions of one package for retention ("jq").
	Name string `json:"name,omitempty"`
	// Version orders artifacts of one Name for retention; empty if unversioned.
	Version string `json:"version,omitempty"`
	// Size in bytes; -1 when unknown.
	Size int64 `json:"size"`
	// Digests are the expected (source) or observed (destination) content
	// hashes, sorted by algorithm. Empty when unknown without fetching.
	Digests Digests `json:"digests,omitempty"`
	// Claimed marks, on what a destination's Stat returns, Digests that are
	// a claim about the bytes rather than a hash of them: recorded by
	// whoever uploaded the object (S3's x-amz-meta-sha256) and never
	// checked against what the destination stores. False means the
	// destination or the provider computed them from the stored bytes (a
	// file hashed, a server-computed checksum, a content-addressed
	// digest). Adopting an object (recording as ferry's one ferry did not
	// write) never trusts a claim: apply.Adopt reads the bytes back.
	Claimed bool `json:"claimed,omitempty"`
	// Token is, on what a TokenPutter's PutToken, a Stat or a ListStat
	// reports, the destination's opaque change token for the object: a
	// value that changes whenever the stored object is written (an S3
	// ETag with its Last-Modified; a file's inode, size and times).
	// Empty when the destination has none. See TokenPutter.
	Token string `json:"token,omitempty"`
	// Created is when the upstream published the artifact; zero if unknown.
	Created time.Time `json:"created,omitzero"`
	// Origin is a display string for the upstream location (a URL with any
	// credentials removed). It is informational only and never secret.
	Origin string `json:"origin,omitempty"`
}

// Lister enumerates the artifacts a source offers. fn is called once per
// artifact in the calling goroutine; an error from fn stops the listing and
// is returned.
type Lister interface {
	List(ctx context.Context, fn func(Artifact) error) error
}

// Fetcher opens the content of a (identified by a.Key). The reader yields the
// raw bytes; callers verify them.
type Fetcher interface {
	Fetch(ctx context.Context, a Artifact) (io.ReadCloser, error)
}

// Stater describes the object stored under key, or returns an error wrapping
// ErrNotFound. Destinations report at least the sha256 digest and the size;
// a ManifestPutter reports the digests its package documents declare (npm:
// sha512 and sha1) and may report size -1.
type Stater interface {
	Stat(ctx context.Context, key string) (Artifact, error)
}

// PutOptions tune one Put.
type PutOptions struct {
	// Overwrite allows replacing an existing object at a.Key. Without it an
	// existing object makes Put fail with an error wrapping ErrAlreadyExists
	// and leaves the existing object untouched.
	Overwrite bool
}

// Putter stores content under a.Key.
//
// Put MUST verify the bytes read from r against a.Size (if >= 0) and every
// digest in a.Digests before the object becomes visible, and MUST NOT leave a
// partial object behind on any error. A mismatch returns an error wrapping
// ErrDigestMismatch or ErrSizeMismatch.
type Putter interface {
	Put(ctx context.Context, a Artifact, r io.Reader, opts PutOptions) error
}

// Deleter removes the object under key. Deleting a missing key returns an
// error wrapping ErrNotFound; the apply engine treats that as success.
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

// Source is a read-only upstream.
type Source interface {
	Lister
	Fetcher
}

// Destination is a writable store that can be read back.
type Destination interface {
	Stater
	Putter
	Deleter
}

// Sizer is an optional Source capability: a cheap size lookup (an HTTP HEAD)
// used by the inventory to show bytes to transfer. It returns -1 when the
// size cannot be told without fetching.
type Sizer interface {
	Size(ctx context.Context, a Artifact) (int64, error)
}

// Blobs is a content-addressed store of verified bytes: the air-gap cache.
type Blobs interface {
	// Open reads the content whose digest is d, or returns an error
	// wrapping ErrNotFound.
	Open(ctx context.Context, d Digest) (io.ReadCloser, error)
	// Put stores what r yields as the content of digest d, verifying it
	// against d and against size when size >= 0; content already there is
	// kept. Nothing partial is left behind on any error.
	Put(ctx context.Context, d Digest, size int64, r io.Reader) error
}

// Offliner is an optional Source capability: the source crosses an air gap
// (apply -download-only on the connected side, plan and apply -from-cache
// on the inner one, where no upstream is reachable). A source without it
// cannot be mirrored through a cache.
//
// The cache holds each transferred artifact's own bytes by digest (the
// cache wrapper's Fetch reads them); Snapshot and Offline carry the rest.
type Offliner interface {
	// Snapshot runs on the connected side after List. It stores in blobs
	// whatever the source needs, beyond the bytes of the artifacts it
	// streams, to list and serve offline (npm: the package documents
	// List read; oci: every manifest and blob of the images in transfers,
	// which are not streamed but copied), and returns its listing in its
	// own format (nil when it needs none). listed is what List reported,
	// transfers what the plan transfers.
	Snapshot(ctx context.Context, listed, transfers []Artifact, blobs Blobs) ([]byte, error)
	// Offline returns the source as it lists and serves from listing
	// (Snapshot's result; nil when the cache has none) and blobs, without
	// contacting any upstream. It fails when listing cannot be used (none
	// where one is needed, or unreadable).
	Offline(listing []byte, blobs Blobs) (Source, error)
}

// ReadListing decodes into v the listing a source's Snapshot wrote (JSON),
// for its Offline; the errors tell how to make one.
func ReadListing(source string, listing []byte, v any) error {
	if listing == nil {
		return fmt.Errorf("source %s: the cache holds no listing of it: run ferry apply -download-only with this configuration on the connected side", source)
	}
	if err := json.Unmarshal(listing, v); err != nil {
		return fmt.Errorf("source %s: unreadable listing in the cache: %w", source, err)
	}
	return nil
}

// URLer is an optional Destination capability: the URL consumers (a
// rewritten buildpack.toml, bindings) download artifact a from, once it is
// stored. Path-based stores use a.Key; content-addressed ones (OCI blob URLs)
// use a.Digests. It fails when the destination cannot tell (a dir
// destination without base_url, an OCI artifact without a sha256).
type URLer interface {
	URL(a Artifact) (string, error)
}

// Copier is an optional Source capability for artifacts that are graphs
// rather than one stream of bytes (an OCI image: index, manifests, blobs).
// CopyTo copies a to dst itself, byte for byte, verifying every descriptor on
// the way, and returns what dst now holds under a.Key (its digests and size,
// as dst's Stat would report them). It returns an error wrapping
// ErrUnsupported when dst is not a kind it can copy to; the apply engine
// then reports the change as failed (the artifact cannot be streamed).
type Copier interface {
	CopyTo(ctx context.Context, a Artifact, dst Destination) (Artifact, error)
}

// GraphStater is an optional Destination capability that goes with Copier:
// StatGraph describes what key holds as a whole graph (an OCI tag's root
// manifest digest and size), which is what a copied graph is compared by.
// Mirrors whose source is a Copier stat with it instead of Stat.
type GraphStater interface {
	StatGraph(ctx context.Context, key string) (Artifact, error)
}

// ConsumerChecker is an optional Destination capability: problems consumers
// would meet downloading what ferry points them at (a registry that refuses
// anonymous pulls, while buildpacks send one unauthenticated GET). Each
// string is a complete sentence for the plan's warnings.
type ConsumerChecker interface {
	CheckConsumerAccess(ctx context.Context) []string
}

// ListStater is an optional Destination capability: a store that tells in
// one listing which objects it holds (S3's ListObjectsV2, 1,000 keys a
// request; a directory walk), cheaper than a Stat per key. ListStat calls
// fn for every object the destination holds, with its key and size, the
// digests the listing knows (often none) and, for a TokenPutter, its
// change token. The inventory lists once per destination: a key the
// listing does not report is absent (no Stat); one reported with the size
// and token ferry recorded when it wrote the object holds the recorded
// digests (no Stat); one reported with a sha256 is taken as listed; any
// other is Stat'ed.
type ListStater interface {
	ListStat(ctx context.Context, fn func(Artifact) error) error
}

// TokenPutter is an optional Destination capability that goes with
// ListStater: PutToken is Put that also returns the object's change token
// as the destination stores it right after the verified write (empty when
// it cannot tell that token belongs to the bytes it verified). ferry
// records the token in the state; a later listing that reports the same
// token and size proves the object is the one ferry verified, so refresh
// needs no Stat of it. A token must change whenever the object is
// rewritten, by anyone: a mismatch (or no token) falls back to Stat,
// which reads the bytes or a server-computed checksum, so drift is still
// found.
type TokenPutter interface {
	PutToken(ctx context.Context, a Artifact, r io.Reader, opts PutOptions) (string, error)
}

// KeyListStater is the ListStater of a store whose listing depends on the
// keys asked about: one spread over several namespaces listed one by one
// (an OCI destination with a repository template has one tags list per
// repository), or whose names are not keys (an OCI tag is a hash of its
// key, which the tag does not give back). ListStatKeys lists only what
// keys need and calls fn for each key of keys the destination may hold,
// never for another: with the digests the listing knows, or none when it
// proves only presence or could not tell (the inventory then Stats the
// key). A key of keys fn is not called for is absent. The inventory
// calls it once per destination with every key it refreshes there, graph
// keys included (a listing proves absence whatever a key holds; listed
// graph keys are always described by StatGraph).
type KeyListStater interface {
	ListStatKeys(ctx context.Context, keys []string, fn func(Artifact) error) error
}

// Describer is an optional capability: a short, secret-free description of
// where a provider points (a directory, a registry host), recorded in plans so
// apply can refuse a plan whose destination moved.
type Describer interface {
	Describe() string
}

// Location is where a destination stores its objects, in a form that tells
// whether two destinations share any: Store names the store (a scheme and
// authority: "file://", "https://host:443", "oci://registry:443",
// "s3://bucket"), and the destination may write any object whose name in
// that store starts with Prefix. Two locations overlap when their Stores
// are equal and one Prefix is a prefix of the other. Each destination
// chooses the form of Prefix that makes this true: a directory or URL path
// ends with "/" (so /srv/a/ and /srv/ab/ stay apart while /srv/a/ and
// /srv/a/b/ overlap), one registry repository ends with a character
// repository names cannot hold (so a/ and a/b stay apart), a repository
// template stops at its first placeholder (it may produce any repository
// starting there), an S3 key prefix is itself.
type Location struct {
	Store  string
	Prefix string
}

// String is the location for messages: Store followed by Prefix.
func (l Location) String() string { return l.Store + l.Prefix }

// Overlaps reports whether l and o may hold the same object.
func (l Location) Overlaps(o Location) bool {
	return l.Store == o.Store && (strings.HasPrefix(l.Prefix, o.Prefix) || strings.HasPrefix(o.Prefix, l.Prefix))
}

// URLLocation is the Location of a store whose objects live below a base
// URL: its origin (scheme, lower-case host, port with the scheme's default
// filled in; never credentials) and its path ending with "/".
func URLLocation(raw string) Location {
	u, err := url.Parse(raw)
	if err != nil {
		return Location{Store: "invalid-url://", Prefix: raw} // decoders refuse such URLs first
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	p := u.Path
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return Location{Store: scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port, Prefix: p}
}

// Locator is an optional capability of a destination's decoded settings
// (what its config type's Decode returns): its Location. Loading the
// configuration refuses two destination blocks whose locations overlap,
// since each mirror owns and deletes objects by key in its own destination:
// removing one mirror would delete a file the other still owns. (Two
// mirrors writing into one destination block is normal: the planner tells
// their objects apart.) Location does no network I/O; it may look at the
// local file system.
type Locator interface {
	Location() Location
}

// Side says which end of a transfer an error came from.
type Side string

const (
	SideSource      Side = "source"
	SideDestination Side = "destination"
)

// OpError records the operation, side, provider and key of a failure.
type OpError struct {
	Op       string // "list", "stat", "fetch", "put", "delete"
	Side     Side
	Provider string // configured provider address, e.g. "dir.local"
	Key      string
	Err      error
}

func (e *OpError) Error() string {
	s := string(e.Side) + " " + e.Provider + ": " + e.Op
	if e.Key != "" {
		s += " " + e.Key
	}
	return s + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }

// MismatchError details a verification failure. It wraps ErrDigestMismatch
// or ErrSizeMismatch.
type MismatchError struct {
	What string // "sha256", "sha512" or "size"
	Want string
	Got  string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s mismatch: want %s, got %s", e.What, e.Want, e.Got)
}

func (e *MismatchError) Unwrap() error {
	if e.What == "size" {
		return ErrSizeMismatch
	}
	return ErrDigestMismatch
}

// Manifester is an optional Source capability: the package document that
// goes with an artifact (an npm version's metadata), which destinations
// that publish packages rather than store files need. The document's
// declared digests must match a.Digests.
type Manifester interface {
	Manifest(ctx context.Context, a Artifact) ([]byte, error)
}

// ManifestPutter is an optional Destination capability: a registry that
// stores an artifact only together with its package document (npm). The
// apply engine calls PutWithManifest, with the source's Manifest, instead
// of Put; the contract is Put's.
type ManifestPutter interface {
	PutWithManifest(ctx context.Context, a Artifact, manifest []byte, r io.Reader, opts PutOptions) error
}

// TagLister is an optional Source capability: the dist-tags of a package
// whose versions List reported (by Artifact.Name).
type TagLister interface {
	DistTags(ctx context.Context, name string) (map[string]string, error)
}

// UpstreamReporter is an optional Source capability for sources that
// select from a larger upstream (npm versions by range). After List, for a
// key List did not report, UpstreamHas tells whether the upstream still
// has it (has: merely not selected) or has removed it; known is false when
// the source did not look (its package is outside the selection).
type UpstreamReporter interface {
	UpstreamHas(key string) (has, known bool)
}

// FeedFollower is an optional Source capability: a source that follows an
// upstream changes feed re-reads only what changed since the positions the
// state recorded (by feed URL; nil when none).
type FeedFollower interface {
	ListFrom(ctx context.Context, positions map[string]string, fn func(Artifact) error) (FeedResult, error)
}

// FeedResult is what a FeedFollower's listing learnt of its feeds.
type FeedResult struct {
	// Positions are where the next plan starts reading each feed, by feed
	// URL; apply records them in the state.
	Positions map[string]string
	// Warnings are complete sentences about feeds that could not be
	// followed (the listing re-validated every document instead).
	Warnings []string
}
