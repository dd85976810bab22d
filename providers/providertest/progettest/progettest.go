// Package progettest is a ProGet test server WRITTEN FROM INEDO'S API
// DOCUMENTATION, not a real ProGet: no open-source server implements these
// APIs. It serves, on 127.0.0.1, the parts ferry uses:
//
//   - the Common Packages API for universal (upack) feeds
//     (docs.inedo.com, "Packages" pages: List Packages, List Package
//     Versions, Download Package, Upload Package, Delete Package;
//     inedo-docs Content/proget/api/packages/*.md), with the
//     PackageVersionInfo fields of pgutil's PackageVersionInfo.cs;
//   - the Asset Directories API (Content/proget/api/assets/**: Download,
//     Upload with PUT/POST/PATCH, Multipart Asset File Upload, Delete Asset
//     File, List Asset Folders with recursive=true, Get Asset Metadata),
//     with pgutil's AssetDirectoryItem.cs fields;
//   - API keys in the X-ApiKey header, the "key" query parameter or basic
//     auth as user "api" (Content/proget/api/apikeys/#.md): the packages
//     API answers 403 to a missing, unknown or unauthorized key, the asset
//     API 401 (as each page says) and 403 to a read-only key that writes;
//   - the free edition's delete quota ("limited to 10 deletes per hour when
//     using the API", Content/proget/administration/license.md): deletes
//     beyond Options.DeletesPerHour in the last hour get 429 with a
//     Retry-After.
//
// Where the documentation is silent the server picks the strict reading
// and says so: a PUT of an asset that exists is 409, an upload whose
// upack.json is missing or invalid is 400.
package progettest

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Options configure a Server.
type Options struct {
	// APIKey is the key with every permission. Empty: anonymous requests
	// may do anything.
	APIKey string
	// ReadKey may only view and download (a feed key without
	// Add/Repackage or Overwrite/Delete).
	ReadKey string
	// DeletesPerHour caps API deletes (package and asset) in any sliding
	// hour, like ProGet's free edition (10); 0: unlimited.
	DeletesPerHour int
	// Now is the clock the quota reads; nil: time.Now.
	Now func() time.Time
}

// Server is a running test server. Its methods seed and inspect it; they
// are safe for concurrent use with the requests it serves.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL  string
	opts Options
	srv  *httptest.Server

	mu       sync.Mutex
	feeds    map[string]map[string]*pkg // feed → lower-case group/name/version → package
	dirs     map[string]map[string]*asset
	folders  map[string]map[string]bool // explicitly created folders
	parts    map[string]*multipart
	deletes  []time.Time
	requests []string // "METHOD path", in order
	fail     []failure
}

type pkg struct {
	group, name, version string
	body                 []byte
	published            time.Time
	// hashes overrides what the API reports (a server that lies), by
	// algorithm; "" removes the field.
	hashes map[string]string
}

type asset struct {
	body              []byte
	contentType       string
	created, modified time.Time
	hashes            map[string]string
}

type multipart struct {
	path, dir  string
	totalSize  int64
	totalParts int
	parts      map[int][]byte
	offsets    map[int]int64
}

type failure struct {
	prefix string
	status int
	left   int
}

// Start serves a new, empty server until t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:    opts,
		feeds:   map[string]map[string]*pkg{},
		dirs:    map[string]map[string]*asset{},
		folders: map[string]map[string]bool{},
		parts:   map[string]*multipart{},
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	return s
}

// Close stops the server before the test ends (an upstream gone).
func (s *Server) Close() { s.srv.Close() }

// FailNext makes the next n requests whose path starts with prefix answer
// status (with a Retry-After of one second for 429).
func (s *Server) FailNext(prefix string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{prefix: prefix, status: status, left: n})
}

// Requests returns "METHOD path" of every request served so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Deletes returns how many deletes the server executed.
func (s *Server) Deletes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.deletes)
}

func pkgID(group, name, version string) string {
	return strings.ToLower(group + "\x00" + name + "\x00" + version)
}

// AddPackage stores a .upack in feed as an upload would (it must hold a
// valid upack.json).
func (s *Server) AddPackage(t testing.TB, feed string, upack []byte) {
	t.Helper()
	m, err := readManifest(upack)
	if err != nil {
		t.Fatalf("progettest: AddPackage: %v", err)
	}
	s.AddRaw(feed, m.Group, m.Name, m.Version, upack)
}

// AddRaw stores body in feed as group/name/version without looking inside
// it: a feed whose listing disagrees with the package's own upack.json.
func (s *Server) AddRaw(feed, group, name, version string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storePackage(feed, &pkg{group: group, name: name, version: version, body: body, published: s.opts.Now()})
}

func (s *Server) storePackage(feed string, p *pkg) {
	f := s.feeds[strings.ToLower(feed)]
	if f == nil {
		f = map[string]*pkg{}
		s.feeds[strings.ToLower(feed)] = f
	}
	f[pkgID(p.group, p.name, p.version)] = p
}

// SetPackageHash makes the API report hex as the package's alg ("sha1",
// "sha256") hash; "" leaves the field out.
func (s *Server) SetPackageHash(feed, group, name, version, alg, hex string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.feeds[strings.ToLower(feed)][pkgID(group, name, version)]
	if p.hashes == nil {
		p.hashes = map[string]string{}
	}
	p.hashes[alg] = hex
}

// Packages returns "group/name/version" ("name/version" in the empty
// group) of every package in feed, sorted.
func (s *Server) Packages(feed string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.feeds[strings.ToLower(feed)] {
		out = append(out, strings.TrimPrefix(p.group+"/"+p.name+"/"+p.version, "/"))
	}
	slices.Sort(out)
	return out
}

// Package returns the bytes of a stored package.
func (s *Server) Package(feed, group, name, version string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.feeds[strings.ToLower(feed)][pkgID(group, name, version)]
	if !ok {
		return nil, false
	}
	return p.body, true
}

// PutAsset stores content at path in asset directory dir.
func (s *Server) PutAsset(dir, path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeAsset(dir, path, content, "application/octet-stream")
}

func (s *Server) storeAsset(dir, path string, content []byte, contentType string) {
	d := s.dirs[strings.ToLower(dir)]
	if d == nil {
		d = map[string]*asset{}
		s.dirs[strings.ToLower(dir)] = d
	}
	now := s.opts.Now().UTC()
	a := d[path]
	if a == nil {
		a = &asset{created: now}
		d[path] = a
	}
	a.body, a.contentType, a.modified, a.hashes = content, contentType, now, nil
}

// SetAssetHash makes the API report hex as the asset's alg hash.
func (s *Server) SetAssetHash(dir, path, alg, hex string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.dirs[strings.ToLower(dir)][path]
	if a.hashes == nil {
		a.hashes = map[string]string{}
	}
	a.hashes[alg] = hex
}

// Assets returns the paths of every file in asset directory dir, sorted.
func (s *Server) Assets(dir string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for p := range s.dirs[strings.ToLower(dir)] {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// DeleteAsset removes a file from asset directory dir (not counted
// against the delete quota: it stands for a change upstream).
func (s *Server) DeleteAsset(dir, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dirs[strings.ToLower(dir)], path)
}

// Asset returns the content of a stored asset.
func (s *Server) Asset(dir, path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.dirs[strings.ToLower(dir)][path]
	if !ok {
		return nil, false
	}
	return a.body, true
}

// Manifest is a package's upack.json (the fields the server reads).
type Manifest struct {
	Group   string `json:"group,omitempty"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// BuildPackage returns a .upack (a zip with upack.json at its root and
// files under package/) for m.
func BuildPackage(t testing.TB, m Manifest, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	doc, _ := json.Marshal(m)
	w, err := zw.Create("upack.json")
	if err == nil {
		_, err = w.Write(doc)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err != nil {
			break
		}
		// Store, not deflate: sizes stay predictable for the tests.
		w, err = zw.CreateHeader(&zip.FileHeader{Name: "package/" + n, Method: zip.Store})
		if err == nil {
			_, err = w.Write(files[n])
		}
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatalf("progettest: building a package: %v", err)
	}
	return buf.Bytes()
}

var (
	groupRE = regexp.MustCompile(`^[0-9A-Za-z._/-]{0,250}$`)
	nameRE  = regexp.MustCompile(`^[0-9A-Za-z._-]{1,50}$`)
)

// readManifest reads and checks upack.json as ProGet's upload does
// (Content/proget/feeds/universal/universal-packages.md, "Manifest").
func readManifest(upack []byte) (Manifest, error) {
	zr, err := zip.NewReader(bytes.NewReader(upack), int64(len(upack)))
	if err != nil {
		return Manifest{}, fmt.Errorf("end of Central Directory record could not be found (the body is not a zip): %w", err)
	}
	for _, f := range zr.File {
		if f.Name != "upack.json" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return Manifest{}, err
		}
		defer rc.Close()
		var m Manifest
		if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&m); err != nil {
			return Manifest{}, fmt.Errorf("upack.json: %w", err)
		}
		switch {
		case !groupRE.MatchString(m.Group) || strings.HasPrefix(m.Group, "/") || strings.HasSuffix(m.Group, "/"):
			return Manifest{}, fmt.Errorf("upack.json: invalid group %q", m.Group)
		case !nameRE.MatchString(m.Name):
			return Manifest{}, fmt.Errorf("upack.json: invalid name %q", m.Name)
		}
		if _, err := semver.StrictNewVersion(m.Version); err != nil {
			return Manifest{}, fmt.Errorf("upack.json: invalid version %q: %v", m.Version, err)
		}
		return m, nil
	}
	return Manifest{}, fmt.Errorf("the package has no upack.json")
}

func hashes(b []byte) map[string]string {
	m5, s1, s256, s512 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b), sha512.Sum512(b)
	return map[string]string{
		"md5": hex.EncodeToString(m5[:]), "sha1": hex.EncodeToString(s1[:]),
		"sha256": hex.EncodeToString(s256[:]), "sha512": hex.EncodeToString(s512[:]),
	}
}

// withHashes sets v's hash fields from b, then the overrides.
func withHashes(v map[string]any, b []byte, overrides map[string]string) {
	for alg, h := range hashes(b) {
		v[alg] = h
	}
	for alg, h := range overrides {
		if h == "" {
			delete(v, alg)
		} else {
			v[alg] = h
		}
	}
}

type access int

const (
	denied access = iota
	readOnly
	full
)

func (s *Server) access(r *http.Request) access {
	if s.opts.APIKey == "" {
		return full
	}
	key := r.Header.Get("X-ApiKey")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	if u, p, ok := r.BasicAuth(); ok && key == "" && u == "api" {
		key = p
	}
	switch {
	case key == s.opts.APIKey:
		return full
	case key != "" && key == s.opts.ReadKey:
		return readOnly
	}
	return denied
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	for i := range s.fail {
		f := &s.fail[i]
		if f.left > 0 && strings.HasPrefix(r.URL.Path, f.prefix) {
			f.left--
			s.mu.Unlock()
			if f.status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			http.Error(w, http.StatusText(f.status), f.status)
			return
		}
	}
	s.mu.Unlock()

	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	acc := s.access(r)
	rest, isPackages := strings.CutPrefix(r.URL.Path, "/api/packages/")
	if isPackages {
		if acc == denied || (write && acc != full) {
			http.Error(w, "The specified API key does not have the proper permissions to perform this action.", http.StatusForbidden)
			return
		}
		feed, op, _ := strings.Cut(rest, "/")
		s.packages(w, r, feed, op)
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/endpoints/"); ok {
		switch {
		case acc == denied:
			http.Error(w, "A valid API key is required.", http.StatusUnauthorized)
			return
		case write && acc != full:
			http.Error(w, "The specified API key does not have the proper permissions to perform this action.", http.StatusForbidden)
			return
		}
		dir, rest, _ := strings.Cut(rest, "/")
		op, path, _ := strings.Cut(rest, "/")
		s.assets(w, r, dir, op, path)
		return
	}
	http.NotFound(w, r)
}

// allowDelete records a delete against the quota, or answers 429.
func (s *Server) allowDelete(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if n := s.opts.DeletesPerHour; n > 0 {
		var recent []time.Time
		for _, d := range s.deletes {
			if now.Sub(d) < time.Hour {
				recent = append(recent, d)
			}
		}
		if len(recent) >= n {
			wait := time.Hour - now.Sub(recent[0])
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			http.Error(w, fmt.Sprintf("This edition of ProGet is limited to %d deletes per hour when using the API.", n), http.StatusTooManyRequests)
			return false
		}
	}
	s.deletes = append(s.deletes, now)
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) versionInfo(feed string, p *pkg) map[string]any {
	v := map[string]any{
		"purl":      "pkg:universal/" + strings.TrimPrefix(p.group+"/"+p.name, "/") + "@" + p.version,
		"name":      p.name,
		"version":   p.version,
		"published": p.published.UTC().Format(time.RFC3339Nano),
		"size":      len(p.body),
		"listed":    true,
		"downloads": 0,
	}
	if p.group != "" {
		v["group"] = p.group
	}
	withHashes(v, p.body, p.hashes)
	return v
}

// packages serves /api/packages/FEED/OP.
func (s *Server) packages(w http.ResponseWriter, r *http.Request, feed, op string) {
	q := r.URL.Query()
	group, name, version := q.Get("group"), q.Get("name"), q.Get("version")
	match := func(p *pkg) bool {
		return (!q.Has("group") || strings.EqualFold(p.group, group)) &&
			(name == "" || strings.EqualFold(p.name, name)) &&
			(version == "" || strings.EqualFold(p.version, version))
	}
	s.mu.Lock()
	f := s.feeds[strings.ToLower(feed)]
	var found []*pkg
	for _, p := range f {
		if match(p) {
			found = append(found, p)
		}
	}
	slices.SortFunc(found, func(a, b *pkg) int {
		return strings.Compare(pkgID(a.group, a.name, a.version), pkgID(b.group, b.name, b.version))
	})
	s.mu.Unlock()

	switch {
	case op == "latest" && r.Method == http.MethodGet:
		latest := map[string]*pkg{}
		var order []string
		for _, p := range found {
			id := strings.ToLower(p.group + "\x00" + p.name)
			cur, ok := latest[id]
			if !ok {
				order = append(order, id)
			}
			if !ok || semverLess(cur.version, p.version) {
				latest[id] = p
			}
		}
		out := []map[string]any{}
		for _, id := range order {
			out = append(out, s.versionInfo(feed, latest[id]))
		}
		writeJSON(w, out)
	case op == "versions" && r.Method == http.MethodGet:
		if name == "" {
			http.Error(w, "name is required", http.StatusBadRequest)
			return
		}
		if len(found) == 0 {
			writeJSON(w, map[string]any{}) // the docs: "an empty object is returned"
			return
		}
		out := []map[string]any{}
		for _, p := range found {
			out = append(out, s.versionInfo(feed, p))
		}
		writeJSON(w, out)
	case op == "download" && r.Method == http.MethodGet:
		if name == "" || version == "" {
			http.Error(w, "name and version are required", http.StatusBadRequest)
			return
		}
		if len(found) == 0 {
			http.NotFound(w, r)
			return
		}
		if len(found) > 1 {
			http.Error(w, "The package identifier matches more than one package.", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Length", strconv.Itoa(len(found[0].body)))
		http.ServeContent(w, r, "", found[0].published, bytes.NewReader(found[0].body))
	case op == "upload" && r.Method == http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m, err := readManifest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.storePackage(feed, &pkg{group: m.Group, name: m.Name, version: m.Version, body: body, published: s.opts.Now()})
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case op == "delete" && r.Method == http.MethodPost:
		if name == "" || version == "" {
			http.Error(w, "name and version are required", http.StatusBadRequest)
			return
		}
		if len(found) != 1 {
			http.NotFound(w, r)
			return
		}
		if !s.allowDelete(w) {
			return
		}
		s.mu.Lock()
		delete(f, pkgID(found[0].group, found[0].name, found[0].version))
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "unknown endpoint", http.StatusNotFound)
	}
}

func semverLess(a, b string) bool {
	va, errA := semver.StrictNewVersion(a)
	vb, errB := semver.StrictNewVersion(b)
	if errA != nil || errB != nil {
		return a < b
	}
	return va.LessThan(vb)
}

func (s *Server) itemJSON(dir, path string, a *asset) map[string]any {
	parent, name := "", path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		parent, name = path[:i], path[i+1:]
	}
	v := map[string]any{"name": name}
	if parent != "" {
		v["parent"] = parent
	}
	if a == nil {
		v["type"] = "dir"
		return v
	}
	v["type"] = a.contentType
	v["size"] = len(a.body)
	v["content"] = s.URL + "/endpoints/" + dir + "/content/" + path
	v["created"] = a.created.Format(time.RFC3339Nano)
	v["modified"] = a.modified.Format(time.RFC3339Nano)
	withHashes(v, a.body, a.hashes)
	return v
}

// assets serves /endpoints/DIR/OP/PATH.
func (s *Server) assets(w http.ResponseWriter, r *http.Request, dir, op, path string) {
	path = strings.Trim(path, "/")
	q := r.URL.Query()
	switch {
	case op == "dir" && r.Method == http.MethodGet:
		recursive := q.Get("recursive") == "true"
		s.mu.Lock()
		files := s.dirs[strings.ToLower(dir)]
		folders := map[string]bool{}
		for p := range s.folders[strings.ToLower(dir)] {
			folders[p] = true
		}
		for p := range files {
			for i := strings.Index(p, "/"); i >= 0; i = next(p, i) {
				folders[p[:i]] = true
			}
		}
		// inside reports whether p is listed: below path, and directly in
		// it unless recursive.
		inside := func(p string) bool {
			rel := p
			if path != "" {
				var ok bool
				if rel, ok = strings.CutPrefix(p, path+"/"); !ok {
					return false
				}
			}
			return recursive || !strings.Contains(rel, "/")
		}
		var names []string
		for p := range folders {
			if inside(p) {
				names = append(names, p+"/")
			}
		}
		for p := range files {
			if inside(p) {
				names = append(names, p)
			}
		}
		slices.Sort(names)
		out := []map[string]any{}
		for _, p := range names {
			if f, ok := strings.CutSuffix(p, "/"); ok {
				out = append(out, s.itemJSON(dir, f, nil))
			} else {
				out = append(out, s.itemJSON(dir, p, files[p]))
			}
		}
		s.mu.Unlock()
		writeJSON(w, out) // a folder that does not exist: an empty array
	case op == "dir" && r.Method == http.MethodPost:
		s.mu.Lock()
		if s.folders[strings.ToLower(dir)] == nil {
			s.folders[strings.ToLower(dir)] = map[string]bool{}
		}
		s.folders[strings.ToLower(dir)][path] = true
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	case op == "metadata" && r.Method == http.MethodGet:
		s.mu.Lock()
		a := s.dirs[strings.ToLower(dir)][path]
		var v map[string]any
		if a != nil {
			v = s.itemJSON(dir, path, a)
		}
		s.mu.Unlock()
		if v == nil {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, v)
	case op == "content" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.mu.Lock()
		a := s.dirs[strings.ToLower(dir)][path]
		s.mu.Unlock()
		if a == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("ETag", `"`+hashes(a.body)["sha1"]+`"`)
		http.ServeContent(w, r, "", a.modified, bytes.NewReader(a.body))
	case op == "content" && r.Method == http.MethodPost && q.Get("multipart") != "":
		s.multipart(w, r, dir, path)
	case op == "content" && (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch):
		if path == "" {
			http.Error(w, "a file path is required", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		_, exists := s.dirs[strings.ToLower(dir)][path]
		switch {
		case r.Method == http.MethodPut && exists:
			http.Error(w, "The file already exists.", http.StatusConflict)
			return
		case r.Method == http.MethodPatch && !exists:
			http.NotFound(w, r)
			return
		}
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.storeAsset(dir, path, body, ct)
		w.WriteHeader(http.StatusCreated)
	case op == "content" && r.Method == http.MethodDelete:
		s.mu.Lock()
		_, exists := s.dirs[strings.ToLower(dir)][path]
		s.mu.Unlock()
		if exists && !s.allowDelete(w) {
			return
		}
		s.mu.Lock()
		delete(s.dirs[strings.ToLower(dir)], path)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK) // deleting a missing file is not an error
	default:
		http.Error(w, "unknown endpoint", http.StatusNotFound)
	}
}

// multipart serves the Multipart Asset File Upload: parts are kept aside
// and the file appears only on complete, when every part is there and
// their sizes add up to totalSize.
func (s *Server) multipart(w http.ResponseWriter, r *http.Request, dir, path string) {
	q := r.URL.Query()
	id := q.Get("id")
	if id == "" {
		http.Error(w, "id is required", http.StatusBadRequest)
		return
	}
	key := strings.ToLower(dir) + "\x00" + path + "\x00" + id
	switch q.Get("multipart") {
	case "upload":
		var nums [5]int64
		for i, name := range []string{"index", "offset", "totalSize", "partSize", "totalParts"} {
			n, err := strconv.ParseInt(q.Get(name), 10, 64)
			if err != nil || n < 0 {
				http.Error(w, name+" is required", http.StatusBadRequest)
				return
			}
			nums[i] = n
		}
		index, offset, totalSize, partSize, totalParts := int(nums[0]), nums[1], nums[2], nums[3], int(nums[4])
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if int64(len(body)) != partSize || index >= totalParts {
			http.Error(w, "the part does not match partSize or totalParts", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.parts[key]
		if m == nil {
			m = &multipart{path: path, dir: dir, totalSize: totalSize, totalParts: totalParts, parts: map[int][]byte{}, offsets: map[int]int64{}}
			s.parts[key] = m
		}
		if m.totalSize != totalSize || m.totalParts != totalParts {
			http.Error(w, "totalSize or totalParts changed between parts", http.StatusBadRequest)
			return
		}
		m.parts[index], m.offsets[index] = body, offset
		w.WriteHeader(http.StatusOK)
	case "complete":
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.parts[key]
		if m == nil {
			http.Error(w, "no such upload", http.StatusBadRequest)
			return
		}
		var buf bytes.Buffer
		for i := range m.totalParts {
			p, ok := m.parts[i]
			if !ok || m.offsets[i] != int64(buf.Len()) {
				http.Error(w, fmt.Sprintf("part %d is missing or out of place", i), http.StatusBadRequest)
				return
			}
			buf.Write(p)
		}
		if int64(buf.Len()) != m.totalSize {
			http.Error(w, "the parts do not add up to totalSize", http.StatusBadRequest)
			return
		}
		delete(s.parts, key)
		s.storeAsset(dir, path, buf.Bytes(), "application/octet-stream")
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "multipart is upload or complete", http.StatusBadRequest)
	}
}

// PendingUploads is how many multipart uploads were started and not
// completed.
func (s *Server) PendingUploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.parts)
}

// next is the index of the "/" after the one at i in p, or -1.
func next(p string, i int) int {
	j := strings.Index(p[i+1:], "/")
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
