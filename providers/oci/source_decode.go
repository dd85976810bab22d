package oci

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// SourceConfig is the decoded source "oci" block.
type SourceConfig struct {
	// DestinationConfig is where the repository is and how to authenticate, with the
	// destination's rules.
	DestinationConfig
	// Tags selects the tags to mirror.
	Tags TagFilter
	// MaxTags bounds how many tags the registry's tag listing may return
	// (0: DefaultMaxTags); a listing beyond it fails the plan instead of
	// growing without end.
	MaxTags int
}

// DefaultMaxTags is MaxTags when max_tags is not set.
const DefaultMaxTags = 100_000

// TagFilter selects tags. The selected set is Exact, plus the tags that
// pass every pattern set (Semver and Regex: a tag must satisfy both when
// both are set), of which only the Latest newest are kept when Latest > 0.
type TagFilter struct {
	// Exact tags are selected when the repository has them.
	Exact []string
	// Semver is a constraint (">= 1.2, < 2") that tags parsing as semantic
	// versions (leniently: "v1.2" and "1.2" parse) must satisfy.
	Semver string
	// Regex is an RE2 expression tags must match (anchored as written).
	Regex string
	// Latest keeps the newest N of the tags Semver/Regex select, by
	// retention.CompareVersions; 0 keeps all.
	Latest int
}

// SourceType is the "oci" source type for config.Load:
//
//	source "oci" "upstream" {
//	  registry   = "registry.example:5000"
//	  repository = "library/app"
//	  plain_http = false
//	  insecure   = false
//	  username / password / token / docker_config   # as for the destination
//	  max_tags   = 100000   # the tag listing fails beyond this many tags
//	  tags {
//	    exact  = ["1.2.3", "latest"]   # these tags (union with the filters below)
//	    semver = ">= 1.2, < 2"         # tags that parse as semver and satisfy it
//	    regex  = "^nightly-"           # RE2, anchored as written
//	    latest = 3                     # of those semver/regex select, the newest 3
//	  }
//	}
func SourceType() provreg.Type {
	t := provreg.Source("oci", decodeSource, NewSource)
	// An image is a graph the source copies itself, to a destination
	// that holds graphs.
	t.Provides, t.Needs = schema.Graph, schema.Graph
	return t
}

func decodeSource(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*SourceConfig, hcl.Diagnostics) {
	cfg := &SourceConfig{}
	content, diags := body.Content(&hcl.BodySchema{
		Attributes: append(registryAttributes(), hcl.AttributeSchema{Name: "max_tags"}),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "tags"}},
	})
	rc, moreDiags := decodeRegistry(content, ectx, false)
	diags = append(diags, moreDiags...)
	cfg.DestinationConfig = *rc
	if attr := content.Attributes["max_tags"]; attr != nil {
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 1, 100_000_000, "max_tags is how many tags the registry's tag listing may return")
		diags = append(diags, moreDiags...)
		if ok {
			cfg.MaxTags = int(n)
		}
	}

	var tagBlocks []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "tags" {
			tagBlocks = append(tagBlocks, b)
		}
	}
	switch len(tagBlocks) {
	case 0:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing tags block",
			Detail:   "An oci source needs a tags block saying which tags to mirror (exact, semver and/or regex).",
			Subject:  body.MissingItemRange().Ptr(),
		})
	case 1:
		f, moreDiags := decodeTagFilter(tagBlocks[0], ectx)
		diags = append(diags, moreDiags...)
		cfg.Tags = f
	default:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate tags block",
			Detail:   fmt.Sprintf("Only one tags block is allowed; the first is at %s.", tagBlocks[0].DefRange),
			Subject:  tagBlocks[1].DefRange.Ptr(),
		})
	}
	return cfg, diags
}

func decodeTagFilter(b *hcl.Block, ectx *hcl.EvalContext) (TagFilter, hcl.Diagnostics) {
	var f TagFilter
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "exact"}, {Name: "semver"}, {Name: "regex"}, {Name: "latest"},
	}})
	if attr := content.Attributes["exact"]; attr != nil {
		tags, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		for _, t := range tags {
			if !isTag(t) {
				diags = append(diags, schema.AttrError(attr, "Invalid tag", fmt.Sprintf("%q is not an OCI tag: tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.", t)))
				continue
			}
			f.Exact = append(f.Exact, t)
		}
	}
	if attr := content.Attributes["semver"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if _, err := compileSemver(s); err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid semver constraint", fmt.Sprintf("semver must be a version constraint like \">= 1.2, < 2\" or \"~1.4\": %v.", err)))
			} else {
				f.Semver = s
			}
		}
	}
	if attr := content.Attributes["regex"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if _, err := regexp.Compile(s); err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid regular expression", fmt.Sprintf("regex must be an RE2 regular expression: %v.", err)))
			} else {
				f.Regex = s
			}
		}
	}
	if attr := content.Attributes["latest"]; attr != nil {
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 1, 1<<20, "latest is how many of the newest matching tags to keep")
		diags = append(diags, moreDiags...)
		switch {
		case !ok:
		case content.Attributes["semver"] == nil && content.Attributes["regex"] == nil:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "latest needs semver or regex",
				Detail:   "latest keeps the newest of the tags semver and regex select; exact tags are always mirrored. Set semver or regex.",
				Subject:  attr.NameRange.Ptr(),
			})
		default:
			f.Latest = int(n)
		}
	}
	if content.Attributes["exact"] == nil && content.Attributes["semver"] == nil && content.Attributes["regex"] == nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No tag selection",
			Detail:   "The tags block needs at least one of exact, semver or regex.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	return f, diags
}

// compileSemver parses a constraint; an empty or blank one is an error.
func compileSemver(s string) (*semver.Constraints, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty constraint")
	}
	return semver.NewConstraint(s)
}
