package providertest_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/providertest"
)

type plainSource struct{}

func (plainSource) List(context.Context, func(providers.Artifact) error) error { return nil }
func (plainSource) Fetch(context.Context, providers.Artifact) (io.ReadCloser, error) {
	return nil, providers.ErrNotFound
}

// packageSource has the capabilities of an npm source.
type packageSource struct{ plainSource }

func (packageSource) Manifest(context.Context, providers.Artifact) ([]byte, error) { return nil, nil }
func (packageSource) DistTags(context.Context, string) (map[string]string, error) {
	return nil, nil
}

// hiding wraps without Unwrap, the way the cache wrapper once did.
type hiding struct{ inner providers.Source }

func (h hiding) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return h.inner.List(ctx, fn)
}
func (h hiding) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	return h.inner.Fetch(ctx, a)
}

// forwarding overrides Fetch and forwards the rest through Unwrap.
type forwarding struct{ hiding }

func (f forwarding) Unwrap() providers.Source { return f.inner }

// claiming forwards, but claims a graph copy its inner source lacks.
type claiming struct{ forwarding }

func (claiming) CopyTo(context.Context, providers.Artifact, providers.Destination) (providers.Artifact, error) {
	return providers.Artifact{}, providers.ErrUnsupported
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckWrapper(t *testing.T) {
	inner := packageSource{}
	tests := []struct {
		name    string
		wrapper providers.Source
		fails   int
	}{
		{name: "forwarding through Unwrap", wrapper: forwarding{hiding{inner}}},
		{name: "hiding: no Unwrap", wrapper: hiding{inner}, fails: 3}, // no unwrap, Manifester, TagLister
		{name: "claiming a graph copy", wrapper: claiming{forwarding{hiding{inner}}}, fails: 1},
		{name: "unwrapping to another source", wrapper: forwarding{hiding{plainSource{}}}, fails: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			providertest.CheckWrapper(r, tt.wrapper, inner)
			if len(r.errs) != tt.fails {
				t.Errorf("CheckWrapper reported %d failures, want %d: %q", len(r.errs), tt.fails, r.errs)
			}
		})
	}
}
