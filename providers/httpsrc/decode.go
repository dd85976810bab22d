package httpsrc

import (
	"errors"
	"fmt"
	"net/url"
	"path"
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
//	}
func SourceType() registry.Type {
	return registry.Source("http", decodeSource, NewSource)
}

func sourceSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "artifact", LabelNames: []string{"name"}},
	}}
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
	keys := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		a, ok, moreDiags := decodeArtifact(b, ectx)
		diags = append(diags, moreDiags...)
		if !ok {
			continue
		}
		if prev, dup := keys[a.Key]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate artifact key",
				Detail: fmt.Sprintf("The artifact key %q is already used in %s by the artifact declared at %s. "+
					"Keys must be unique within a source; give the artifacts different versions or set key explicitly.",
					a.Key, env.Address, prev),
				Subject: b.DefRange.Ptr(),
			})
			continue
		}
		keys[a.Key] = b.DefRange
		cfg.Artifacts = append(cfg.Artifacts, a)
	}
	return cfg, diags
}

// decodeArtifact decodes one artifact block; ok is false when it has errors.
func decodeArtifact(b *hcl.Block, ectx *hcl.EvalContext) (ArtifactConfig, bool, hcl.Diagnostics) {
	a := ArtifactConfig{Name: b.Labels[0], Size: -1}
	content, diags := b.Body.Content(artifactSchema())
	ok := !diags.HasErrors()
	fail := func(d *hcl.Diagnostic) {
		diags = append(diags, d)
		ok = false
	}
	decodeString := func(name string) (string, *hcl.Attribute) {
		attr := content.Attributes[name]
		if attr == nil {
			return "", nil
		}
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			ok = false
			return "", nil
		}
		return s, attr
	}

	if err := checkSegment(a.Name); err != nil {
		fail(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid artifact name",
			Detail:   fmt.Sprintf("The artifact name is the first segment of its key, so it %s.", err),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}

	var u *url.URL
	var urlAttr *hcl.Attribute
	urlSensitive := false
	if attr := content.Attributes["url"]; attr != nil {
		s, sensitive, moreDiags := schema.DecodeString(attr, ectx)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			ok = false
		} else if parsed, d := parseURL(s, sensitive, attr); d != nil {
			fail(d)
		} else {
			u, urlAttr, urlSensitive = parsed, attr, sensitive
			a.URL = s
			a.DisplayURL = httpx.Redact(parsed)
			if sensitive {
				a.DisplayURL = "(sensitive)"
			}
		}
	} else {
		ok = false // HCL reported the missing argument
	}

	sawDigest := false
	for _, alg := range []providers.Algorithm{providers.SHA256, providers.SHA512} {
		if content.Attributes[string(alg)] != nil {
			sawDigest = true
		}
		s, attr := decodeString(string(alg))
		if attr == nil {
			continue
		}
		// Lenient on case, strict on length and alphabet.
		d := providers.Digest{Algorithm: alg, Hex: strings.ToLower(s)}
		if err := d.Validate(); err != nil {
			fail(schema.AttrError(attr, fmt.Sprintf("Invalid %s digest", alg), fmt.Sprintf("The %s argument is not a valid digest: %s.", alg, err)))
			continue
		}
		a.Digests = a.Digests.With(d)
	}
	if !sawDigest {
		fail(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing artifact digest",
			Detail: fmt.Sprintf("The artifact %q declares neither sha256 nor sha512. ferry verifies every byte it "+
				"copies against a declared digest, so at least one is required.", a.Name),
			Subject: b.DefRange.Ptr(),
		})
	}

	version, versionAttr := decodeString("version")
	a.Version = version

	if attr := content.Attributes["size"]; attr != nil {
		n, moreDiags := schema.DecodeInt(attr, ectx)
		diags = append(diags, moreDiags...)
		switch {
		case moreDiags.HasErrors():
			ok = false
		case n < 0:
			fail(schema.AttrError(attr, "Invalid artifact size", fmt.Sprintf("The size is a number of bytes and must be 0 or more; got %d.", n)))
		default:
			a.Size = n
		}
	}

	if published, attr := decodeString("published"); attr != nil {
		t, err := time.Parse(time.RFC3339, published)
		if err != nil {
			fail(schema.AttrError(attr, "Invalid publish time", fmt.Sprintf("published is when the upstream released the artifact, as RFC 3339 (\"2024-05-01T00:00:00Z\"); %q is not.", published)))
		} else {
			a.Published = t.UTC()
		}
	}

	if key, attr := decodeString("key"); attr != nil {
		if err := checkKey(key); err != nil {
			fail(schema.AttrError(attr, "Invalid artifact key", fmt.Sprintf("The key is a relative slash-separated path, so it %s.", err)))
		}
		a.Key = key
	} else if content.Attributes["key"] == nil && u != nil {
		key, d := deriveKey(a.Name, version, versionAttr, u, urlAttr, urlSensitive)
		if d != nil {
			fail(d)
		}
		a.Key = key
	}
	return a, ok, diags
}

// parseURL checks the scheme and shape of an artifact URL. When the URL is
// sensitive, no part of it appears in the diagnostic.
func parseURL(s string, sensitive bool, attr *hcl.Attribute) (*url.URL, *hcl.Diagnostic) {
	bad := func(summary, detail string) *hcl.Diagnostic {
		return schema.AttrError(attr, summary, detail)
	}
	u, err := url.Parse(s)
	if err != nil {
		if sensitive {
			return nil, bad("Invalid URL", "The url is not a valid URL. It is sensitive, so it is not shown.")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad("Invalid URL", fmt.Sprintf("The url is not a valid URL: %s.", err))
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return nil, bad("Invalid URL", "An http or https URL needs a host, as in https://example.org/file.tar.gz.")
		}
	case "file":
		if u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, bad("Invalid URL", "A file URL must be absolute, with an empty host, as in file:///srv/files/jq; "+
				"relative file URLs are not supported.")
		}
	case "":
		return nil, bad("Unsupported URL scheme", "The url has no scheme. Supported schemes are http, https and file.")
	default:
		detail := fmt.Sprintf("The URL scheme %q is not supported. Supported schemes are http, https and file.", u.Scheme)
		if sensitive {
			detail = "The URL scheme is not supported. Supported schemes are http, https and file."
		}
		return nil, bad("Unsupported URL scheme", detail)
	}
	return u, nil
}

// deriveKey builds NAME/VERSION/BASENAME (NAME/BASENAME without a version)
// from the URL path. A sensitive URL is never used: the key appears in plans
// and state, and even the file name is part of the secret value.
func deriveKey(name, version string, versionAttr *hcl.Attribute, u *url.URL, urlAttr *hcl.Attribute, urlSensitive bool) (string, *hcl.Diagnostic) {
	keyRequired := func(detail string) *hcl.Diagnostic {
		return schema.AttrError(urlAttr, "Artifact key required", detail)
	}
	if urlSensitive {
		return "", keyRequired(fmt.Sprintf("The url of artifact %q is sensitive, so ferry does not derive the artifact "+
			"key from it: keys appear in plans and state. Set key explicitly.", name))
	}
	base := path.Base(u.Path)
	if u.Path == "" || strings.HasSuffix(u.Path, "/") || base == "/" || base == "." {
		return "", keyRequired(fmt.Sprintf("The URL path of artifact %q has no file name to derive the artifact key "+
			"from. Set key explicitly.", name))
	}
	if err := checkSegment(base); err != nil {
		return "", schema.AttrError(urlAttr, "Invalid artifact key", fmt.Sprintf("The file name of the URL is the last segment of the derived key, so it %s. "+
			"Set key explicitly.", err))
	}
	if version == "" {
		return name + "/" + base, nil
	}
	if err := checkSegment(version); err != nil {
		return "", schema.AttrError(versionAttr, "Invalid artifact key", fmt.Sprintf("The version is a segment of the derived key, so it %s. Set key explicitly "+
			"or use a version without slashes.", err))
	}
	return name + "/" + version + "/" + base, nil
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
