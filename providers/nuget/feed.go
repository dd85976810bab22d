package nuget

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// maxDocument bounds one JSON document read from a feed (a service
// index, a versions list, a registration page, a search page).
const maxDocument = 64 << 20

// Resource types of the service index, newest first where several
// versions serve one purpose (protocols: NuGet's service-index.md).
var (
	typesPackageBase  = []string{"PackageBaseAddress/3.0.0"}
	typesRegistration = []string{"RegistrationsBaseUrl/3.6.0", "RegistrationsBaseUrl/3.4.0", "RegistrationsBaseUrl/3.0.0-rc", "RegistrationsBaseUrl/3.0.0-beta", "RegistrationsBaseUrl"}
	typesSearch       = []string{"SearchQueryService/3.5.0", "SearchQueryService/3.0.0-rc", "SearchQueryService/3.0.0-beta", "SearchQueryService"}
	typesPublish      = []string{"PackagePublish/2.0.0"}
	typesCatalog      = []string{"Catalog/3.0.0"}
)

// Feed is where a NuGet v3 feed is and how to read it.
type Feed struct {
	// ServiceIndex is the feed's service index URL
	// ("https://api.nuget.org/v3/index.json"); every other URL comes from it.
	ServiceIndex string
	// Username and Password are basic auth for reading (a private feed);
	// empty: anonymous. They never leave this package except in an
	// Authorization header to the service index's origin.
	Username, Password string
}

// resources are the base URLs a service index declares, by purpose.
type resources struct {
	packageBase  string // flat container, ends with "/"
	registration string // ends with "/"
	search       string // "" when the feed has none
	publish      string // "" when the feed has none
	catalog      string // the catalog index; "" when the feed has none
}

// feedClient reads a feed: its service index once, then documents below
// the resources it declares.
type feedClient struct {
	feed   Feed
	origin *url.URL // the service index's scheme and host: credentials go nowhere else
	http   *httpx.Client
	// maxSize bounds a downloaded .nupkg: max_artifact_size, else
	// DefaultMaxPackage.
	maxSize int64

	mu  sync.Mutex
	res *resources // nil until read
}

func newFeedClient(feed Feed, env registry.Env) (*feedClient, error) {
	u, err := url.Parse(feed.ServiceIndex)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("service index %q is not an http(s) URL", httpx.RedactString(feed.ServiceIndex))
	}
	maxSize := env.MaxArtifactSize
	if maxSize <= 0 {
		maxSize = DefaultMaxPackage
	}
	return &feedClient{feed: feed, origin: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}, http: env.Client(), maxSize: maxSize}, nil
}

// sameOrigin reports whether u is on the service index's scheme, host and
// port: only there do credentials go.
func (f *feedClient) sameOrigin(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && strings.EqualFold(u.Scheme, f.origin.Scheme) && strings.EqualFold(u.Host, f.origin.Host)
}

// header is the read credentials for rawURL, when it is on the feed's origin.
func (f *feedClient) header(rawURL string) http.Header {
	h := http.Header{}
	if f.feed.Username != "" && f.sameOrigin(rawURL) {
		req := http.Request{Header: h}
		req.SetBasicAuth(f.feed.Username, f.feed.Password)
	}
	return h
}

// get streams rawURL; a non-2xx answer is an error (404 wraps
// providers.ErrNotFound).
func (f *feedClient) get(ctx context.Context, rawURL string) (io.ReadCloser, *http.Response, error) {
	return f.http.GetStream(httpx.WithCredentialScope(ctx, f.origin), rawURL, f.header(rawURL))
}

// getJSON decodes the JSON document at rawURL into v.
func (f *feedClient) getJSON(ctx context.Context, rawURL string, v any) error {
	body, _, err := f.get(ctx, rawURL)
	if err != nil {
		return err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxDocument+1))
	if err != nil {
		return err
	}
	if len(data) > maxDocument {
		return fmt.Errorf("%s: the document is larger than %d bytes", httpx.RedactString(rawURL), maxDocument)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: not a NuGet document: %w", httpx.RedactString(rawURL), err)
	}
	return nil
}

// resources reads the service index.
func (f *feedClient) resources(ctx context.Context) (resources, error) {
	var res resources
	var index struct {
		Version   string `json:"version"`
		Resources []struct {
			ID   string `json:"@id"`
			Type any    `json:"@type"` // a string, or (some servers) a list of strings
		} `json:"resources"`
	}
	if err := f.getJSON(ctx, f.feed.ServiceIndex, &index); err != nil {
		return res, fmt.Errorf("reading the service index: %w", err)
	}
	if !strings.HasPrefix(index.Version, "3.") {
		return res, fmt.Errorf("the service index %s declares version %q: ferry reads NuGet v3 feeds (a v2 feed has no index.json)", httpx.RedactString(f.feed.ServiceIndex), index.Version)
	}
	byType := map[string]string{}
	for _, r := range index.Resources {
		var types []string
		switch t := r.Type.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, e := range t {
				if s, ok := e.(string); ok {
					types = append(types, s)
				}
			}
		}
		u, err := url.Parse(r.ID)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		for _, t := range types {
			if _, dup := byType[t]; !dup {
				byType[t] = r.ID
			}
		}
	}
	pick := func(types []string) string {
		for _, t := range types {
			if u := byType[t]; u != "" {
				return u
			}
		}
		return ""
	}
	dir := func(u string) string {
		if u != "" && !strings.HasSuffix(u, "/") {
			u += "/"
		}
		return u
	}
	res = resources{
		packageBase:  dir(pick(typesPackageBase)),
		registration: dir(pick(typesRegistration)),
		search:       pick(typesSearch),
		publish:      strings.TrimSuffix(pick(typesPublish), "/"),
		catalog:      pick(typesCatalog),
	}
	if res.packageBase == "" {
		return res, fmt.Errorf("the service index %s declares no PackageBaseAddress/3.0.0 (flat container), which every NuGet v3 feed has", httpx.RedactString(f.feed.ServiceIndex))
	}
	return res, nil
}

// index is the service index's resources, read once; a failed read is
// not kept (a cancelled plan must not poison the client).
func (f *feedClient) index(ctx context.Context) (resources, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.res != nil {
		return *f.res, nil
	}
	res, err := f.resources(ctx)
	if err != nil {
		return resources{}, err
	}
	f.res = &res
	return res, nil
}

// versions is the flat container's version list of lowerID (every
// version, listed or not, lower-cased and normalized); nil with an error
// wrapping providers.ErrNotFound when the feed has no such package.
func (f *feedClient) versions(ctx context.Context, lowerID string) ([]string, error) {
	res, err := f.index(ctx)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Versions []string `json:"versions"`
	}
	if err := f.getJSON(ctx, res.packageBase+url.PathEscape(lowerID)+"/index.json", &doc); err != nil {
		return nil, err
	}
	return doc.Versions, nil
}

// nupkgURL is the flat container URL of lowerID's lowerVersion.
func (r resources) nupkgURL(lowerID, lowerVersion string) string {
	id, v := url.PathEscape(lowerID), url.PathEscape(lowerVersion)
	return r.packageBase + id + "/" + v + "/" + id + "." + v + ".nupkg"
}

// head is the Content-Length of rawURL from a HEAD request; -1 when the
// server does not tell or refuses HEAD. 404 wraps providers.ErrNotFound.
func (f *feedClient) head(ctx context.Context, rawURL string) (int64, error) {
	req, err := http.NewRequestWithContext(httpx.WithCredentialScope(ctx, f.origin), http.MethodHead, rawURL, nil)
	if err != nil {
		return -1, fmt.Errorf("HEAD %s: invalid URL", httpx.RedactString(rawURL))
	}
	for k, v := range f.header(rawURL) {
		req.Header[k] = v
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := f.http.Do(req)
	if err != nil {
		return -1, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return resp.ContentLength, nil
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusGone,
		resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return -1, httpx.CheckResponse(resp)
	}
	return -1, nil
}
