package apply

import (
	"fmt"
	"time"

	"github.com/ferry-mirror/ferry/planner/plan"
)

// EventsVersion is the version of the apply event stream (`ferry apply
// -json`, the "ferry_events" field of every event). Adding a type or a
// field keeps it; renaming or removing one, or changing a field's meaning,
// bumps it. docs/plan-format.md documents each type and field.
const EventsVersion = 1

// EventType says what an event reports.
type EventType string

// The event types, in the order an apply emits them.
const (
	// EventApplyStarted opens the stream: what the apply will do (Start).
	EventApplyStarted EventType = "apply_started"
	// EventChangeStarted: a change holds its connections and begins (Change).
	EventChangeStarted EventType = "change_started"
	// EventProgress: bytes and changes done so far (Progress); at most one
	// per Options.ProgressInterval, only while bytes move.
	EventProgress EventType = "progress"
	// EventChangeDone: a transfer, delete or forget completed (Change).
	EventChangeDone EventType = "change_done"
	// EventOutputPublished: a consumer output (publish change) was
	// written (Change); it ends a publish change as change_done ends others.
	EventOutputPublished EventType = "output_published"
	// EventChangeFailed: a change failed (Change, Error); nothing of it
	// was recorded.
	EventChangeFailed EventType = "change_failed"
	// EventDeleteSkipped: a delete or forget not attempted because an
	// earlier change of its mirror or at its object failed, or the apply
	// was interrupted (Change); the object stays owned.
	EventDeleteSkipped EventType = "delete_skipped"
	// EventDeleteDeferred: deletes a destination's delete quota left for
	// a later apply (Deferred); they stay owned.
	EventDeleteDeferred EventType = "delete_deferred"
	// EventApplySummary closes the stream (Summary).
	EventApplySummary EventType = "apply_summary"
)

// Event is one line of the apply event stream. Level, Message and
// Timestamp are for people and logs, as OpenTofu's machine-readable UI
// has them; Type and the typed fields are for machines.
type Event struct {
	Version   int       `json:"ferry_events"`
	Type      EventType `json:"type"`
	Level     string    `json:"@level"` // "info", "warn" or "error"
	Message   string    `json:"@message"`
	Timestamp time.Time `json:"@timestamp"`

	Change   *ChangeInfo   `json:"change,omitempty"`
	Error    string        `json:"error,omitempty"`
	Start    *StartInfo    `json:"start,omitempty"`
	Progress *ProgressInfo `json:"progress,omitempty"`
	Deferred *DeferredInfo `json:"deferred,omitempty"`
	Summary  *SummaryInfo  `json:"summary,omitempty"`
}

// ChangeInfo names the change an event is about, as the plan has it.
type ChangeInfo struct {
	Address string      `json:"address"`
	Mirror  string      `json:"mirror"`
	Key     string      `json:"key"`
	Action  plan.Action `json:"action"`
	Reason  plan.Reason `json:"reason"`
	// Verb is the action in a word; for a publish change, the output's
	// verb ("rewrite").
	Verb        string `json:"verb"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination"`
	// Size is the expected size for a transfer (-1 unknown), absent otherwise.
	Size *int64 `json:"size,omitempty"`
}

// StartInfo is what an apply is about to do.
type StartInfo struct {
	// Changes counts the changes the apply executes: Transfers (adds and
	// replaces, including recordings of objects already there), Outputs
	// (publish changes) and Deletes (deletes and forgets).
	Changes   int `json:"changes"`
	Transfers int `json:"transfers"`
	Outputs   int `json:"outputs"`
	Deletes   int `json:"deletes"`
	// Bytes is the sum of the known sizes to transfer.
	Bytes int64 `json:"bytes"`
}

// ProgressInfo is how far an apply is.
type ProgressInfo struct {
	ChangesDone int   `json:"changes_done"`
	Changes     int   `json:"changes"`
	BytesDone   int64 `json:"bytes_done"`
	Bytes       int64 `json:"bytes"`
}

// DeferredInfo is one destination's deletes left for a later apply.
type DeferredInfo struct {
	Destination string `json:"destination"`
	PerHour     int    `json:"per_hour"`
	// Next is when the first of them may start.
	Next      time.Time `json:"next"`
	Addresses []string  `json:"addresses"`
}

// The apply's outcome, SummaryInfo.Status.
const (
	StatusOK          = "ok"          // every change applied
	StatusFailed      = "failed"      // some changes failed or deletes were skipped
	StatusInterrupted = "interrupted" // the apply was cancelled
	StatusError       = "error"       // the state could not be persisted
)

// SummaryInfo is how an apply ended.
type SummaryInfo struct {
	Status           string `json:"status"`
	Applied          int    `json:"applied"`
	Failed           int    `json:"failed"`
	SkippedDeletes   int    `json:"skipped_deletes"`
	DeferredDeletes  int    `json:"deferred_deletes"`
	TransferredBytes int64  `json:"transferred_bytes"`
	// Error is the fatal error of a status "error" or "interrupted".
	Error string `json:"error,omitempty"`
}

func eventChange(c plan.Change) *ChangeInfo {
	ec := &ChangeInfo{Address: c.Address, Mirror: c.Mirror, Key: c.Key, Action: c.Action, Reason: c.Reason, Verb: c.Verb(), Source: c.Source, Destination: c.Destination}
	if c.Transfers() && c.After != nil {
		size := c.After.Size
		ec.Size = &size
	}
	return ec
}

// DoneText is what a completed change did, for people.
func DoneText(c plan.Change) string {
	switch {
	case c.Reason == plan.AlreadyAtDestination:
		return "recorded (already at destination, verified)"
	case c.Action == plan.Add:
		return "added"
	case c.Action == plan.Replace:
		return "replaced"
	case c.Action == plan.Delete:
		return "deleted"
	case c.Action == plan.Publish && c.Output != nil && c.Output.Done != "":
		return c.Output.Done
	case c.Action == plan.Forget:
		return "forgotten (the object stays; another mirror owns it)"
	}
	return c.Action.String()
}

// changeEvent is the event of change c ending with err.
func changeEvent(c plan.Change, err error) Event {
	ev := Event{Type: EventChangeDone, Level: "info", Message: fmt.Sprintf("%s: %s", c.Address, DoneText(c)), Change: eventChange(c)}
	switch {
	case err != nil:
		ev.Type, ev.Level, ev.Error = EventChangeFailed, "error", err.Error()
		ev.Message = fmt.Sprintf("%s: %s failed", c.Address, c.Verb())
	case c.Action == plan.Publish:
		ev.Type = EventOutputPublished
	}
	return ev
}

// summaryEvent is the closing event of an apply with result r and fatal
// error err, which interrupted says is the cancellation.
func summaryEvent(r *Result, err error, interrupted bool) Event {
	s := &SummaryInfo{Status: StatusOK, Applied: r.Applied, Failed: len(r.Failed), SkippedDeletes: len(r.SkippedDeletes),
		DeferredDeletes: r.DeferredCount(), TransferredBytes: r.TransferredBytes}
	ev := Event{Type: EventApplySummary, Level: "info", Summary: s}
	switch {
	case err != nil && interrupted:
		s.Status, s.Error, ev.Level = StatusInterrupted, err.Error(), "error"
	case err != nil:
		s.Status, s.Error, ev.Level = StatusError, err.Error(), "error"
	case s.Failed > 0 || s.SkippedDeletes > 0:
		s.Status, ev.Level = StatusFailed, "error"
	}
	if s.Status == StatusOK {
		ev.Message = fmt.Sprintf("Apply complete: %s applied, %s transferred.", plan.Plural(s.Applied, "change"), plan.FormatBytes(s.TransferredBytes))
	} else {
		ev.Message = fmt.Sprintf("Apply failed: %d applied, %d failed, %d deletes skipped (%s transferred).", s.Applied, s.Failed, s.SkippedDeletes, plan.FormatBytes(s.TransferredBytes))
	}
	return ev
}
