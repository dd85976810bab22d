package oci

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
)

// httpxTransport sends oras-go's requests through the shared httpx client:
// requests that can be replayed (no body, or an in-memory one such as a
// manifest) get its retries; streaming uploads are sent once, since their
// body cannot be read again (the next apply retries them).
type httpxTransport struct{ c *httpx.Client }

func (t httpxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		resp, err := t.c.DoOnce(req)
		if err != nil {
			req.Body.Close() // a RoundTripper always closes the body
		}
		return resp, err
	}
	return t.c.Do(req)
}

// errServerDigest is wrapped by the error for a registry that says it stored
// an upload under a digest other than the one ferry computed.
var errServerDigest = errors.New("registry reported a different digest")

// digestCheckingClient refuses a successful upload (a blob upload completed
// with ?digest=, or a manifest PUT) whose Docker-Content-Digest differs from
// the digest of what ferry sent: the registry would be keeping something
// else than ferry verified.
type digestCheckingClient struct {
	next remote.Client
	host string
}

func (c digestCheckingClient) Do(req *http.Request) (*http.Response, error) {
	var want string
	switch {
	case req.Method != http.MethodPut:
	case req.URL.Query().Get("digest") != "":
		want = req.URL.Query().Get("digest")
	case strings.Contains(req.URL.Path, "/manifests/") && req.GetBody != nil:
		// Manifests are small and in memory: hash what is sent.
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		d, err := digest.SHA256.FromReader(io.LimitReader(body, maxManifestBytes+1))
		body.Close()
		if err != nil {
			return nil, err
		}
		want = d.String()
	}
	resp, err := c.next.Do(req)
	if err != nil || want == "" || resp.StatusCode != http.StatusCreated {
		return resp, err
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != want {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		what := "blob upload"
		if req.URL.Query().Get("digest") == "" {
			what = "manifest push"
		}
		return nil, fmt.Errorf("%w: registry %s answered the %s of %s with Docker-Content-Digest %s",
			errServerDigest, c.host, what, want, got)
	}
	return resp, nil
}

// newTransport is the transport for the registry when Options.Transport is
// not set: httpx's (no transparent decompression, idle connections kept for
// every concurrent transfer), without certificate verification when
// insecure.
func newTransport(insecure bool) http.RoundTripper {
	t := httpx.NewTransport(httpx.DefaultTimeout)
	if insecure {
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only when the configuration asks for it
	}
	return t
}

// describe turns an error from oras-go or the HTTP client into one that
// names the registry and never quotes credentials or upload URLs (their
// query holds the registry's upload state).
func (s *Store) describe(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var mm *providers.MismatchError
	if errors.As(err, &mm) {
		return mm
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	var er *errcode.ErrorResponse
	if errors.As(err, &er) {
		path := ""
		if er.URL != nil {
			path = er.URL.Path
		}
		detail := http.StatusText(er.StatusCode)
		if len(er.Errors) > 0 {
			detail = er.Errors.Error()
		}
		switch er.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("authentication failed for registry %s (check the %s's credentials): %s %s: %s",
				s.host, s.side, er.Method, path, detail)
		case http.StatusForbidden:
			return fmt.Errorf("registry %s denied access to repository %s (the credentials lack permission): %s %s: %s",
				s.host, repositoryOf(path, s.cfg.Repository), er.Method, path, detail)
		}
		return fmt.Errorf("registry %s answered %s %s with %d: %s", s.host, er.Method, path, er.StatusCode, detail)
	}
	if s.cfg.Token != "" && strings.Contains(err.Error(), "missing username or password for basic auth") {
		return fmt.Errorf("registry %s asks for basic auth (username and password); a token is only sent after a Bearer challenge", s.host)
	}
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return fmt.Errorf("registry %s requires authentication, but no credentials are configured "+
			"(set username and password or token, or log in with docker login)", s.host)
	}
	if s.cfg.Password != "" && strings.Contains(err.Error(), s.cfg.Password) ||
		s.cfg.Token != "" && strings.Contains(err.Error(), s.cfg.Token) {
		// Never expected; a last line of defence for messages from libraries.
		return fmt.Errorf("registry %s: request failed (details withheld: they quoted a credential)", s.host)
	}
	return err
}

// repositoryOf is the repository a registry API path is about
// ("/v2/a/b/blobs/uploads/" → "a/b"), or fallback when it is not one.
func repositoryOf(path, fallback string) string {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return fallback
	}
	for _, sep := range []string{"/blobs/", "/manifests/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(rest, sep); i > 0 {
			return rest[:i]
		}
	}
	return fallback
}
