package inventory_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/planner/inventory"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

// recordingPublisher records the settings ReadOutputs was handed.
type recordingPublisher struct{ got *[]any }

func (p recordingPublisher) ReadOutputs(_ context.Context, req providers.OutputRequest) (providers.OutputRead, error) {
	*p.got = append(*p.got, req.Settings)
	return providers.OutputRead{State: json.RawMessage(`{}`)}, nil
}

func (recordingPublisher) Publish(context.Context, providers.Output, []string) error { return nil }

type publishingSource struct {
	providers.Source
	recordingPublisher
}

type publishingDestination struct {
	providers.Destination
	recordingPublisher
}

// TestGatherOutputsGoToTheirOwner: the side whose type decoded a mirror's
// output blocks reads the outputs, with the decoded settings handed over
// unread; without blocks, the source when it publishes, else the
// destination.
func TestGatherOutputsGoToTheirOwner(t *testing.T) {
	settings := &struct{ Path string }{"out"}
	tests := []struct {
		name             string
		outputs          *config.MirrorOutputs
		srcPubs, dstPubs bool
		wantSide         providers.Side
		wantSrc, wantDst []any
		wantErr          string
	}{
		{name: "the source's blocks", outputs: &config.MirrorOutputs{Side: schema.KindSource, Settings: settings}, srcPubs: true, dstPubs: true,
			wantSide: providers.SideSource, wantSrc: []any{settings}},
		{name: "the destination's blocks", outputs: &config.MirrorOutputs{Side: schema.KindDestination, Settings: settings}, srcPubs: true, dstPubs: true,
			wantSide: providers.SideDestination, wantDst: []any{settings}},
		{name: "no blocks, the source publishes", srcPubs: true, dstPubs: true, wantSide: providers.SideSource, wantSrc: []any{nil}},
		{name: "no blocks, the destination publishes", dstPubs: true, wantSide: providers.SideDestination, wantDst: []any{nil}},
		{name: "blocks for a source that does not publish", outputs: &config.MirrorOutputs{Side: schema.KindSource, Settings: settings}, dstPubs: true,
			wantErr: "mirror m: source http.up publishes no consumer outputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotSrc, gotDst []any
			var p provs
			p.src = must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{}, registry.Env{}))
			p.dst = must(dir.NewDestination("dir.local", &dir.DestinationConfig{Path: t.TempDir()}, registry.Env{}))
			if tt.srcPubs {
				p.src = publishingSource{p.src, recordingPublisher{&gotSrc}}
			}
			if tt.dstPubs {
				p.dst = publishingDestination{p.dst, recordingPublisher{&gotDst}}
			}
			cfg := &config.Config{Mirrors: map[string]*config.Mirror{"m": {Name: "m", From: "http.up", To: "dir.local", Outputs: tt.outputs}}}
			inv, err := inventory.Gather(context.Background(), cfg, state.New("test"), p, inventory.Options{SourcesOnly: true})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Gather error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := inv.Outputs["m"].Side; got != tt.wantSide {
				t.Errorf("side = %s, want %s", got, tt.wantSide)
			}
			if diff := cmp.Diff(tt.wantSrc, gotSrc); diff != "" {
				t.Errorf("source read (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantDst, gotDst); diff != "" {
				t.Errorf("destination read (-want +got):\n%s", diff)
			}
		})
	}
}
