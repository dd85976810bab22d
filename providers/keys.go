package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrInvalidKey reports a key that is not a clean relative slash path.
var ErrInvalidKey = errors.New("invalid key")

// CheckKey enforces the rules every artifact key follows, whatever the store:
// a relative slash-separated path with no empty, "." or ".." segments, no
// backslash and no NUL. Stores add their own rules on top.
func CheckKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why) }
	switch {
	case key == "":
		return bad("empty")
	case strings.ContainsRune(key, 0):
		return bad("contains a NUL byte")
	case strings.ContainsRune(key, '\\'):
		return bad("contains a backslash (use / to separate directories)")
	case strings.HasPrefix(key, "/"):
		return bad("absolute path")
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return bad("empty path segment")
		case seg == "." || seg == "..":
			return bad(fmt.Sprintf("%q path segment", seg))
		}
	}
	return nil
}

// ContextReader returns r, failing reads once ctx is done: a transfer is
// interrupted on cancellation even when r itself ignores the context.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
