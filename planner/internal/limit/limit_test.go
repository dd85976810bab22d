package limit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner/internal/limit"
)

// TestAcquireCaps: at most the cap hold a name at once, names without a
// cap are free, and a cancelled wait holds nothing.
func TestAcquireCaps(t *testing.T) {
	s := limit.New(map[string]int{"a": 2, "free": 0})
	var in, peak atomic.Int64
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := s.Acquire(context.Background(), "b", "a", "free")
			if err != nil {
				t.Error(err)
				return
			}
			n := in.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			in.Add(-1)
			release()
		}()
	}
	wg.Wait()
	if got := peak.Load(); got != 2 {
		t.Errorf("peak holders of a = %d, want 2", got)
	}

	r1, _ := s.Acquire(context.Background(), "a")
	r2, _ := s.Acquire(context.Background(), "a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Acquire(ctx, "a"); err == nil {
		t.Error("Acquire on a full cap with a cancelled ctx succeeded")
	}
	r1()
	r2()
	if _, err := s.Acquire(context.Background(), "a", "a"); err != nil {
		t.Error(err)
	}
	var nilSet *limit.Set
	if _, err := nilSet.Acquire(ctx, "a"); err != nil {
		t.Errorf("nil Set: %v", err)
	}
}
