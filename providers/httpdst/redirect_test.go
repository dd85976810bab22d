package httpdst_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpdst"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// elsewhere records every request that reaches it and answers each as a
// store holding nothing would accept it (201 to a write, 200 otherwise).
type elsewhere struct {
	mu   sync.Mutex
	seen []string
}

func (e *elsewhere) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	e.mu.Lock()
	e.seen = append(e.seen, r.Method+" "+r.URL.Path+" Authorization="+r.Header.Get("Authorization"))
	e.mu.Unlock()
	if r.Method == http.MethodPut {
		w.WriteHeader(http.StatusCreated)
	}
}

func (e *elsewhere) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

// redirecting is a store that answers the methods in redirect with status
// and a Location on target (same host name, another port); HEAD of a
// missing key is 404, and a HEAD of "present" is 200 without checksums (so
// a stat reads the object back with GET).
func redirecting(target string, status int, redirect ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for _, m := range redirect {
			if r.Method == m {
				http.Redirect(w, r, target+r.URL.Path+"?token=leak", status)
				return
			}
		}
		switch {
		case r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/present"):
			w.Header().Set("Content-Length", "7")
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodPut:
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = io.WriteString(w, "payload")
		}
	})
}

// Every request of the http destination is a write or a stat: a 3xx to any
// of them (PUT, HEAD, DELETE, the GET that reads an object back) is an error
// naming the redirect, never a success measured at another URL, and the
// redirect target never hears from ferry (nor gets its token).
func TestRedirectsAreErrors(t *testing.T) {
	body := []byte("payload")
	sum := sha256.Sum256(body)
	a := providers.Artifact{Key: "x/missing", Size: int64(len(body)), Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])})}
	put := func(opts providers.PutOptions) func(context.Context, *httpdst.Store) error {
		return func(ctx context.Context, s *httpdst.Store) error {
			return s.Put(ctx, a, strings.NewReader(string(body)), opts)
		}
	}
	tests := []struct {
		name     string
		redirect []string
		op       func(context.Context, *httpdst.Store) error
	}{
		{name: "PUT", redirect: []string{http.MethodPut}, op: put(providers.PutOptions{})},
		{name: "PUT overwrite", redirect: []string{http.MethodPut}, op: put(providers.PutOptions{Overwrite: true})},
		{name: "HEAD before PUT", redirect: []string{http.MethodHead}, op: put(providers.PutOptions{})},
		{name: "HEAD of stat", redirect: []string{http.MethodHead}, op: func(ctx context.Context, s *httpdst.Store) error {
			_, err := s.Stat(ctx, "x/present")
			return err
		}},
		{name: "GET of stat", redirect: []string{http.MethodGet}, op: func(ctx context.Context, s *httpdst.Store) error {
			_, err := s.Stat(ctx, "x/present")
			return err
		}},
		{name: "DELETE", redirect: []string{http.MethodDelete}, op: func(ctx context.Context, s *httpdst.Store) error {
			return s.Delete(ctx, "x/present")
		}},
	}
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		for _, tt := range tests {
			t.Run(http.StatusText(status)+"/"+tt.name, func(t *testing.T) {
				other := &elsewhere{}
				b := httptest.NewServer(other)
				defer b.Close()
				srv := httptest.NewServer(redirecting(b.URL, status, tt.redirect...))
				defer srv.Close()
				s, err := httpdst.NewDestination("http.test", &httpdst.DestinationConfig{URL: srv.URL + "/repo", Token: "t0ken"},
					registry.Env{HTTP: httpx.New(httpx.Options{MaxRetries: 1}), Logger: hclog.NewNullLogger()})
				if err != nil {
					t.Fatal(err)
				}

				err = tt.op(t.Context(), s)
				var re *httpx.RedirectError
				if !errors.As(err, &re) || re.StatusCode != status {
					t.Fatalf("error = %v; want a refused %d redirect", err, status)
				}
				if errors.Is(err, providers.ErrNotFound) {
					t.Errorf("a redirect reads as not found: %v", err)
				}
				msg := err.Error()
				if !strings.Contains(msg, b.URL+"/repo/x/") || !strings.Contains(msg, "token=xxxxx") || strings.Contains(msg, "leak") {
					t.Errorf("error = %q; want it to name the redacted location on %s", msg, b.URL)
				}
				if strings.Contains(msg, "t0ken") {
					t.Errorf("error shows the token: %s", msg)
				}
				if got := other.requests(); len(got) != 0 {
					t.Errorf("the redirect target received %q", got)
				}
			})
		}
	}
}
