package gitea

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// CondaDestinationType is the "gitea_conda" destination type:
//
//	destination "gitea_conda" "internal" {
//	  url     = "https://gitea.internal"   # Gitea's root URL
//	  owner   = "platform"                 # user or organization owning the packages
//	  channel = "conda-forge"              # optional: a channel path under the owner
//	  token   = var.gitea_token            # or username + password
//	}
func CondaDestinationType() registry.Type {
	t := registry.Destination("gitea_conda", decodeConda, NewConda)
	t.DeleteNote = "each removes a whole package version from Gitea, and is refused when that version holds files ferry was not asked to delete"
	return t
}

// Gitea's owner names: alphanumerics, '-', '_' and '.', not starting or
// ending with a separator (models/user: IsUsableUsername).
var ownerRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)

// A channel path: segments of conda channel-name characters.
var channelSegmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func decodeConda(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*CondaConfig, hcl.Diagnostics) {
	cfg := &CondaConfig{}
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true},
		{Name: "owner", Required: true},
		{Name: "channel"},
		{Name: "username"},
		{Name: "password"},
		{Name: "token"},
	}})
	if attr := content.Attributes["url"]; attr != nil {
		s, d := schema.DecodePlainString(attr, ectx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if !schema.IsBaseURL(s) {
				diags = append(diags, schema.AttrError(attr, "Invalid url", "url is Gitea's root URL, like \"https://gitea.internal\": "+
					"http or https, with a host and no query, fragment or credentials (use token, or username and password)."))
			} else if u, _ := url.Parse(s); strings.Contains(u.Path, "/api/packages") {
				diags = append(diags, schema.AttrError(attr, "Invalid url", "url is Gitea's root URL (\"https://gitea.internal\"), not a package registry URL: "+
					"set owner and channel instead of naming /api/packages/OWNER/conda/CHANNEL."))
			} else {
				cfg.URL = strings.TrimSuffix(s, "/")
			}
		}
	}
	if attr := content.Attributes["owner"]; attr != nil {
		s, d := schema.DecodePlainString(attr, ectx)
		diags = append(diags, d...)
		if !d.HasErrors() && !ownerRE.MatchString(s) {
			diags = append(diags, schema.AttrError(attr, "Invalid owner", "owner is the Gitea user or organization the packages belong to, like \"platform\": "+
				"letters, digits, '.', '-' and '_'."))
		}
		cfg.Owner = s
	}
	if attr := content.Attributes["channel"]; attr != nil {
		s, d := schema.DecodePlainString(attr, ectx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			for _, seg := range strings.Split(s, "/") {
				if !channelSegmentRE.MatchString(seg) {
					diags = append(diags, schema.AttrError(attr, "Invalid channel", "channel is a channel path under the owner, like \"conda-forge\" or \"team/tools\": "+
						"segments of letters, digits, '.', '-' and '_' separated by '/', with no empty, \".\" or \"..\" segment."))
					break
				}
			}
			if seg := s[strings.LastIndex(s, "/")+1:]; isSubdirLike(seg) {
				diags = append(diags, schema.AttrError(attr, "Invalid channel", "the channel's last segment "+seg+" is a conda platform name: "+
					"Gitea reads CHANNEL/"+seg+"/FILE as the subdir "+seg+" of the channel above it. Name the channel itself."))
			}
		}
		cfg.Channel = s
	}
	creds, d := schema.DecodeCredentials(content, ectx)
	diags = append(diags, d...)
	cfg.Username, cfg.Password, cfg.Token = creds.Username, creds.Password, creds.Token
	if !creds.Set {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing credentials",
			Detail:  "Uploading to Gitea's conda registry needs a token with the write:package scope (token = var.gitea_token), or username and password.",
			Subject: body.MissingItemRange().Ptr()})
	}
	return cfg, diags
}

// isSubdirLike reports whether seg reads as a conda subdir ("noarch",
// "linux-64", "osx-arm64", "win-32"...).
func isSubdirLike(seg string) bool {
	if seg == "noarch" {
		return true
	}
	for _, os := range []string{"linux-", "osx-", "win-", "emscripten-", "wasi-", "zos-", "freebsd-"} {
		if strings.HasPrefix(seg, os) {
			return true
		}
	}
	return false
}
