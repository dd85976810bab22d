// Package daemon is what `ferry run` adds around plan and apply: the
// schedule of iterations, the status they leave for people, and the HTTP
// listener serving it with the metrics. It knows nothing of configs or
// providers: the command hands it one iteration as a function.
package daemon

import (
	"context"
	"time"
)

// Loop runs iterations one after the other: the next starts Interval plus
// a random jitter after the previous one started, or at once when that
// one took longer (iterations never overlap, and a slow one does not pile
// up a backlog).
type Loop struct {
	Interval time.Duration
	// Jitter is the largest extra wait as a fraction of Interval (0.1:
	// up to 10% more), so that many mirrors started together spread out.
	Jitter float64
	// Now, After and Rand are the clock and the source of jitter
	// (Rand in [0,1)); tests inject their own.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	Rand  func() float64
}

// Wait is how long the loop waits after an iteration that started at
// start, as seen at now.
func (l *Loop) Wait(start, now time.Time) time.Duration {
	d := l.Interval + time.Duration(l.Jitter*l.Rand()*float64(l.Interval))
	return max(start.Add(d).Sub(now), 0)
}

// Run calls iterate until stop is closed or ctx ends: the first at once,
// each with the time it started. An iteration in progress when stop
// closes is left to finish (iterate sees stop itself); Run then returns.
// It returns the number of iterations run.
func (l *Loop) Run(ctx context.Context, stop <-chan struct{}, iterate func(ctx context.Context, start time.Time)) int {
	n := 0
	for {
		start := l.Now()
		iterate(ctx, start)
		n++
		select {
		case <-stop:
			return n
		case <-ctx.Done():
			return n
		default:
		}
		select {
		case <-stop:
			return n
		case <-ctx.Done():
			return n
		case <-l.After(l.Wait(start, l.Now())):
		}
	}
}
