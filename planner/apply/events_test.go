package apply_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/internal/golden"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

var update = flag.Bool("update", false, "rewrite the golden event files under testdata")

// recorder collects events as apply -json writes them.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
	evs []apply.Event
}

func (r *recorder) event(ev apply.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	enc := json.NewEncoder(&r.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		panic(err)
	}
	r.evs = append(r.evs, ev)
}

// TestApplyEventsGolden: one apply that adds, fails a transfer (so its
// mirror's delete is skipped), publishes an output, deletes in another
// mirror and defers a delete to the quota emits the event stream in
// testdata/events/mixed.jsonl (timestamps masked, the upstream's address
// replaced).
func TestApplyEventsGolden(t *testing.T) {
	a, b := []byte("alpha bytes"), []byte("bravo bytes")
	w := newWorld(t, map[string][]byte{"a.txt": a, "b.txt": b})
	pw := publishWorld{world: w, pub: &publishingStore{Store: w.dst}}
	mgr, st, _ := openState(t)
	if err := os.MkdirAll(filepath.Join(w.root, "k"), 0o755); err != nil {
		t.Fatal(err)
	}
	var changes []plan.Change
	for _, mk := range []struct{ mirror, key string }{{"m", "k/m-old"}, {"n", "k/n-1"}, {"n", "k/n-2"}} {
		if err := os.WriteFile(filepath.Join(w.root, mk.key), []byte(mk.key), 0o644); err != nil {
			t.Fatal(err)
		}
		st.EnsureMirror(mk.mirror, "http.up", "dir.local")
		st.SetArtifact(mk.mirror, &state.Artifact{Key: mk.key, Size: 3, Digests: providers.NewDigests(sha([]byte(mk.key)))})
		changes = append(changes, plan.Change{Address: plan.Address(mk.mirror, mk.key), Mirror: mk.mirror, Key: mk.key, Action: plan.Delete, Reason: plan.RemovedFromSource, Destination: "dir.local"})
	}
	good := addChange("a.txt", sha(a))
	good.After.Size, good.SizeDeclared = int64(len(a)), true
	changes = append(changes, good, addChange("b.txt", sha([]byte("not bravo"))), publishChange("index.json", "k/a.txt"))
	p := &plan.Plan{Changes: changes}

	clock := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	var rec recorder
	res, err := apply.Apply(t.Context(), p, st, mgr, pw, apply.Options{
		Parallelism: 1, Now: clock.Now, Sleep: clock.Sleep,
		DeletesPerHour: map[string]int{"dir.local": 1},
		Events:         rec.event,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || len(res.SkippedDeletes) != 1 || res.DeferredCount() != 1 {
		t.Fatalf("result: %d failed, %d skipped, %d deferred; want 1 each", len(res.Failed), len(res.SkippedDeletes), res.DeferredCount())
	}
	got := strings.ReplaceAll(rec.buf.String(), w.server.URL, "UPSTREAM")
	got = maskTimestamps(t, got)
	golden.Compare(t, filepath.Join("testdata", "events", "mixed.jsonl"), got, *update)

	// Every event carries the version and a type; the stream opens with
	// apply_started and closes with apply_summary.
	for i, ev := range rec.evs {
		if ev.Version != apply.EventsVersion || ev.Type == "" || ev.Message == "" || ev.Level == "" {
			t.Errorf("event %d lacks version, type, message or level: %+v", i, ev)
		}
	}
	if first, last := rec.evs[0].Type, rec.evs[len(rec.evs)-1].Type; first != apply.EventApplyStarted || last != apply.EventApplySummary {
		t.Errorf("stream runs from %s to %s", first, last)
	}
}

// maskTimestamps replaces every @timestamp value with a constant: they
// are not a stable part of the stream.
func maskTimestamps(t *testing.T, jsonl string) string {
	t.Helper()
	var out strings.Builder
	for line := range strings.Lines(jsonl) {
		i := strings.Index(line, `"@timestamp":"`)
		if i < 0 {
			t.Fatalf("event without @timestamp: %s", line)
		}
		j := strings.IndexByte(line[i+len(`"@timestamp":"`):], '"')
		out.WriteString(line[:i] + `"@timestamp":"TIME"` + line[i+len(`"@timestamp":"`)+j+1:])
	}
	return out.String()
}

// TestApplyProgressIsBounded: progress events come at most once per
// ProgressInterval however many reads a transfer takes, count bytes
// monotonically, and end at most at the total.
func TestApplyProgressIsBounded(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: many reads
	w := newWorld(t, map[string][]byte{"big.bin": big})
	w.readChunk = 32 << 10 // 32 reads, however the body arrives
	mgr, st, _ := openState(t)
	c := addChange("big.bin", sha(big))
	c.After.Size, c.SizeDeclared = int64(len(big)), true
	// Every reading of the clock moves it 10ms: a read is "10ms".
	clock := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC), tick: 10 * time.Millisecond}
	var rec recorder
	start := clock.Now()
	if _, err := apply.Apply(t.Context(), &plan.Plan{Changes: []plan.Change{c}}, st, mgr, w, apply.Options{
		Now: clock.Now, Sleep: clock.Sleep, Events: rec.event, ProgressInterval: 100 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	elapsed := clock.Now().Sub(start)
	var n int
	var last int64
	var prev time.Time
	for _, ev := range rec.evs {
		if ev.Type != apply.EventProgress {
			continue
		}
		n++
		if ev.Progress.BytesDone < last || ev.Progress.BytesDone > int64(len(big)) || ev.Progress.Bytes != int64(len(big)) {
			t.Errorf("progress %+v after %d bytes", ev.Progress, last)
		}
		if !prev.IsZero() && ev.Timestamp.Sub(prev) < 100*time.Millisecond {
			t.Errorf("two progress events %s apart; want at least 100ms", ev.Timestamp.Sub(prev))
		}
		last, prev = ev.Progress.BytesDone, ev.Timestamp
	}
	if most := int(elapsed/(100*time.Millisecond)) + 1; n == 0 || n > most {
		t.Errorf("%d progress events over %s; want 1..%d", n, elapsed, most)
	}
}

// TestApplySummaryOnFatalError: a state that cannot be persisted still
// closes the stream, with status "error" and the error.
func TestApplySummaryOnFatalError(t *testing.T) {
	a := []byte("alpha")
	w := newWorld(t, map[string][]byte{"a.txt": a})
	_, st, _ := openState(t)
	var rec recorder
	_, err := apply.Apply(t.Context(), &plan.Plan{Changes: []plan.Change{addChange("a.txt", sha(a))}}, st, failingCheckpointer{}, w, apply.Options{Events: rec.event})
	if err == nil {
		t.Fatal("Apply succeeded with a failing checkpointer")
	}
	last := rec.evs[len(rec.evs)-1]
	if last.Type != apply.EventApplySummary || last.Summary.Status != apply.StatusError || !strings.Contains(last.Summary.Error, "disk full") {
		t.Errorf("last event %+v %+v; want a summary with status error", last, last.Summary)
	}
}
