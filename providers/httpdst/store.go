package httpdst

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// Store keeps objects under a base URL. It is safe for concurrent use.
//
// Uploads stream with chunked transfer encoding through a verifying reader:
// when the bytes do not match the expected digest, the reader fails before
// the final chunk is sent, the request is aborted, and a server never sees a
// complete body to store. A declared Content-Length would let a server commit
// a same-size but wrong body before ferry could object.
type Store struct {
	name   string
	cfg    *DestinationConfig
	client *httpx.Client
	log    hclog.Logger
}

var (
	_ providers.Destination = (*Store)(nil)
	_ providers.URLer       = (*Store)(nil)
	_ providers.Describer   = (*Store)(nil)
	_ providers.Fetcher     = (*Store)(nil)
)

// NewDestination returns the destination named name ("http.artifactory").
func NewDestination(name string, cfg *DestinationConfig, env registry.Env) (*Store, error) {
	return &Store{name: name, cfg: cfg, client: env.Client(), log: env.Log()}, nil
}

func (s *Store) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideDestination, Provider: s.name, Key: key, Err: err}
}

func checkKey(key string) error { return providers.CheckKey(key) }

func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func (s *Store) objectURL(key string) string { return s.cfg.URL + "/" + escapeKey(key) }

// newRequest builds a request for key. Redirects are never followed: every
// request is a write or a stat whose answer must come from the object's own
// URL (a PUT redirected elsewhere would look stored, a redirected HEAD would
// describe another object), and the credentials stay with url.
func (s *Store) newRequest(ctx context.Context, method, key string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(httpx.WithoutRedirects(ctx), method, s.objectURL(key), body)
	if err != nil {
		return nil, err
	}
	switch {
	case s.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	case s.cfg.Username != "":
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	}
	return req, nil
}

// status maps a response to the sentinel errors; it never includes
// credentials (the URL is redacted by httpx, headers are not quoted).
func (s *Store) status(resp *http.Response, op string) error {
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return providers.ErrNotFound
	case resp.StatusCode == http.StatusPreconditionFailed:
		return providers.ErrAlreadyExists
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s %s: %s: authentication or authorization failed (check the destination's credentials)", op, httpx.RedactString(s.cfg.URL), resp.Status)
	}
	return fmt.Errorf("%s: server answered %s", op, resp.Status)
}

// Stat reports the object's size and sha256 (and sha512). It uses the
// server's X-Checksum-Sha256 when it sends one, and otherwise downloads and
// hashes the object: a size alone cannot tell whether the bytes changed.
func (s *Store) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	if err := checkKey(key); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	req, err := s.newRequest(ctx, http.MethodHead, key, nil)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	resp.Body.Close()
	if err := s.status(resp, "HEAD"); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	if s.cfg.ChecksumHeaders {
		if hx := strings.ToLower(resp.Header.Get("X-Checksum-Sha256")); len(hx) == 64 {
			d := providers.Digest{Algorithm: providers.SHA256, Hex: hx}
			if d.Validate() == nil && resp.ContentLength >= 0 {
				return providers.Artifact{Key: key, Size: resp.ContentLength, Digests: providers.NewDigests(d)}, nil
			}
		}
	}
	req, err = s.newRequest(ctx, http.MethodGet, key, nil)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err = s.client.Do(req)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	defer resp.Body.Close()
	if err := s.status(resp, "GET"); err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(h256, h512), resp.Body)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	return providers.Artifact{Key: key, Size: n, Digests: providers.NewDigests(
		providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(h256.Sum(nil))},
		providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(h512.Sum(nil))},
	)}, nil
}

// Put uploads r to a.Key; see the Store comment for how a mismatch is kept
// from landing. Without opts.Overwrite an existing object is left alone and
// the error wraps providers.ErrAlreadyExists.
func (s *Store) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	if err := checkKey(a.Key); err != nil {
		return s.opErr("put", a.Key, err)
	}
	if !opts.Overwrite {
		// Many plain servers ignore If-None-Match on PUT, so ask first too.
		if _, err := s.head(ctx, a.Key); err == nil {
			return s.opErr("put", a.Key, providers.ErrAlreadyExists)
		} else if !errors.Is(err, providers.ErrNotFound) {
			return s.opErr("put", a.Key, err)
		}
	}
	// The engine's verifier, when r is one: each byte hashed once.
	vr := verify.Reuse(r, a.Size, a.Digests)
	// Stop reading as soon as ctx ends, so the chunked body is cut before its
	// final chunk even when the source itself ignores the context.
	req, err := s.newRequest(ctx, http.MethodPut, a.Key, io.NopCloser(providers.ContextReader(ctx, vr)))
	if err != nil {
		return s.opErr("put", a.Key, err)
	}
	req.ContentLength = -1 // chunked: see the Store comment
	req.Header.Set("Content-Type", "application/octet-stream")
	if !opts.Overwrite {
		req.Header.Set("If-None-Match", "*")
	}
	if d, ok := a.Digests.Get(providers.SHA256); ok && s.cfg.ChecksumHeaders {
		req.Header.Set("X-Checksum-Sha256", d.Hex)
	}
	resp, err := s.client.DoOnce(req)
	if mm := mismatch(err); mm != nil {
		return s.opErr("put", a.Key, mm)
	}
	if err != nil {
		if ctx.Err() != nil && vr.Verified() && !opts.Overwrite {
			// Cancelled after the whole body went out: the server may have
			// stored it. The key was free before, so remove what we may
			// have created rather than leave an object ferry never recorded.
			_ = s.Delete(context.WithoutCancel(ctx), a.Key)
		}
		return s.opErr("put", a.Key, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err := s.status(resp, "PUT"); err != nil {
		return s.opErr("put", a.Key, err)
	}
	if !vr.Verified() {
		// The server answered before reading everything: nothing proves what
		// it kept, so remove it rather than leave unverified bytes.
		_ = s.Delete(context.WithoutCancel(ctx), a.Key)
		return s.opErr("put", a.Key, errors.New("the server answered before the upload was complete and verified; the object was removed"))
	}
	if s.cfg.VerifyUpload {
		if err := s.verifyStored(ctx, a); err != nil {
			return s.opErr("put", a.Key, err)
		}
	}
	return nil
}

// verifyStored reads back what the server stored under a.Key and removes
// it unless it is what ferry sent (a body corrupted on the way in, a proxy
// that rewrote it): the bytes ferry verified are not necessarily the bytes
// that landed.
func (s *Store) verifyStored(ctx context.Context, a providers.Artifact) error {
	got, err := s.Stat(ctx, a.Key)
	if err != nil {
		return fmt.Errorf("reading the upload back: %w", err)
	}
	want, _ := a.Digests.Get(providers.SHA256)
	have, _ := got.Digests.Get(providers.SHA256)
	switch {
	case a.Size >= 0 && got.Size != a.Size:
		err = &providers.MismatchError{What: "size", Want: fmt.Sprint(a.Size), Got: fmt.Sprint(got.Size)}
	case want.Hex != "" && have.Hex != want.Hex:
		err = &providers.MismatchError{What: "sha256", Want: want.Hex, Got: have.Hex}
	case want.Hex == "" && !got.Digests.Matches(a.Digests):
		err = fmt.Errorf("the stored object does not match the declared digests: %w", providers.ErrDigestMismatch)
	default:
		return nil
	}
	if derr := s.Delete(context.WithoutCancel(ctx), a.Key); derr != nil {
		return fmt.Errorf("the server stored other bytes than were sent (%w), and removing them failed: %v", err, derr)
	}
	return fmt.Errorf("the server stored other bytes than were sent; the object was removed: %w", err)
}

// mismatch returns the verification error when the upload failed because the
// bytes did not match (the transport reports it in its own words).
func mismatch(err error) error {
	if err == nil {
		return nil
	}
	var mm *providers.MismatchError
	if errors.As(err, &mm) {
		return mm
	}
	return nil
}

func (s *Store) head(ctx context.Context, key string) (*http.Response, error) {
	req, err := s.newRequest(ctx, http.MethodHead, key, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, s.status(resp, "HEAD")
}

// Delete removes the object; a missing one wraps providers.ErrNotFound.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return s.opErr("delete", key, err)
	}
	req, err := s.newRequest(ctx, http.MethodDelete, key, nil)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	resp.Body.Close()
	if err := s.status(resp, "DELETE"); err != nil {
		return s.opErr("delete", key, err)
	}
	return nil
}

// URL is where consumers download key: public_url (else url) / KEY.
func (s *Store) URL(a providers.Artifact) (string, error) {
	key := a.Key
	if err := checkKey(key); err != nil {
		return "", err
	}
	base := s.cfg.PublicURL
	if base == "" {
		base = s.cfg.URL
	}
	return base + "/" + escapeKey(key), nil
}

// Describe names the base URL (no credentials).
func (s *Store) Describe() string { return "http " + httpx.RedactString(s.cfg.URL) }

// Fetch opens the object at a.Key for reading (GET, no redirects, with the
// destination's credentials): what a provider that keeps an index at the
// destination (a conda channel's repodata.json) reads it back with.
// Missing objects wrap providers.ErrNotFound.
func (s *Store) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	if err := checkKey(a.Key); err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	req, err := s.newRequest(ctx, http.MethodGet, a.Key, nil)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	if err := s.status(resp, "GET"); err != nil {
		resp.Body.Close()
		return nil, s.opErr("fetch", a.Key, err)
	}
	return resp.Body, nil
}
