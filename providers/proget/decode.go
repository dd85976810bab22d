// Package proget mirrors ProGet universal (upack) feeds and asset
// directories, as sources and as destinations (docs/proget.md). Universal
// packages go through the Common Packages API (/api/packages/FEED/…),
// assets through the Asset Directories API (/endpoints/DIR/…); both
// authenticate with an API key in the X-ApiKey header.
package proget

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// FreeDeletesPerHour is ProGet Free's API delete quota ("limited to 10
// deletes per hour when using the API"): the delete limit both
// destination types declare, which a block's deletes_per_hour (read by
// the core in every destination block) overrides.
const FreeDeletesPerHour = 10

// DefaultChunkSize is the part size above which an asset is uploaded with
// the multipart upload, in parts of this size.
const DefaultChunkSize = 32 << 20

// Server is where a ProGet instance is and how to authenticate to it.
type Server struct {
	// URL is ProGet's base URL ("https://proget.corp"), no trailing slash.
	URL string
	// APIKey goes into the X-ApiKey header and nowhere else; "" sends
	// anonymous requests.
	APIKey string
	// APIKeyEnv is the environment variable the key is read from when
	// the block names one (api_key_env); read when the provider is built.
	APIKeyEnv string
}

// UpackConfig is the decoded source or destination "proget_upack" block.
type UpackConfig struct {
	Server
	// Feed is the universal feed's name.
	Feed string
	// Packages select packages by "group/name" glob (path.Match, "name"
	// alone in the empty group); empty selects every package (sources).
	Packages []string
}

// AssetConfig is the decoded source or destination "proget_asset" block.
type AssetConfig struct {
	Server
	// Directory is the asset directory's name.
	Directory string
	// Path is the folder inside it the mirror reads or writes below
	// ("" for the root), without leading or trailing slashes.
	Path string
	// ChunkSize is the multipart part size (destinations): larger files
	// are uploaded in parts of it.
	ChunkSize int64
}

// UpackSourceType is the "proget_upack" source type:
//
//	source "proget_upack" "build" {
//	  url         = "https://proget.corp"
//	  feed        = "universal"
//	  api_key     = var.proget_key        # or: api_key_env = "PROGET_API_KEY"
//	  packages    = ["tools/*", "app"]    # optional: group/name globs
//	}
func UpackSourceType() registry.Type {
	t := registry.Source("proget_upack", decoder(decodeUpack, false), NewUpackSource)
	t.VersionOrder = CompareVersions
	return t
}

// UpackDestinationType is the "proget_upack" destination type:
//
//	destination "proget_upack" "mirror" {
//	  url              = "https://proget.dr.corp"
//	  feed             = "universal-mirror"
//	  api_key          = var.mirror_key
//	  deletes_per_hour = 10               # the core's; default: ProGet Free's quota
//	}
func UpackDestinationType() registry.Type {
	t := registry.Destination("proget_upack", decoder(decodeUpack, true), NewUpackDestination)
	t.Limits.DeletesPerHour = FreeDeletesPerHour
	return t
}

// AssetSourceType is the "proget_asset" source type:
//
//	source "proget_asset" "files" {
//	  url       = "https://proget.corp"
//	  directory = "internal-files"
//	  path      = "releases"              # optional: only below this folder
//	  api_key   = var.proget_key
//	}
func AssetSourceType() registry.Type {
	return registry.Source("proget_asset", decoder(decodeAsset, false), NewAssetSource)
}

// AssetDestinationType is the "proget_asset" destination type:
//
//	destination "proget_asset" "mirror" {
//	  url              = "https://proget.dr.corp"
//	  directory        = "mirror-files"
//	  path             = "releases"       # optional: keys land below this folder
//	  api_key          = var.mirror_key
//	  chunk_size       = 33554432         # multipart part size (default 32 MiB)
//	}
func AssetDestinationType() registry.Type {
	t := registry.Destination("proget_asset", decoder(decodeAsset, true), NewAssetDestination)
	t.Limits.DeletesPerHour = FreeDeletesPerHour
	return t
}

func serverAttributes() []hcl.AttributeSchema {
	return []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "api_key"}, {Name: "api_key_env"}}
}

func decodeServer(content *hcl.BodyContent, ectx *hcl.EvalContext) (Server, hcl.Diagnostics) {
	var s Server
	var diags hcl.Diagnostics
	if attr := content.Attributes["url"]; attr != nil {
		raw, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid url",
					"url is ProGet's http(s) base URL, like \"https://proget.corp\", with no query, fragment or credentials (use api_key or api_key_env for the key)."))
			} else {
				s.URL = strings.TrimSuffix(raw, "/")
			}
		}
	}
	keyAttr, envAttr := content.Attributes["api_key"], content.Attributes["api_key_env"]
	if keyAttr != nil {
		v, _, moreDiags := schema.DecodeString(keyAttr, ectx) // may be sensitive: it only goes into X-ApiKey
		diags = append(diags, moreDiags...)
		s.APIKey = v
	}
	if envAttr != nil {
		v, moreDiags := schema.DecodePlainString(envAttr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() && v == "" {
			diags = append(diags, schema.AttrError(envAttr, "Invalid api_key_env", "api_key_env is the name of the environment variable holding the API key, like \"PROGET_API_KEY\"; it is empty."))
		}
		s.APIKeyEnv = v
	}
	if keyAttr != nil && envAttr != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting credentials",
			Detail:   "Set either api_key or api_key_env (the environment variable holding the key), not both.",
			Subject:  envAttr.NameRange.Ptr(),
		})
	}
	return s, diags
}

// decodeName reads a feed or asset directory name: one path segment.
func decodeName(content *hcl.BodyContent, ectx *hcl.EvalContext, name, what string) (string, hcl.Diagnostics) {
	attr := content.Attributes[name]
	if attr == nil {
		return "", nil
	}
	v, diags := schema.DecodePlainString(attr, ectx)
	if diags.HasErrors() {
		return "", diags
	}
	if v == "" || strings.ContainsAny(v, "/\\?#%") || v == "." || v == ".." {
		return "", append(diags, schema.AttrError(attr, "Invalid "+name,
			fmt.Sprintf("%s is the name of the %s as ProGet shows it, like \"internal\": one name without slashes, '?', '#' or '%%'; got %q.", name, what, v)))
	}
	return v, diags
}

func decodeUpack(body hcl.Body, ectx *hcl.EvalContext, dest bool) (*UpackConfig, hcl.Diagnostics) {
	attrs := append(serverAttributes(), hcl.AttributeSchema{Name: "feed", Required: true})
	if !dest {
		attrs = append(attrs, hcl.AttributeSchema{Name: "packages"})
	}
	content, diags := body.Content(&hcl.BodySchema{Attributes: attrs})
	cfg := &UpackConfig{}
	var moreDiags hcl.Diagnostics
	cfg.Server, moreDiags = decodeServer(content, ectx)
	diags = append(diags, moreDiags...)
	cfg.Feed, moreDiags = decodeName(content, ectx, "feed", "universal feed")
	diags = append(diags, moreDiags...)
	if attr := content.Attributes["packages"]; attr != nil {
		list, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		for _, p := range list {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				diags = append(diags, schema.AttrError(attr, "Invalid package pattern",
					fmt.Sprintf("%q is not a package pattern: write \"group/name\" (\"name\" in the empty group) with * and ? wildcards, like \"tools/*\".", p)))
				continue
			}
			cfg.Packages = append(cfg.Packages, p)
		}
	}
	return cfg, diags
}

func decodeAsset(body hcl.Body, ectx *hcl.EvalContext, dest bool) (*AssetConfig, hcl.Diagnostics) {
	attrs := append(serverAttributes(), hcl.AttributeSchema{Name: "directory", Required: true}, hcl.AttributeSchema{Name: "path"})
	if dest {
		attrs = append(attrs, hcl.AttributeSchema{Name: "chunk_size"})
	}
	content, diags := body.Content(&hcl.BodySchema{Attributes: attrs})
	cfg := &AssetConfig{ChunkSize: DefaultChunkSize}
	var moreDiags hcl.Diagnostics
	cfg.Server, moreDiags = decodeServer(content, ectx)
	diags = append(diags, moreDiags...)
	cfg.Directory, moreDiags = decodeName(content, ectx, "directory", "asset directory")
	diags = append(diags, moreDiags...)
	if attr := content.Attributes["path"]; attr != nil {
		p, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		p = strings.Trim(p, "/")
		if !moreDiags.HasErrors() && p != "" && !cleanPath(p) {
			diags = append(diags, schema.AttrError(attr, "Invalid path",
				fmt.Sprintf("path is a folder in the asset directory, like \"releases/tools\": slash-separated names, none empty, \".\" or \"..\"; got %q.", p)))
		}
		cfg.Path = p
	}
	if dest {
		if attr := content.Attributes["chunk_size"]; attr != nil {
			n, ok, moreDiags := schema.DecodeCount(attr, ectx, 64<<10, 4<<30,
				"chunk_size is the part size, in bytes, of multipart asset uploads (files larger than it are sent in parts)")
			diags = append(diags, moreDiags...)
			if ok {
				cfg.ChunkSize = n
			}
		}
	}
	return cfg, diags
}

// decoder is decode for one kind: destinations take more arguments.
func decoder[C any](decode func(hcl.Body, *hcl.EvalContext, bool) (*C, hcl.Diagnostics), dest bool) func(hcl.Body, *hcl.EvalContext, schema.DecodeEnv) (*C, hcl.Diagnostics) {
	return func(body hcl.Body, ectx *hcl.EvalContext, _ schema.DecodeEnv) (*C, hcl.Diagnostics) {
		return decode(body, ectx, dest)
	}
}

// cleanPath reports whether p is a relative slash path without empty, "."
// or ".." segments or backslashes.
func cleanPath(p string) bool {
	if strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
