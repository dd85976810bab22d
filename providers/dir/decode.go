package dir

import (
	"net/url"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// DestinationType is the "dir" destination type for config.Load:
//
//	destination "dir" "local" {
//	  path     = "mirror"                          # relative to the configuration directory
//	  base_url = "https://mirror.internal/deps"    # optional: where the directory is served
//	}
func DestinationType() registry.Type {
	return registry.Destination("dir", decodeDestination, NewDestination)
}

func decodeDestination(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*DestinationConfig, hcl.Diagnostics) {
	cfg := &DestinationConfig{}
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "path", Required: true},
		{Name: "base_url"},
	}})
	if attr := content.Attributes["base_url"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			u, err := url.Parse(s)
			switch {
			case err == nil && strings.EqualFold(u.Scheme, "file"):
				// packit opens a file:// uri (and a file:// mirror) inside
				// the buildpack's own directory: no build would find the files.
				diags = append(diags, schema.AttrError(attr, "Unusable base URL", "base_url is where consumers download the mirrored files, and they download over http or https: "+
					"buildpacks open a file:// uri inside the buildpack's own directory, so no build would find these files. "+
					"Serve the directory with a web server and set base_url to its http:// or https:// URL."))
			case !schema.IsBaseURL(s):
				diags = append(diags, schema.AttrError(attr, "Invalid base URL", "base_url is the URL the directory is served under, like \"https://mirror.internal/deps\": "+
					"http or https, with a host and no query, fragment or credentials (consumer files are not secret)."))
			default:
				cfg.BaseURL = strings.TrimSuffix(s, "/")
			}
		}
	}
	attr := content.Attributes["path"]
	if attr == nil {
		return cfg, diags
	}
	p, moreDiags := schema.DecodePlainString(attr, ectx)
	diags = append(diags, moreDiags...)
	if moreDiags.HasErrors() {
		return cfg, diags
	}
	if p == "" || strings.ContainsRune(p, 0) {
		return cfg, append(diags, schema.AttrError(attr, "Invalid directory path", "The path of a dir destination must be a non-empty directory path, absolute or relative "+
			"to the configuration directory."))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(env.Dir, p)
	}
	cfg.Path = filepath.Clean(p)
	return cfg, diags
}
