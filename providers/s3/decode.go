package s3

import (
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/internal/s3client"
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
	content, diags := body.Content(&hcl.BodySchema{Attributes: append([]hcl.AttributeSchema{
		{Name: "bucket", Required: true},
		{Name: "prefix"},
		{Name: "public_url"},
		{Name: "part_size_mib"},
	}, s3client.Attributes()...)})
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
	if b, attr := plain("bucket"); attr != nil {
		if !s3client.ValidBucket(b) {
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
	var moreDiags hcl.Diagnostics
	cfg.Config, moreDiags = s3client.Decode(content, ectx)
	diags = append(diags, moreDiags...)
	cfg.PublicURL = s3client.BaseURL(content, ectx, "public_url", "https://mirror.example.com/bucket", &diags)
	if attr := content.Attributes["part_size_mib"]; attr != nil {
		// S3 parts are 5 MiB to 5 GiB; ferry buffers two at a time.
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 5, 1024, "part_size_mib is the multipart part size in MiB, and the size above which an upload is multipart")
		diags = append(diags, moreDiags...)
		if ok {
			cfg.PartSize = n << 20
		}
	}

	return cfg, diags
}
