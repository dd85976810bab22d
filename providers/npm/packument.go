package npm

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ferry-mirror/ferry/providers"
)

// maxPackumentBytes bounds a packument read into memory. The largest on
// npmjs (a few thousand versions with readmes) are tens of MiB.
const maxPackumentBytes = 256 << 20

// packument is the part of a full package document ferry reads. Versions
// stay raw: an npm destination publishes them as the upstream wrote them.
type packument struct {
	Name     string                     `json:"name"`
	DistTags map[string]string          `json:"dist-tags"`
	Versions map[string]json.RawMessage `json:"versions"`
	// Time maps versions (and "created", "modified") to publish times;
	// values are raw because a fully unpublished package has an object
	// under "unpublished".
	Time map[string]json.RawMessage `json:"time"`
	// Rev is the document revision (registries that support writes).
	Rev string `json:"_rev,omitempty"`
}

// versionDoc is the part of one version's document ferry reads.
type versionDoc struct {
	Name       string          `json:"name"`
	Version    string          `json:"version"`
	Dist       dist            `json:"dist"`
	Deprecated json.RawMessage `json:"deprecated,omitempty"`
	// Dependencies are followed by the dependency closure.
	Dependencies         map[string]string `json:"dependencies,omitempty"`
	OptionalDependencies map[string]string `json:"optionalDependencies,omitempty"`
	PeerDependencies     map[string]string `json:"peerDependencies,omitempty"`
}

type dist struct {
	Tarball   string `json:"tarball"`
	Shasum    string `json:"shasum,omitempty"`
	Integrity string `json:"integrity,omitempty"`
}

// parsePackument decodes body, checking what every later step relies on.
func parsePackument(body []byte, want string) (*packument, error) {
	var p packument
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("unreadable package document: %w", err)
	}
	if p.Name != want {
		return nil, fmt.Errorf("package document names %q, not %q", p.Name, want)
	}
	return &p, nil
}

// version decodes the document of version v and checks it is that version
// of p's package.
func (p *packument) version(v string) (versionDoc, error) {
	raw, ok := p.Versions[v]
	if !ok {
		return versionDoc{}, fmt.Errorf("%s@%s: %w", p.Name, v, providers.ErrNotFound)
	}
	var d versionDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return versionDoc{}, fmt.Errorf("%s@%s: unreadable version document: %w", p.Name, v, err)
	}
	if d.Name != p.Name || d.Version != v {
		return versionDoc{}, fmt.Errorf("%s@%s: version document is for %s@%s", p.Name, v, d.Name, d.Version)
	}
	return d, nil
}

// distTags are p's dist-tags that point at a version p has, under a
// strict semantic version and a tag name ferry can set; problems says, in
// one sentence each, which tags were left out and why. A hostile document
// ("latest": "../../x") must not select a version no registry would
// accept, or make every apply fail setting it.
func (p *packument) distTags() (tags map[string]string, problems []string) {
	tags = map[string]string{}
	for _, t := range slices.Sorted(maps.Keys(p.DistTags)) {
		v := p.DistTags[t]
		var why string
		switch {
		case !validTagName(t):
			why = "is not a tag name npm accepts"
		case !validVersion(v):
			why = fmt.Sprintf("points at %q, which is not a semantic version", v)
		case p.Versions[v] == nil:
			why = fmt.Sprintf("points at %s, which the package document does not have", v)
		default:
			tags[t] = v
			continue
		}
		problems = append(problems, fmt.Sprintf("%s: dist-tag %q %s; ferry ignores the tag.", p.Name, t, why))
	}
	return tags, problems
}

// validTagName reports whether t is a dist-tag name ferry can set: what
// npm's encodeURIComponent leaves alone, without "!'()*", and at most 256
// characters.
func validTagName(t string) bool {
	if t == "" || len(t) > 256 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return true
}

// published is when v was published, zero if the document does not say.
func (p *packument) published(v string) time.Time {
	var s string
	if json.Unmarshal(p.Time[v], &s) != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// deprecation is the version's deprecation message ("" when it is not
// deprecated; npm un-deprecates by setting "").
func (d versionDoc) deprecation() string {
	var s string
	if json.Unmarshal(d.Deprecated, &s) != nil {
		return ""
	}
	return s
}

// digests are the content hashes dist declares: every sha512, sha256 and
// sha1 entry of the integrity SRI string, and shasum (hex sha1). It fails
// when they disagree or when there is none.
func (d dist) digests() (providers.Digests, error) {
	var out providers.Digests
	var unverified []string // algorithms ferry does not check (sha384)
	add := func(dg providers.Digest) error {
		if prev, ok := out.Get(dg.Algorithm); ok && prev.Hex != dg.Hex {
			return fmt.Errorf("dist declares two different %s digests", dg.Algorithm)
		}
		out = out.With(dg)
		return nil
	}
	for _, entry := range strings.Fields(d.Integrity) {
		alg, b64, ok := strings.Cut(entry, "-")
		if !ok {
			return nil, fmt.Errorf("dist.integrity entry %q is not ALGORITHM-BASE64", entry)
		}
		b64, _, _ = strings.Cut(b64, "?") // SRI options
		a := providers.Algorithm(alg)
		if a.HexLen() == 0 {
			// sha384 and others: not checked, not an error.
			if !slices.Contains(unverified, alg) {
				unverified = append(unverified, alg)
			}
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw)*2 != a.HexLen() {
			return nil, fmt.Errorf("dist.integrity entry %q does not hold a %s digest", entry, alg)
		}
		if err := add(providers.Digest{Algorithm: a, Hex: hex.EncodeToString(raw)}); err != nil {
			return nil, err
		}
	}
	if d.Shasum != "" {
		dg := providers.Digest{Algorithm: providers.SHA1, Hex: strings.ToLower(d.Shasum)}
		if err := dg.Validate(); err != nil {
			return nil, fmt.Errorf("dist.shasum: %w", err)
		}
		if err := add(dg); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 && len(unverified) > 0 {
		return nil, fmt.Errorf("dist declares only %s integrity, which ferry does not verify (it verifies sha512, sha256 and sha1), and no shasum",
			strings.Join(unverified, " and "))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dist declares neither integrity nor shasum")
	}
	return out, nil
}

// integrity is the SRI string for ds: sha512 when known, else sha1.
func integrity(ds providers.Digests) string {
	for _, alg := range []providers.Algorithm{providers.SHA512, providers.SHA1} {
		if d, ok := ds.Get(alg); ok {
			raw, _ := hex.DecodeString(d.Hex)
			return string(alg) + "-" + base64.StdEncoding.EncodeToString(raw)
		}
	}
	return ""
}
