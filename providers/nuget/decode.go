package nuget

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// SourceType is the "nuget" source type for config.Load:
//
//	source "nuget" "public" {
//	  service_index      = "https://api.nuget.org/v3/index.json"
//	  packages           = ["Newtonsoft.Json", "Serilog.*"]  # ids and id globs
//	  versions           = "[13.0,14.0)"                     # NuGet range syntax
//	  latest             = 3                                 # newest 3 per package, NuGet order
//	  include_prerelease = false
//	  include_unlisted   = false
//	  include_deprecated = true                              # deprecated versions still install
//	  username           = "reader"                          # optional basic auth
//	  password           = var.feed_password
//	}
func SourceType() registry.Type {
	t := registry.Source("nuget", decodeSource, NewSource)
	t.VersionOrder = CompareVersions
	t.Provides = schema.Feed // the catalog, where the feed has one (ListFrom)
	return t
}

// DestinationType is the "nuget" destination type:
//
//	destination "nuget" "internal" {
//	  service_index = "https://gitea.internal/api/packages/platform/nuget/index.json"
//	  api_key       = var.nuget_api_key   # X-NuGet-ApiKey for pushes and deletes
//	}
func DestinationType() registry.Type {
	t := registry.Destination("nuget", decodeDestination, NewDestination)
	t.DeleteNote = "hard deletes: each version is removed from the feed, not unlisted (a feed whose DELETE only unlists fails them)"
	return t
}

func feedAttributes() []hcl.AttributeSchema {
	return []hcl.AttributeSchema{{Name: "service_index", Required: true}, {Name: "username"}, {Name: "password"}}
}

func decodeFeed(content *hcl.BodyContent, ectx *hcl.EvalContext) (Feed, hcl.Diagnostics) {
	var f Feed
	var diags hcl.Diagnostics
	if attr := content.Attributes["service_index"]; attr != nil {
		s, d := schema.DecodePlainString(attr, ectx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if !schema.IsBaseURL(s) {
				diags = append(diags, schema.AttrError(attr, "Invalid service_index", "service_index is the feed's NuGet v3 service index URL, like \"https://api.nuget.org/v3/index.json\": "+
					"http or https, with a host and no query, fragment or credentials (use username and password)."))
			} else {
				f.ServiceIndex = s
			}
		}
	}
	creds, d := schema.DecodeCredentials(content, ectx)
	diags = append(diags, d...)
	f.Username, f.Password = creds.Username, creds.Password
	return f, diags
}

func decodeSource(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*SourceConfig, hcl.Diagnostics) {
	cfg := &SourceConfig{RequirePackageHash: true, IncludeDeprecated: true}
	content, diags := body.Content(&hcl.BodySchema{Attributes: append(feedAttributes(),
		hcl.AttributeSchema{Name: "packages", Required: true},
		hcl.AttributeSchema{Name: "versions"},
		hcl.AttributeSchema{Name: "latest"},
		hcl.AttributeSchema{Name: "include_prerelease"},
		hcl.AttributeSchema{Name: "include_unlisted"},
		hcl.AttributeSchema{Name: "include_deprecated"},
		hcl.AttributeSchema{Name: "require_package_hash"},
	)})
	f, d := decodeFeed(content, ectx)
	diags = append(diags, d...)
	cfg.Feed = f
	if attr := content.Attributes["packages"]; attr != nil {
		list, d := schema.DecodeStringList(attr, ectx)
		diags = append(diags, d...)
		seen := map[string]bool{}
		for _, p := range list {
			if !validPattern(p) {
				diags = append(diags, schema.AttrError(attr, "Invalid package id", fmt.Sprintf("%q is neither a NuGet package id (\"Newtonsoft.Json\": letters, digits and '_', "+
					"separated by single '.' or '-') nor an id glob (\"Serilog.*\", with * and ?).", p)))
				continue
			}
			if l := strings.ToLower(p); !seen[l] {
				seen[l] = true
				cfg.Packages = append(cfg.Packages, p)
			}
		}
		if len(list) == 0 && !d.HasErrors() {
			diags = append(diags, schema.AttrError(attr, "No packages selected", "packages lists the package ids or id globs to mirror, like [\"Newtonsoft.Json\", \"Serilog.*\"]."))
		}
	}
	if attr := content.Attributes["versions"]; attr != nil {
		s, d := schema.DecodePlainString(attr, ectx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			r, err := ParseRange(s)
			if err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid version range", fmt.Sprintf("versions is a NuGet version range such as \"[1.0,2.0)\", \"[1.2.3]\" or \"1.0\" (at least 1.0): %v.", err)))
			} else {
				cfg.Versions = &r
			}
		}
	}
	if attr := content.Attributes["latest"]; attr != nil {
		n, ok, d := schema.DecodeCount(attr, ectx, 1, 1<<20, "latest is how many of the newest selected versions of each package to mirror")
		diags = append(diags, d...)
		if ok {
			cfg.Latest = int(n)
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{
		{"include_prerelease", &cfg.IncludePrerelease},
		{"include_unlisted", &cfg.IncludeUnlisted},
		{"include_deprecated", &cfg.IncludeDeprecated},
		{"require_package_hash", &cfg.RequirePackageHash},
	} {
		if attr := content.Attributes[b.name]; attr != nil {
			v, d := schema.DecodeBool(attr, ectx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				*b.dst = v
			}
		}
	}
	return cfg, diags
}

func decodeDestination(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*DestinationConfig, hcl.Diagnostics) {
	cfg := &DestinationConfig{}
	content, diags := body.Content(&hcl.BodySchema{Attributes: append(feedAttributes(), hcl.AttributeSchema{Name: "api_key", Required: true})})
	f, d := decodeFeed(content, ectx)
	diags = append(diags, d...)
	cfg.Feed = f
	if attr := content.Attributes["api_key"]; attr != nil {
		s, _, d := schema.DecodeString(attr, ectx) // may be sensitive: only ever a header
		diags = append(diags, d...)
		if !d.HasErrors() && s == "" {
			diags = append(diags, schema.AttrError(attr, "Empty api_key", "api_key is the key the feed accepts pushes with (Gitea: an access token with the write:package scope)."))
		}
		cfg.APIKey = s
	}
	return cfg, diags
}

// validPattern accepts a package id or an id glob (* and ? standing for id
// characters).
func validPattern(p string) bool {
	if !strings.ContainsAny(p, "*?") {
		return ValidID(p)
	}
	// Each wildcard stands for at least one id character somewhere: check
	// the glob with them replaced by one.
	return ValidID(strings.NewReplacer("*", "x", "?", "x").Replace(p)) || p == "*"
}

// isGlob reports whether a configured package is a glob.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?") }
