package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/internal/keylock"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// The stored format. Each key is one image manifest (tagged Tag(key)):
//
//	{
//	  "schemaVersion": 2,
//	  "mediaType": "application/vnd.oci.image.manifest.v1+json",
//	  "artifactType": "application/vnd.ferry.file.v1",
//	  "config": {"mediaType": "application/vnd.oci.empty.v1+json",
//	             "digest": "sha256:44136fa3…", "size": 2},
//	  "layers": [{"mediaType": "application/octet-stream",
//	              "digest": "sha256:<sha256 of the file>", "size": <bytes>,
//	              "annotations": {"org.opencontainers.image.title": "<base name of the key>"}}],
//	  "annotations": {"io.github.ferry-mirror.key": "<key>"}
//	}
//
// The layer is the file itself, so `oras pull` writes it under its base name
// and the blob URL serves exactly its bytes. There is no timestamp anywhere:
// storing the same file under the same key again yields the same manifest
// digest. The key annotation makes manifests of different keys differ even
// for identical files, so deleting one key's manifest (by digest) never
// removes another key's tag, and lets Stat refuse a tag that holds another
// key.
const (
	// ArtifactType is the manifest's artifactType.
	ArtifactType = "application/vnd.ferry.file.v1"
	// LayerMediaType is the media type of the file's layer.
	LayerMediaType = "application/octet-stream"
	// AnnotationKey is the manifest annotation holding the artifact's key.
	AnnotationKey = "io.github.ferry-mirror.key"

	maxManifestBytes = 4 << 20
)

// ErrNotFerryArtifact is wrapped when a tag holds a manifest ferry did not
// write for the key (another tool's image, another key's artifact).
var ErrNotFerryArtifact = errors.New("not an artifact ferry stored for this key")

// emptyConfig is the OCI empty descriptor (the blob "{}"), used as config.
var emptyConfig = ocispec.Descriptor{
	MediaType: ocispec.MediaTypeEmptyJSON,
	Digest:    ocispec.DescriptorEmptyJSON.Digest,
	Size:      ocispec.DescriptorEmptyJSON.Size,
}

var emptyConfigData = []byte("{}")

// Options tune a Store beyond its configuration block.
type Options struct {
	// Transport performs single HTTP attempts. If nil, a clone of
	// http.DefaultTransport is used (without certificate verification when
	// DestinationConfig.Insecure). Setting it makes it the transport's
	// business.
	Transport http.RoundTripper
	// MaxRetries, MinBackoff and MaxBackoff tune the httpx client (zero:
	// its defaults).
	MaxRetries             int
	MinBackoff, MaxBackoff time.Duration
	// TagListPageSize is the n of a destination's tags list pages
	// (ListStatKeys; zero: DefaultTagListPageSize).
	TagListPageSize int
}

// Store keeps artifacts in one repository of an OCI registry, or in one per
// artifact when the repository is a template ("deps/{key.0}", see
// repoTemplate). It is safe for concurrent use.
//
// Put uploads the file as a blob (monolithic upload with the sha256 given up
// front), then the empty config blob, then the manifest by tag: the tag is
// written last, so a failure never leaves a tag pointing at missing bytes,
// and a verification failure leaves no tag and no manifest. Blobs are
// content-addressed and shared: a blob the repository already has is not
// sent again (its source bytes are still read and verified).
type Store struct {
	name string
	side providers.Side // SideDestination; SideSource for the client inside a Source
	cfg  *DestinationConfig
	log  hclog.Logger
	host string        // the registry host requests go to ("registry-1.docker.io" for docker.io)
	http *httpx.Client // anonymous: CheckConsumerAccess
	// tagPage is the n of a destination's tags list pages.
	tagPage int

	// client sends every registry request (auth, digest checks, retries).
	client remote.Client
	// repo is the repository when cfg.Repository is a plain name; with a
	// template (tmpl) it is nil and repos holds one per name in use.
	repo    *repository
	tmpl    *repoTemplate
	reposMu sync.Mutex
	repos   map[string]*repository

	dockerOnce sync.Once
	docker     credentials.Store
	dockerErr  error

	// blobs serialises the check-then-upload of one digest within this
	// store: distribution 2.8 rewrites a blob's repository link on every
	// upload, non-atomically, and a manifest pushed meanwhile can find it
	// empty (MANIFEST_BLOB_UNKNOWN).
	blobs keylock.Locks
}

// repository is one repository of the registry.
type repository struct {
	name   string
	remote *remote.Repository
	// configPresent is set once the empty config blob is known to be in
	// the repository.
	configPresent atomic.Bool
}

var (
	_ providers.Destination     = (*Store)(nil)
	_ providers.URLer           = (*Store)(nil)
	_ providers.ConsumerChecker = (*Store)(nil)
	_ providers.Describer       = (*Store)(nil)
)

// NewDestination returns the destination named name ("oci.internal"). It
// builds its own HTTP client (the registry's TLS settings are its own) from
// env.UserAgent and env.IdleTimeout; env.HTTP is not used.
func NewDestination(name string, cfg *DestinationConfig, env provreg.Env) (*Store, error) {
	return NewDestinationWithOptions(name, cfg, env, Options{})
}

// NewDestinationWithOptions is NewDestination with Options.
func NewDestinationWithOptions(name string, cfg *DestinationConfig, env provreg.Env, opts Options) (*Store, error) {
	return newStore(name, cfg, env, opts, providers.SideDestination)
}

// newStore builds the registry client; side says which end of a transfer it
// serves, for error messages.
func newStore(name string, cfg *DestinationConfig, env provreg.Env, opts Options, side providers.Side) (*Store, error) {
	logger := env.Log()
	tmpl, templated, err := parseRepoTemplate(cfg.Repository)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", side, name, err)
	}
	if templated && side != providers.SideDestination {
		return nil, fmt.Errorf("%s %s: a repository template is only for destinations, not %q", side, name, cfg.Repository)
	}
	ref := registry.Reference{Registry: cfg.Registry, Repository: cfg.Repository}
	if templated {
		ref.Repository = tmpl.probe()
	}
	if err := ref.ValidateRegistry(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", side, name, err)
	}
	if err := ref.ValidateRepository(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", side, name, err)
	}
	rt := opts.Transport
	if rt == nil {
		rt = newTransport(cfg.Insecure)
	}
	hc := httpx.New(httpx.Options{
		Logger:      logger.Named("http"),
		MaxRetries:  opts.MaxRetries,
		MinBackoff:  opts.MinBackoff,
		MaxBackoff:  opts.MaxBackoff,
		IdleTimeout: env.IdleTimeout,
		UserAgent:   env.UserAgent,
		Transport:   rt,
	})
	s := &Store{name: name, side: side, cfg: cfg, log: logger, host: ref.Host(), http: hc, tagPage: opts.TagListPageSize}
	if s.tagPage <= 0 {
		s.tagPage = DefaultTagListPageSize
	}
	ac := &auth.Client{
		Client:     &http.Client{Transport: httpxTransport{hc}},
		Credential: s.credential,
		Cache:      auth.NewCache(),
		ClientID:   "ferry",
	}
	s.client = digestCheckingClient{next: ac, host: s.host}
	if templated {
		s.tmpl = tmpl
	} else {
		s.repo = s.newRepository(cfg.Repository)
	}
	return s, nil
}

func (s *Store) newRepository(name string) *repository {
	return &repository{name: name, remote: &remote.Repository{
		Client:    s.client,
		Reference: registry.Reference{Registry: s.cfg.Registry, Repository: name},
		PlainHTTP: s.cfg.PlainHTTP,
		// Only a destination lists with it (ListStatKeys); a source's
		// listing keeps the registry's default.
		TagListPageSize: s.destPage(),
		TagListMaxPages: maxTagPages,
	}}
}

func (s *Store) destPage() int {
	if s.side != providers.SideDestination {
		return 0
	}
	return s.tagPage
}

// repoFor is the repository key is stored in: the configured one, or the
// template's expansion for key.
func (s *Store) repoFor(key string) (*repository, error) {
	if s.tmpl == nil {
		return s.repo, nil
	}
	name, err := s.tmpl.expand(key)
	if err != nil {
		return nil, err
	}
	ref := registry.Reference{Registry: s.cfg.Registry, Repository: name}
	if err := ref.ValidateRepository(); err != nil {
		return nil, fmt.Errorf("repository template %q gives %q for key %q: %w", s.tmpl.String(), name, key, err)
	}
	if len(s.cfg.Registry)+1+len(name) > maxReferenceLen {
		return nil, fmt.Errorf("repository template %q gives %q for key %q: registry/repository is longer than %d characters",
			s.tmpl.String(), name, key, maxReferenceLen)
	}
	s.reposMu.Lock()
	defer s.reposMu.Unlock()
	r := s.repos[name]
	if r == nil {
		if s.repos == nil {
			s.repos = map[string]*repository{}
		}
		r = s.newRepository(name)
		s.repos[name] = r
	}
	return r, nil
}

// credential answers oras-go's auth client, for this registry only.
func (s *Store) credential(ctx context.Context, hostport string) (auth.Credential, error) {
	if hostport != s.host {
		return auth.EmptyCredential, nil
	}
	switch {
	case s.cfg.Token != "":
		return auth.Credential{AccessToken: s.cfg.Token}, nil
	case s.cfg.Username != "" || s.cfg.Password != "":
		return auth.Credential{Username: s.cfg.Username, Password: s.cfg.Password}, nil
	case s.cfg.DockerConfig:
		s.dockerOnce.Do(func() {
			s.docker, s.dockerErr = credentials.NewStoreFromDocker(credentials.StoreOptions{})
		})
		if s.dockerErr != nil {
			return auth.EmptyCredential, fmt.Errorf("reading the Docker credentials configuration: %w", s.dockerErr)
		}
		cred, err := credentials.Credential(s.docker)(ctx, hostport)
		if err != nil {
			return auth.EmptyCredential, fmt.Errorf("looking up Docker credentials for %s: %w", hostport, err)
		}
		return cred, nil
	}
	return auth.EmptyCredential, nil
}

func (s *Store) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: s.side, Provider: s.name, Key: key, Err: err}
}

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid key %q", key)
		}
	}
	return nil
}

// Describe names the registry and repository (no credentials).
func (s *Store) Describe() string { return "oci " + s.cfg.Registry + "/" + s.cfg.Repository }

// URL is the blob URL a plain GET downloads the file from:
// http(s)://HOST/v2/REPOSITORY/blobs/sha256:HEX. It needs a's sha256.
func (s *Store) URL(a providers.Artifact) (string, error) {
	d, ok := a.Digests.Get(providers.SHA256)
	if !ok {
		return "", fmt.Errorf("destination %s: %s has no sha256 digest, which an OCI blob URL is addressed by", s.name, a.Key)
	}
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("destination %s: %s: %w", s.name, a.Key, err)
	}
	r, err := s.repoFor(a.Key)
	if err != nil {
		return "", fmt.Errorf("destination %s: %w", s.name, err)
	}
	return s.blobURL(r.name, d.String()), nil
}

func (s *Store) blobURL(repo, dgst string) string {
	scheme := "https"
	if s.cfg.PlainHTTP {
		scheme = "http"
	}
	return scheme + "://" + s.host + "/v2/" + repo + "/blobs/" + dgst
}

// CheckConsumerAccess sends what a buildpack sends, one unauthenticated
// request for a blob URL, and reports when the registry would refuse it.
func (s *Store) CheckConsumerAccess(ctx context.Context) []string {
	// With a template, a repository of its shape stands for all of them
	// (registries grant anonymous pulls per registry or per namespace).
	repo := s.cfg.Repository
	if s.tmpl != nil {
		repo = s.tmpl.probe()
	}
	u := s.blobURL(repo, emptyConfig.Digest.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return []string{fmt.Sprintf("Could not check whether registry %s serves downloads anonymously: %v.", s.host, err)}
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return []string{fmt.Sprintf("Could not check whether registry %s serves downloads anonymously: %v.", s.host, err)}
	}
	resp.Body.Close()
	where := s.cfg.Registry + "/" + s.cfg.Repository
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299, code == http.StatusNotFound:
		return nil
	case code == http.StatusUnauthorized:
		scheme, _, _ := strings.Cut(strings.TrimSpace(resp.Header.Get("Www-Authenticate")), " ")
		switch strings.ToLower(scheme) {
		case "bearer":
			return []string{fmt.Sprintf("Registry %s answers an anonymous download with 401 and a Bearer challenge: "+
				"buildpacks send one unauthenticated GET and do not fetch a token, so they will fail to download from %s. "+
				"Allow anonymous pulls without a token, or mirror to an http or dir destination for buildpacks.", s.host, where)}
		case "basic":
			return []string{fmt.Sprintf("Registry %s requires basic authentication for downloads: "+
				"buildpacks send one unauthenticated GET, so they will fail to download from %s. "+
				"Allow anonymous pulls, or mirror to an http or dir destination for buildpacks.", s.host, where)}
		}
		return []string{fmt.Sprintf("Registry %s answers an anonymous download with 401: "+
			"buildpacks send one unauthenticated GET, so they will fail to download from %s.", s.host, where)}
	case code == http.StatusForbidden:
		return []string{fmt.Sprintf("Registry %s refuses anonymous downloads (403): "+
			"buildpacks send one unauthenticated GET, so they will fail to download from %s.", s.host, where)}
	}
	return []string{fmt.Sprintf("Registry %s answered an anonymous download check with %s; buildpacks downloading from %s may fail.",
		s.host, resp.Status, where)}
}

// Stat resolves the key's tag and reports the file layer's size and sha256.
//
// A key that is its own tag (Tag(key) == key) may also hold a graph: an
// image or index an oci source copied (Source.CopyTo). For a manifest that
// is not a ferry file artifact under such a key, Stat reports the manifest
// itself: its size and digest.
func (s *Store) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	if err := checkKey(key); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	r, err := s.repoFor(key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	m, desc, graph, err := s.fetchManifest(ctx, r, key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	if graph {
		d, err := manifestDigest(desc)
		if err != nil {
			return providers.Artifact{}, s.opErr("stat", key, fmt.Errorf("registry %s: tag %s: %w", s.host, key, err))
		}
		return providers.Artifact{Key: key, Size: desc.Size, Digests: providers.NewDigests(d)}, nil
	}
	layer := m.Layers[0]
	return providers.Artifact{
		Key:     key,
		Size:    layer.Size,
		Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: layer.Digest.Encoded()}),
	}, nil
}

// Delete removes the key's manifest (by digest: distribution does not delete
// by tag), which removes its tag. Blobs stay for the registry's garbage
// collector. A tag holding something ferry did not store for key is refused,
// except a graph under a key that is its own tag (see Stat): its manifest
// is deleted by digest too.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return s.opErr("delete", key, err)
	}
	r, err := s.repoFor(key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	_, desc, _, err := s.fetchManifest(ctx, r, key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	if err := r.remote.Manifests().Delete(ctx, desc); err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return s.opErr("delete", key, fmt.Errorf("manifest %s: %w", desc.Digest, providers.ErrNotFound))
		}
		return s.opErr("delete", key, s.describe(ctx, err))
	}
	s.log.Debug("deleted", "key", key, "repository", r.name, "tag", Tag(key), "manifest", desc.Digest)
	return nil
}

// fetchManifest fetches and checks the manifest tagged Tag(key) (image
// indexes included: oras-go accepts every manifest media type). graph is
// true when the tag holds a manifest that is not a ferry file artifact
// under a key that is its own tag: a graph copied by an oci source, which
// desc describes; m is then empty.
func (s *Store) fetchManifest(ctx context.Context, r *repository, key string) (m ocispec.Manifest, desc ocispec.Descriptor, graph bool, err error) {
	tag := Tag(key)
	verbatim := tag == key
	desc, rc, err := r.remote.Manifests().FetchReference(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return m, desc, false, fmt.Errorf("tag %s: %w", tag, providers.ErrNotFound)
	}
	if err != nil {
		return m, desc, false, s.describe(ctx, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return m, desc, false, s.describe(ctx, err)
	}
	if err := desc.Digest.Validate(); err != nil {
		return m, desc, false, fmt.Errorf("registry %s: tag %s: %w", s.host, tag, err)
	}
	if len(body) > maxManifestBytes {
		if verbatim {
			return m, desc, true, nil // far too large for a file artifact's manifest
		}
		return m, desc, false, fmt.Errorf("tag %s: manifest larger than %d bytes: %w", tag, maxManifestBytes, ErrNotFerryArtifact)
	}
	if got := desc.Digest.Algorithm().FromBytes(body); got != desc.Digest {
		return m, desc, false, fmt.Errorf("registry %s served tag %s as %s, but its bytes hash to %s", s.host, tag, desc.Digest, got)
	}
	m, err = checkManifest(key, desc.MediaType, body)
	if err != nil {
		if verbatim && !isFileArtifact(desc.MediaType, body) {
			return ocispec.Manifest{}, desc, true, nil
		}
		return ocispec.Manifest{}, desc, false, fmt.Errorf("tag %s in %s/%s: %w", tag, s.cfg.Registry, r.name, err)
	}
	return m, desc, false, nil
}

// isFileArtifact reports whether body is an image manifest with ferry's
// artifactType, whichever key it was stored for.
func isFileArtifact(mediaType string, body []byte) bool {
	if mediaType != ocispec.MediaTypeImageManifest {
		return false
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
	}
	return json.Unmarshal(body, &m) == nil && m.ArtifactType == ArtifactType
}

// manifestDigest is desc's digest as a providers.Digest.
func manifestDigest(desc ocispec.Descriptor) (providers.Digest, error) {
	d := providers.Digest{Algorithm: providers.Algorithm(desc.Digest.Algorithm()), Hex: desc.Digest.Encoded()}
	if err := d.Validate(); err != nil {
		return providers.Digest{}, fmt.Errorf("manifest digest %q: %w", desc.Digest, err)
	}
	return d, nil
}

// checkManifest parses body and checks it is the manifest Put writes for key.
func checkManifest(key, mediaType string, body []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if mediaType != ocispec.MediaTypeImageManifest {
		return m, fmt.Errorf("holds a %s, not an OCI image manifest: %w", mediaType, ErrNotFerryArtifact)
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("unreadable manifest (%v): %w", err, ErrNotFerryArtifact)
	}
	switch {
	case m.ArtifactType != ArtifactType:
		return m, fmt.Errorf("artifactType is %q, not %q: %w", m.ArtifactType, ArtifactType, ErrNotFerryArtifact)
	case len(m.Layers) != 1:
		return m, fmt.Errorf("%d layers, not one: %w", len(m.Layers), ErrNotFerryArtifact)
	case m.Layers[0].Digest.Validate() != nil || m.Layers[0].Digest.Algorithm() != digest.SHA256: // Algorithm panics on a digest without ":"
		return m, fmt.Errorf("layer digest %q is not a sha256 digest: %w", m.Layers[0].Digest, ErrNotFerryArtifact)
	case m.Layers[0].Size < 0:
		return m, fmt.Errorf("negative layer size: %w", ErrNotFerryArtifact)
	case m.Annotations[AnnotationKey] != key:
		return m, fmt.Errorf("stored for key %q: %w", m.Annotations[AnnotationKey], ErrNotFerryArtifact)
	}
	return m, nil
}

// packManifest builds the manifest for key with the file's layer. Its bytes
// depend only on key and layer (encoding/json sorts the annotations).
func packManifest(key string, layer ocispec.Descriptor) (ocispec.Descriptor, []byte, error) {
	layer.Annotations = map[string]string{ocispec.AnnotationTitle: path.Base(key)}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       emptyConfig,
		Layers:       []ocispec.Descriptor{layer},
		Annotations:  map[string]string{AnnotationKey: key},
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b))}, b, nil
}

// Put stores r as the artifact a.Key; see Store. Without opts.Overwrite an
// existing tag fails with an error wrapping providers.ErrAlreadyExists.
func (s *Store) Put(ctx context.Context, a providers.Artifact, body io.Reader, opts providers.PutOptions) error {
	if err := checkKey(a.Key); err != nil {
		return s.opErr("put", a.Key, err)
	}
	if err := ctx.Err(); err != nil {
		return s.opErr("put", a.Key, err)
	}
	repo, err := s.repoFor(a.Key)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	tag := Tag(a.Key)
	tagFree := s.checkTagFree(ctx, repo, tag, opts.Overwrite)
	layer, err := s.pushLayer(ctx, repo, a, body, tagFree)
	if err == nil {
		err = tagFree() // a no-op once pushLayer asked it
	}
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	if err := s.ensureConfig(ctx, repo); err != nil {
		return s.opErr("put", a.Key, err)
	}
	mdesc, manifest, err := packManifest(a.Key, layer)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	if err := repo.remote.Manifests().PushReference(ctx, mdesc, bytes.NewReader(manifest), tag); err != nil {
		return s.opErr("put", a.Key, s.describe(ctx, err))
	}
	s.log.Debug("stored", "key", a.Key, "repository", repo.name, "tag", tag, "manifest", mdesc.Digest, "blob", layer.Digest)
	return nil
}

// checkTagFree starts asking whether tag is taken (registries have no
// conditional tag write, so ferry asks first), and returns the function
// that waits for the answer: nil when the tag is free (or overwrite
// allows replacing it), an error wrapping providers.ErrAlreadyExists when
// it is taken. The question runs while pushLayer asks about the blob, so
// the two checks cost one round trip; the source is read only after the
// answer. Later calls return the first answer.
func (s *Store) checkTagFree(ctx context.Context, repo *repository, tag string, overwrite bool) func() error {
	if overwrite {
		return func() error { return nil }
	}
	answer := make(chan error, 1) // buffered: the goroutine never blocks
	go func() {
		_, err := repo.remote.Resolve(ctx, tag)
		switch {
		case err == nil:
			answer <- fmt.Errorf("tag %s: %w", tag, providers.ErrAlreadyExists)
		case errors.Is(err, errdef.ErrNotFound):
			answer <- nil
		default:
			answer <- s.describe(ctx, err)
		}
	}()
	return sync.OnceValue(func() error { return <-answer })
}

// pushLayer uploads the file blob unless the repository has it, and returns
// its descriptor. With a known size and sha256 it streams r through the
// verifier into the upload; otherwise it spools r to a temporary file first,
// since the upload needs both up front. r stops once ctx is done, even
// when the source ignores it. tagFree must return nil before r is read.
func (s *Store) pushLayer(ctx context.Context, repo *repository, a providers.Artifact, r io.Reader, tagFree func() error) (ocispec.Descriptor, error) {
	d, ok := a.Digests.Get(providers.SHA256)
	if !ok || a.Size < 0 {
		if err := tagFree(); err != nil {
			return ocispec.Descriptor{}, err
		}
		return s.pushSpooled(ctx, repo, a, ctxReader{ctx, r})
	}
	if err := d.Validate(); err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: LayerMediaType, Digest: digest.Digest(d.String()), Size: a.Size}
	// The engine's verifier, when r is one: each byte hashed once.
	vr := verify.Reuse(r, a.Size, a.Digests)
	unlock, err := s.blobs.Lock(ctx, desc.Digest.String())
	if err != nil {
		return desc, err
	}
	defer unlock()
	exists, err := repo.remote.Blobs().Exists(ctx, desc)
	if tagErr := tagFree(); tagErr != nil {
		return desc, tagErr
	}
	if err != nil {
		return desc, s.describe(ctx, err)
	}
	if exists {
		// Nothing to send, but the source must still be what it claims.
		if _, err := io.Copy(io.Discard, ctxReader{ctx, vr}); err != nil {
			return desc, s.sourceErr(ctx, err)
		}
		s.log.Debug("blob already in the repository, not sent again", "digest", desc.Digest)
		return desc, nil
	}
	body := &holdLast{vr: ctxReader{ctx, vr}, size: a.Size}
	err = repo.remote.Blobs().Push(ctx, desc, body)
	if body.err != nil {
		// The source failed or did not match: the root cause, whatever the
		// transport made of it.
		return desc, s.sourceErr(ctx, body.err)
	}
	if err != nil {
		return desc, s.describe(ctx, err)
	}
	if !vr.Verified() {
		return desc, fmt.Errorf("registry %s accepted blob %s before ferry had read and verified all of it", s.host, desc.Digest)
	}
	return desc, nil
}

func (s *Store) pushSpooled(ctx context.Context, repo *repository, a providers.Artifact, r io.Reader) (ocispec.Descriptor, error) {
	f, err := os.CreateTemp("", "ferry-oci-*")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	vr := verify.NewReader(r, a.Size, a.Digests)
	if _, err := io.Copy(f, vr); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Path == f.Name() {
			return ocispec.Descriptor{}, fmt.Errorf("spooling to a temporary file: %w", err)
		}
		return ocispec.Descriptor{}, s.sourceErr(ctx, err)
	}
	d, _ := vr.Digests().Get(providers.SHA256)
	desc := ocispec.Descriptor{MediaType: LayerMediaType, Digest: digest.Digest(d.String()), Size: vr.N()}
	unlock, err := s.blobs.Lock(ctx, desc.Digest.String())
	if err != nil {
		return desc, err
	}
	defer unlock()
	exists, err := repo.remote.Blobs().Exists(ctx, desc)
	if err != nil {
		return desc, s.describe(ctx, err)
	}
	if exists {
		s.log.Debug("blob already in the repository, not sent again", "digest", desc.Digest)
		return desc, nil
	}
	if err := repo.remote.Blobs().Push(ctx, desc, io.NewSectionReader(f, 0, desc.Size)); err != nil {
		return desc, s.describe(ctx, err)
	}
	return desc, nil
}

// ensureConfig pushes the empty config blob unless repo has it.
func (s *Store) ensureConfig(ctx context.Context, repo *repository) error {
	if repo.configPresent.Load() {
		return nil
	}
	unlock, err := s.blobs.Lock(ctx, emptyConfig.Digest.String())
	if err != nil {
		return err
	}
	defer unlock()
	if repo.configPresent.Load() {
		return nil
	}
	exists, err := repo.remote.Blobs().Exists(ctx, emptyConfig)
	if err != nil {
		return s.describe(ctx, err)
	}
	if !exists {
		if err := repo.remote.Blobs().Push(ctx, emptyConfig, bytes.NewReader(emptyConfigData)); err != nil {
			return s.describe(ctx, err)
		}
	}
	repo.configPresent.Store(true)
	return nil
}

// sourceErr describes a failure reading or verifying the source.
func (s *Store) sourceErr(ctx context.Context, err error) error {
	var mm *providers.MismatchError
	if errors.As(err, &mm) {
		return mm
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return err
		}
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return fmt.Errorf("reading the source: %w", err)
}

// ctxReader stops reading once ctx is done, for sources that ignore it.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// holdLast is the upload body for a verified stream of known size: it does
// not hand out the last bytes until the verifier has seen the end of the
// stream and accepted it (vr reads through the verifier). A mismatch
// therefore fails the upload before the registry has received a complete body it could commit, and whatever the
// transport does with the error, err records it.
type holdLast struct {
	vr      io.Reader
	size, n int64
	err     error
}

func (h *holdLast) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	n, err := h.vr.Read(p)
	if err != nil && err != io.EOF {
		h.err = err
		return 0, err
	}
	h.n += int64(n)
	if err == nil && h.n == h.size {
		// Everything expected has been read: make sure it ends here and
		// matches before letting the last bytes go.
		var probe [1]byte
		for range 100 {
			_, perr := h.vr.Read(probe[:])
			if perr == io.EOF {
				return n, nil
			}
			if perr != nil {
				h.err = perr
				return 0, perr
			}
		}
		h.err = io.ErrNoProgress
		return 0, h.err
	}
	return n, err
}

// StatGraph reports what the tag for key holds as a whole: the root
// manifest's (or index's) digest and size, whatever it is. Mirrors whose
// source copies graphs (source "oci") compare these, since their planned
// digest is the manifest digest, not a file's.
func (s *Store) StatGraph(ctx context.Context, key string) (providers.Artifact, error) {
	if err := checkKey(key); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	r, err := s.repoFor(key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	tag := Tag(key)
	desc, err := r.remote.Resolve(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return providers.Artifact{}, s.opErr("stat", key, fmt.Errorf("tag %s: %w", tag, providers.ErrNotFound))
	}
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, s.describe(ctx, err))
	}
	d := providers.Digest{Algorithm: providers.Algorithm(desc.Digest.Algorithm()), Hex: desc.Digest.Encoded()}
	if err := d.Validate(); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, fmt.Errorf("registry %s: tag %s: %w", s.host, tag, err))
	}
	return providers.Artifact{Key: key, Size: desc.Size, Digests: providers.NewDigests(d)}, nil
}

var _ providers.GraphStater = (*Store)(nil)
