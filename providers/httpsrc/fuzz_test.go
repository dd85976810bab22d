package httpsrc

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/providers/httpx"
)

// FuzzParseRows feeds arbitrary bytes to both list file parsers and
// validates every row they yield. Nothing may panic; every diagnostic must
// point into the file at a line it has (the CLI names file:line); every
// artifact accepted must have the key, URL and digest the planner relies on;
// the fast JSON Lines scanner must agree with the decoder on every line it
// reads.
func FuzzParseRows(f *testing.F) {
	row := `{"name": "jq", "url": "https://x/jq", "sha256": "` + zeros256 + `", "version": "1.7.1", "size": 12}`
	for _, seed := range []struct {
		csv bool
		src string
	}{
		{false, row + "\n" + row},
		{false, `{"name": "a", "name": "b"}` + "\n[]\n{\"key\": null, \"size\": 1e99}\n{\"url\": {\"x\": [1, 2]}}\r\n"},
		{false, "{\"name\": \"\xff\", \"url\": \"file:///a\", \"sha512\": \"" + zeros512 + "\"} {}"},
		{false, "{\"name\":\"a\",\"url\":\"https://u:p@x/%zz\",\"sha256\":\"\",\"published\":\"2024-05-01T00:00:00Z\"}"},
		{true, "name,url,sha256,version,size\njq,https://x/jq," + zeros256 + ",1.7.1,12\n"},
		{true, "\ufeffname,url,sha512,key\n\"a\nb\",file:///a," + zeros512 + ",x/../y\nc,\"d\n"},
		{true, "name,url\na,b,c\n\"x\"y,z\n"},
		{true, ""},
	} {
		f.Add(seed.csv, []byte(seed.src))
	}
	f.Fuzz(func(t *testing.T, isCSV bool, src []byte) {
		parse, name := parseJSONL, "a.jsonl"
		if isCSV {
			parse, name = parseCSV, "a.csv"
		}
		lines := bytes.Count(src, []byte("\n")) + 1
		check := func(diags hcl.Diagnostics) {
			for _, d := range diags {
				if d.Summary == "" || d.Subject == nil || d.Subject.Filename != name ||
					d.Subject.Start.Line < 1 || d.Subject.Start.Line > lines || d.Subject.Start.Column < 1 {
					t.Fatalf("diagnostic %v at %v: want a summary and a position inside %s (%d lines)", d, d.Subject, name, lines)
				}
			}
		}
		if !isCSV {
			// The fast line scanner reads a line exactly as the decoder
			// does, or leaves it to the decoder.
			for i, line := range bytes.Split(src, []byte("\n")) {
				if got, ok := scanJSONLine(name, i+1, 0, line); ok {
					want, d := parseJSONLine(name, i+1, 0, line)
					if d != nil {
						t.Fatalf("line %q: scanJSONLine accepts it, parseJSONLine says %v", line, d)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("line %q: scanJSONLine differs from parseJSONLine (-parse +scan):\n%s", line, diff)
					}
				}
			}
		}
		check(parse(name, src, func(r rawArtifact) bool {
			a, ok, diags := validateArtifact(r)
			check(diags)
			if ok && (a.Key == "" || a.URL == "" || len(a.Digests) == 0 || strings.HasPrefix(a.Key, "/") || checkKey(a.Key) != nil) {
				t.Fatalf("accepted %+v: want a clean key, a URL and a digest", a)
			}
			if !ok && len(diags) == 0 {
				t.Fatalf("row %+v rejected without a diagnostic", r)
			}
			return true
		}))
	})
}

// FuzzPlainURL checks the claim plainURL rests on: for every URL it
// accepts, url.Parse succeeds with an http or https scheme, a host, no
// opaque part, the same path, and httpx.Redact gives the URL back; so
// parseURL returns the same with or without the fast path.
func FuzzPlainURL(f *testing.F) {
	for _, s := range []string{
		"https://files.example.org/pkg-000000/pkg-000000-1.0.0.tar.gz",
		"http://x", "http://x/", "https://x:8080/a", "https://x:/a", "https://x:1:2/a",
		"https://u:p@x/a", "https://x/a?b=c", "https://x/a#f", "https://x/%41", "HTTPS://x/a",
		"https:///a", "https://x/a b", "https://[::1]/a", "https://x/~u/_v/./../", "https://x.y-z.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := plainURL(s)
		if !ok {
			return
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("plainURL(%q) accepts it, url.Parse says %v", s, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" || u.User != nil || u.Path != p {
			t.Fatalf("plainURL(%q) = %q, url.Parse gives %#v", s, p, u)
		}
		if r := httpx.Redact(u); r != s {
			t.Fatalf("plainURL(%q) accepts it, httpx.Redact gives %q", s, r)
		}
	})
}
