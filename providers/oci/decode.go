package oci

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// DestinationType is the "oci" destination type for config.Load:
//
//	destination "oci" "internal" {
//	  registry      = "registry.internal:5000"   # host[:port], no scheme
//	  repository    = "buildpack-deps"           # every artifact goes to this repository, or a
//	                                             # template: "buildpack-deps/{key.0}" (key segments)
//	  plain_http    = false                      # default false (https); true for http registries
//	  insecure      = false                      # skip TLS verification (only when asked)
//	  username      = "ci"                       # basic auth …
//	  password      = var.registry_password
//	  token         = var.token                  # … or a registry access token (bearer)
//	  docker_config = true                       # default true without username/token:
//	                                             # ~/.docker/config.json and credential helpers
//	}
func DestinationType() provreg.Type {
	t := provreg.Destination("oci", decodeDestination, NewDestination)
	t.Provides = schema.Graph
	return t
}

// repositoryRE is the OCI distribution-spec <name> grammar.
var repositoryRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// hostnameRE accepts DNS names and IPv4 literals (IPv6 literals are checked
// with net.ParseIP).
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// maxReferenceLen is the limit many clients put on "host[:port]/name".
const maxReferenceLen = 255

// validRegistry reports whether s is host[:port] with nothing else.
func validRegistry(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") { // [v6]:port or [v6]
		end := strings.Index(s, "]")
		if end < 0 {
			return false
		}
		host, port = s[1:end], s[end+1:]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return false
		}
		if port != "" {
			if !strings.HasPrefix(port, ":") {
				return false
			}
			port = port[1:]
			if port == "" {
				return false
			}
		}
	} else if h, p, ok := strings.Cut(s, ":"); ok {
		host, port = h, p
		if port == "" {
			return false
		}
		if !hostnameRE.MatchString(host) {
			return false
		}
	} else if !hostnameRE.MatchString(host) {
		return false
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return false
		}
	}
	return true
}

// registryAttributes are the arguments the destination and the source
// share: where the repository is and how to authenticate.
func registryAttributes() []hcl.AttributeSchema {
	return []hcl.AttributeSchema{
		{Name: "registry", Required: true},
		{Name: "repository", Required: true},
		{Name: "plain_http"},
		{Name: "insecure"},
		{Name: "username"},
		{Name: "password"},
		{Name: "token"},
		{Name: "docker_config"},
	}
}

func decodeDestination(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*DestinationConfig, hcl.Diagnostics) {
	content, diags := body.Content(&hcl.BodySchema{Attributes: registryAttributes()})
	cfg, moreDiags := decodeRegistry(content, ectx, true)
	return cfg, append(diags, moreDiags...)
}

// decodeRegistry decodes registryAttributes from content. Only a
// destination's repository may be a template (allowTemplate).
func decodeRegistry(content *hcl.BodyContent, ectx *hcl.EvalContext, allowTemplate bool) (*DestinationConfig, hcl.Diagnostics) {
	cfg := &DestinationConfig{}
	var diags hcl.Diagnostics

	// registry and repository are shown in plans (Describe), so they may not
	// be sensitive.
	if attr := content.Attributes["registry"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if validRegistry(s) {
				cfg.Registry = s
			} else {
				diags = append(diags, schema.AttrError(attr, "Invalid registry", "registry is the registry's host with an optional port, like \"registry.internal:5000\" or \"ghcr.io\": "+
					"no scheme (use plain_http = true for http), no path (use repository) and no credentials."))
			}
		}
	}
	if attr := content.Attributes["repository"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		shape := s // what must match the grammar: the template's probe
		tmpl, templated, tmplErr := parseRepoTemplate(s)
		if templated && tmplErr == nil {
			shape = tmpl.probe()
		}
		switch {
		case moreDiags.HasErrors():
		case templated && !allowTemplate:
			diags = append(diags, schema.AttrError(attr, "Repository templates are for destinations", fmt.Sprintf("A source reads one repository; %q has placeholders, which only a destination's "+
				"repository may have (one repository per artifact).", s)))
		case tmplErr != nil:
			diags = append(diags, schema.AttrError(attr, "Invalid repository template", tmplErr.Error()+"."))
		case templated && !repositoryRE.MatchString(shape):
			diags = append(diags, schema.AttrError(attr, "Invalid repository template", fmt.Sprintf("With its placeholders filled in, %q must be an OCI repository name: lowercase letters "+
				"and digits in components separated by \".\", \"_\", \"__\" or dashes, and \"/\" between path components, "+
				"like \"buildpack-deps/{key.0}\".", s)))
		case !templated && !repositoryRE.MatchString(s):
			diags = append(diags, schema.AttrError(attr, "Invalid repository", fmt.Sprintf("repository must be an OCI repository name: lowercase letters and digits in "+
				"components separated by \".\", \"_\", \"__\" or dashes, and \"/\" between path components, like "+
				"\"buildpack-deps\" or \"mirrors/paketo\"; %q is not.", s)))
		case cfg.Registry != "" && len(cfg.Registry)+1+len(shape) > maxReferenceLen:
			diags = append(diags, schema.AttrError(attr, "Repository name too long", fmt.Sprintf("registry/repository must stay within %d characters, which many clients require.", maxReferenceLen)))
		default:
			cfg.Repository = s
		}
	}

	boolAttr := func(name string) (bool, *hcl.Attribute) {
		attr := content.Attributes[name]
		if attr == nil {
			return false, nil
		}
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		return v, attr
	}
	var insecureAttr, dockerAttr *hcl.Attribute
	cfg.PlainHTTP, _ = boolAttr("plain_http")
	cfg.Insecure, insecureAttr = boolAttr("insecure")
	dockerConfig, dockerAttr := boolAttr("docker_config")

	creds, moreDiags := schema.DecodeCredentials(content, ectx)
	diags = append(diags, moreDiags...)
	cfg.Username, cfg.Password, cfg.Token = creds.Username, creds.Password, creds.Token
	explicit := creds.Set
	switch {
	case dockerAttr == nil:
		cfg.DockerConfig = !explicit
	case dockerConfig && explicit:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting credentials",
			Detail: "docker_config = true reads credentials from the Docker configuration, but this block also sets " +
				"username/password or token. Remove one of them.",
			Subject: dockerAttr.NameRange.Ptr(),
		})
	default:
		cfg.DockerConfig = dockerConfig
	}
	if cfg.Insecure && cfg.PlainHTTP && insecureAttr != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "insecure has no effect with plain_http",
			Detail:   "insecure skips TLS certificate verification, but plain_http = true does not use TLS at all.",
			Subject:  insecureAttr.NameRange.Ptr(),
		})
	}
	return cfg, diags
}
