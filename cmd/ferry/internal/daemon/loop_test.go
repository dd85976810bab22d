package daemon_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/cmd/ferry/internal/daemon"
)

// fakeClock moves only when an iteration takes time or the loop waits.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func TestLoopSchedule(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// took are the iterations' durations; the loop stops after the last.
		took   []time.Duration
		jitter float64
		rand   float64
		// wantStarts are the iterations' start times after t0.
		wantStarts []time.Duration
		wantWaits  []time.Duration
	}{
		{
			name:       "interval after each start",
			took:       []time.Duration{10 * time.Second, 20 * time.Second, time.Second},
			wantStarts: []time.Duration{0, time.Minute, 2 * time.Minute},
			wantWaits:  []time.Duration{50 * time.Second, 40 * time.Second},
		},
		{
			name:       "jitter lengthens the interval",
			took:       []time.Duration{10 * time.Second, 10 * time.Second, 0},
			jitter:     0.1,
			rand:       0.5,
			wantStarts: []time.Duration{0, 63 * time.Second, 126 * time.Second},
			wantWaits:  []time.Duration{53 * time.Second, 53 * time.Second},
		},
		{
			name:       "a slow iteration is followed at once, without a backlog",
			took:       []time.Duration{150 * time.Second, 10 * time.Second, 0},
			wantStarts: []time.Duration{0, 150 * time.Second, 210 * time.Second},
			wantWaits:  []time.Duration{0, 50 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: t0}
			stop := make(chan struct{})
			l := &daemon.Loop{Interval: time.Minute, Jitter: tt.jitter, Now: clock.Now, After: clock.After, Rand: func() float64 { return tt.rand }}
			var starts []time.Duration
			var inFlight atomic.Int32
			n := l.Run(context.Background(), stop, func(_ context.Context, start time.Time) {
				if inFlight.Add(1) != 1 {
					t.Error("iterations overlap")
				}
				defer inFlight.Add(-1)
				starts = append(starts, start.Sub(t0))
				clock.now = clock.now.Add(tt.took[len(starts)-1])
				if len(starts) == len(tt.took) {
					close(stop) // a signal during the last iteration
				}
			})
			if n != len(tt.took) {
				t.Errorf("ran %d iterations; want %d", n, len(tt.took))
			}
			if diff := cmp.Diff(tt.wantStarts, starts); diff != "" {
				t.Errorf("starts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWaits, clock.waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoopStopsDuringWait: a stop while the loop waits for the next
// iteration ends it at once.
func TestLoopStopsDuringWait(t *testing.T) {
	stop := make(chan struct{})
	l := &daemon.Loop{Interval: time.Hour, Now: time.Now, After: time.After, Rand: func() float64 { return 0 }}
	done := make(chan int)
	go func() {
		done <- l.Run(context.Background(), stop, func(context.Context, time.Time) {})
	}()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	select {
	case n := <-done:
		if n != 1 {
			t.Errorf("ran %d iterations; want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not stop while waiting")
	}
}
