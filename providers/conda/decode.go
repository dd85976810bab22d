package conda

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/conda/matchspec"
	"github.com/ferry-mirror/ferry/providers/conda/repodata"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// DefaultMaxPackages bounds the dependency closure when max_packages is
// not set.
const DefaultMaxPackages = 500

// SourceConfig is the decoded source "conda" block.
type SourceConfig struct {
	// URL is the channel's http(s) base URL ("https://conda.anaconda.org/
	// conda-forge"), without a trailing slash; empty for a local channel.
	URL string
	// Dir is a local channel's directory, absolute; empty for a URL.
	Dir string
	// Subdirs are the subdirs read, deduplicated, in order, "noarch" always
	// among them (added last when not configured).
	Subdirs []string
	// Include selects records matching any of these MatchSpecs (every
	// record when empty).
	Include []string
	// Exclude drops records matching any of these; it wins over Include,
	// Pins and the dependency closure.
	Exclude []string
	// Pins select records matching any of these whatever Latest says
	// (unless excluded).
	Pins []string
	// Latest keeps, per subdir and package name, the records of the newest
	// Latest (version, build number) pairs; 0 keeps all.
	Latest int
	// Dependencies adds, for every selected record, the newest records
	// satisfying each of its depends, in its subdir and noarch, until
	// nothing new is added.
	Dependencies bool
	// MaxPackages bounds how many package names the closure may add.
	MaxPackages int
	// Packages and Archives are loose inputs (loose.go): package files,
	// and archives of packages, by URL or local path; GitHub, GitHub
	// Actions artifacts (github.go).
	Packages, Archives []LooseInput
	GitHub             []GitHubArtifacts
}

// SourceType is the "conda" source type for config.Load:
//
//	source "conda" "forge" {
//	  channel      = "https://conda.anaconda.org/conda-forge"   # or a local directory
//	  subdirs      = ["linux-64"]                 # noarch is always read
//	  include      = ["numpy >=1.26", "python 3.12.*"]
//	  exclude      = ["*[license=GPL*]"]
//	  pins         = ["openssl 3.0.*"]            # kept whatever latest says
//	  latest       = 2                            # newest 2 per name and subdir
//	  dependencies = true                         # follow depends
//	  max_packages = 500                          # names the closure may add
//	}
func SourceType() provreg.Type {
	t := provreg.Source("conda", decodeSource, NewSource)
	t.VersionOrder = CompareVersions
	// The channel index (index.go): every mirror publishes it, so the type
	// declares no mirror block.
	t.Provides = schema.ConsumerOutputs
	return t
}

func decodeSource(body hcl.Body, ectx *hcl.EvalContext, env schema.DecodeEnv) (*SourceConfig, hcl.Diagnostics) {
	cfg := &SourceConfig{MaxPackages: DefaultMaxPackages}
	content, diags := body.Content(&hcl.BodySchema{Attributes: append([]hcl.AttributeSchema{
		{Name: "channel"}, {Name: "subdirs"}, {Name: "include"}, {Name: "exclude"},
		{Name: "pins"}, {Name: "latest"}, {Name: "dependencies"}, {Name: "max_packages"},
	}, looseAttrs...), Blocks: looseBlocks})
	diags = append(diags, decodeLoose(content, ectx, env, cfg)...)
	if content.Attributes["channel"] == nil && content.Attributes["packages"] == nil && content.Attributes["archives"] == nil && len(content.Blocks) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No channel and no packages",
			Detail: "source \"conda\" mirrors a channel (channel = URL or directory), loose packages (packages = [...], archives = [...], github_artifacts { ... }), or both.", Subject: env.DeclRange.Ptr()})
	}
	if attr := content.Attributes["channel"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			u, dir, err := parseChannel(s, env.Dir)
			if err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid channel", fmt.Sprintf("channel is a conda channel's http(s) URL (\"https://conda.anaconda.org/conda-forge\") or a local directory: %v.", err)))
			}
			cfg.URL, cfg.Dir = u, dir
		}
	}
	if attr := content.Attributes["subdirs"]; attr != nil {
		list, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		for _, s := range list {
			if !repodata.ValidSubdir(s) {
				diags = append(diags, schema.AttrError(attr, "Invalid subdir", fmt.Sprintf("%q is not a conda subdir name like \"linux-64\", \"osx-arm64\" or \"noarch\".", s)))
				continue
			}
			cfg.Subdirs = appendNew(cfg.Subdirs, s)
		}
	}
	cfg.Subdirs = appendNew(cfg.Subdirs, "noarch")
	for _, l := range []struct {
		name string
		dst  *[]string
	}{{"include", &cfg.Include}, {"exclude", &cfg.Exclude}, {"pins", &cfg.Pins}} {
		attr := content.Attributes[l.name]
		if attr == nil {
			continue
		}
		list, moreDiags := schema.DecodeStringList(attr, ectx)
		diags = append(diags, moreDiags...)
		for _, s := range list {
			if _, err := matchspec.Parse(s); err != nil {
				diags = append(diags, schema.AttrError(attr, "Invalid MatchSpec", fmt.Sprintf("%s lists MatchSpecs like \"numpy >=1.26,<2\", \"python 3.12.*\" or \"pytorch[build=*cuda*]\": %v.", l.name, err)))
				continue
			}
			*l.dst = appendNew(*l.dst, s)
		}
	}
	if attr := content.Attributes["latest"]; attr != nil {
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 1, 1<<20, "latest is how many of the newest versions of each package to mirror")
		diags = append(diags, moreDiags...)
		if ok {
			cfg.Latest = int(n)
		}
	}
	depsBad := false
	if attr := content.Attributes["dependencies"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		cfg.Dependencies, depsBad = v, moreDiags.HasErrors()
	}
	if attr := content.Attributes["max_packages"]; attr != nil {
		n, ok, moreDiags := schema.DecodeCount(attr, ectx, 1, 1<<20, "max_packages is how many packages the dependency closure may add")
		diags = append(diags, moreDiags...)
		if ok {
			cfg.MaxPackages = int(n)
		}
		if !cfg.Dependencies && !depsBad {
			diags = append(diags, schema.AttrError(attr, "max_packages without dependencies", "max_packages bounds the dependency closure; set dependencies = true, or remove max_packages."))
		}
	}
	return cfg, diags
}

// parseChannel splits a channel into an http(s) base URL or an absolute
// directory (relative paths are resolved against dir).
func parseChannel(s, dir string) (string, string, error) {
	if s == "" {
		return "", "", fmt.Errorf("it is empty")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil {
			return "", "", fmt.Errorf("not a URL")
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", "", fmt.Errorf("scheme %q is not supported (use http(s), or a plain directory path for a local channel)", u.Scheme)
		}
		if u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return "", "", fmt.Errorf("want scheme://host/path, without query or fragment")
		}
		return strings.TrimRight(s, "/"), "", nil
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(dir, s)
	}
	return "", filepath.Clean(s), nil
}

func appendNew(list []string, s string) []string {
	for _, e := range list {
		if e == s {
			return list
		}
	}
	return append(list, s)
}
