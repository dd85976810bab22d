package httpsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
)

// Location is where an artifact's bytes are read from. Every source that
// downloads from URLs (http, buildpack) opens them through Open and SizeOf.
type Location struct {
	// URL may carry credentials; it never appears in errors or logs.
	URL string
	// Display is the secret-free form shown instead.
	Display string
	// FileRoot, when set, resolves file:// URLs against this directory
	// (file:///dependencies/x is FileRoot/dependencies/x, the buildpack
	// convention) and refuses paths that climb out of it. When empty, file
	// URLs must be absolute paths.
	FileRoot string
}

func (l Location) parse() (*url.URL, error) {
	u, err := url.Parse(l.URL)
	if err != nil {
		// Never echo the URL or the parse error: both may hold credentials.
		return nil, fmt.Errorf("%s: URL does not parse", l.Display)
	}
	return u, nil
}

// Open streams the bytes at l: over HTTP(S) through the shared client (which
// retries and resumes), or from disk for file URLs. A missing object wraps
// providers.ErrNotFound. The bytes are not verified here.
func Open(ctx context.Context, client *httpx.Client, l Location) (io.ReadCloser, error) {
	u, err := l.parse()
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https":
		rc, _, err := client.GetStream(httpx.WithDisplayURL(ctx, l.Display), l.URL, nil)
		return rc, err
	case "file":
		f, err := l.openFile(u)
		if err != nil {
			return nil, err
		}
		return &ctxFile{ctx: ctx, f: f}, nil
	}
	return nil, l.unsupported(u)
}

// SizeOf returns the size at l without reading it: Content-Length from a HEAD
// request, or the file size; -1 when the server does not tell.
func SizeOf(ctx context.Context, client *httpx.Client, log hclog.Logger, l Location) (int64, error) {
	u, err := l.parse()
	if err != nil {
		return -1, err
	}
	switch u.Scheme {
	case "http", "https":
		req, err := http.NewRequestWithContext(httpx.WithDisplayURL(ctx, l.Display), http.MethodHead, l.URL, nil)
		if err != nil {
			return -1, fmt.Errorf("HEAD %s: invalid URL", l.Display)
		}
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := client.Do(req)
		if err != nil {
			return -1, err
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode <= 299:
			return resp.ContentLength, nil
		case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusGone,
			resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
			return -1, httpx.CheckResponse(resp)
		}
		// Some servers refuse HEAD (405, 501…): the size is merely unknown.
		if log != nil {
			log.Debug("size unknown", "url", l.Display, "status", resp.StatusCode)
		}
		return -1, nil
	case "file":
		f, err := l.openFile(u)
		if err != nil {
			return -1, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return -1, fmt.Errorf("stat %s: %w", l.Display, pathErrCause(err))
		}
		return fi.Size(), nil
	}
	return -1, l.unsupported(u)
}

// openFile opens a file URL: file:///absolute/path (file://localhost/… too),
// or, with FileRoot, a path below it.
func (l Location) openFile(u *url.URL) (*os.File, error) {
	if u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") {
		return nil, fmt.Errorf("%s: file URLs must be absolute, as file:///path/to/file", l.Display)
	}
	p := filepath.FromSlash(u.Path)
	if l.FileRoot != "" {
		rel := filepath.Clean(strings.TrimPrefix(u.Path, "/"))
		if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			return nil, fmt.Errorf("%s: file URL leaves the buildpack directory", l.Display)
		}
		p = filepath.Join(l.FileRoot, filepath.FromSlash(rel))
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %s: %w", l.Display, providers.ErrNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", l.Display, pathErrCause(err))
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", l.Display, pathErrCause(err))
	}
	return f, nil
}

func (l Location) unsupported(u *url.URL) error {
	return fmt.Errorf("%s: URL scheme %q: %w (use http, https or file)", l.Display, u.Scheme, providers.ErrUnsupported)
}
