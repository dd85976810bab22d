package httpx

import (
	"context"
	"errors"
	"net/url"
	"strings"
)

// redacted replaces secrets in displayed URLs.
const redacted = "xxxxx"

// sensitiveParams are substrings of query parameter names whose values are
// treated as secrets (tokens, presigned-URL signatures, API keys).
var sensitiveParams = [...]string{"token", "secret", "sig", "password", "passwd", "credential", "auth", "key"}

// Redact returns u as a string that is safe to log or put in an error: any
// user info (user name included, since it is often a token) is replaced by
// "xxxxx", and so are the values of query parameters whose names suggest a
// secret (token, signature, key, …).
//
// This is stricter than url.URL.Redacted, which keeps the user name.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := *u
	if r.User != nil {
		r.User = url.User(redacted)
	}
	if r.RawQuery != "" {
		if q, err := url.ParseQuery(r.RawQuery); err != nil {
			r.RawQuery = redacted
		} else if redactQuery(q) {
			r.RawQuery = q.Encode()
		}
	}
	return r.String()
}

func redactQuery(q url.Values) bool {
	changed := false
	for name, vals := range q {
		lower := strings.ToLower(name)
		for _, s := range sensitiveParams {
			if strings.Contains(lower, s) {
				for i := range vals {
					vals[i] = redacted
				}
				changed = true
				break
			}
		}
	}
	return changed
}

// RedactString is Redact for a raw URL. A URL that does not parse is not
// echoed at all, since it may still carry credentials.
func RedactString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return Redact(u)
}

type displayKey struct{}

// WithDisplayURL returns a context that makes the client show display
// instead of the request URL in every log line and error for requests made
// with it. Use it for URLs built from sensitive values (a token in the path
// or query), e.g. with display "(sensitive)".
func WithDisplayURL(ctx context.Context, display string) context.Context {
	return context.WithValue(ctx, displayKey{}, display)
}

func displayFrom(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(displayKey{}).(string)
	return s, ok
}

// stripURLError removes the *url.Error layer net/http adds around transport
// errors: its message repeats the request URL, which may carry secrets the
// display URL hides. The caller reports the (display) URL itself.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
