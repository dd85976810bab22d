package conda

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/httpx"
)

// DefaultGitHubAPI is the GitHub REST API base URL.
const DefaultGitHubAPI = "https://api.github.com"

// githubPerPage is the page size asked of the artifact listing (GitHub's
// maximum); githubMaxPages bounds the listing.
const (
	githubPerPage  = 100
	githubMaxPages = 100
	githubMaxList  = 16 << 20 // one page of the listing, in bytes
)

// GitHubArtifacts is one github_artifacts block: the newest unexpired
// artifact of each name matching Name, in Repository's Actions runs.
type GitHubArtifacts struct {
	Repository string // "owner/repo"
	Name       string // path.Match glob on the artifact name
	API        string // REST API base URL, no trailing slash
	// Token is sent only to the API host (never to the blob host the
	// download redirects to); "" reads GITHUB_TOKEN, else anonymous.
	Token string
}

var repoRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)

var githubBlock = hcl.BlockHeaderSchema{Type: "github_artifacts"}

// decodeGitHub decodes the github_artifacts blocks into cfg.
func decodeGitHub(content *hcl.BodyContent, ectx *hcl.EvalContext, cfg *SourceConfig) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range content.Blocks.OfType("github_artifacts") {
		c, moreDiags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
			{Name: "repository", Required: true}, {Name: "name"}, {Name: "token"}, {Name: "api_url"},
		}})
		diags = append(diags, moreDiags...)
		g := GitHubArtifacts{Name: "*", API: DefaultGitHubAPI}
		if attr := c.Attributes["repository"]; attr != nil {
			s, d := schema.DecodePlainString(attr, ectx)
			diags = append(diags, d...)
			if !d.HasErrors() && !repoRE.MatchString(s) {
				diags = append(diags, schema.AttrError(attr, "Invalid repository", fmt.Sprintf("repository is a GitHub repository as owner/name (\"conda-forge/numpy-feedstock\"), not %q.", s)))
			}
			g.Repository = s
		}
		if attr := c.Attributes["name"]; attr != nil {
			s, d := schema.DecodePlainString(attr, ectx)
			diags = append(diags, d...)
			if _, err := path.Match(s, ""); !d.HasErrors() && (err != nil || s == "") {
				diags = append(diags, schema.AttrError(attr, "Invalid name", fmt.Sprintf("name is a glob over artifact names (\"conda-*\"), not %q.", s)))
			}
			g.Name = s
		}
		if attr := c.Attributes["token"]; attr != nil {
			s, _, d := schema.DecodeString(attr, ectx) // a secret: sensitive values welcome
			diags = append(diags, d...)
			g.Token = s
		}
		if attr := c.Attributes["api_url"]; attr != nil {
			s, d := schema.DecodePlainString(attr, ectx)
			diags = append(diags, d...)
			if !d.HasErrors() && !schema.IsBaseURL(s) {
				diags = append(diags, schema.AttrError(attr, "Invalid api_url", "api_url is the GitHub REST API's http(s) base URL (\"https://api.github.com\", or a GitHub Enterprise Server's \"https://HOST/api/v3\"), without credentials, query or fragment."))
			}
			g.API = strings.TrimRight(s, "/")
		}
		cfg.GitHub = append(cfg.GitHub, g)
	}
	return diags
}

// githubArtifact is the part of GitHub's artifact object ferry reads.
type githubArtifact struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Size      int64  `json:"size_in_bytes"`
	Expired   bool   `json:"expired"`
	CreatedAt string `json:"created_at"`
}

func (s *Source) githubToken(g GitHubArtifacts) string {
	if g.Token != "" {
		return g.Token
	}
	return s.getenv("GITHUB_TOKEN")
}

func (s *Source) githubGet(ctx context.Context, g GitHubArtifacts, u string) (io.ReadCloser, error) {
	api, err := url.Parse(g.API + "/")
	if err != nil {
		return nil, err
	}
	hdr := http.Header{"Accept": {"application/vnd.github+json"}, "X-Github-Api-Version": {"2022-11-28"}}
	if tok := s.githubToken(g); tok != "" {
		hdr.Set("Authorization", "Bearer "+tok)
	}
	// The token stays under the API URL; the artifact download's redirect
	// to a blob host is followed without it.
	rc, _, err := s.http.GetStream(httpx.WithCredentialScope(ctx, api), u, hdr)
	return rc, err
}

// githubList lists the newest unexpired artifact of every name matching
// g.Name, paging through the repository's artifacts.
func (s *Source) githubList(ctx context.Context, g GitHubArtifacts) ([]githubArtifact, error) {
	newest := map[string]githubArtifact{}
	var order []string
	q := url.Values{"per_page": {strconv.Itoa(githubPerPage)}}
	if !strings.ContainsAny(g.Name, `*?[\`) {
		q.Set("name", g.Name) // an exact name: let GitHub filter
	}
	for page := 1; ; page++ {
		if page > githubMaxPages {
			return nil, fmt.Errorf("more than %d artifacts; name a narrower pattern", githubPerPage*githubMaxPages)
		}
		q.Set("page", strconv.Itoa(page))
		rc, err := s.githubGet(ctx, g, g.API+"/repos/"+g.Repository+"/actions/artifacts?"+q.Encode())
		if err != nil {
			return nil, err
		}
		var body struct {
			TotalCount int              `json:"total_count"`
			Artifacts  []githubArtifact `json:"artifacts"`
		}
		data, err := io.ReadAll(io.LimitReader(rc, githubMaxList+1))
		rc.Close()
		if err == nil && len(data) > githubMaxList {
			err = fmt.Errorf("an artifact listing page is larger than %d bytes", githubMaxList)
		}
		if err == nil {
			err = json.Unmarshal(data, &body)
		}
		if err != nil {
			return nil, fmt.Errorf("listing artifacts, page %d: %w", page, err)
		}
		for _, a := range body.Artifacts {
			if ok, _ := path.Match(g.Name, a.Name); !ok || a.Expired || a.ID <= 0 {
				continue
			}
			prev, seen := newest[a.Name]
			if !seen {
				order = append(order, a.Name)
			}
			// RFC 3339 UTC timestamps order as strings; the id breaks ties.
			if !seen || a.CreatedAt > prev.CreatedAt || (a.CreatedAt == prev.CreatedAt && a.ID > prev.ID) {
				newest[a.Name] = a
			}
		}
		if len(body.Artifacts) < githubPerPage || page*githubPerPage >= body.TotalCount {
			break
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no unexpired artifact named like %q", g.Name)
	}
	out := make([]githubArtifact, 0, len(order))
	for _, n := range order {
		out = append(out, newest[n])
	}
	return out, nil
}

// githubInputs downloads the artifacts of g into dir and returns each as a
// local archive input (its zip) and the URL that names it.
func (s *Source) githubInputs(ctx context.Context, g GitHubArtifacts, dir string) ([]LooseInput, []string, error) {
	arts, err := s.githubList(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	var ins []LooseInput
	var locals []string
	for _, a := range arts {
		u := g.API + "/repos/" + g.Repository + "/actions/artifacts/" + strconv.FormatInt(a.ID, 10) + "/zip"
		rc, err := s.githubGet(ctx, g, u)
		if err != nil {
			return nil, nil, fmt.Errorf("artifact %q (%d): %w", a.Name, a.ID, err)
		}
		p, err := s.spool(rc, dir, "artifact-"+strconv.FormatInt(a.ID, 10)+".zip")
		rc.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("artifact %q (%d): %w", a.Name, a.ID, err)
		}
		ins = append(ins, LooseInput{URL: u})
		locals = append(locals, p)
	}
	return ins, locals, nil
}

// spool copies r into a new file named name in a new directory under dir,
// at most s.maxLoose bytes; nothing is left on error.
func (s *Source) spool(r io.Reader, dir, name string) (string, error) {
	sub, err := os.MkdirTemp(dir, "dl-")
	if err != nil {
		return "", err
	}
	p := filepath.Join(sub, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(r, s.maxLoose+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > s.maxLoose {
		err = fmt.Errorf("larger than %d bytes (max_artifact_size)", s.maxLoose)
	}
	if err != nil {
		os.Remove(p)
		return "", err
	}
	return p, nil
}
