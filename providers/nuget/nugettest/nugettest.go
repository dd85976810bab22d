// Package nugettest builds NuGet packages for tests and puts a labelled
// test double in front of a real feed: Feed adds to a Gitea feed's
// registrations what Gitea's lack and nuget.org's have (packageHash,
// packageHashAlgorithm, listed, deprecation), and can serve tampered
// package bytes.
package nugettest

import (
	"archive/zip"
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Package is a .nupkg of id and version holding payload as
// content/payload.bin: the files NuGet.exe needs (a .nuspec, _rels/.rels,
// [Content_Types].xml), with fixed timestamps, so equal inputs give equal
// bytes.
func Package(t testing.TB, id, version string, payload []byte) []byte {
	t.Helper()
	nuspec := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>%s</id>
    <version>%s</version>
    <authors>ferry-tests</authors>
    <description>A package ferry's tests build.</description>
    <dependencies><group targetFramework="netstandard2.0" /></dependencies>
  </metadata>
</package>`, id, version)
	files := []struct {
		name string
		data []byte
	}{
		{"_rels/.rels", []byte(`<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/` + id + `.nuspec" Id="R1" /></Relationships>`)},
		{id + ".nuspec", []byte(nuspec)},
		{"content/payload.bin", payload},
		{"[Content_Types].xml", []byte(`<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />` +
			`<Default Extension="nuspec" ContentType="application/octet" /><Default Extension="bin" ContentType="application/octet" /></Types>`)},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store, Modified: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Hash is the packageHash of b: its SHA-512, standard base64.
func Hash(b []byte) string {
	s := sha512.Sum512(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// Feed is a test double in front of a real NuGet v3 feed (Gitea's). It
// answers every GET with the upstream's answer, and:
//   - points every URL of the upstream in a JSON document at itself (at the
//     Host the request named, so a proxy in front of it keeps the
//     requests too);
//   - adds to every registration catalogEntry the packageHash (SHA-512 of
//     the bytes the upstream serves, standard base64),
//     packageHashAlgorithm "SHA512" and listed, as nuget.org's
//     registrations carry them (NuGet's registration-base-url-resource.md;
//     Gitea's carry none and Gitea cannot unlist);
//   - adds a deprecation, in that document's shape, to the versions
//     Deprecate names (Gitea has no deprecation);
//   - serves Tampered bytes instead of the upstream's for chosen packages,
//     while the registration still declares the upstream's hash.
//
// It is not a NuGet server: anything but GET and HEAD is refused.
type Feed struct {
	URL      string // http://127.0.0.1:PORT
	upstream string
	client   *http.Client

	mu         sync.Mutex
	unlisted   map[string]bool        // "lowerid/lowerversion"
	deprecated map[string]Deprecation // "lowerid/lowerversion"
	tampered   map[string][]byte      // "lowerid/lowerversion"
	catalog    []CatalogEvent         // nil: the feed declares no catalog
	requests   []string               // paths asked for, since ResetRequests
	// inLeaf puts packageHash in catalog leaves instead of registrations
	// (nuget.org's shape); leaves maps a leaf's path to its package's
	// content URL upstream.
	inLeaf bool
	leaves map[string]leafOf
}

// leafOf is what a replayed catalog leaf describes.
type leafOf struct {
	content string // the package's content URL upstream
	key     string // "lowerid/lowerversion"
}

// Deprecation is a version's deprecation as registration-base-url-resource.md
// documents it ("Package deprecation").
type Deprecation struct {
	Reasons        []string // "Legacy", "CriticalBugs", "Other"
	Message        string   // optional
	AlternateID    string   // optional: the package to use instead
	AlternateRange string   // its version range; "*" for any
}

// doc is the documented shape: {"reasons": [...], "message": "...",
// "alternatePackage": {"id": "...", "range": "..."}}.
func (d Deprecation) doc() map[string]any {
	m := map[string]any{"reasons": d.Reasons}
	if d.Message != "" {
		m["message"] = d.Message
	}
	if d.AlternateID != "" {
		m["alternatePackage"] = map[string]any{"id": d.AlternateID, "range": d.AlternateRange}
	}
	return m
}

// HashInCatalogLeaf makes the registrations declare no packageHash and
// point each catalogEntry's @id at a catalog leaf the feed serves, which
// declares it: nuget.org's shape (its registrations carry no hash; the
// catalog leaf does). Deprecations then appear in the leaves only, so a
// test sees the source read them there.
func (f *Feed) HashInCatalogLeaf() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inLeaf, f.leaves = true, map[string]leafOf{}
}

// CatalogEvent is one item of the replayed catalog.
type CatalogEvent struct {
	Type    string // "nuget:PackageDetails" or "nuget:PackageDelete"
	ID      string
	Version string
	Time    time.Time // its commitTimeStamp
}

// catalogPageSize is how many items one replayed catalog page holds
// (nuget.org's hold up to 550; small pages exercise paging).
const catalogPageSize = 2

// NewFeed starts a Feed in front of upstream (scheme://host:port) for the
// test's lifetime.
func NewFeed(t testing.TB, upstream string) *Feed {
	t.Helper()
	f := &Feed{upstream: strings.TrimSuffix(upstream, "/"), client: &http.Client{Timeout: time.Minute},
		unlisted: map[string]bool{}, deprecated: map[string]Deprecation{}, tampered: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Unlist makes the registration say id's version is unlisted.
func (f *Feed) Unlist(id, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlisted[strings.ToLower(id+"/"+version)] = true
}

// Deprecate makes the registration (or, with HashInCatalogLeaf, the
// catalog leaf) declare id's version deprecated.
func (f *Feed) Deprecate(id, version string, d Deprecation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deprecated[strings.ToLower(id+"/"+version)] = d
}

// Tamper makes the flat container serve b as id's version.
func (f *Feed) Tamper(id, version string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tampered[strings.ToLower(id+"/"+version)] = b
}

// AddCatalog appends an event to the catalog the feed replays, with a
// commitTimeStamp one second (and a fraction, in nuget.org's seven-digit
// form) after the previous one. The first call makes the service index
// declare Catalog/3.0.0: a replay of the catalog resource's documented
// shape (NuGet's catalog-resource.md), which Gitea does not have.
func (f *Feed) AddCatalog(typ, id, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(len(f.catalog)+1) * 1_000_123_400 * time.Nanosecond)
	f.catalog = append(f.catalog, CatalogEvent{Type: typ, ID: id, Version: version, Time: t})
}

// Requests counts the requests since ResetRequests whose path contains s.
func (f *Feed) Requests(s string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.requests {
		if strings.Contains(p, s) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the requests counted so far.
func (f *Feed) ResetRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// serveCatalog answers /catalog/index.json and /catalog/pageN.json.
func (f *Feed) serveCatalog(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	events := slices.Clone(f.catalog)
	f.mu.Unlock()
	base := "http://" + r.Host + "/catalog/"
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }
	var doc map[string]any
	if r.URL.Path == "/catalog/index.json" {
		var pages []any
		for i := 0; i < len(events); i += catalogPageSize {
			page := events[i:min(i+catalogPageSize, len(events))]
			pages = append(pages, map[string]any{"@id": fmt.Sprintf("%spage%d.json", base, i/catalogPageSize), "@type": "CatalogPage",
				"commitId": fmt.Sprintf("commit-%d", i+len(page)), "commitTimeStamp": ts(page[len(page)-1].Time), "count": len(page)})
		}
		doc = map[string]any{"@id": base + "index.json", "@type": []string{"CatalogRoot", "AppendOnlyCatalog", "Permalink"},
			"commitId": fmt.Sprintf("commit-%d", len(events)), "commitTimeStamp": ts(events[len(events)-1].Time), "count": len(pages), "items": pages}
	} else {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/catalog/page%d.json", &n); err != nil || n < 0 || n*catalogPageSize >= len(events) {
			http.NotFound(w, r)
			return
		}
		page := events[n*catalogPageSize : min((n+1)*catalogPageSize, len(events))]
		var items []any
		for i, e := range page {
			items = append(items, map[string]any{"@id": fmt.Sprintf("%sdata/%s/%s.%s.json", base, ts(e.Time), strings.ToLower(e.ID), strings.ToLower(e.Version)),
				"@type": e.Type, "commitId": fmt.Sprintf("commit-%d", n*catalogPageSize+i+1), "commitTimeStamp": ts(e.Time), "nuget:id": e.ID, "nuget:version": e.Version})
		}
		doc = map[string]any{"@id": r.URL.String(), "@type": "CatalogPage", "commitId": fmt.Sprintf("commit-%d", n*catalogPageSize+len(page)),
			"commitTimeStamp": ts(page[len(page)-1].Time), "count": len(page), "parent": base + "index.json", "items": items}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

func (f *Feed) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "nugettest.Feed is read-only", http.StatusMethodNotAllowed)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.Path)
	hasCatalog := len(f.catalog) > 0
	f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/catalog/") && hasCatalog {
		f.serveCatalog(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/catalogleaf/") {
		f.serveLeaf(w, r)
		return
	}
	if b, ok := f.tamperedFor(r.URL.Path); ok {
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b)
		return
	}
	body, status, ctype, err := f.fetch(r.URL.RequestURI())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if strings.Contains(ctype, "json") && status == http.StatusOK {
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			f.enrich(doc)
			if m, ok := doc.(map[string]any); ok && hasCatalog {
				if res, ok := m["resources"].([]any); ok {
					m["resources"] = append(res, map[string]any{"@id": "http://" + r.Host + "/catalog/index.json", "@type": "Catalog/3.0.0",
						"comment": "nugettest.Feed: a replay of the catalog resource's documented shape"})
				}
			}
			body, _ = json.Marshal(doc)
		}
		body = bytes.ReplaceAll(body, []byte(f.upstream), []byte("http://"+r.Host))
	}
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// tamperedFor is the tampered bytes a flat container path
// ".../LOWERID/LOWERVERSION/LOWERID.LOWERVERSION.nupkg" serves.
func (f *Feed) tamperedFor(p string) ([]byte, bool) {
	parts := strings.Split(p, "/")
	if len(parts) < 3 || !strings.HasSuffix(p, ".nupkg") {
		return nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.tampered[strings.ToLower(parts[len(parts)-3]+"/"+parts[len(parts)-2])]
	return b, ok
}

func (f *Feed) fetch(uri string) (body []byte, status int, ctype string, err error) {
	target := uri
	if !strings.HasPrefix(uri, "http") {
		target = f.upstream + uri
	}
	resp, err := f.client.Get(target)
	if err != nil {
		return nil, 0, "", err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return body, resp.StatusCode, resp.Header.Get("Content-Type"), err
}

// enrich adds packageHash, packageHashAlgorithm and listed to every
// catalogEntry in doc.
func (f *Feed) enrich(doc any) {
	switch v := doc.(type) {
	case map[string]any:
		if e, ok := v["catalogEntry"].(map[string]any); ok {
			f.enrichEntry(e)
		}
		for k, c := range v {
			if k != "catalogEntry" {
				f.enrich(c)
			}
		}
	case []any:
		for _, c := range v {
			f.enrich(c)
		}
	}
}

func (f *Feed) enrichEntry(e map[string]any) {
	id, _ := e["id"].(string)
	version, _ := e["version"].(string)
	content, _ := e["packageContent"].(string)
	key := strings.ToLower(id + "/" + version)
	f.mu.Lock()
	inLeaf := f.inLeaf
	if inLeaf && content != "" {
		leaf := "/catalogleaf/" + key + ".json"
		f.leaves[leaf] = leafOf{content: content, key: key}
		e["@id"] = f.upstream + leaf // the upstream's origin is rewritten to the feed's
	}
	f.mu.Unlock()
	if content != "" && !inLeaf {
		if b, status, _, err := f.fetch(content); err == nil && status == http.StatusOK {
			e["packageHash"] = Hash(b)
			e["packageHashAlgorithm"] = "SHA512"
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e["listed"] = !f.unlisted[key]
	if d, ok := f.deprecated[key]; ok && !inLeaf {
		e["deprecation"] = d.doc()
	}
}

// Push uploads a .nupkg to Gitea's NuGet feed whose service index is
// index (".../api/packages/OWNER/nuget/index.json") the way NuGet clients
// do (multipart PUT with X-NuGet-ApiKey), independently of ferry's code.
func Push(t testing.TB, index, apiKey string, nupkg []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, err := mw.CreateFormFile("package", "package.nupkg")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(nupkg)
	mw.Close()
	req, err := http.NewRequest(http.MethodPut, strings.TrimSuffix(index, "index.json"), &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-NuGet-ApiKey", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("pushing a package: %s: %s", resp.Status, msg)
	}
}

// GiteaIndex is the service index of owner's NuGet feed on the Gitea at
// base.
func GiteaIndex(base, owner string) string {
	return strings.TrimSuffix(base, "/") + "/api/packages/" + owner + "/nuget/index.json"
}

// CreateOrg creates an organization on the Gitea at base, owned by the
// token's user: a fresh, empty NuGet feed.
func CreateOrg(t testing.TB, base, token, name string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/api/v1/orgs", strings.NewReader(fmt.Sprintf(`{"username":%q,"visibility":"public"}`, name)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("creating organization %s: %s: %s", name, resp.Status, msg)
	}
}

// serveLeaf answers a catalog leaf (HashInCatalogLeaf): the package's
// packageHash, packageHashAlgorithm and packageSize, and its deprecation
// if Deprecate names it, as catalog-resource.md documents a
// nuget:PackageDetails leaf.
func (f *Feed) serveLeaf(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	leaf, ok := f.leaves[r.URL.Path]
	dep, deprecated := f.deprecated[leaf.key]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, status, _, err := f.fetch(leaf.content)
	if err != nil || status != http.StatusOK {
		http.Error(w, fmt.Sprintf("reading %s upstream: %v %d", leaf.content, err, status), http.StatusBadGateway)
		return
	}
	doc := map[string]any{"@id": "http://" + r.Host + r.URL.Path, "@type": []string{"PackageDetails", "catalog:Permalink"},
		"packageHash": Hash(b), "packageHashAlgorithm": "SHA512", "packageSize": len(b)}
	if deprecated {
		doc["deprecation"] = dep.doc()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

// Delete deletes id's version from Gitea's NuGet feed whose service index
// is index, as NuGet clients do (DELETE with X-NuGet-ApiKey).
func Delete(t testing.TB, index, apiKey, id, version string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, strings.TrimSuffix(index, "index.json")+id+"/"+version, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-NuGet-ApiKey", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("deleting %s %s: %s", id, version, resp.Status)
	}
}
