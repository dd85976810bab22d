// Command rawoci is the bench's raw registry client for the small-object
// scenario (issue #16): the minimal request sequence one ferry artifact
// needs at an OCI registry, and nothing else. Per file of the list it
// streams the GET from the file server into a blob upload (POST, then one
// monolithic PUT with the digest from the list), then PUTs the manifest by
// tag; the empty config blob is pushed once up front. It verifies nothing,
// checks nothing for existence and keeps no state: it is what the registry
// itself sustains for this workload, the ceiling ferry is measured against.
//
//	rawoci -registry HOST:PORT -repo REPO -from URL -list FILE [-p 4] [-checks]
//
// -checks adds, per file, the two reads ferry's apply sends besides the
// minimum (HEAD of the tag's manifest, HEAD of the blob; each must answer
// 404): the registry's cost of ferry's request sequence without ferry.
// (ferry's plan reads the repository's tags list once, not per file.)
//
// The list has lines NAME SHA256 SIZE; each file is tagged NAME in REPO
// with the manifest shape ferry writes (artifactType, one layer, the title
// and key annotations), so the registry stores as much per artifact.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"
)

type file struct {
	name, sha256 string
	size         int64
}

func main() {
	reg := flag.String("registry", "", "registry HOST:PORT (plain HTTP)")
	repo := flag.String("repo", "", "repository")
	from := flag.String("from", "", "HTTP base URL to stream each NAME from")
	list := flag.String("list", "", "file with lines NAME SHA256 SIZE")
	p := flag.Int("p", 4, "files in flight")
	checks := flag.Bool("checks", false, "also send ferry's existence checks per file (HEAD manifest, HEAD blob)")
	flag.Parse()
	if err := run(context.Background(), *reg, *repo, *from, *list, *p, *checks); err != nil {
		fmt.Fprintln(os.Stderr, "rawoci:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, reg, repo, from, list string, p int, checks bool) error {
	if reg == "" || repo == "" || from == "" || list == "" || p < 1 {
		return errors.New("want -registry, -repo, -from, -list and -p >= 1")
	}
	files, err := readList(list)
	if err != nil {
		return err
	}
	// One keep-alive connection per worker and server: no connection is
	// set up twice.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = p
	t.DisableCompression = true
	c := &client{hc: &http.Client{Transport: t}, base: "http://" + reg + "/v2/" + repo, checks: checks}

	const configDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	if err := c.blob(ctx, configDigest, 2, bytes.NewReader([]byte("{}"))); err != nil {
		return fmt.Errorf("config blob: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(p)
	for _, f := range files {
		g.Go(func() error {
			if err := c.artifact(ctx, from+"/"+f.name, f, configDigest); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

type client struct {
	hc     *http.Client
	base   string // http://HOST/v2/REPO
	checks bool
}

func (c *client) artifact(ctx context.Context, src string, f file, configDigest string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	dgst := "sha256:" + f.sha256
	if c.checks {
		for _, chk := range []struct{ method, path string }{
			{http.MethodHead, "/manifests/" + f.name}, {http.MethodHead, "/blobs/" + dgst},
		} {
			if _, err := c.do(ctx, chk.method, c.base+chk.path, "", 0, nil, http.StatusNotFound); err != nil {
				return err
			}
		}
	}
	if err := c.blob(ctx, dgst, f.size, resp.Body); err != nil {
		return err
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"artifactType":  "application/vnd.ferry.file.v1",
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": configDigest, "size": 2},
		"layers": []any{map[string]any{"mediaType": "application/octet-stream", "digest": dgst, "size": f.size,
			"annotations": map[string]string{"org.opencontainers.image.title": f.name}}},
		"annotations": map[string]string{"io.github.ferry-mirror.key": f.name},
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPut, c.base+"/manifests/"+f.name, "application/vnd.oci.image.manifest.v1+json", int64(len(body)), bytes.NewReader(body), http.StatusCreated)
	return err
}

// blob uploads one blob: POST for an upload session, one PUT with the body
// and the digest.
func (c *client) blob(ctx context.Context, dgst string, size int64, body io.Reader) error {
	resp, err := c.do(ctx, http.MethodPost, c.base+"/blobs/uploads/", "", 0, nil, http.StatusAccepted)
	if err != nil {
		return err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return fmt.Errorf("upload location: %w", err)
	}
	base, _ := url.Parse(c.base)
	u := base.ResolveReference(loc)
	q := u.Query()
	q.Set("digest", dgst)
	u.RawQuery = q.Encode()
	_, err = c.do(ctx, http.MethodPut, u.String(), "application/octet-stream", size, body, http.StatusCreated)
	return err
}

func (c *client) do(ctx context.Context, method, u, ctype string, size int64, body io.Reader, want int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		req.Body = io.NopCloser(body) // streamed once, never replayed
		req.GetBody = nil
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	// Drain so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %s", method, strings.SplitN(u, "?", 2)[0], resp.Status)
	}
	return resp, nil
}

func readList(path string) ([]file, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var files []file
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var fl file
		if _, err := fmt.Sscanf(sc.Text(), "%s %s %d", &fl.name, &fl.sha256, &fl.size); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		if b, err := hex.DecodeString(fl.sha256); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("%s: %q: bad sha256", path, sc.Text())
		}
		files = append(files, fl)
	}
	return files, sc.Err()
}
