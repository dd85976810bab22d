package httpx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GetStream sends a GET for rawURL (with the extra headers in hdr, which may
// be nil) with retries, and returns the body of a 2xx response; the same
// reader is also resp.Body. A non-2xx status is an *Error (see
// CheckResponse: 404 and 410 wrap providers.ErrNotFound).
//
// A 200 body is wrapped so that a read failing mid-stream (connection reset,
// unexpected EOF) is repaired transparently: the rest is re-requested with
// "Range: bytes=N-" and an If-Range validator, and reading continues only if
// the server answers 206 with a Content-Range starting at N. This needs the
// first response to carry "Accept-Ranges: bytes" and a strong ETag or a
// Last-Modified date; otherwise, or after MaxRetries resumes, the read fails
// with an error saying why. It never silently truncates. A body that stalls
// (no byte for the client's IdleTimeout) counts as such a failure. The caller
// still verifies the bytes.
func (c *Client) GetStream(ctx context.Context, rawURL string, hdr http.Header) (io.ReadCloser, *http.Response, error) {
	display, ok := displayFrom(ctx)
	if !ok {
		display = RedactString(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, &Error{Method: http.MethodGet, URL: display, Err: fmt.Errorf("invalid URL: %w", stripURLError(err))}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, nil, &Error{Method: http.MethodGet, URL: display, Err: fmt.Errorf("unsupported URL scheme %q", u.Scheme)}
	}
	req, err := http.NewRequestWithContext(WithDisplayURL(ctx, display), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, &Error{Method: http.MethodGet, URL: display, Err: stripURLError(err)}
	}
	for k, vs := range hdr {
		req.Header[k] = append([]string(nil), vs...)
	}
	if req.Header.Get("Accept-Encoding") == "" {
		// Ranges and digests refer to the bytes as stored, never to a
		// transport re-encoding of them.
		req.Header.Set("Accept-Encoding", "identity")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckResponse(resp); err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK || req.Header.Get("Range") != "" {
		return resp.Body, resp, nil
	}
	b := &resumingBody{
		c:       c,
		req:     req,
		body:    resp.Body,
		size:    resp.ContentLength,
		display: display,
	}
	b.validator, b.noResume = resumeValidator(resp)
	resp.Body = b
	return b, resp, nil
}

// resumeValidator returns the If-Range validator for resuming resp, or the
// reason resp cannot be resumed.
func resumeValidator(resp *http.Response) (validator, reason string) {
	if resp.Uncompressed {
		return "", "the body was decompressed in transit"
	}
	if !acceptsByteRanges(resp.Header) {
		return "", "the server does not advertise Accept-Ranges: bytes"
	}
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return et, ""
	}
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		return lm, ""
	}
	return "", "the response has no strong ETag or Last-Modified to resume against"
}

func acceptsByteRanges(h http.Header) bool {
	for _, v := range h.Values("Accept-Ranges") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "bytes") {
				return true
			}
		}
	}
	return false
}

// resumingBody is a response body that re-requests the remainder after a
// mid-stream failure. Its context is the one of req, the request it
// continues, exactly as for any http.Response body.
type resumingBody struct {
	c         *Client
	req       *http.Request // the original request, the template for resumes
	body      io.ReadCloser // current body; nil between a failure and a resume
	n         int64         // bytes delivered so far
	size      int64         // total size, -1 if unknown
	validator string
	noResume  string // why resuming is impossible, "" if it is possible
	display   string
	resumes   int
	readErr   error // the last mid-stream failure
	err       error // terminal error, returned by every later Read
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.body == nil {
			if err := b.resume(); err != nil {
				b.err = err
				return 0, err
			}
		}
		n, err := b.body.Read(p)
		b.n += int64(n)
		if err == nil || err == io.EOF {
			return n, err
		}
		b.body.Close()
		b.body = nil
		b.readErr = err
		b.c.log.Debug("http body read failed", "url", b.display, "offset", b.n, "error", err)
		if n > 0 {
			return n, nil // resume on the next Read
		}
	}
}

// resume replaces the failed body with the remainder of the resource.
func (b *resumingBody) resume() error {
	ctx := b.req.Context()
	fail := func(format string, args ...any) error {
		return &Error{Method: http.MethodGet, URL: b.display,
			Err: fmt.Errorf("reading body failed at byte %d: %w: %s", b.n, b.readErr, fmt.Sprintf(format, args...))}
	}
	if err := ctx.Err(); err != nil {
		return &Error{Method: http.MethodGet, URL: b.display, Err: err}
	}
	if b.noResume != "" {
		return fail("cannot resume: %s", b.noResume)
	}
	if b.resumes >= b.c.maxRetries {
		return fail("giving up after %d resumes", b.resumes)
	}
	b.resumes++
	req := b.req.Clone(ctx)
	req.Header.Set("Range", "bytes="+strconv.FormatInt(b.n, 10)+"-")
	req.Header.Set("If-Range", b.validator)
	b.c.log.Debug("resuming download", "url", b.display, "offset", b.n, "resume", b.resumes)
	resp, err := b.c.Do(req)
	if err != nil {
		return &Error{Method: http.MethodGet, URL: b.display,
			Err: fmt.Errorf("reading body failed at byte %d: %w; resuming failed: %w", b.n, b.readErr, err)}
	}
	if resp.StatusCode != http.StatusPartialContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return fail("cannot resume: the server answered %s instead of 206 Partial Content (the resource changed or ranges are not supported)",
			statusText(resp.StatusCode))
	}
	cr := resp.Header.Get("Content-Range")
	start, total, ok := parseContentRange(cr)
	if !ok || start != b.n || (b.size >= 0 && total >= 0 && total != b.size) {
		resp.Body.Close()
		return fail("cannot resume: unexpected Content-Range %q", cr)
	}
	if et := resp.Header.Get("ETag"); et != "" && strings.HasPrefix(b.validator, `"`) && et != b.validator {
		resp.Body.Close()
		return fail("cannot resume: the resource changed (ETag %s, was %s)", et, b.validator)
	}
	b.body = resp.Body
	return nil
}

func (b *resumingBody) Close() error {
	if b.err == nil {
		b.err = fmt.Errorf("GET %s: read on closed body", b.display)
	}
	if b.body == nil {
		return nil
	}
	err := b.body.Close()
	b.body = nil
	return err
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*",
// reported as -1).
func parseContentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, last, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(first, 10, 64)
	end, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	if tot == "*" {
		return start, -1, true
	}
	total, err := strconv.ParseInt(tot, 10, 64)
	if err != nil || total <= end {
		return 0, 0, false
	}
	return start, total, true
}
