package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// The redirect policy. Every request httpx sends (Do, DoOnce, GetStream and
// its resumes, StandardClient) goes through one http.Client whose
// CheckRedirect is Client.checkRedirect:
//
//   - Credentials (the Authorization, Proxy-Authorization and Cookie
//     headers, and the API-key headers of ProGet and NuGet feeds,
//     X-ApiKey and X-NuGet-ApiKey) reach only the credential's scope: by default the exact
//     origin (scheme, host, port) the request was made to; with
//     WithCredentialScope, the URLs under a given prefix. Once a redirect
//     chain leaves the scope, the credentials are dropped for the rest of
//     the chain (and the redirect is followed without them), so neither
//     another port on the same host name nor an https→http downgrade ever
//     receives them. Go's own policy compares host names only.
//   - A redirect is followed only for GET and HEAD: Go turns a 301/302/303
//     answer to a PUT into a GET of the new location, which would make a
//     write look successful. Any other method gets a *RedirectError.
//   - WithoutRedirects makes every redirect of a request an error, for
//     requests whose answer must come from the URL itself (a destination's
//     stat and writes).
//   - At most 10 redirects, as Go's default.

// maxRedirects is Go's default limit; the message matches what
// retryablehttp recognises as not worth a retry.
const maxRedirects = 10

// credentialHeaders are the request headers that carry credentials.
func credentialHeaders() [5]string {
	return [...]string{"Authorization", "Proxy-Authorization", "Cookie", "X-ApiKey", "X-NuGet-ApiKey"}
}

type scopeKey struct{}

type noRedirectKey struct{}

type hideLocationKey struct{}

// requestContext is ctx for a request shown as display: when that is not the
// request's own redacted URL (a URL built from a sensitive value, shown as
// "(sensitive)"), the locations it is redirected to are never shown either,
// since they may repeat the sensitive parts.
func requestContext(ctx context.Context, u *url.URL, display string) context.Context {
	if display != Redact(u) {
		return context.WithValue(ctx, hideLocationKey{}, true)
	}
	return ctx
}

// showLocation is how u, a redirect target, appears in logs and errors.
func showLocation(ctx context.Context, u *url.URL) string {
	if hide, _ := ctx.Value(hideLocationKey{}).(bool); hide {
		return "(hidden: the request URL is sensitive)"
	}
	return Redact(u)
}

// WithCredentialScope returns a context whose requests send their
// credentials only to URLs under scope: the same scheme, host and port, and
// a path equal to scope's or below it (a path segment boundary: /npm/
// covers /npm/x, never /npmx). A request made outside the scope is sent
// without credentials, and so is every redirect that leaves it. Without a
// scope, the credentials' scope is the exact origin of the request.
func WithCredentialScope(ctx context.Context, scope *url.URL) context.Context {
	if scope == nil {
		return ctx
	}
	s := *scope
	s.User, s.RawQuery, s.Fragment, s.RawPath = nil, "", "", ""
	return context.WithValue(ctx, scopeKey{}, &s)
}

// WithoutRedirects returns a context whose requests never follow a redirect:
// a 3xx answer (other than 304 Not Modified) is an *Error wrapping a
// *RedirectError that names the status and the (redacted) location.
func WithoutRedirects(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRedirectKey{}, true)
}

func noRedirects(ctx context.Context) bool {
	v, _ := ctx.Value(noRedirectKey{}).(bool)
	return v
}

// RedirectError reports a redirect httpx refused to follow.
type RedirectError struct {
	// StatusCode is the redirect's status (301, 302, 303, 307, 308...).
	StatusCode int
	// Location is the redirect target, resolved and redacted; "(none)" when
	// the answer named no location.
	Location string
	// Reason says why the redirect was not followed.
	Reason string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("refusing to follow a redirect (%s to %s): %s", statusText(e.StatusCode), e.Location, e.Reason)
}

// isRedirect reports whether code is a 3xx that points elsewhere (304 Not
// Modified answers a conditional request and is not a redirect).
func isRedirect(code int) bool {
	return code >= 300 && code <= 399 && code != http.StatusNotModified
}

// redirectLocation is resp's Location resolved against its request, redacted.
func redirectLocation(resp *http.Response) string {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "(none)"
	}
	base, ctx := &url.URL{}, context.Background()
	if resp.Request != nil && resp.Request.URL != nil {
		base, ctx = resp.Request.URL, resp.Request.Context()
	}
	u, err := base.Parse(loc)
	if err != nil {
		return "(invalid location)"
	}
	return showLocation(ctx, u)
}

// refuseRedirect turns a 3xx answer to a request that must not be
// redirected into an error, closing the body. It returns nil otherwise.
// Requests other than GET and HEAD, and requests marked WithoutRedirects,
// reach here with the 3xx itself: checkRedirect stops the client from
// following them, and a 307/308 to a streaming upload is never followed
// by net/http in the first place.
func refuseRedirect(req *http.Request, resp *http.Response) error {
	if !isRedirect(resp.StatusCode) {
		return nil
	}
	reason := ""
	switch {
	case noRedirects(req.Context()):
		reason = "this request must be answered by the URL itself"
	case req.Method != http.MethodGet && req.Method != http.MethodHead:
		reason = "redirects are followed only for GET and HEAD, never for a " + req.Method
	default:
		return nil
	}
	e := &RedirectError{StatusCode: resp.StatusCode, Location: redirectLocation(resp), Reason: reason}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return e
}

// checkRedirect is the http.Client's CheckRedirect: see the policy above.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0]
	ctx := first.Context()
	if noRedirects(ctx) || (first.Method != http.MethodGet && first.Method != http.MethodHead) {
		// Hand the 3xx back; Do and DoOnce turn it into a *RedirectError.
		return http.ErrUseLastResponse
	}
	scope := credentialScope(ctx, first.URL)
	// net/http copies the first request's headers into every hop, so check
	// the whole chain: once it has left the scope, it never regains the
	// credentials (the server outside could send it back anywhere).
	inScope := true
	for _, hop := range append(via[1:len(via):len(via)], req) {
		if !scope.covers(hop.URL) {
			inScope = false
			break
		}
	}
	if inScope {
		return nil
	}
	if dropCredentials(req.Header) {
		c.log.Debug("redirect leaves the credentials' scope; following it without credentials",
			"url", c.display(ctx), "status", req.Response.StatusCode, "location", showLocation(ctx, req.URL),
			"scope", scope.String())
	}
	return nil
}

// dropCredentials deletes the credential headers from h and reports whether
// there were any.
func dropCredentials(h http.Header) bool {
	had := false
	for _, k := range credentialHeaders() {
		if len(h.Values(k)) > 0 {
			had = true
			h.Del(k)
		}
	}
	return had
}

// scope is where a request's credentials may go.
type scope struct {
	scheme, host string // host with an explicit port
	path         string // "" or "/" for the whole origin
}

// credentialScope is the scope declared with WithCredentialScope, or the
// origin of u.
func credentialScope(ctx context.Context, u *url.URL) scope {
	if s, ok := ctx.Value(scopeKey{}).(*url.URL); ok {
		return scope{scheme: strings.ToLower(s.Scheme), host: hostPort(s), path: s.Path}
	}
	return scope{scheme: strings.ToLower(u.Scheme), host: hostPort(u)}
}

// hostPort is u's host, lower case, with the scheme's default port made
// explicit, so https://h and https://h:443 are one origin.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

func (s scope) covers(u *url.URL) bool {
	if strings.ToLower(u.Scheme) != s.scheme || hostPort(u) != s.host {
		return false
	}
	if s.path == "" || s.path == "/" {
		return true
	}
	// Compare cleaned paths: /npm/../secret is not under /npm/.
	p := path.Clean("/" + u.Path)
	base := strings.TrimSuffix(path.Clean("/"+s.path), "/")
	return p == base || strings.HasPrefix(p, base+"/")
}

func (s scope) String() string {
	return s.scheme + "://" + s.host + s.path
}

// scopeCredentials drops the credentials of a request made outside its
// declared scope (WithCredentialScope), before it is sent.
func (c *Client) scopeCredentials(req *http.Request, display string) {
	if _, ok := req.Context().Value(scopeKey{}).(*url.URL); !ok {
		return
	}
	s := credentialScope(req.Context(), req.URL)
	if !s.covers(req.URL) && dropCredentials(req.Header) {
		c.log.Debug("request outside the credentials' scope; sending it without credentials",
			"url", display, "scope", s.String())
	}
}
