package cli

import (
	"os"
	"testing"
)

// TestSignals: without ferry run, the first signal cancels; once run has
// armed the gentle stop, the first closes it and the second cancels; a
// signal before arming still stops at once.
func TestSignals(t *testing.T) {
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	tests := []struct {
		name        string
		arm         bool
		before      int // signals before arming
		after       int // signals after arming
		wantStopped bool
		wantCancel  bool
	}{
		{name: "one-shot command: first signal cancels", after: 1, wantCancel: true},
		{name: "run: first signal stops gently", arm: true, after: 1, wantStopped: true},
		{name: "run: second signal cancels", arm: true, after: 2, wantStopped: true, wantCancel: true},
		{name: "run: a signal before arming stops at once", arm: true, before: 1, wantStopped: true, wantCancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cancelled := false
			s := &signals{cancel: func() { cancelled = true }}
			for range tt.before {
				s.handle(os.Interrupt)
			}
			var stop <-chan struct{}
			if tt.arm {
				stop = s.arm()
			}
			for range tt.after {
				s.handle(os.Interrupt)
			}
			if got := stop != nil && closed(stop); got != tt.wantStopped {
				t.Errorf("stopped = %v; want %v", got, tt.wantStopped)
			}
			if cancelled != tt.wantCancel {
				t.Errorf("cancelled = %v; want %v", cancelled, tt.wantCancel)
			}
		})
	}
}
