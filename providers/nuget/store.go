package nuget

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// Store is a NuGet v3 feed ferry pushes to (PackagePublish/2.0.0) and
// reads back from its flat container. It is safe for concurrent use.
//
// Put verifies the bytes into a private temporary file, checks that the
// package's .nuspec names the key's id and version (the feed files a
// package by them), pushes it and reads it back. A feed never replaces a
// version: a push answered 409 is adopted when the feed holds the same
// bytes, and is an error otherwise, with or without overwrite.
//
// Delete sends the protocol's DELETE, which Gitea and most private feeds
// execute as a hard delete; a feed that only unlists (nuget.org) still
// serves the version afterwards, and Delete reports that as an error
// instead of pretending.
type Store struct {
	name string
	cfg  *DestinationConfig
	feed *feedClient
	log  hclog.Logger
}

var (
	_ providers.Destination = (*Store)(nil)
	_ providers.Describer   = (*Store)(nil)
)

// NewDestination returns the destination named name.
func NewDestination(name string, cfg *DestinationConfig, env registry.Env) (*Store, error) {
	fc, err := newFeedClient(cfg.Feed, env)
	if err != nil {
		return nil, err
	}
	return &Store{name: name, cfg: cfg, feed: fc, log: env.Log()}, nil
}

func (s *Store) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideDestination, Provider: s.name, Key: key, Err: err}
}

// Describe names the feed (no credentials).
func (s *Store) Describe() string { return "nuget " + httpx.RedactString(s.cfg.ServiceIndex) }

// Stat downloads the version's .nupkg from the flat container and reports
// its size, sha256 and sha512.
func (s *Store) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	lowerID, lowerVersion, err := ParseKey(key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	a, err := s.stat(ctx, lowerID, lowerVersion)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	return a, nil
}

func (s *Store) stat(ctx context.Context, lowerID, lowerVersion string) (providers.Artifact, error) {
	res, err := s.feed.index(ctx)
	if err != nil {
		return providers.Artifact{}, err
	}
	body, _, err := s.feed.get(httpx.WithoutRedirects(ctx), res.nupkgURL(lowerID, lowerVersion))
	if err != nil {
		return providers.Artifact{}, err
	}
	defer body.Close()
	hashes := map[providers.Algorithm]interface {
		io.Writer
		Sum([]byte) []byte
	}{providers.SHA256: providers.SHA256.New(), providers.SHA512: providers.SHA512.New()}
	n, err := io.Copy(io.MultiWriter(hashes[providers.SHA256], hashes[providers.SHA512]), io.LimitReader(providers.ContextReader(ctx, body), s.feed.maxSize+1))
	if err != nil {
		return providers.Artifact{}, err
	}
	if n > s.feed.maxSize {
		return providers.Artifact{}, errTooLarge
	}
	var ds []providers.Digest
	for alg, h := range hashes {
		ds = append(ds, providers.Digest{Algorithm: alg, Hex: hex.EncodeToString(h.Sum(nil))})
	}
	return providers.Artifact{Key: Key(lowerID, lowerVersion), Name: lowerID, Version: lowerVersion, Size: n, Digests: providers.NewDigests(ds...)}, nil
}

// publishURL is the feed's PackagePublish/2.0.0 URL; the API key goes
// only there, and only over https or to the service index's own origin.
func (s *Store) publishURL(ctx context.Context) (string, error) {
	res, err := s.feed.index(ctx)
	if err != nil {
		return "", err
	}
	if res.publish == "" {
		return "", fmt.Errorf("the feed's service index declares no PackagePublish/2.0.0: it takes no pushes: %w", providers.ErrUnsupported)
	}
	u, err := url.Parse(res.publish)
	if err != nil {
		return "", fmt.Errorf("the feed's PackagePublish URL: %w", err)
	}
	if u.Scheme != "https" && !s.feed.sameOrigin(res.publish) {
		return "", fmt.Errorf("the feed publishes at %s, plain http on another origin than its service index: ferry does not send the API key there", httpx.Redact(u))
	}
	return res.publish, nil
}

// send makes a write request to the publish endpoint with the API key,
// retried (by the shared client) on connection failures, 5xx and 429:
// body, when not nil, gives the n bytes to send afresh for each attempt. A
// retried push that had landed is answered 409 and adopted, a retried
// delete that had landed 404. Redirects are refused (a write must be
// answered by the feed itself).
func (s *Store) send(ctx context.Context, method, rawURL string, body func() io.Reader, n int64, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(httpx.WithoutRedirects(ctx), method, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Body = io.NopCloser(body())
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body()), nil }
		req.ContentLength = n
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-NuGet-ApiKey", s.cfg.APIKey)
	req.Header.Set("X-NuGet-Protocol-Version", "4.1.0")
	return s.feed.http.Do(req)
}

// status maps a write's answer to the sentinel errors, with the feed's
// own message for anything else.
func (s *Store) status(resp *http.Response, what string) error {
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return providers.ErrNotFound
	case resp.StatusCode == http.StatusConflict:
		return providers.ErrAlreadyExists
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: the feed answered %s: check api_key (Gitea: a token with the write:package scope whose user may write to the owner)", what, resp.Status)
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var body struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &body) == nil && body.Message != "" {
		msg = body.Message
	}
	if msg != "" && !strings.Contains(msg, s.cfg.APIKey) {
		return fmt.Errorf("%s: the feed answered %s: %.300s", what, resp.Status, msg)
	}
	return fmt.Errorf("%s: the feed answered %s", what, resp.Status)
}

// Put verifies and pushes the package under a.Key.
func (s *Store) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	lowerID, lowerVersion, err := ParseKey(a.Key)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	publish, err := s.publishURL(ctx)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	f, err := spool(ctx, r, a, s.feed.maxSize)
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	defer f.Close()
	if err := checkIdentity(f, lowerID, lowerVersion); err != nil {
		return s.opErr("put", a.Key, fmt.Errorf("the feed would file it elsewhere: %w", err))
	}
	// A version already there is adopted or refused without a push, so
	// that what a cancelled push leaves behind can only be ferry's own.
	if _, err := s.stat(ctx, lowerID, lowerVersion); err == nil {
		return s.existing(ctx, a.Key, lowerID, lowerVersion, f.sum, opts)
	} else if !errors.Is(err, providers.ErrNotFound) {
		return s.opErr("put", a.Key, fmt.Errorf("checking whether the feed holds the version: %w", err))
	}

	// The multipart body NuGet clients send: one part holding the .nupkg.
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if _, err := mw.CreateFormFile("package", "package.nupkg"); err != nil {
		return s.opErr("put", a.Key, err)
	}
	prefix := append([]byte(nil), head.Bytes()...)
	head.Reset()
	if err := mw.Close(); err != nil {
		return s.opErr("put", a.Key, err)
	}
	suffix := head.Bytes()
	body := func() io.Reader {
		return io.MultiReader(bytes.NewReader(prefix), io.NewSectionReader(f.File, 0, f.size), bytes.NewReader(suffix))
	}
	resp, err := s.send(ctx, http.MethodPut, publish, body, int64(len(prefix))+f.size+int64(len(suffix)), mw.FormDataContentType())
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled once the push may have reached the feed: remove
			// what may have landed rather than leave a version ferry never
			// recorded, but only when it holds the bytes ferry sent.
			s.removeIfOurs(context.WithoutCancel(ctx), a.Key, lowerID, lowerVersion, f.sum)
		}
		return s.opErr("put", a.Key, err)
	}
	err = s.status(resp, "push")
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case errors.Is(err, providers.ErrAlreadyExists):
		return s.existing(ctx, a.Key, lowerID, lowerVersion, f.sum, opts)
	case err != nil:
		return s.opErr("put", a.Key, err)
	case resp.StatusCode == http.StatusAccepted:
		// Accepted for asynchronous validation (nuget.org): the feed
		// serves it later, and the next plan reads it back.
		s.log.Info("the feed accepted the push for later validation", "key", a.Key)
		return nil
	}
	got, err := s.stat(ctx, lowerID, lowerVersion)
	if err != nil {
		return s.opErr("put", a.Key, fmt.Errorf("reading the push back from the flat container: %w", err))
	}
	if !got.Digests.Matches(f.sum) || got.Size != f.size {
		s.removeIfOurs(context.WithoutCancel(ctx), a.Key, lowerID, lowerVersion, got.Digests)
		return s.opErr("put", a.Key, fmt.Errorf("the feed serves other bytes than were pushed (%s, want %s): %w", got.Digests.Primary(), f.sum.Primary(), providers.ErrDigestMismatch))
	}
	return nil
}

// existing handles a version the feed already holds (found before the
// push, or a push answered 409): the same bytes are adopted, other bytes
// are an error (a feed never replaces a version, so overwrite cannot be
// honoured).
func (s *Store) existing(ctx context.Context, key, lowerID, lowerVersion string, sum providers.Digests, opts providers.PutOptions) error {
	got, err := s.stat(ctx, lowerID, lowerVersion)
	if err != nil {
		return s.opErr("put", key, fmt.Errorf("the feed answered 409 (exists) but reading the version back failed: %w", err))
	}
	if got.Digests.Matches(sum) {
		return nil
	}
	if opts.Overwrite {
		return s.opErr("put", key, fmt.Errorf("the feed holds other bytes for this version (%s) and a NuGet feed never replaces a version: delete it there first: %w", got.Digests.Primary(), providers.ErrUnsupported))
	}
	return s.opErr("put", key, fmt.Errorf("the feed holds other bytes for this version (%s): %w", got.Digests.Primary(), providers.ErrAlreadyExists))
}

// removeIfOurs deletes the version when the feed holds the bytes in sum,
// logging why not otherwise.
func (s *Store) removeIfOurs(ctx context.Context, key, lowerID, lowerVersion string, sum providers.Digests) {
	got, err := s.stat(ctx, lowerID, lowerVersion)
	if err != nil || !got.Digests.Matches(sum) {
		return
	}
	if err := s.delete(ctx, lowerID, lowerVersion); err != nil && !errors.Is(err, providers.ErrNotFound) {
		s.log.Warn("could not remove an unverified push", "key", key, "error", err)
	}
}

// Delete removes the version under key (DELETE on the publish endpoint)
// and checks that the feed no longer serves it.
func (s *Store) Delete(ctx context.Context, key string) error {
	lowerID, lowerVersion, err := ParseKey(key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	if err := s.delete(ctx, lowerID, lowerVersion); err != nil {
		return s.opErr("delete", key, err)
	}
	if _, err := s.stat(ctx, lowerID, lowerVersion); err == nil {
		return s.opErr("delete", key, fmt.Errorf("the feed accepted the delete but still serves the package (a feed that only unlists, like nuget.org): "+
			"ferry's nuget destination needs a feed that deletes: %w", providers.ErrUnsupported))
	} else if !errors.Is(err, providers.ErrNotFound) {
		return s.opErr("delete", key, fmt.Errorf("reading the version back after deleting it: %w", err))
	}
	return nil
}

func (s *Store) delete(ctx context.Context, lowerID, lowerVersion string) error {
	publish, err := s.publishURL(ctx)
	if err != nil {
		return err
	}
	resp, err := s.send(ctx, http.MethodDelete, publish+"/"+url.PathEscape(lowerID)+"/"+url.PathEscape(lowerVersion), nil, 0, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return s.status(resp, "delete")
}
