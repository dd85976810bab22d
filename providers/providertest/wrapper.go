package providertest

import (
	"reflect"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
)

// capability is one optional Source capability CheckWrapper looks for:
// has reports whether s offers it as the core finds it (providers.As).
type capability struct {
	name string
	has  func(s providers.Source) bool
	// transfer marks capabilities that change how an artifact moves
	// (providers.NewPair): a wrapper must not claim one its inner source
	// lacks, or apply would copy or publish through a method that cannot
	// work.
	transfer bool
}

func capOf[T any](name string, transfer bool) capability {
	return capability{name: name, transfer: transfer, has: func(s providers.Source) bool {
		_, ok := providers.As[T](s)
		return ok
	}}
}

// sourceCapabilities are the optional Source capabilities in package
// providers, plus the notes inventory shows in the plan.
var sourceCapabilities = []capability{
	capOf[providers.Sizer]("Sizer", false),
	capOf[providers.Copier]("Copier", true),
	capOf[providers.Manifester]("Manifester", true),
	capOf[providers.TagLister]("TagLister", false),
	capOf[providers.UpstreamReporter]("UpstreamReporter", false),
	capOf[providers.FeedFollower]("FeedFollower", false),
	capOf[providers.Offliner]("Offliner", false),
	capOf[providers.Describer]("Describer", false),
	capOf[providers.Publisher]("Publisher", false),
	capOf[interface{ Notes() []string }]("Notes", false),
}

// CheckWrapper fails t when wrapper, a source wrapping inner (the air-gap
// cache around an offline source), hides a capability inner has, so that
// the core, looking it up with providers.As, would not find it; when it
// claims a capability that changes how artifacts transfer (Copier,
// Manifester) which inner lacks; or when its Unwrap chain does not reach
// inner.
func CheckWrapper(t testing.TB, wrapper, inner providers.Source) {
	t.Helper()
	reaches := false
	for s := providers.Source(wrapper); s != nil; {
		if same(s, inner) {
			reaches = true
			break
		}
		u, ok := s.(providers.Unwrapper)
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	if !reaches {
		t.Errorf("wrapper %T does not unwrap to %T", wrapper, inner)
	}
	for _, c := range sourceCapabilities {
		in, out := c.has(inner), c.has(wrapper)
		switch {
		case in && !out:
			t.Errorf("wrapper %T hides %s, which %T has", wrapper, c.name, inner)
		case !in && out && c.transfer:
			t.Errorf("wrapper %T claims %s, which %T lacks", wrapper, c.name, inner)
		}
	}
}

// same reports whether a and b are the same source, without panicking on
// a source type that cannot be compared.
func same(a, b providers.Source) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}
