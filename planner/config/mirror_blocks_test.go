package config_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// decodedBlocks is what the test types' DecodeMirror returns: the blocks
// it was handed, as TYPE@LINE, and the mirror it was told about.
type decodedBlocks struct {
	Blocks  []string
	Address string
	Dir     string
}

// blockTypes are test types: a source "doc" and a destination "feed" that
// declare blocks for mirrors, and a source and destination "plain" that
// declare none.
func blockTypes() []schema.Type {
	plain := func(kind schema.Kind) schema.Type {
		return schema.Type{Kind: kind, Name: "plain", Decode: func(body hcl.Body, _ *hcl.EvalContext, _ schema.DecodeEnv) (any, hcl.Diagnostics) {
			_, diags := body.Content(&hcl.BodySchema{})
			return struct{}{}, diags
		}}
	}
	decodeMirror := func(blocks hcl.Blocks, _ *hcl.EvalContext, env schema.DecodeEnv) (any, hcl.Diagnostics) {
		d := &decodedBlocks{Address: env.Address, Dir: env.Dir}
		for _, b := range blocks {
			d.Blocks = append(d.Blocks, fmt.Sprintf("%s@%d", b.Type, b.DefRange.Start.Line))
		}
		return d, nil
	}
	doc := plain(schema.KindSource)
	doc.Name = "doc"
	doc.Provides = schema.ConsumerOutputs
	doc.MirrorBlocks = []schema.MirrorBlock{
		{Name: "index", Purpose: "writes the document's index", Summary: "Index needs a source with consumer outputs"},
		{Name: "pin"},
	}
	doc.DecodeMirror = decodeMirror
	feed := plain(schema.KindDestination)
	feed.Name = "feed"
	feed.Provides = schema.ConsumerOutputs
	feed.MirrorBlocks = []schema.MirrorBlock{{Name: "feed_index"}}
	feed.DecodeMirror = decodeMirror
	return []schema.Type{doc, feed, plain(schema.KindSource), plain(schema.KindDestination)}
}

func TestMirrorBlocksDeclaredByTypes(t *testing.T) {
	const providers = `
source "doc" "d" {}
source "plain" "p" {}
destination "feed" "f" {}
destination "plain" "p" {}
`
	type diag struct {
		Summary string
		Line    int
	}
	tests := []struct {
		name        string
		mirror      string
		wantSide    schema.Kind
		wantBlocks  []string // decoded, as TYPE@LINE
		wantRanges  []string // recorded, as TYPE@LINE
		wantDiags   []diag
		wantNothing bool // no output settings
	}{
		{
			name: "the source's blocks, in file order",
			mirror: `mirror "m" {
  from = source.doc.d
  to   = destination.plain.p
  pin {}
  retention { keep_last = 1 }
  index {}
}`,
			wantSide:   schema.KindSource,
			wantBlocks: []string{"pin@9", "index@11"},
		},
		{
			name: "the destination's blocks",
			mirror: `mirror "m" {
  from = source.plain.p
  to   = destination.feed.f
  feed_index {}
}`,
			wantSide:   schema.KindDestination,
			wantBlocks: []string{"feed_index@9"},
		},
		{
			name: "the source owns the outputs when both sides declare blocks",
			mirror: `mirror "m" {
  from = source.doc.d
  to   = destination.feed.f
  index {}
  feed_index {}
}`,
			wantSide:   schema.KindSource,
			wantBlocks: []string{"index@9"},
			wantDiags:  []diag{{"A feed_index block needs a destination that takes it", 10}},
		},
		{
			name: "a block the mirror's types do not take, with the type's summary",
			mirror: `mirror "m" {
  from = source.plain.p
  to   = destination.plain.p
  index {}
  pin {}
}`,
			wantDiags:   []diag{{"Index needs a source with consumer outputs", 9}, {"A pin block needs a source that takes it", 10}},
			wantNothing: true,
		},
		{
			name: "a block no type declares",
			mirror: `mirror "m" {
  from = source.doc.d
  to   = destination.plain.p
  indx {}
}`,
			wantDiags:   []diag{{"Unsupported block type", 9}},
			wantNothing: true,
		},
		{
			name: "no blocks",
			mirror: `mirror "m" {
  from = source.doc.d
  to   = destination.plain.p
}`,
			wantNothing: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeConfig(t, providers+tt.mirror)
			cfg, diags := config.Load(config.LoadOptions{Dir: dir, Types: blockTypes()})
			var got []diag
			for _, d := range diags {
				got = append(got, diag{d.Summary, d.Subject.Start.Line})
			}
			if diff := cmp.Diff(tt.wantDiags, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%v", diff, diags)
			}
			m := cfg.Mirrors["m"]
			if m == nil {
				t.Fatal("no mirror m")
			}
			if tt.wantNothing {
				if m.Outputs != nil {
					t.Errorf("Outputs = %+v, want nil", m.Outputs)
				}
				return
			}
			if m.Outputs == nil {
				t.Fatal("Outputs = nil")
			}
			want := &decodedBlocks{Blocks: tt.wantBlocks, Address: "mirror.m", Dir: cfg.Dir}
			if diff := cmp.Diff(want, m.Outputs.Settings); diff != "" {
				t.Errorf("DecodeMirror got (-want +got):\n%s", diff)
			}
			if m.Outputs.Side != tt.wantSide {
				t.Errorf("Side = %s, want %s", m.Outputs.Side, tt.wantSide)
			}
			var ranges []string
			for _, b := range m.Outputs.Blocks {
				ranges = append(ranges, fmt.Sprintf("%s@%d", b.Type, b.DeclRange.Start.Line))
				if r := m.Outputs.Range(b.Type); r == nil || *r != b.DeclRange {
					t.Errorf("Range(%q) = %v, want %v", b.Type, r, b.DeclRange)
				}
			}
			if diff := cmp.Diff(tt.wantBlocks, ranges); diff != "" {
				t.Errorf("recorded blocks (-want +got):\n%s", diff)
			}
			if r := m.Outputs.Range("absent"); r != nil {
				t.Errorf("Range(absent) = %v, want nil", r)
			}
		})
	}
}
