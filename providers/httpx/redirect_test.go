package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// recorder is a server that records the credential headers of every request
// it receives and answers 200 "ok".
type recorder struct {
	mu    sync.Mutex
	seen  []string // "METHOD PATH: Authorization=...; Cookie=...", one per request
	creds int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := req.Method + " " + req.URL.Path
	for _, h := range credentialHeaders() {
		if v := req.Header.Get(h); v != "" {
			line += " " + h + "=" + v
			r.creds++
		}
	}
	r.seen = append(r.seen, line)
	_, _ = io.WriteString(w, "ok")
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func (r *recorder) credentials() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.creds
}

// redirector redirects every request to target+path (status 302).
func redirector(target func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target()+r.URL.Path, http.StatusFound)
	})
}

// Two servers on 127.0.0.1 on two ports: the credentials sent to the first
// never reach the second when the first redirects there, however they were
// given (user info in the URL, an Authorization header, a cookie), through
// Do and GetStream; the redirect is still followed, without them.
func TestCredentialsNeverFollowARedirectToAnotherOrigin(t *testing.T) {
	other := &recorder{}
	b := httptest.NewServer(other)
	defer b.Close()
	a := httptest.NewServer(redirector(func() string { return b.URL }))
	defer a.Close()
	if !strings.HasPrefix(a.URL, "http://127.0.0.1:") || !strings.HasPrefix(b.URL, "http://127.0.0.1:") {
		t.Fatalf("servers are not both on 127.0.0.1: %s %s", a.URL, b.URL)
	}
	userInfo := strings.Replace(a.URL, "http://", "http://alice:s3cret@", 1)

	tests := []struct {
		name   string
		url    string
		header http.Header
		stream bool
	}{
		{name: "user info in the URL", url: userInfo + "/f"},
		{name: "user info in the URL, streamed", url: userInfo + "/f", stream: true},
		{name: "bearer token", url: a.URL + "/f", header: http.Header{"Authorization": {"Bearer t0ken"}}},
		{name: "bearer token, streamed", url: a.URL + "/f", header: http.Header{"Authorization": {"Bearer t0ken"}}, stream: true},
		{name: "cookie and proxy authorization", url: a.URL + "/f", header: http.Header{"Cookie": {"session=abc"}, "Proxy-Authorization": {"Basic eDp5"}}},
		{name: "ProGet and NuGet API keys", url: a.URL + "/f", header: http.Header{"X-Apikey": {"k3y"}, "X-Nuget-Apikey": {"n3t"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, log := newTestClient(t, 1)
			before := len(other.requests())
			var body io.ReadCloser
			if tt.stream {
				rc, _, err := c.GetStream(t.Context(), tt.url, tt.header)
				if err != nil {
					t.Fatal(err)
				}
				body = rc
			} else {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tt.url, nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range tt.header {
					req.Header[k] = v
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body = resp.Body
			}
			got, err := io.ReadAll(body)
			body.Close()
			if err != nil || string(got) != "ok" {
				t.Fatalf("body = %q, %v; want the redirect followed", got, err)
			}
			seen := other.requests()
			if len(seen) != before+1 {
				t.Fatalf("the other origin saw %d requests, want 1", len(seen)-before)
			}
			if other.credentials() != 0 {
				t.Fatalf("the other origin received credentials: %q", seen[before:])
			}
			for _, secret := range []string{"s3cret", "t0ken", "abc", "eDp5"} {
				if strings.Contains(log.String(), secret) {
					t.Errorf("the log shows the secret %q:\n%s", secret, log.String())
				}
			}
		})
	}
}

// The same rule for the scheme: a redirect from https to http on the same
// host and port number never carries the credentials.
func TestCredentialsNeverFollowAnHTTPSDowngrade(t *testing.T) {
	plain := &recorder{}
	b := httptest.NewServer(plain)
	defer b.Close()
	a := httptest.NewTLSServer(redirector(func() string { return b.URL }))
	defer a.Close()
	c := New(Options{MaxRetries: 1, Transport: a.Client().Transport})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL+"/f", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(plain.requests()) != 1 || plain.credentials() != 0 {
		t.Fatalf("the http server saw %q; want one request without credentials", plain.requests())
	}
}

// Once a chain has left the origin, it does not get the credentials back
// when the other server sends it home (to any path it likes).
func TestCredentialsAreNotRestoredWhenARedirectComesBack(t *testing.T) {
	home := &recorder{}
	var a, b *httptest.Server
	a = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, b.URL+"/bounce", http.StatusFound)
			return
		}
		home.ServeHTTP(w, r)
	}))
	defer a.Close()
	b = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, a.URL+"/steal", http.StatusFound)
	}))
	defer b.Close()
	c, _ := newTestClient(t, 1)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL+"/start", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := home.requests(); len(got) != 1 || home.credentials() != 0 {
		t.Fatalf("home saw %q; want /steal once, without credentials", got)
	}
}

// A redirect within the origin keeps the credentials (a registry moving a
// path), unless a narrower scope was declared with WithCredentialScope: then
// only URLs under the scope's path get them, on the first request as on
// every redirect.
func TestCredentialScope(t *testing.T) {
	srv := &recorder{}
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, to, ok := strings.Cut(r.URL.Path, "/redirect"); ok {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer a.Close()
	scope, _ := url.Parse(a.URL + "/npm/")
	tests := []struct {
		name      string
		scoped    bool
		path      string
		wantCreds bool
	}{
		{name: "origin: same-origin redirect keeps them", path: "/redirect/other/f", wantCreds: true},
		{name: "scope: redirect within the scope", scoped: true, path: "/npm/redirect/npm/f", wantCreds: true},
		{name: "scope: redirect out of the scope", scoped: true, path: "/npm/redirect/other/f", wantCreds: false},
		{name: "scope: redirect to a sibling prefix", scoped: true, path: "/npm/redirect/npmx/f", wantCreds: false},
		{name: "scope: request under the scope", scoped: true, path: "/npm/f", wantCreds: true},
		{name: "scope: request outside the scope", scoped: true, path: "/other/f", wantCreds: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, 1)
			ctx := t.Context()
			if tt.scoped {
				ctx = WithCredentialScope(ctx, scope)
			}
			before := srv.credentials()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+tt.path, nil)
			req.Header.Set("Authorization", "Bearer t0ken")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := srv.credentials() > before; got != tt.wantCreds {
				t.Errorf("credentials received = %v, want %v (requests %q)", got, tt.wantCreds, srv.requests())
			}
		})
	}
}

// With WithoutRedirects, and for every method but GET and HEAD, a redirect
// is an error naming the status and the redacted location; the target is
// never contacted (net/http would turn a 302 to a PUT into a GET of the
// target and report its 200).
func TestRedirectsRefused(t *testing.T) {
	target := &recorder{}
	b := httptest.NewServer(target)
	defer b.Close()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			http.Redirect(w, r, strings.Replace(b.URL, "http://", "http://u:pw@", 1)+"/x?token=secret", status)
		}))
		tests := []struct {
			name     string
			method   string
			noRedir  bool
			body     string
			doOnce   bool
			wantText string
		}{
			{name: "GET without redirects", method: http.MethodGet, noRedir: true, wantText: "must be answered by the URL itself"},
			{name: "HEAD without redirects", method: http.MethodHead, noRedir: true, wantText: "must be answered by the URL itself"},
			{name: "PUT", method: http.MethodPut, body: "data", wantText: "never for a PUT"},
			{name: "PUT streamed", method: http.MethodPut, body: "data", doOnce: true, wantText: "never for a PUT"},
			{name: "DELETE", method: http.MethodDelete, wantText: "never for a DELETE"},
		}
		for _, tt := range tests {
			t.Run(http.StatusText(status)+"/"+tt.name, func(t *testing.T) {
				c, _ := newTestClient(t, 1)
				ctx := t.Context()
				if tt.noRedir {
					ctx = WithoutRedirects(ctx)
				}
				var body io.Reader
				if tt.body != "" {
					body = strings.NewReader(tt.body)
				}
				req, _ := http.NewRequestWithContext(ctx, tt.method, a.URL+"/k", body)
				req.Header.Set("Authorization", "Bearer t0ken")
				var resp *http.Response
				var err error
				if tt.doOnce {
					req.Body, req.GetBody, req.ContentLength = io.NopCloser(strings.NewReader(tt.body)), nil, -1
					resp, err = c.DoOnce(req)
				} else {
					resp, err = c.Do(req)
				}
				if err == nil {
					resp.Body.Close()
					t.Fatalf("%s answered %d: the redirect was followed or accepted", tt.method, resp.StatusCode)
				}
				var re *RedirectError
				if !errors.As(err, &re) || re.StatusCode != status {
					t.Fatalf("error = %v, want a *RedirectError with status %d", err, status)
				}
				msg := err.Error()
				wantLoc := "http://xxxxx@" + strings.TrimPrefix(b.URL, "http://") + "/x?token=xxxxx"
				if !strings.Contains(msg, wantLoc) || !strings.Contains(msg, tt.wantText) {
					t.Errorf("error = %q, want it to name %s and say %q", msg, wantLoc, tt.wantText)
				}
				if strings.Contains(msg, "secret") || strings.Contains(msg, "pw@") {
					t.Errorf("error shows a secret: %s", msg)
				}
			})
		}
		a.Close()
	}
	if got := target.requests(); len(got) != 0 {
		t.Errorf("the redirect target was contacted: %q", got)
	}
}

func TestScopeCovers(t *testing.T) {
	base, _ := url.Parse("https://Reg.example:443/npm/")
	s := credentialScope(WithCredentialScope(context.Background(), base), nil)
	tests := []struct {
		url  string
		want bool
	}{
		{"https://reg.example/npm/x", true},
		{"https://reg.example:443/npm", true},
		{"https://reg.example/npm/a/b.tgz", true},
		{"https://reg.example/npmx/a", false},
		{"https://reg.example/npm/../other", false},
		{"https://reg.example/other", false},
		{"http://reg.example/npm/x", false},
		{"https://reg.example:8443/npm/x", false},
		{"https://evil.example/npm/x", false},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.covers(u); got != tt.want {
			t.Errorf("covers(%s) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

// A request shown under a display URL ("(sensitive)": its URL is built from
// a secret) never has its redirect target shown either, in errors or logs:
// the target may repeat the secret.
func TestRedirectOfSensitiveURLHidesTheLocation(t *testing.T) {
	target := &recorder{}
	b := httptest.NewServer(target)
	defer b.Close()
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b.URL+r.URL.Path, http.StatusFound)
	}))
	defer a.Close()
	for _, method := range []string{http.MethodPut, http.MethodGet} {
		c, log := newTestClient(t, 1)
		ctx := WithDisplayURL(t.Context(), "(sensitive)")
		req, _ := http.NewRequestWithContext(ctx, method, a.URL+"/tok-s3cret/k", nil)
		req.Header.Set("Authorization", "Bearer t0ken")
		resp, err := c.Do(req)
		if method == http.MethodGet {
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		} else if err == nil || !strings.Contains(err.Error(), "(hidden: the request URL is sensitive)") {
			t.Errorf("%s error = %v; want the location hidden", method, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s error shows the secret: %v", method, err)
		}
		if strings.Contains(log.String(), "s3cret") || strings.Contains(log.String(), "t0ken") {
			t.Errorf("%s log shows a secret:\n%s", method, log.String())
		}
	}
}
