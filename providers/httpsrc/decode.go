package httpsrc

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// SourceType is the "http" source type for config.Load:
//
//	source "http" "tools" {
//	  artifact "jq" {                 # NAME; repeat it for more versions
//	    url     = "https://example.org/jq-1.7.1-linux-amd64"   # http, https or file:///
//	    sha256  = "…"                 # and/or sha512; at least one
//	    version = "1.7.1"             # optional
//	    key     = "tools/jq"          # optional; default NAME/VERSION/BASENAME
//	    size    = 1234                # optional
//	  }
//	  artifacts_file = "artifacts.jsonl"  # optional; more artifacts, .jsonl or .csv
//	}
func SourceType() registry.Type {
	return registry.Source("http", decodeSource, NewSource)
}

func sourceSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "artifacts_file"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "artifact", LabelNames: []string{"name"}},
		},
	}
}

func artifactSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true},
		{Name: string(providers.SHA256)},
		{Name: string(providers.SHA512)},
		{Name: "version"},
		{Name: "key"},
		{Name: "size"},
		{Name: "published"},
	}}
}

func decodeSource(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*SourceConfig, hcl.Diagnostics) {
	cfg := &SourceConfig{}
	content, diags := body.Content(sourceSchema())
	// One map for blocks and list rows: duplicate detection stays linear
	// however long the list is. It maps a key to where it was declared, by
	// index into wheres: a small value keeps the map of a long list compact.
	keys := map[string]int32{}
	var wheres []hcl.Range
	add := func(a ArtifactConfig, where hcl.Range) {
		if i, dup := keys[a.Key]; dup {
			prev := wheres[i]
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate artifact key",
				Detail: fmt.Sprintf("The artifact key %q is already used in %s by the artifact declared at %s. "+
					"Keys must be unique within a source; give the artifacts different versions or set key explicitly.",
					a.Key, env.Address, prev),
				Subject: where.Ptr(),
			})
			return
		}
		keys[a.Key] = int32(len(wheres))
		wheres = append(wheres, where)
		cfg.Artifacts = append(cfg.Artifacts, a)
	}
	for _, b := range content.Blocks {
		a, ok, moreDiags := decodeArtifact(b, ectx)
		diags = append(diags, moreDiags...)
		if ok {
			add(a, b.DefRange)
		}
	}
	// reserve makes room for up to n more artifacts at once: append grows
	// a large slice by a quarter, copying a long list many times.
	reserve := func(n int) {
		cfg.Artifacts = slices.Grow(cfg.Artifacts, n)
		wheres = slices.Grow(wheres, n)
		if len(keys) == 0 {
			keys = make(map[string]int32, n)
		}
	}
	if attr := content.Attributes["artifacts_file"]; attr != nil {
		diags = append(diags, decodeArtifactsFile(attr, ectx, env, reserve, add)...)
		if len(cfg.Artifacts) == 0 {
			cfg.Artifacts = nil // as without the reservation
		}
	}
	return cfg, diags
}

// field is one artifact argument as written, in a block or in a list file
// row, before validation.
type field struct {
	Value string
	// Set: the argument is present. Bad: present, but its value was
	// already reported (an HCL type error); validation skips it.
	Set, Bad bool
	// Sensitive: the value came from a sensitive variable (url only).
	Sensitive bool
	// Range is what a diagnostic about the value points at.
	Range hcl.Range
}

// rawArtifact is an artifact as declared, by a block or by a row of an
// artifacts_file: validateArtifact checks both the same way.
type rawArtifact struct {
	Name                                         field
	URL, SHA256, SHA512, Version, Key, Published field
	// Size is the decimal number of bytes.
	Size field
	// Where is the block header or the row, for diagnostics about the
	// artifact as a whole (a missing argument).
	Where hcl.Range
}

// decodeArtifact decodes one artifact block; ok is false when it has errors.
func decodeArtifact(b *hcl.Block, ectx *hcl.EvalContext) (ArtifactConfig, bool, hcl.Diagnostics) {
	content, diags := b.Body.Content(artifactSchema())
	ok := !diags.HasErrors()
	r := rawArtifact{
		Name:  field{Value: b.Labels[0], Set: true, Range: b.LabelRanges[0]},
		Where: b.DefRange,
	}
	str := func(name string) field {
		attr := content.Attributes[name]
		if attr == nil {
			return field{}
		}
		f := field{Set: true, Range: attr.Expr.Range()}
		var moreDiags hcl.Diagnostics
		if name == "url" {
			f.Value, f.Sensitive, moreDiags = schema.DecodeString(attr, ectx)
		} else {
			f.Value, moreDiags = schema.DecodePlainString(attr, ectx)
		}
		diags = append(diags, moreDiags...)
		f.Bad = moreDiags.HasErrors()
		return f
	}
	r.URL = str("url")
	if !r.URL.Set {
		r.URL.Bad = true // HCL reported the missing argument
	}
	r.SHA256, r.SHA512 = str(string(providers.SHA256)), str(string(providers.SHA512))
	r.Version, r.Key, r.Published = str("version"), str("key"), str("published")
	if attr := content.Attributes["size"]; attr != nil {
		n, moreDiags := schema.DecodeInt(attr, ectx)
		diags = append(diags, moreDiags...)
		r.Size = field{Value: strconv.FormatInt(n, 10), Set: true, Bad: moreDiags.HasErrors(), Range: attr.Expr.Range()}
	}
	a, valid, moreDiags := validateArtifact(r)
	return a, ok && valid && !diags.HasErrors(), append(diags, moreDiags...)
}

// validateArtifact checks an artifact however it was declared and builds
// its config; ok is false when it has errors (or a field was Bad).
func validateArtifact(r rawArtifact) (ArtifactConfig, bool, hcl.Diagnostics) {
	a := ArtifactConfig{Name: r.Name.Value, Size: -1}
	var diags hcl.Diagnostics
	ok := !r.Name.Bad && !r.URL.Bad && !r.SHA256.Bad && !r.SHA512.Bad && !r.Version.Bad && !r.Key.Bad && !r.Published.Bad && !r.Size.Bad
	fail := func(d *hcl.Diagnostic) {
		diags = append(diags, d)
		ok = false
	}
	missing := func(what, detail string) {
		fail(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing artifact " + what, Detail: detail, Subject: r.Where.Ptr()})
	}

	switch {
	case !r.Name.Set:
		missing("name", "Every artifact needs a name: it groups the versions of one package for retention.")
	case r.Name.Bad:
	default:
		if err := checkSegment(a.Name); err != nil {
			fail(fieldError(r.Name, "Invalid artifact name", fmt.Sprintf("The artifact name is the first segment of its key, so it %s.", err)))
		}
	}

	urlOK, urlPath := false, ""
	switch {
	case !r.URL.Set && !r.URL.Bad:
		missing("url", fmt.Sprintf("The artifact %q has no url: ferry needs to know where to fetch it from.", a.Name))
	case r.URL.Bad:
	default:
		if p, display, d := parseURL(r.URL); d != nil {
			fail(d)
		} else {
			urlOK, urlPath = true, p
			a.URL = r.URL.Value
			a.DisplayURL = display
			if a.DisplayURL == a.URL {
				a.DisplayURL = a.URL // one copy, not two
			}
			if r.URL.Sensitive {
				a.DisplayURL = "(sensitive)"
			}
		}
	}

	var digests [2]providers.Digest
	nd := 0
	for _, d := range [...]struct {
		alg providers.Algorithm
		f   field
	}{{providers.SHA256, r.SHA256}, {providers.SHA512, r.SHA512}} {
		alg, f := d.alg, d.f
		if !f.Set || f.Bad {
			continue
		}
		// Lenient on case, strict on length and alphabet. A digest valid
		// as written is already lowercase: lower only the others.
		d := providers.Digest{Algorithm: alg, Hex: f.Value}
		err := d.Validate()
		if err != nil {
			d.Hex = strings.ToLower(f.Value)
			err = d.Validate()
		}
		if err != nil {
			fail(fieldError(f, fmt.Sprintf("Invalid %s digest", alg), fmt.Sprintf("The %s argument is not a valid digest: %s.", alg, err)))
			continue
		}
		digests[nd] = d
		nd++
	}
	a.Digests = providers.NewDigests(digests[:nd]...)
	if !r.SHA256.Set && !r.SHA512.Set {
		missing("digest", fmt.Sprintf("The artifact %q declares neither sha256 nor sha512. ferry verifies every byte it "+
			"copies against a declared digest, so at least one is required.", a.Name))
	}

	if !r.Version.Bad {
		a.Version = r.Version.Value
	}

	if r.Size.Set && !r.Size.Bad {
		n, err := strconv.ParseInt(r.Size.Value, 10, 64)
		switch {
		case err != nil:
			fail(fieldError(r.Size, "Invalid artifact size", fmt.Sprintf("The size is a whole number of bytes; %q is not.", r.Size.Value)))
		case n < 0:
			fail(fieldError(r.Size, "Invalid artifact size", fmt.Sprintf("The size is a number of bytes and must be 0 or more; got %d.", n)))
		default:
			a.Size = n
		}
	}

	if r.Published.Set && !r.Published.Bad {
		t, err := time.Parse(time.RFC3339, r.Published.Value)
		if err != nil {
			fail(fieldError(r.Published, "Invalid publish time", fmt.Sprintf("published is when the upstream released the artifact, as RFC 3339 (\"2024-05-01T00:00:00Z\"); %q is not.", r.Published.Value)))
		} else {
			a.Published = t.UTC()
		}
	}

	switch {
	case r.Key.Set && !r.Key.Bad:
		if err := checkKey(r.Key.Value); err != nil {
			fail(fieldError(r.Key, "Invalid artifact key", fmt.Sprintf("The key is a relative slash-separated path, so it %s.", err)))
		}
		a.Key = r.Key.Value
	case !r.Key.Set && urlOK && !r.Version.Bad:
		key, d := deriveKey(a.Name, r.Version, urlPath, r.URL)
		if d != nil {
			fail(d)
		}
		a.Key = key
	}
	return a, ok, diags
}

// fieldError is the error diagnostic about f's value.
func fieldError(f field, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: f.Range.Ptr()}
}

// parseURL checks the scheme and shape of an artifact URL and returns its
// path and its display form (httpx.Redact of it). When the URL is
// sensitive, no part of it appears in the diagnostic.
func parseURL(f field) (path, display string, d *hcl.Diagnostic) {
	s, sensitive := f.Value, f.Sensitive
	if p, ok := plainURL(s); ok {
		return p, s, nil
	}
	bad := func(summary, detail string) (string, string, *hcl.Diagnostic) {
		return "", "", fieldError(f, summary, detail)
	}
	u, err := url.Parse(s)
	if err != nil {
		if sensitive {
			return bad("Invalid URL", "The url is not a valid URL. It is sensitive, so it is not shown.")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad("Invalid URL", fmt.Sprintf("The url is not a valid URL: %s.", err))
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return bad("Invalid URL", "An http or https URL needs a host, as in https://example.org/file.tar.gz.")
		}
	case "file":
		if u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
			return bad("Invalid URL", "A file URL must be absolute, with an empty host, as in file:///srv/files/jq; "+
				"relative file URLs are not supported.")
		}
	case "":
		return bad("Unsupported URL scheme", "The url has no scheme. Supported schemes are http, https and file.")
	default:
		detail := fmt.Sprintf("The URL scheme %q is not supported. Supported schemes are http, https and file.", u.Scheme)
		if sensitive {
			detail = "The URL scheme is not supported. Supported schemes are http, https and file."
		}
		return bad("Unsupported URL scheme", detail)
	}
	return u.Path, httpx.Redact(u), nil
}

// plainURL is the fast path of parseURL for the URL a generator writes:
// "http://" or "https://", a host of ASCII letters, digits, dots and
// hyphens with an optional numeric port, then nothing or a path of
// unreserved characters and slashes; no user info, query, fragment or
// escapes. url.Parse accepts every such URL, its Path is the path as
// written and its String (so httpx.Redact) is s itself: parseURL would
// return exactly what plainURL does, without allocating a url.URL and its
// string (FuzzPlainURL checks this). Any other URL is left to url.Parse.
func plainURL(s string) (path string, ok bool) {
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "http://"); !ok {
			return "", false
		}
	}
	i := 0
	for i < len(rest) && urlByte[rest[i]] == urlHostByte {
		i++
	}
	if i == 0 {
		return "", false
	}
	if i < len(rest) && rest[i] == ':' {
		port := i + 1
		for i = port; i < len(rest) && '0' <= rest[i] && rest[i] <= '9'; i++ {
		}
		if i == port {
			return "", false
		}
	}
	path = rest[i:]
	if path != "" && path[0] != '/' {
		return "", false
	}
	for j := 0; j < len(path); j++ {
		if urlByte[path[j]] == 0 {
			return "", false
		}
	}
	return path, true
}

// urlByte classes the bytes plainURL accepts: urlHostByte in a host or a
// path, urlPathByte in a path only; 0 for any other byte.
var urlByte = func() (t [256]uint8) {
	const (
		host = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
		path = "_~/"
	)
	for i := 0; i < len(host); i++ {
		t[host[i]] = urlHostByte
	}
	for i := 0; i < len(path); i++ {
		t[path[i]] = urlPathByte
	}
	return t
}()

const (
	urlHostByte = 1 + iota
	urlPathByte
)

// deriveKey builds NAME/VERSION/BASENAME (NAME/BASENAME without a version)
// from the URL path. A sensitive URL is never used: the key appears in plans
// and state, and even the file name is part of the secret value.
func deriveKey(name string, version field, urlPath string, urlField field) (string, *hcl.Diagnostic) {
	keyRequired := func(detail string) *hcl.Diagnostic {
		return fieldError(urlField, "Artifact key required", detail)
	}
	if urlField.Sensitive {
		return "", keyRequired(fmt.Sprintf("The url of artifact %q is sensitive, so ferry does not derive the artifact "+
			"key from it: keys appear in plans and state. Set key explicitly.", name))
	}
	base := path.Base(urlPath)
	if urlPath == "" || strings.HasSuffix(urlPath, "/") || base == "/" || base == "." {
		return "", keyRequired(fmt.Sprintf("The URL path of artifact %q has no file name to derive the artifact key "+
			"from. Set key explicitly.", name))
	}
	if err := checkSegment(base); err != nil {
		return "", fieldError(urlField, "Invalid artifact key", fmt.Sprintf("The file name of the URL is the last segment of the derived key, so it %s. "+
			"Set key explicitly.", err))
	}
	if version.Value == "" {
		return name + "/" + base, nil
	}
	if err := checkSegment(version.Value); err != nil {
		return "", fieldError(version, "Invalid artifact key", fmt.Sprintf("The version is a segment of the derived key, so it %s. Set key explicitly "+
			"or use a version without slashes.", err))
	}
	return name + "/" + version.Value + "/" + base, nil
}

// checkKey reports why key is not a clean relative slash path. The error
// completes the sentence "… so it %s".
func checkKey(key string) error {
	if key == "" {
		return errors.New("must not be empty")
	}
	if strings.HasPrefix(key, "/") {
		return errors.New("must not start with \"/\"")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(seg); err != nil {
			return err
		}
	}
	return nil
}

// checkSegment reports why s is not usable as one segment of a key.
func checkSegment(s string) error {
	if plainSegment(s) {
		return nil
	}
	switch {
	case s == "":
		return errors.New("must not contain empty segments (\"//\" or a trailing \"/\")")
	case s == "." || s == "..":
		return errors.New("must not contain \".\" or \"..\" segments")
	case strings.Contains(s, "/"):
		return errors.New("must not contain \"/\"")
	case strings.Contains(s, "\\"):
		return errors.New("must not contain backslashes")
	case !utf8.ValidString(s):
		return errors.New("must be valid UTF-8")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("must not contain control characters")
	}
	return nil
}

// plainSegment is the fast path of checkSegment in one pass: a segment of
// printable ASCII other than "/" and "\\", and not "." or "..", passes every
// check (unicode.IsControl holds for no printable ASCII character).
func plainSegment(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}
