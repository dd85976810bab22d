package limit

import (
	"slices"
	"time"
)

// Hour is the span a deletes_per_hour quota counts over: a rolling hour.
const Hour = time.Hour

// Window is a sliding-window rate: at most N events in any Span (a
// destination's deletes_per_hour: N deletes in any rolling hour). It
// remembers the times of the last N events, which is what the state keeps
// between runs, so a run continues where an interrupted one stopped. The
// planner's estimate and apply's pacing both step through one, so a plan
// and its apply agree. Not safe for concurrent use.
type Window struct {
	n    int
	span time.Duration
	past []time.Time // ascending; at most n
}

// NewWindow returns the window of at most n events per span, given the
// times of earlier events (in any order). n <= 0 is no limit.
func NewWindow(n int, span time.Duration, past []time.Time) *Window {
	w := &Window{n: n, span: span}
	for _, t := range past {
		w.Take(t)
	}
	return w
}

// Next is the earliest time, not before now, at which one more event keeps
// every span at most n events: now while fewer than n happened in the span
// before it, else a span after the n-th latest.
func (w *Window) Next(now time.Time) time.Time {
	if w.n <= 0 || len(w.past) < w.n {
		return now
	}
	if t := w.past[len(w.past)-w.n].Add(w.span); t.After(now) {
		return t
	}
	return now
}

// Take records an event at t.
func (w *Window) Take(t time.Time) {
	if w.n <= 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(w.past, t, func(a, b time.Time) int { return a.Compare(b) })
	w.past = slices.Insert(w.past, i, t)
	if len(w.past) > w.n {
		w.past = slices.Delete(w.past, 0, len(w.past)-w.n)
	}
}

// Recent are the recorded events that still count at now (within the
// span before it), oldest first: what the state keeps.
func (w *Window) Recent(now time.Time) []time.Time {
	var out []time.Time
	for _, t := range w.past {
		if t.Add(w.span).After(now) {
			out = append(out, t)
		}
	}
	return out
}

// Wait is how long after now the last of k more events may start, each
// as early as the window allows: 0 when all fit now.
func (w *Window) Wait(now time.Time, k int) time.Duration {
	sim := &Window{n: w.n, span: w.span, past: slices.Clone(w.past)}
	at := now
	for range k {
		at = sim.Next(at)
		sim.Take(at)
	}
	return at.Sub(now)
}
