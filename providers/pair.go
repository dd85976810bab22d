package providers

import (
	"context"
	"fmt"
)

// Unwrapper is implemented by a source that wraps another (the air-gap
// cache): Unwrap returns the wrapped source. Capabilities the wrapper does
// not implement itself are found on the wrapped source (As), so a wrapper
// overrides what it changes and forwards the rest by construction.
type Unwrapper interface {
	Unwrap() Source
}

// As finds the capability T on s or, through Unwrap, on the first source s
// wraps that has it. The core looks source capabilities up with As, never
// with a bare type assertion, so that no wrapper hides one.
func As[T any](s Source) (T, bool) {
	for s != nil {
		if c, ok := s.(T); ok {
			return c, true
		}
		u, ok := s.(Unwrapper)
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}

// Transfer is how an artifact moves from a source to a destination.
type Transfer int

const (
	// Stream: Fetch, verify, Put.
	Stream Transfer = iota
	// ManifestPut: Fetch, verify, PutWithManifest with the source's
	// Manifest (a registry that publishes packages with their document).
	ManifestPut
	// GraphCopy: the source copies the graph itself (CopyTo), and the
	// destination is compared by StatGraph.
	GraphCopy
)

// Pair is one mirror's source and destination with their capabilities
// resolved once: how artifacts transfer and how the destination is
// compared. Inventory and apply both go through it, so they cannot
// disagree.
type Pair struct {
	Source      Source
	Destination Destination
	Transfer    Transfer
	// Copier is the source's, when Transfer is GraphCopy.
	Copier Copier
	// Manifester and ManifestPutter are set when Transfer is ManifestPut.
	Manifester     Manifester
	ManifestPutter ManifestPutter
	// graph is the destination's GraphStater, when the source copies
	// graphs and the destination can hold them.
	graph GraphStater
}

// NewPair resolves how src transfers to dst. src may be nil (only Stat is
// then of use). The error, wrapping ErrUnsupported, says why the two
// cannot transfer (the configuration refuses such pairings first); the
// returned Pair still stats.
func NewPair(src Source, dst Destination) (Pair, error) {
	p := Pair{Source: src, Destination: dst}
	if c, ok := As[Copier](src); ok {
		p.Transfer, p.Copier = GraphCopy, c
		gs, ok := dst.(GraphStater)
		if !ok {
			return p, fmt.Errorf("the source copies graphs, which the destination cannot hold: %w", ErrUnsupported)
		}
		p.graph = gs
		return p, nil
	}
	if mp, ok := dst.(ManifestPutter); ok {
		p.Transfer, p.ManifestPutter = ManifestPut, mp
		ms, ok := As[Manifester](src)
		if !ok {
			return p, fmt.Errorf("the destination publishes packages with their metadata, which the source does not provide: %w", ErrUnsupported)
		}
		p.Manifester = ms
	}
	return p, nil
}

// Stat describes what the destination holds under key the way this pair
// compares it: as a whole graph (StatGraph) when the source copies graphs,
// else the object (Stat).
func (p Pair) Stat(ctx context.Context, key string) (Artifact, error) {
	if p.graph != nil {
		return p.graph.StatGraph(ctx, key)
	}
	return p.Destination.Stat(ctx, key)
}
