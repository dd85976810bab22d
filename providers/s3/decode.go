package s3

import (
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// DestinationType is the "s3" destination type for config.Load:
//
//	destination "s3" "channel" {
//	  bucket           = "mirror"
//	  prefix           = "conda/"                    # optional: keys go under it
//	  region           = "eu-west-1"                 # optional: else the AWS configuration's
//	  endpoint         = "http://127.0.0.1:9400"     # optional: an S3-compatible server
//	  force_path_style = true                        # optional: ENDPOINT/BUCKET/KEY addressing
//	  profile          = "mirror"                    # optional: shared config profile
//	  access_key_id     = var.s3_key                 # optional: else the AWS chain
//	  secret_access_key = var.s3_secret
//	  public_url       = "https://cdn.internal/mirror" # optional: where consumers download
//	}
func DestinationType() registry.Type {
	return registry.Destination("s3", decodeDestination, NewDestination)
}

func decodeDestination(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*DestinationConfig, hcl.Diagnostics) {
	cfg := &DestinationConfig{}
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "bucket", Required: true},
		{Name: "prefix"},
		{Name: "region"},
		{Name: "endpoint"},
		{Name: "force_path_style"},
		{Name: "profile"},
		{Name: "access_key_id"},
		{Name: "secret_access_key"},
		{Name: "session_token"},
		{Name: "public_url"},
		{Name: "part_size_mib"},
	}})
	plain := func(name string) (string, *hcl.Attribute) {
		attr := content.Attributes[name]
		if attr == nil {
			return "", nil
		}
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			return "", nil
		}
		return s, attr
	}
	secret := func(name string) (string, *hcl.Attribute) {
		attr := content.Attributes[name]
		if attr == nil {
			return "", nil
		}
		s, _, moreDiags := schema.DecodeString(attr, ectx)
		diags = append(diags, moreDiags...)
		return s, attr
	}

	if b, attr := plain("bucket"); attr != nil {
		if !validBucket(b) {
			diags = append(diags, schema.AttrError(attr, "Invalid bucket",
				"bucket is an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit, like \"ferry-mirror\"."))
		} else {
			cfg.Bucket = b
		}
	}
	if p, attr := plain("prefix"); attr != nil && p != "" {
		p = strings.TrimSuffix(p, "/")
		if err := providers.CheckKey(p); err != nil || !utf8.ValidString(p) || len(p) > 512 {
			diags = append(diags, schema.AttrError(attr, "Invalid prefix",
				"prefix is the key prefix objects are stored under, a relative slash-separated path like \"conda/channel\" "+
					"(no leading \"/\", no empty, \".\" or \"..\" segments, no backslash, at most 512 bytes of UTF-8)."))
		} else {
			cfg.Prefix = p + "/"
		}
	}
	cfg.Region, _ = plain("region")
	cfg.Profile, _ = plain("profile")
	baseURL := func(name, example string) string {
		s, attr := plain(name)
		if attr == nil {
			return ""
		}
		if !schema.IsBaseURL(s) {
			diags = append(diags, schema.AttrError(attr, "Invalid "+name, name+" is an http(s) URL like \""+example+"\", "+
				"with no query, fragment or credentials (credentials go in access_key_id and secret_access_key, or the AWS configuration)."))
			return ""
		}
		return strings.TrimSuffix(s, "/")
	}
	cfg.Endpoint = baseURL("endpoint", "http://127.0.0.1:9000")
	cfg.PublicURL = baseURL("public_url", "https://mirror.example.com/bucket")
	if attr := content.Attributes["force_path_style"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		cfg.ForcePathStyle = v
	}
	if attr := content.Attributes["part_size_mib"]; attr != nil {
		// S3 parts are 5 MiB to 5 GiB; ferry buffers two at a time.
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 5, 1024, "part_size_mib is the multipart part size in MiB, and the size above which an upload is multipart")
		diags = append(diags, moreDiags...)
		if ok {
			cfg.PartSize = n << 20
		}
	}

	var keyAttr, secretAttr, tokenAttr *hcl.Attribute
	cfg.AccessKeyID, keyAttr = secret("access_key_id")
	cfg.SecretAccessKey, secretAttr = secret("secret_access_key")
	cfg.SessionToken, tokenAttr = secret("session_token")
	switch {
	case (keyAttr == nil) != (secretAttr == nil):
		missing, at := "secret_access_key", keyAttr
		if keyAttr == nil {
			missing, at = "access_key_id", secretAttr
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete credentials",
			Detail:  "Explicit S3 credentials need both access_key_id and secret_access_key; " + missing + " is missing. Leave both out to use the standard AWS chain (environment, shared files, profile).",
			Subject: at.NameRange.Ptr()})
	case tokenAttr != nil && keyAttr == nil:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete credentials",
			Detail:  "session_token goes with access_key_id and secret_access_key (temporary credentials); set those too, or leave all three out to use the standard AWS chain.",
			Subject: tokenAttr.NameRange.Ptr()})
	}
	if keyAttr != nil && cfg.Profile != "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting credentials",
			Detail:  "Set either profile (credentials from the shared AWS files) or access_key_id and secret_access_key, not both.",
			Subject: content.Attributes["profile"].NameRange.Ptr()})
	}
	return cfg, diags
}

// validBucket is S3's bucket naming rule (general purpose buckets).
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") {
		return false
	}
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '-') && i > 0 && i < len(b)-1:
		default:
			return false
		}
	}
	return true
}
