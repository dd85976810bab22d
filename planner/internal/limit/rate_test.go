package limit_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/internal/limit"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func at(minutes ...int) []time.Time {
	var out []time.Time
	for _, m := range minutes {
		out = append(out, t0.Add(time.Duration(m)*time.Minute))
	}
	return out
}

// TestWindowWait: how long k more events take, given the events already
// in the window (the planner's "about T").
func TestWindowWait(t *testing.T) {
	tests := []struct {
		name string
		n    int
		past []time.Time
		now  time.Time
		k    int
		want time.Duration
	}{
		{name: "no limit", n: 0, now: t0, k: 100, want: 0},
		{name: "all fit now", n: 10, now: t0, k: 10, want: 0},
		{name: "one over", n: 10, now: t0, k: 11, want: time.Hour},
		{name: "25 at 10 an hour", n: 10, now: t0, k: 25, want: 2 * time.Hour},
		{name: "quota spent 20 minutes ago", n: 2, past: at(-20, -20), now: t0, k: 1, want: 40 * time.Minute},
		{name: "quota half spent", n: 2, past: at(-50), now: t0, k: 3, want: time.Hour},
		{name: "past older than the span does not count", n: 2, past: at(-90, -61), now: t0, k: 2, want: 0},
		{name: "none", n: 2, past: at(-1, -1), now: t0, k: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := limit.NewWindow(tt.n, limit.Hour, tt.past)
			if got := w.Wait(tt.now, tt.k); got != tt.want {
				t.Errorf("Wait(%d) = %v, want %v", tt.k, got, tt.want)
			}
			// Wait simulates; it must not spend the window.
			if got := w.Next(tt.now); tt.k > 0 && tt.n > 0 && len(tt.past) == 0 && !got.Equal(tt.now) {
				t.Errorf("Wait spent the window: Next = %v", got)
			}
		})
	}
}

// TestWindowNeverExceeds: events taken as early as Next allows never put
// more than n in any rolling span, whatever came before (a fake clock
// that jumps to each slot; no sleeping).
func TestWindowNeverExceeds(t *testing.T) {
	const n = 3
	w := limit.NewWindow(n, limit.Hour, at(-59, -30, -1))
	now := t0
	var taken []time.Time
	for range 20 {
		now = w.Next(now.Add(7 * time.Minute))
		w.Take(now)
		taken = append(taken, now)
	}
	all := append(at(-59, -30, -1), taken...)
	for i, a := range all {
		count := 0
		for _, b := range all[i:] {
			if b.Sub(a) < time.Hour {
				count++
			}
		}
		if count > n {
			t.Fatalf("%d events in the hour from %v; want at most %d (all: %v)", count, a, n, all)
		}
	}
	if got, want := w.Recent(now), taken[len(taken)-n:]; !cmp.Equal(got, want) {
		t.Errorf("Recent = %v, want the last %d taken %v", got, n, want)
	}
}

// TestWindowRecent keeps only what still counts, oldest first, however
// the past was given.
func TestWindowRecent(t *testing.T) {
	w := limit.NewWindow(3, limit.Hour, at(-10, -70, -5, -30))
	if diff := cmp.Diff(at(-30, -10, -5), w.Recent(t0)); diff != "" {
		t.Errorf("Recent (-want +got):\n%s", diff)
	}
	if got := w.Next(t0); !got.Equal(t0.Add(30 * time.Minute)) {
		t.Errorf("Next = %v, want %v", got, t0.Add(30*time.Minute))
	}
	if got := w.Recent(t0.Add(2 * time.Hour)); len(got) != 0 {
		t.Errorf("Recent two hours on = %v, want none", got)
	}
}
