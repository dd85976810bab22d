package apply_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
)

// peakStore is a dir store that records how many Puts ran at once.
type peakStore struct {
	*dir.Store
	in, peak atomic.Int64
}

func (s *peakStore) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	n := s.in.Add(1)
	defer s.in.Add(-1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	time.Sleep(10 * time.Millisecond)
	return s.Store.Put(ctx, a, r, opts)
}

// PutToken is the Put the engine calls (dir.Store is a TokenPutter).
func (s *peakStore) PutToken(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) (string, error) {
	return "", s.Put(ctx, a, r, opts)
}

type peakWorld struct {
	*world
	dst *peakStore
}

func (w peakWorld) Destination(string) (providers.Destination, error) { return w.dst, nil }

// TestApplyHonoursConnections: a destination whose type declares one
// connection gets one change at a time, whatever the parallelism.
func TestApplyHonoursConnections(t *testing.T) {
	for _, tt := range []struct {
		name        string
		connections map[string]int
		wantPeak    func(int64) bool
	}{
		{name: "capped at one", connections: map[string]int{"destination.dir.local": 1}, wantPeak: func(p int64) bool { return p == 1 }},
		{name: "uncapped", wantPeak: func(p int64) bool { return p > 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			var changes []plan.Change
			for i := range 6 {
				name := fmt.Sprintf("f%d.txt", i)
				files[name] = []byte("content of " + name)
				changes = append(changes, addChange(name, sha(files[name])))
			}
			w := newWorld(t, files)
			pw := peakWorld{world: w, dst: &peakStore{Store: w.dst}}
			mgr, st, _ := openState(t)
			res, err := apply.Apply(context.Background(), &plan.Plan{Changes: changes}, st, mgr, pw, apply.Options{
				Parallelism: 6, Connections: tt.connections,
			})
			if err != nil || res.Err() != nil {
				t.Fatalf("apply: %v, %v", err, res.Err())
			}
			if p := pw.dst.peak.Load(); !tt.wantPeak(p) {
				t.Errorf("peak concurrent puts = %d", p)
			}
		})
	}
}
