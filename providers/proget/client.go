package proget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// maxDocument bounds a JSON answer (a version list, a recursive folder
// listing).
const maxDocument = 64 << 20

// client talks to one ProGet instance with one API key.
type client struct {
	base string // no trailing slash
	key  string
	http *httpx.Client
	what string // "universal feed NAME" or "asset directory NAME", for messages
}

func newClient(s Server, what string, env registry.Env) (*client, error) {
	key := s.APIKey
	if s.APIKeyEnv != "" {
		getenv := env.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		key = getenv(s.APIKeyEnv)
		if key == "" {
			return nil, fmt.Errorf("the environment variable %s (api_key_env) is unset or empty: set it to a ProGet API key", s.APIKeyEnv)
		}
	}
	return &client{base: s.URL, key: key, http: env.Client(), what: what}, nil
}

// request builds a request to base+path. The API key goes into X-ApiKey,
// a header no redirect may carry elsewhere: every request refuses
// redirects (httpx only scopes Authorization headers).
func (c *client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(httpx.WithoutRedirects(ctx), method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.key != "" {
		req.Header.Set("X-ApiKey", c.key)
	}
	return req, nil
}

// do sends req (with retries unless once) and returns a 2xx response, or
// an error that says what to fix for 401, 403 and 429.
func (c *client) do(req *http.Request, once bool) (*http.Response, error) {
	var resp *http.Response
	var err error
	if once {
		resp, err = c.http.DoOnce(req)
	} else {
		resp, err = c.http.Do(req)
	}
	if err != nil {
		return nil, c.explain(err, 0, "")
	}
	retryAfter := resp.Header.Get("Retry-After")
	if err := httpx.CheckResponse(resp); err != nil {
		return nil, c.explain(err, resp.StatusCode, retryAfter)
	}
	return resp, nil
}

// ErrQuota is wrapped by errors from a server that refused a request with
// 429 Too Many Requests (ProGet Free's delete quota, or a rate limit).
var ErrQuota = errors.New("quota exceeded")

// explain adds what to do about a refused request.
func (c *client) explain(err error, status int, retryAfter string) error {
	var he *httpx.Error
	if status == 0 && errors.As(err, &he) {
		status = he.StatusCode
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		if c.key == "" {
			return fmt.Errorf("%w: ProGet refused an anonymous request to %s: set api_key (or api_key_env) in the block to an API key with access to it", err, c.what)
		}
		return fmt.Errorf("%w: the API key is unknown to ProGet or lacks a permission on %s "+
			"(reading needs View/Download, mirroring into it Add/Repackage, deleting Overwrite/Delete): check the key and its permissions", err, c.what)
	case http.StatusTooManyRequests:
		wait := ""
		if retryAfter != "" {
			wait = ", it says for " + retryAfter + " seconds"
		}
		return fmt.Errorf("%w: %w: ProGet's request quota on %s is used up%s (ProGet Free allows %d API deletes an hour): apply again later, and set deletes_per_hour on the destination to the server's quota so ferry paces its deletes",
			err, ErrQuota, c.what, wait, FreeDeletesPerHour)
	}
	return err
}

// get streams the body of a GET of path (resumed after a broken
// connection, see httpx.GetStream).
func (c *client) get(ctx context.Context, path string) (io.ReadCloser, error) {
	hdr := http.Header{}
	if c.key != "" {
		hdr.Set("X-ApiKey", c.key)
	}
	rc, _, err := c.http.GetStream(httpx.WithoutRedirects(ctx), c.base+path, hdr)
	if err != nil {
		return nil, c.explain(err, 0, "")
	}
	return rc, nil
}

// getJSON decodes the JSON answer to a GET of path into v.
func (c *client) getJSON(ctx context.Context, path string, v any) error {
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req, false)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if len(b) > maxDocument {
		return fmt.Errorf("GET %s: the answer is larger than %d bytes", path, maxDocument)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: unreadable answer: %w", path, err)
	}
	return nil
}

// send sends a write with body (size bytes), once: a failed write is
// retried by the next apply, not here. It drains the answer.
func (c *client) send(ctx context.Context, method, path string, body io.Reader, size int64) error {
	if body != nil && size == 0 {
		body = http.NoBody // else a zero ContentLength reads as unknown
	}
	req, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.do(req, true)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.Body.Close()
}

// hashes are the hash fields ProGet's PackageVersionInfo and
// AssetDirectoryItem share.
type hashes struct {
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
}

// digests are the sha256, sha1 and sha512 the server declares, each
// checked; md5 only beside a stronger one. A field that is present but
// malformed is an error: a hash check must never pass because the hash
// was unreadable.
func (h hashes) digests() (providers.Digests, error) {
	var out providers.Digests
	for _, d := range []providers.Digest{
		{Algorithm: providers.SHA256, Hex: h.SHA256},
		{Algorithm: providers.SHA1, Hex: h.SHA1},
		{Algorithm: providers.SHA512, Hex: h.SHA512},
	} {
		if d.Hex == "" {
			continue
		}
		d.Hex = lower(d.Hex)
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("the server declares an invalid %s: %w", d.Algorithm, err)
		}
		out = out.With(d)
	}
	return out, nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ErrUnverifiable: the server declares no hash ferry could check the
// bytes against.
var ErrUnverifiable = errors.New("the server declares neither a sha256 nor a sha1 for it, so its bytes cannot be verified; nothing is mirrored from it")

// checkDeclared refuses to fetch what the server declares no hash for:
// its bytes could not be verified.
func checkDeclared(a providers.Artifact) error {
	_, has256 := a.Digests.Get(providers.SHA256)
	_, has1 := a.Digests.Get(providers.SHA1)
	if !has256 && !has1 {
		return ErrUnverifiable
	}
	return nil
}

// published parses a timestamp, zero when absent or unreadable.
func published(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// end is one configured source or destination, for its errors.
type end struct {
	name string // "proget_upack.build"
	side providers.Side
}

func (e end) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: e.side, Provider: e.name, Key: key, Err: err}
}

// listing runs list with fn, wrapping list's own errors (not fn's, which
// pass through) as e's.
func (e end) listing(ctx context.Context, list func(context.Context, func(providers.Artifact) error) error, fn func(providers.Artifact) error) error {
	var cbErr error
	err := list(ctx, func(a providers.Artifact) error {
		cbErr = fn(a)
		return cbErr
	})
	if err != nil && (cbErr == nil || !errors.Is(err, cbErr)) {
		return e.opErr("list", "", err)
	}
	return err
}
