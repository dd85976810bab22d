package all_test

import (
	"testing"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/all"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// TestTypes: every registered type decodes and builds, and no two share a
// kind and name (config.Load would silently use the first).
func TestTypes(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range all.Types() {
		id := string(typ.Kind) + " " + typ.Name
		if seen[id] {
			t.Errorf("%s is registered twice", id)
		}
		seen[id] = true
		if typ.Decode == nil || typ.Name == "" || (typ.Kind != schema.KindSource && typ.Kind != schema.KindDestination) {
			t.Errorf("%s: incomplete type %+v", id, typ.Type)
		}
		// Mirror blocks come with their decoder and the capability the
		// configuration's pairing checks judge them by.
		if blocks, decoder := len(typ.MirrorBlocks) > 0, typ.DecodeMirror != nil; blocks != decoder {
			t.Errorf("%s: declares %d mirror blocks but DecodeMirror set = %v", id, len(typ.MirrorBlocks), decoder)
		} else if blocks && !typ.Provides.Has(schema.ConsumerOutputs) {
			t.Errorf("%s: declares mirror blocks without providing %s", id, schema.ConsumerOutputs)
		}
		// A type builds only its own kind.
		var err error
		if typ.Kind == schema.KindSource {
			_, err = typ.NewDestination("x.y", nil, registry.Env{})
		} else {
			_, err = typ.NewSource("x.y", nil, registry.Env{})
		}
		if err == nil {
			t.Errorf("%s built a provider of the other kind", id)
		}
	}
}
