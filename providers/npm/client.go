package npm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
)

// registry is one npm registry endpoint with its credentials. The token is
// sent only to URLs under the registry's base (npm's own rule: a tarball on
// another host never sees it).
type registry struct {
	base  *url.URL // with a trailing slash
	token string
	http  *httpx.Client
	feed  *feed // the registry's changes feed; nil when none is configured
}

func newRegistry(rawURL, token string, hc *httpx.Client) (*registry, error) {
	u, err := parseRegistryURL(rawURL)
	if err != nil {
		return nil, err
	}
	return &registry{base: u, token: token, http: hc}, nil
}

// parseRegistryURL checks an http(s) registry URL without credentials,
// query or fragment and gives it a trailing slash.
func parseRegistryURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("registry URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("registry URL must be http or https, not %q", u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("registry URL has no host")
	case u.User != nil:
		return nil, fmt.Errorf("registry URL must not carry credentials (use token)")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("registry URL must not have a query or fragment")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	return u, nil
}

// String is the registry's base URL.
func (r *registry) String() string { return r.base.String() }

// url is the base joined with an already escaped path.
func (r *registry) url(escapedPath string) string {
	return strings.TrimSuffix(r.base.String(), "/") + "/" + strings.TrimPrefix(escapedPath, "/")
}

// covers reports whether u is under the registry's base URL: the only URLs
// the token goes to.
func (r *registry) covers(u *url.URL) bool {
	return u.Scheme == r.base.Scheme && u.Host == r.base.Host && strings.HasPrefix(u.Path, r.base.Path)
}

// newRequest builds a request, authorised when it goes to the registry.
func (r *registry) newRequest(ctx context.Context, method, rawURL string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return r.authorize(req), nil
}

// authorize adds the token to a request under the registry's base, and
// declares the base as the token's scope: httpx drops the token on any
// redirect that leaves it (even on the same origin).
func (r *registry) authorize(req *http.Request) *http.Request {
	if r.token != "" && r.covers(req.URL) {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	return req.WithContext(httpx.WithCredentialScope(req.Context(), r.base))
}

// do sends a request and checks the status; body is nil or JSON. It
// returns the response body (for 2xx). 404 wraps providers.ErrNotFound,
// 409 providers.ErrAlreadyExists.
func (r *registry) do(ctx context.Context, method, rawURL string, body []byte, limit int64) ([]byte, error) {
	req, err := r.newRequest(ctx, method, rawURL, body)
	if err != nil {
		return nil, err
	}
	b, _, err := r.send(req, limit)
	return b, err
}

// send sends req and reads a 2xx body of at most limit bytes. A 304 (the
// answer to a conditional request) is returned as such with no body.
func (r *registry) send(req *http.Request, limit int64) ([]byte, *http.Response, error) {
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && req.Header.Get("If-None-Match") != "" {
		return nil, resp, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp, r.check(resp, req.Method, req.URL.String())
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, resp, fmt.Errorf("%s %s: reading the response: %w", req.Method, httpx.Redact(req.URL), err)
	}
	if int64(len(b)) > limit {
		return nil, resp, fmt.Errorf("%s %s: response larger than %d bytes", req.Method, httpx.Redact(req.URL), limit)
	}
	return b, resp, nil
}

// getDocument GETs a JSON document; with etag it asks If-None-Match, and
// notModified reports the server's 304. newETag is the validator sent with
// a fresh body ("" if none).
func (r *registry) getDocument(ctx context.Context, rawURL, etag string, limit int64) (body []byte, newETag string, notModified bool, err error) {
	req, err := r.newRequest(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", false, err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	b, resp, err := r.send(req, limit)
	if err != nil {
		return nil, "", false, err
	}
	if resp.StatusCode == http.StatusNotModified {
		return nil, etag, true, nil
	}
	return b, resp.Header.Get("ETag"), false, nil
}

// readMessage is ": " and the registry's error text, if it sent JSON with
// one ("error" or "message"), trimmed.
func readMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	var m struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	s := m.Error
	if s == "" {
		s = m.Message
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// packument fetches the full document of name (writable: with ?write=true
// registries add _rev and skip caches).
func (r *registry) packument(ctx context.Context, name string, writable bool) (*packument, error) {
	u := r.url(escapeName(name))
	if writable {
		u += "?write=true"
	}
	body, err := r.do(ctx, http.MethodGet, u, nil, maxPackumentBytes)
	if err != nil {
		return nil, err
	}
	return parsePackument(body, name)
}

// docCache holds packuments read during one command, by name, fetching
// each once however many goroutines ask.
type docCache struct {
	mu   sync.Mutex
	docs map[string]*docEntry
}

type docEntry struct {
	done chan struct{}
	doc  *packument
	err  error
}

// get returns the cached document of name, fetching it with fetch once.
func (c *docCache) get(ctx context.Context, name string, fetch func(context.Context) (*packument, error)) (*packument, error) {
	c.mu.Lock()
	if c.docs == nil {
		c.docs = map[string]*docEntry{}
	}
	e, ok := c.docs[name]
	if !ok {
		e = &docEntry{done: make(chan struct{})}
		c.docs[name] = e
		c.mu.Unlock()
		e.doc, e.err = fetch(ctx)
		close(e.done)
		if e.err != nil && !errors.Is(e.err, providers.ErrNotFound) {
			c.forget(name) // a failure is not remembered; a 404 is
		}
		return e.doc, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.doc, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// entries are the documents read so far, with a 404 as ErrNotFound, by
// name; fetches still running are left out.
func (c *docCache) entries() map[string]docEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]docEntry{}
	for name, e := range c.docs {
		select {
		case <-e.done:
			out[name] = docEntry{doc: e.doc, err: e.err}
		default:
		}
	}
	return out
}

// forget drops name, after a write changed it.
func (c *docCache) forget(name string) {
	c.mu.Lock()
	delete(c.docs, name)
	c.mu.Unlock()
}

// searchScope lists the packages of scope ("@types") with the registry's
// search API (/-/v1/search?text=@types/), page by page until a short page
// (Verdaccio's total counts the page, not the matches), keeping only names
// in the scope (search also matches descriptions and longer scopes).
func (r *registry) searchScope(ctx context.Context, scope string) ([]string, error) {
	const pageSize = 250
	seen := map[string]bool{}
	var names []string
	for from := 0; ; from += pageSize {
		q := url.Values{"text": {scope + "/"}, "size": {fmt.Sprint(pageSize)}, "from": {fmt.Sprint(from)}}
		body, err := r.do(ctx, http.MethodGet, r.url("-/v1/search?"+q.Encode()), nil, 64<<20)
		if err != nil {
			return nil, err
		}
		var page struct {
			Objects []struct {
				Package struct {
					Name string `json:"name"`
				} `json:"package"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("unreadable search result: %w", err)
		}
		for _, o := range page.Objects {
			n := o.Package.Name
			if strings.HasPrefix(n, scope+"/") && ValidName(n) && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		if len(page.Objects) < pageSize {
			return names, nil
		}
		if from > 100_000 {
			return nil, fmt.Errorf("search for %s returned more than %d results", scope, from)
		}
	}
}
