package httpdst

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// DestinationType is the "http" destination type for config.Load:
//
//	destination "http" "artifactory" {
//	  url              = "https://artifactory.internal/artifactory/generic-local/deps"
//	  username         = "ci"
//	  password         = var.artifactory_password   # or: token = var.token (bearer)
//	  public_url       = "https://cdn.internal/deps" # optional: where consumers download
//	  checksum_headers = true                        # default true: X-Checksum-Sha256
//	  verify_upload    = true                        # default true: read each upload back
//	}
func DestinationType() registry.Type {
	return registry.Destination("http", decodeDestination, NewDestination)
}

func decodeDestination(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*DestinationConfig, hcl.Diagnostics) {
	cfg := &DestinationConfig{ChecksumHeaders: true, VerifyUpload: true}
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true},
		{Name: "public_url"},
		{Name: "username"},
		{Name: "password"},
		{Name: "token"},
		{Name: "checksum_headers"},
		{Name: "verify_upload"},
	}})
	baseURL := func(name string) string {
		attr := content.Attributes[name]
		if attr == nil {
			return ""
		}
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			return ""
		}
		if !schema.IsBaseURL(s) {
			diags = append(diags, schema.AttrError(attr, "Invalid "+name, name+" is the http(s) base URL objects live under, like \"https://repo.internal/generic-local/deps\", "+
				"with no query, fragment or credentials (use username/password or token for those)."))
			return ""
		}
		return strings.TrimSuffix(s, "/")
	}
	cfg.URL = baseURL("url")
	cfg.PublicURL = baseURL("public_url")

	creds, moreDiags := schema.DecodeCredentials(content, ectx)
	diags = append(diags, moreDiags...)
	cfg.Username, cfg.Password, cfg.Token = creds.Username, creds.Password, creds.Token
	if attr := content.Attributes["checksum_headers"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		cfg.ChecksumHeaders = v
	}
	if attr := content.Attributes["verify_upload"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		cfg.VerifyUpload = v
	}
	return cfg, diags
}
