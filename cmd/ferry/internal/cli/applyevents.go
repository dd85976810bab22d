package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
)

// Both renderers of an apply consume the one event stream apply.Apply
// emits: the JSON lines of apply -json, and the text a person reads.

// jsonEvents writes each event as one line of JSON.
type jsonEvents struct {
	enc *json.Encoder
	err error
}

func newJSONEvents(w io.Writer) *jsonEvents {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonEvents{enc: enc}
}

func (j *jsonEvents) event(ev apply.Event) {
	if err := j.enc.Encode(ev); err != nil && j.err == nil {
		j.err = err
	}
}

// textEvents renders the events for people: a line per completed change
// on out, a progress bar on a terminal (bar), and the closing report on
// out when everything applied, on errw otherwise.
type textEvents struct {
	out, errw io.Writer
	// bar is where the progress bar goes; nil: no bar.
	bar io.Writer
	pb  *progressbar.ProgressBar
	// now is the clock for "in about" of deferred deletes.
	now func() time.Time

	changes  int
	done     int
	failed   []apply.Event
	skipped  []apply.Event
	deferred []apply.Event
}

func (t *textEvents) event(ev apply.Event) {
	switch ev.Type {
	case apply.EventApplyStarted:
		t.changes = ev.Start.Changes
		if t.bar != nil {
			total := ev.Start.Bytes
			if total <= 0 {
				total = -1
			}
			t.pb = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(t.bar),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetDescription(fmt.Sprintf("0/%d", t.changes)),
				progressbar.OptionThrottle(100e6),
				progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish(),
			)
		}
	case apply.EventProgress:
		if t.pb != nil {
			_ = t.pb.Set64(ev.Progress.BytesDone)
		}
	case apply.EventChangeDone, apply.EventOutputPublished, apply.EventChangeFailed:
		if t.pb != nil {
			_ = t.pb.Clear()
		}
		fmt.Fprintln(t.out, ev.Message)
		if ev.Type == apply.EventChangeFailed {
			t.failed = append(t.failed, ev)
		}
		t.done++
		if t.pb != nil {
			t.pb.Describe(fmt.Sprintf("%d/%d", t.done, t.changes))
		}
	case apply.EventDeleteSkipped:
		t.skipped = append(t.skipped, ev)
	case apply.EventDeleteDeferred:
		t.deferred = append(t.deferred, ev)
	case apply.EventApplySummary:
		if t.pb != nil {
			_ = t.pb.Finish()
			t.pb = nil
		}
		t.report(ev)
	}
}

// report is the closing text of an apply.
func (t *textEvents) report(ev apply.Event) {
	s := ev.Summary
	if s.Status == apply.StatusOK {
		fmt.Fprintf(t.out, "\n%s\n", ev.Message)
		t.reportDeferred(t.out)
		return
	}
	e := t.errw
	fmt.Fprintf(e, "\n%s\n", ev.Message)
	for _, f := range t.failed {
		fmt.Fprintf(e, "\nError: %s\n  %s\n", f.Message, f.Error)
	}
	if len(t.skipped) > 0 {
		fmt.Fprintf(e, "\nNot deleted because an earlier change failed:\n")
		for _, sk := range t.skipped {
			fmt.Fprintf(e, "  - %s\n", sk.Change.Address)
		}
	}
	fmt.Fprintln(e, "\nWhat landed is recorded in the state; run ferry apply again to retry the rest.")
	t.reportDeferred(e)
}

// reportDeferred lists the deletes a destination's quota left for a
// later apply, with when the next may start.
func (t *textEvents) reportDeferred(w io.Writer) {
	if len(t.deferred) == 0 {
		return
	}
	n := 0
	for _, d := range t.deferred {
		n += len(d.Deferred.Addresses)
	}
	fmt.Fprintf(w, "\n%s left for a later apply by delete quotas (still owned; the next plan plans them again):\n", plan.Plural(n, "delete"))
	now := t.now()
	for _, ev := range t.deferred {
		d := ev.Deferred
		fmt.Fprintf(w, "  destination.%s takes at most %d per hour; the next may start at %s (in about %s):\n",
			d.Destination, d.PerHour, d.Next.UTC().Format(time.RFC3339), plan.FormatWait(d.Next.Sub(now)))
		for _, a := range d.Addresses {
			fmt.Fprintf(w, "    - %s\n", a)
		}
	}
	fmt.Fprintln(w, "Run ferry apply again then, or give -max-delete-wait to let one apply wait for the quota.")
}
