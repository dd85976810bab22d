package httpsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// Source serves the artifacts declared in a source "http" block. It streams
// bytes and does not verify them: the apply engine wraps what Fetch returns
// in a verify.Reader built from the declared size and digests.
//
// A Source is safe for concurrent use.
type Source struct {
	name string
	cfg  *SourceConfig
	// byKey indexes cfg.Artifacts, built by the first lookup: a plan that
	// only lists the artifacts never pays for it.
	byKey     map[string]*ArtifactConfig
	indexOnce sync.Once
	client    *httpx.Client
	log       hclog.Logger
}

var (
	_ providers.Source    = (*Source)(nil)
	_ providers.Sizer     = (*Source)(nil)
	_ providers.Describer = (*Source)(nil)
)

// NewSource returns the source named name (its provider address, e.g.
// "http.tools") for cfg. env.HTTP serves http and https URLs. If two
// artifacts share a key (config validation should prevent it), the first
// one wins.
func NewSource(name string, cfg *SourceConfig, env registry.Env) (*Source, error) {
	return &Source{name: name, cfg: cfg, client: env.Client(), log: env.Log()}, nil
}

// index builds byKey once; the first of artifacts sharing a key wins.
func (s *Source) index() {
	s.byKey = make(map[string]*ArtifactConfig, len(s.cfg.Artifacts))
	for i := range s.cfg.Artifacts {
		a := &s.cfg.Artifacts[i]
		if _, dup := s.byKey[a.Key]; !dup {
			s.byKey[a.Key] = a
		}
	}
}

// List reports one artifact per declared artifact block, with the declared
// size (-1 if none) and digests.
func (s *Source) List(ctx context.Context, fn func(providers.Artifact) error) error {
	for i := range s.cfg.Artifacts {
		if err := ctx.Err(); err != nil {
			return s.opErr("list", "", err)
		}
		a := &s.cfg.Artifacts[i]
		if err := fn(providers.Artifact{
			Key:     a.Key,
			Name:    a.Name,
			Version: a.Version,
			Size:    a.Size,
			Digests: a.Digests,
			Origin:  display(a),
			Created: a.Published,
		}); err != nil {
			return err
		}
	}
	return nil
}

// Fetch opens the content of the artifact declared under a.Key: over HTTP(S)
// through the shared client (which retries and resumes), or from disk for a
// file:///absolute/path URL. A missing object wraps providers.ErrNotFound.
func (s *Source) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	ac, _, err := s.lookup(a.Key)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	s.log.Debug("fetching", "key", a.Key, "url", display(ac))
	rc, err := Open(ctx, s.client, Location{URL: ac.URL, Display: display(ac)})
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	return rc, nil
}

// Size returns the size of the artifact without fetching it: Content-Length
// from a HEAD request, or the file size. It is -1 when the server does not
// tell (or does not allow HEAD).
func (s *Source) Size(ctx context.Context, a providers.Artifact) (int64, error) {
	ac, _, err := s.lookup(a.Key)
	if err != nil {
		return -1, s.opErr("size", a.Key, err)
	}
	n, err := SizeOf(ctx, s.client, s.log, Location{URL: ac.URL, Display: display(ac)})
	if err != nil {
		return -1, s.opErr("size", a.Key, err)
	}
	return n, nil
}

// Describe lists the hosts the artifacts come from, e.g.
// "http: 3 artifacts from example.org, github.com".
func (s *Source) Describe() string {
	var hosts []string
	for _, a := range s.cfg.Artifacts {
		h := "(sensitive)"
		if u, err := url.Parse(display(&a)); err == nil && u.Scheme != "" {
			h = u.Host
			if u.Scheme == "file" {
				h = "local files"
			}
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	return fmt.Sprintf("http: %d artifacts from %s", len(s.cfg.Artifacts), strings.Join(hosts, ", "))
}

func (s *Source) lookup(key string) (*ArtifactConfig, *url.URL, error) {
	s.indexOnce.Do(s.index)
	ac, ok := s.byKey[key]
	if !ok {
		return nil, nil, fmt.Errorf("no artifact is declared with this key: %w", providers.ErrNotFound)
	}
	u, err := url.Parse(ac.URL)
	if err != nil {
		// Never echo the URL or the parse error: both may hold credentials.
		return nil, nil, fmt.Errorf("url of artifact %q (%s) does not parse", ac.Name, display(ac))
	}
	return ac, u, nil
}

// display is the secret-free form of the artifact's URL.
func display(ac *ArtifactConfig) string {
	if ac.DisplayURL != "" {
		return ac.DisplayURL
	}
	return httpx.RedactString(ac.URL)
}

// pathErrCause drops the path from an *fs.PathError: errors name the
// display URL instead, which hides a sensitive path.
func pathErrCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (s *Source) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideSource, Provider: s.name, Key: key, Err: err}
}

// ctxFile is a file that stops reading once ctx is done, so cancelling a
// transfer interrupts local reads as it does network ones. It lives only as
// long as the Fetch call's transfer.
type ctxFile struct {
	ctx context.Context
	f   *os.File
}

func (c *ctxFile) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.f.Read(p)
}

func (c *ctxFile) Close() error { return c.f.Close() }
