package npm

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// Registry is where a registry is and how to authenticate to it.
type Registry struct {
	// URL is the registry's base URL ("https://registry.npmjs.org/").
	URL string
	// Token is a bearer token. It never leaves this package except in an
	// Authorization header to URLs under URL.
	Token string
	// NPMRC looks the token up in the user's .npmrc ($NPM_CONFIG_USERCONFIG
	// or ~/.npmrc, "//host/path/:_authToken=…") when Token is empty. The
	// decoder turns it on unless a token is set.
	NPMRC bool
	// Changes is the registry's changes feed (sources only); nil when none.
	Changes *ChangesFeed
}

// SourceConfig is the decoded source "npm" block.
type SourceConfig struct {
	Registry
	// Packages are exact names ("lodash", "@types/node") and scope patterns
	// ("@types/*"), from packages and packages_file, deduplicated, in order.
	Packages []string
	// Versions selects versions of every package.
	Versions VersionFilter
	// Scopes route a scope's packages to another registry, by scope ("@corp").
	Scopes map[string]Registry
	// MaxMissing is how many selected packages may be missing upstream (404)
	// in one listing; more fails the listing, since a burst of 404s is more
	// likely an outage than a wave of unpublishes.
	MaxMissing int
	// Dependencies, when set, also selects the dependencies of selected
	// versions.
	Dependencies *DependencyClosure
}

// VersionFilter selects versions: those satisfying Semver (all when
// empty), of which the newest Latest (all when 0), plus the versions the
// DistTags point at.
type VersionFilter struct {
	Semver   string
	Latest   int
	DistTags []string
}

// DependencyClosure follows dependencies (and optionalDependencies) of
// selected versions: for each, the newest version satisfying the range.
type DependencyClosure struct {
	// Depth is how many levels to follow (1: direct dependencies only).
	Depth int
	// MaxPackages bounds how many packages the closure may add; the listing
	// fails beyond it rather than mirror half a tree.
	MaxPackages int
}

// DestinationConfig is the decoded destination "npm" block.
type DestinationConfig struct {
	Registry
}

// SourceType is the "npm" source type for config.Load:
//
//	source "npm" "public" {
//	  registry      = "https://registry.npmjs.org"
//	  token         = var.npm_token        # optional; else from ~/.npmrc (npmrc = true)
//	  packages      = ["lodash", "@types/*"]
//	  packages_file = "packages.txt"       # one name or @scope/* per line, # comments
//	  versions {
//	    semver    = ">= 4"                 # npm-style range
//	    latest    = 3                      # newest 3 of those
//	    dist_tags = ["latest", "next"]     # plus what these tags point at
//	  }
//	  scope "@corp" {                      # @corp/* comes from another registry
//	    registry = "https://npm.corp.example"
//	    token    = var.corp_token
//	  }
//	  max_missing = 0                      # selected packages allowed to 404
//	  dependencies {
//	    depth        = 1
//	    max_packages = 200
//	  }
//	  changes {                            # the registry's changes feed (scope blocks too)
//	    url    = "https://replicate.npmjs.com/registry/_changes"
//	    format = "npm"                     # or "cnpmcore"
//	  }
//	}
func SourceType() provreg.Type {
	t := provreg.Source("npm", decodeSource, NewSource)
	t.VersionOrder = CompareVersions
	t.Provides = schema.Manifest | schema.DistTags | schema.Feed
	return t
}

// DestinationType is the "npm" destination type:
//
//	destination "npm" "internal" {
//	  registry = "https://npm.internal"
//	  token    = var.publish_token
//	}
func DestinationType() provreg.Type {
	t := provreg.Destination("npm", decodeDestination, NewDestination)
	// A registry publishes a version only with its package document.
	t.Needs = schema.Manifest
	t.Provides = schema.PackageMetadata
	return t
}

func registryAttributes() []hcl.AttributeSchema {
	return []hcl.AttributeSchema{{Name: "registry", Required: true}, {Name: "token"}, {Name: "npmrc"}}
}

func decodeRegistry(content *hcl.BodyContent, ectx *hcl.EvalContext) (Registry, hcl.Diagnostics) {
	var r Registry
	var diags hcl.Diagnostics
	if attr := content.Attributes["registry"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if _, err := parseRegistryURL(s); err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid registry", fmt.Sprintf("registry is the registry's http(s) base URL, like \"https://registry.npmjs.org\": %v.", err)))
			} else {
				r.URL = s
			}
		}
	}
	var tokenAttr *hcl.Attribute
	if attr := content.Attributes["token"]; attr != nil {
		tokenAttr = attr
		s, _, moreDiags := schema.DecodeString(attr, ectx) // may be sensitive
		diags = append(diags, moreDiags...)
		r.Token = s
	}
	r.NPMRC = tokenAttr == nil
	if attr := content.Attributes["npmrc"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		if v && tokenAttr != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Conflicting credentials",
				Detail:   "npmrc = true reads the token from .npmrc, but this block also sets token. Remove one of them.",
				Subject:  attr.NameRange.Ptr(),
			})
		}
		r.NPMRC = v && tokenAttr == nil
	}
	return r, diags
}

func decodeDestination(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*DestinationConfig, hcl.Diagnostics) {
	content, diags := body.Content(&hcl.BodySchema{Attributes: registryAttributes()})
	r, moreDiags := decodeRegistry(content, ectx)
	return &DestinationConfig{Registry: r}, append(diags, moreDiags...)
}

func decodeSource(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*SourceConfig, hcl.Diagnostics) {
	cfg := &SourceConfig{Scopes: map[string]Registry{}}
	attrs := append(registryAttributes(),
		hcl.AttributeSchema{Name: "packages"}, hcl.AttributeSchema{Name: "packages_file"}, hcl.AttributeSchema{Name: "max_missing"})
	content, diags := body.Content(&hcl.BodySchema{
		Attributes: attrs,
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "versions"}, {Type: "scope", LabelNames: []string{"scope"}}, {Type: "dependencies"}, {Type: "changes"},
		},
	})
	r, moreDiags := decodeRegistry(content, ectx)
	diags = append(diags, moreDiags...)
	cfg.Registry = r

	seen := map[string]bool{}
	addPackage := func(p string, rng hcl.Range, where string) {
		if !validPattern(p) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid package name",
				Detail: fmt.Sprintf("%s%q is neither an npm package name (\"lodash\", \"@types/node\") nor a scope pattern (\"@types/*\").",
					where, p),
				Subject: rng.Ptr(),
			})
			return
		}
		if !seen[p] {
			seen[p] = true
			cfg.Packages = append(cfg.Packages, p)
		}
	}
	if attr := content.Attributes["packages"]; attr != nil {
		list, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		for _, p := range list {
			addPackage(p, attr.Expr.Range(), "")
		}
	}
	if attr := content.Attributes["packages_file"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			path := s
			if !filepath.IsAbs(path) {
				path = filepath.Join(env.Dir, path)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				diags = append(diags, schema.AttrError(attr, "Unreadable packages_file", fmt.Sprintf("Reading the package list: %v.", err)))
			} else {
				sc := bufio.NewScanner(bytes.NewReader(data))
				for line := 1; sc.Scan(); line++ {
					p, _, _ := strings.Cut(sc.Text(), "#")
					if p = strings.TrimSpace(p); p != "" {
						addPackage(p, attr.Expr.Range(), fmt.Sprintf("%s:%d: ", s, line))
					}
				}
			}
		}
	}
	if len(cfg.Packages) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No packages selected",
			Detail:   "An npm source needs packages (names or @scope/* patterns) or a packages_file that lists some.",
			Subject:  body.MissingItemRange().Ptr(),
		})
	}
	if attr := content.Attributes["max_missing"]; attr != nil {
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 0, 1<<20, "max_missing is how many selected packages may be missing upstream")
		diags = append(diags, moreDiags...)
		if ok {
			cfg.MaxMissing = int(n)
		}
	}

	blocks := map[string][]*hcl.Block{}
	for _, b := range content.Blocks {
		blocks[b.Type] = append(blocks[b.Type], b)
	}
	for _, typ := range []string{"versions", "dependencies", "changes"} {
		if bs := blocks[typ]; len(bs) > 1 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + typ + " block",
				Detail:   fmt.Sprintf("Only one %s block is allowed; the first is at %s.", typ, bs[0].DefRange),
				Subject:  bs[1].DefRange.Ptr(),
			})
		}
	}
	if bs := blocks["versions"]; len(bs) > 0 {
		f, moreDiags := decodeVersions(bs[0], ectx)
		diags = append(diags, moreDiags...)
		cfg.Versions = f
	}
	if bs := blocks["dependencies"]; len(bs) > 0 {
		d, moreDiags := decodeDependencies(bs[0], ectx)
		diags = append(diags, moreDiags...)
		cfg.Dependencies = d
	}
	if bs := blocks["changes"]; len(bs) > 0 {
		f, moreDiags := decodeChanges(bs[0], ectx)
		diags = append(diags, moreDiags...)
		cfg.Changes = f
	}
	for _, b := range blocks["scope"] {
		scope := b.Labels[0]
		if !strings.HasPrefix(scope, "@") || !ValidName(scope+"/x") {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid scope",
				Detail:   fmt.Sprintf("A scope block is labelled with a scope like \"@corp\", not %q.", scope),
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		if _, dup := cfg.Scopes[scope]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate scope block",
				Detail:   fmt.Sprintf("Scope %s is routed twice.", scope),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		sc, moreDiags := b.Body.Content(&hcl.BodySchema{Attributes: registryAttributes(), Blocks: []hcl.BlockHeaderSchema{{Type: "changes"}}})
		diags = append(diags, moreDiags...)
		sr, moreDiags := decodeRegistry(sc, ectx)
		diags = append(diags, moreDiags...)
		for i, cb := range sc.Blocks {
			if i > 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate changes block",
					Detail:   fmt.Sprintf("Only one changes block is allowed; the first is at %s.", sc.Blocks[0].DefRange),
					Subject:  cb.DefRange.Ptr(),
				})
				continue
			}
			f, moreDiags := decodeChanges(cb, ectx)
			diags = append(diags, moreDiags...)
			sr.Changes = f
		}
		cfg.Scopes[scope] = sr
	}
	return cfg, diags
}

// decodeChanges decodes a changes block:
//
//	changes {
//	  url         = "https://replicate.npmjs.com/registry/_changes"
//	  format      = "npm"        # or "cnpmcore"
//	  max_changes = 1000000      # beyond this, re-validate every document
//	}
func decodeChanges(b *hcl.Block, ectx *hcl.EvalContext) (*ChangesFeed, hcl.Diagnostics) {
	f := &ChangesFeed{Format: FeedNPM, MaxChanges: DefaultMaxChanges}
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true}, {Name: "format"}, {Name: "max_changes"},
	}})
	if attr := content.Attributes["url"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if _, err := parseFeedURL(s); err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid changes feed URL", fmt.Sprintf("The changes feed URL %s.", err)))
			} else {
				f.URL = s
			}
		}
	}
	if attr := content.Attributes["format"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		switch FeedFormat(s) {
		case FeedNPM, FeedCnpmcore:
			f.Format = FeedFormat(s)
		default:
			if !moreDiags.HasErrors() {
				diags = append(diags, schema.AttrError(attr, "Invalid changes feed format", fmt.Sprintf("format is \"npm\" (npmjs's replication feed: since is exclusive) or \"cnpmcore\" "+
					"(cnpmcore's feed: since is inclusive), not %q.", s)))
			}
		}
	}
	if attr := content.Attributes["max_changes"]; attr != nil {
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 1, 1<<40, "max_changes is how many changes one plan reads from the feed")
		diags = append(diags, moreDiags...)
		if ok {
			f.MaxChanges = int(n)
		}
	}
	return f, diags
}

// validPattern accepts a package name or "@scope/*".
func validPattern(p string) bool {
	if scope, ok := strings.CutSuffix(p, "/*"); ok {
		return strings.HasPrefix(scope, "@") && ValidName(scope+"/x")
	}
	return ValidName(p)
}

func decodeVersions(b *hcl.Block, ectx *hcl.EvalContext) (VersionFilter, hcl.Diagnostics) {
	var f VersionFilter
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "semver"}, {Name: "latest"}, {Name: "dist_tags"},
	}})
	if attr := content.Attributes["semver"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if _, err := compileRange(s); err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid semver range", fmt.Sprintf("semver must be a version range like \"^4.17\" or \">= 1.2, < 2\": %v.", err)))
			} else {
				f.Semver = s
			}
		}
	}
	if attr := content.Attributes["latest"]; attr != nil {
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 1, 1<<20, "latest is how many of the newest selected versions to mirror")
		diags = append(diags, moreDiags...)
		if ok {
			f.Latest = int(n)
		}
	}
	if attr := content.Attributes["dist_tags"]; attr != nil {
		tags, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		for _, t := range tags {
			if t == "" || strings.ContainsAny(t, "/ \t") {
				diags = append(diags, schema.AttrError(attr, "Invalid dist-tag", fmt.Sprintf("%q is not a dist-tag name.", t)))
				continue
			}
			f.DistTags = append(f.DistTags, t)
		}
	}
	return f, diags
}

func decodeDependencies(b *hcl.Block, ectx *hcl.EvalContext) (*DependencyClosure, hcl.Diagnostics) {
	d := &DependencyClosure{Depth: 1, MaxPackages: 100}
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "depth"}, {Name: "max_packages"}}})
	for _, a := range []struct {
		name, meaning string
		dst           *int
	}{
		{"depth", "depth is how many levels of dependencies to follow", &d.Depth},
		{"max_packages", "max_packages is how many packages the closure may add", &d.MaxPackages},
	} {
		attr := content.Attributes[a.name]
		if attr == nil {
			continue
		}
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 1, 1<<20, a.meaning)
		diags = append(diags, moreDiags...)
		if ok {
			*a.dst = int(n)
		}
	}
	return d, diags
}

// compileRange parses an npm-style range; blank is an error.
func compileRange(s string) (*semver.Constraints, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty range")
	}
	return semver.NewConstraint(s)
}
