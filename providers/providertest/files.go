package providertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// ServeFiles serves files (by URL path) on 127.0.0.1 to requests with the
// basic-auth user and password, answering 401 to any other and 404 for a
// path it does not hold; it stops when the test ends. Sources configured
// with credentials run the conformance suite against it.
func ServeFiles(t testing.TB, user, password string, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}
