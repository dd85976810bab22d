// Package apply executes a plan: transfers first, deletes last (a mirror's
// only when its transfers succeeded; paced to a destination's delete
// quota), streaming each object source → verifying reader
// → destination, and checkpointing the state as changes complete so an
// interrupted run loses nothing and records nothing that did not land.
package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/ferry-mirror/ferry/planner/internal/limit"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/verify"
	"github.com/ferry-mirror/ferry/state"
)

// ErrNotOwned reports an object in the way at the destination that ferry does
// not own and will not overwrite.
var ErrNotOwned = errors.New("object exists at the destination and is not owned by ferry")

// ErrDeletesSkipped is reported for each delete not attempted because an
// earlier change of its mirror (or at its object) failed, or the apply was
// interrupted.
var ErrDeletesSkipped = errors.New("not deleting: an earlier change failed")

// Providers resolves configured provider addresses.
type Providers interface {
	Source(addr string) (providers.Source, error)
	Destination(addr string) (providers.Destination, error)
}

// Checkpointer persists state snapshots; *state.Manager is one.
type Checkpointer interface {
	Persist(s *state.State) (bool, error)
}

// Options control Apply. Zero values get the documented defaults.
type Options struct {
	// Parallelism bounds concurrent changes; <= 0 means 8.
	Parallelism int
	Logger      hclog.Logger
	// Events, if set, receives the apply's event stream (see Event): one
	// apply_started, then per change change_started and one of
	// change_done, output_published or change_failed, progress while
	// bytes move, delete_skipped and delete_deferred, and last
	// apply_summary. Calls are serialised; Timestamp and Version are set.
	Events func(Event)
	// ProgressInterval is the least time between two progress events;
	// <= 0 means one second.
	ProgressInterval time.Duration
	// Now is the clock for added_at; nil means time.Now.
	Now func() time.Time
	// CheckpointInterval is the least time between two state snapshots
	// while changes land; <= 0 means 250ms. A snapshot that took d to
	// write is followed by at least CheckpointSpacing × d without one, so
	// writing a large state takes a bounded share of the apply (what lands
	// meanwhile and is lost to a crash is adopted by the next apply). The
	// state is always persisted before Apply returns.
	CheckpointInterval time.Duration
	// MaxArtifactSize bounds an artifact whose source declares no size
	// (see NewVerifyingReader); <= 0 means DefaultMaxArtifactSize.
	MaxArtifactSize int64
	// Connections caps the changes in flight that use one provider, by
	// its configuration address ("source.npm.public",
	// "destination.dir.local"): the Connections its type declares. Absent
	// or <= 0: only Parallelism bounds them.
	Connections map[string]int
	// DeletesPerHour is each destination's delete quota, by destination
	// address ("proget.feed"): the most deletes sent to it in any rolling
	// hour, by every mirror together, counting those the state records
	// from earlier runs. Absent or <= 0: no quota.
	DeletesPerHour map[string]int
	// MaxDeleteWait is how long the deletes phase may wait for a
	// destination's quota; a delete that could start only later is
	// deferred with the rest of that destination's (Result.Deferred),
	// left owned in the state for the next apply. <= 0: no waiting, only
	// what the quota allows now. A deadline on ctx bounds it too.
	MaxDeleteWait time.Duration
	// Sleep waits d or until ctx ends (its error then); nil means a
	// timer. Tests pass one that moves a fake Now instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Stop, once closed, ends the apply gently (a daemon's first
	// SIGTERM): no change starts after it, those in flight go on under
	// ctx (which may still abort them), the deletes not begun are skipped,
	// and Apply persists the state and returns an error wrapping
	// ErrStopped. Nil: only ctx stops the apply.
	Stop <-chan struct{}
}

// ErrStopped reports an apply ended through Options.Stop before it
// started every change.
var ErrStopped = errors.New("apply stopped before every change started")

// DefaultMaxArtifactSize bounds an artifact whose size no source declares:
// far above any package or toolchain archive mirrored in practice (the
// largest JDK, CUDA or node archives are well under 4 GiB), yet a cap on
// the disk an endless upstream body can fill.
const DefaultMaxArtifactSize int64 = 8 << 30

// ErrTooLarge reports an artifact of undeclared size that grew past its
// bound.
var ErrTooLarge = errors.New("artifact too large")

// NewVerifyingReader returns the reader every transfer streams through: r
// checked against the change's declared size and digests and, when the
// source declares no size, bounded by the size its upstream reported while
// planning (a HEAD's Content-Length, if any and not 0) and by
// maxArtifactSize (<= 0: DefaultMaxArtifactSize). Past the bound, Read
// fails with an error wrapping ErrTooLarge, so the destination discards
// what it received.
func NewVerifyingReader(c plan.Change, r io.Reader, maxArtifactSize int64) *verify.Reader {
	size := int64(-1)
	var digests providers.Digests
	if c.After != nil {
		digests = c.After.Digests
		if c.SizeDeclared {
			size = c.After.Size
		}
	}
	vr := verify.NewReader(r, size, digests)
	if size >= 0 {
		return vr
	}
	if maxArtifactSize <= 0 {
		maxArtifactSize = DefaultMaxArtifactSize
	}
	// A reported size of 0 is taken for a sloppy HEAD rather than a bound
	// (an empty artifact passes the maximum anyway).
	if c.After != nil && c.After.Size > 0 && c.After.Size <= maxArtifactSize {
		return vr.Limit(c.After.Size, fmt.Errorf("artifact %s is larger than the %s its upstream reported when planned (the source declares no size); plan again if it changed: %w",
			c.Key, sizeText(c.After.Size), ErrTooLarge))
	}
	return vr.Limit(maxArtifactSize, fmt.Errorf("artifact %s is larger than max_artifact_size %s (its size is unknown upstream); raise max_artifact_size in the ferry block if it is genuine: %w",
		c.Key, sizeText(maxArtifactSize), ErrTooLarge))
}

// sizeText is n in bytes and, from 1 KiB, in IEC units.
func sizeText(n int64) string {
	if n < 1024 {
		return plan.FormatBytes(n)
	}
	return fmt.Sprintf("%s (%d bytes)", plan.FormatBytes(n), n)
}

// Failure is one change that did not apply.
type Failure struct {
	Change plan.Change
	Err    error
}

// Result reports what an apply did.
type Result struct {
	Applied int
	// Succeeded are the changes that applied, in the order they completed
	// (Applied of them).
	Succeeded      []plan.Change
	Failed         []Failure
	SkippedDeletes []plan.Change
	// Deferred are the deletes a destination's quota left for a later
	// apply: not failures, still owned in the state, planned again.
	Deferred         []Deferral
	TransferredBytes int64
}

// Deferral is one destination's deletes left for a later apply: its quota
// would have let the first of them start only after the wait allowed.
type Deferral struct {
	Destination string
	// PerHour is the destination's quota.
	PerHour int
	// Next is when the first of them may start.
	Next    time.Time
	Changes []plan.Change
}

// DeferredCount is the number of deletes deferred.
func (r *Result) DeferredCount() int {
	n := 0
	for _, d := range r.Deferred {
		n += len(d.Changes)
	}
	return n
}

// Err joins every failure, or returns nil.
func (r *Result) Err() error {
	var errs []error
	for _, f := range r.Failed {
		errs = append(errs, fmt.Errorf("%s: %w", f.Change.Address, f.Err))
	}
	if len(r.SkippedDeletes) > 0 {
		errs = append(errs, fmt.Errorf("%d deletes skipped: %w", len(r.SkippedDeletes), ErrDeletesSkipped))
	}
	return errors.Join(errs...)
}

type engine struct {
	provs  Providers
	opts   Options
	log    hclog.Logger
	limits *limit.Set
	cp     Checkpointer
	// persistMu keeps snapshots reaching cp in the order they were taken
	// (the checkpoint loop and a paced delete both persist).
	persistMu sync.Mutex

	mu     sync.Mutex // guards st, dirty, result
	st     *state.State
	dirty  bool
	result Result

	// evMu serialises events and guards the progress counters.
	evMu         sync.Mutex
	prog         ProgressInfo
	lastProgress time.Time
}

// emit sends ev to Options.Events, stamped.
func (e *engine) emit(ev Event) {
	if e.opts.Events == nil {
		return
	}
	e.evMu.Lock()
	defer e.evMu.Unlock()
	// Stamped under the lock: timestamps never run backwards in the stream.
	ev.Version, ev.Timestamp = EventsVersion, e.opts.Now().UTC()
	e.opts.Events(ev)
}

// advance counts n bytes moved, emitting a progress event when the last
// is ProgressInterval old.
func (e *engine) advance(n int64) {
	if e.opts.Events == nil {
		return
	}
	now := e.opts.Now()
	e.evMu.Lock()
	e.prog.BytesDone += n
	if now.Sub(e.lastProgress) < e.opts.ProgressInterval {
		e.evMu.Unlock()
		return
	}
	e.lastProgress = now
	pr := e.prog
	e.evMu.Unlock()
	e.emit(Event{Type: EventProgress, Level: "info", Progress: &pr,
		Message: fmt.Sprintf("%d/%d changes, %s of %s", pr.ChangesDone, pr.Changes, plan.FormatBytes(pr.BytesDone), plan.FormatBytes(pr.Bytes))})
}

// Apply executes p against st (the live state, updated in place) and
// persists it through cp. The returned error is fatal (the state could not be
// persisted, or ctx was cancelled); per-change failures are in Result.
func Apply(ctx context.Context, p *plan.Plan, st *state.State, cp Checkpointer, provs Providers, opts Options) (*Result, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 8
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = 250 * time.Millisecond
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = time.Second
	}
	e := &engine{provs: provs, opts: opts, st: st, cp: cp, log: opts.Logger, limits: limit.New(opts.Connections)}
	if e.log == nil {
		e.log = hclog.NewNullLogger()
	}
	e.log = e.log.Named("apply")

	var transfers, outputs, deletes []plan.Change
	var bytes int64
	for _, c := range p.Changes {
		switch {
		case !c.Executes():
		case c.Action == plan.Delete, c.Action == plan.Forget:
			deletes = append(deletes, c)
		case c.Action == plan.Publish:
			outputs = append(outputs, c)
		default:
			transfers = append(transfers, c)
			if c.Transfers() && c.After.Size > 0 {
				bytes += c.After.Size
			}
		}
	}
	start := StartInfo{Changes: len(transfers) + len(outputs) + len(deletes), Transfers: len(transfers), Outputs: len(outputs), Deletes: len(deletes), Bytes: bytes}
	e.prog = ProgressInfo{Changes: start.Changes, Bytes: bytes}
	e.lastProgress = opts.Now()
	e.emit(Event{Type: EventApplyStarted, Level: "info", Start: &start,
		Message: fmt.Sprintf("Applying %s: %s to transfer.", plan.Plural(start.Changes, "change"), plan.FormatBytes(bytes))})

	// The checkpointer persists at most every interval while changes land.
	cpCtx, stopCP := context.WithCancel(context.Background())
	cpErr := make(chan error, 1)
	go func() { cpErr <- e.checkpointLoop(cpCtx) }()
	finish := func() (*Result, error) {
		// Feed positions describe what the plan read upstream, whatever
		// came of its changes.
		e.mu.Lock()
		if e.st.SetFeeds(p.Feeds) {
			e.dirty = true
		}
		e.mu.Unlock()
		stopCP()
		err := <-cpErr
		if ferr := e.persist(); err == nil {
			err = ferr
		}
		interrupted := false
		if err != nil {
			err = fmt.Errorf("persisting state: %w", err)
		} else if ctx.Err() != nil {
			err, interrupted = fmt.Errorf("apply interrupted: %w", ctx.Err()), true
		} else if e.stopped() {
			err, interrupted = ErrStopped, true
		}
		e.emit(summaryEvent(&e.result, err, interrupted))
		return &e.result, err
	}

	e.run(ctx, transfers, e.transfer)
	// Consumer outputs change only once what they point at has landed,
	// and before deletes: an index must stop naming an artifact before the
	// artifact is deleted.
	if ctx.Err() == nil && !e.stopped() {
		e.run(ctx, outputs, e.publish)
	}
	interrupted := ctx.Err() != nil || e.stopped()
	var proceed []plan.Change
	for _, c := range deletes {
		if interrupted || e.blocked(c) {
			e.result.SkippedDeletes = append(e.result.SkippedDeletes, c)
			why := "an earlier change failed"
			if interrupted {
				why = "the apply was interrupted"
			}
			e.log.Warn("delete skipped", "address", c.Address, "reason", why)
			e.emit(Event{Type: EventDeleteSkipped, Level: "warn", Change: eventChange(c), Message: fmt.Sprintf("%s: not deleted because %s", c.Address, why)})
		} else {
			proceed = append(proceed, c)
		}
	}
	if !interrupted {
		e.runDeletes(ctx, proceed)
	}
	return finish()
}

// blocked reports whether delete (or forget) c must wait for another
// apply because a change before it failed: one of its mirror (what it
// drops may be all that is left while the newer version did not land, or
// an index not yet rewritten may still name it), or one at its object (the
// mirror adopting what c forgets). Other mirrors' deletes go ahead: one
// failure never stops the rest of the configuration.
func (e *engine) blocked(c plan.Change) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.result.Failed {
		if f.Change.Mirror == c.Mirror || f.Change.Destination == c.Destination && f.Change.Key == c.Key {
			return true
		}
	}
	return false
}

// run executes changes concurrently. A failure never stops the others;
// cancelling ctx stops starting new ones and aborts those in flight.
func (e *engine) run(ctx context.Context, changes []plan.Change, do func(context.Context, plan.Change) error) {
	var g errgroup.Group
	g.SetLimit(e.opts.Parallelism)
	for _, c := range changes {
		if ctx.Err() != nil || e.stopped() {
			break
		}
		g.Go(func() error {
			// g.Go may have waited for a slot past Stop.
			if e.stopped() {
				return nil
			}
			e.done(c, e.limited(ctx, c, do))
			return nil
		})
	}
	_ = g.Wait()
}

// stopped reports whether Options.Stop is closed.
func (e *engine) stopped() bool {
	select {
	case <-e.opts.Stop:
		return true
	default:
		return false
	}
}

// done records how change c ended.
func (e *engine) done(c plan.Change, err error) {
	e.mu.Lock()
	if err != nil {
		e.result.Failed = append(e.result.Failed, Failure{Change: c, Err: err})
		e.log.Error("change failed", "address", c.Address, "action", c.Action.String(), "error", err)
	} else {
		e.result.Applied++
		e.result.Succeeded = append(e.result.Succeeded, c)
		e.log.Debug("change applied", "address", c.Address, "action", c.Action.String())
	}
	e.mu.Unlock()
	e.evMu.Lock()
	e.prog.ChangesDone++
	e.evMu.Unlock()
	e.emit(changeEvent(c, err))
}

// runDeletes runs the deletes and forgets: those at a destination with a
// delete quota one at a time in plan order, each when the quota allows
// (so which ones wait for a later apply is decided by the plan, not by
// scheduling), the rest concurrently.
func (e *engine) runDeletes(ctx context.Context, deletes []plan.Change) {
	paced := map[string][]plan.Change{}
	var free []plan.Change
	for _, c := range deletes {
		if c.Action == plan.Delete && e.opts.DeletesPerHour[c.Destination] > 0 {
			paced[c.Destination] = append(paced[c.Destination], c)
		} else {
			free = append(free, c)
		}
	}
	until := e.opts.Now().Add(max(e.opts.MaxDeleteWait, 0))
	if d, ok := ctx.Deadline(); ok && d.Before(until) {
		until = d
	}
	var wg sync.WaitGroup
	for _, addr := range slices.Sorted(maps.Keys(paced)) {
		wg.Go(func() { e.pace(ctx, addr, paced[addr], until) })
	}
	e.run(ctx, free, e.delete)
	wg.Wait()
}

// pace deletes changes at the destination addr in order, none before its
// quota allows, none after until: from the first that would have to wait
// longer, the rest are deferred.
func (e *engine) pace(ctx context.Context, addr string, changes []plan.Change, until time.Time) {
	perHour := e.opts.DeletesPerHour[addr]
	e.mu.Lock()
	w := limit.NewWindow(perHour, limit.Hour, e.st.RecentDeletes[addr])
	e.mu.Unlock()
	send := func(ctx context.Context, c plan.Change) error {
		if err := e.noteDelete(addr, w); err != nil {
			return err
		}
		return e.delete(ctx, c)
	}
	for i, c := range changes {
		if ctx.Err() != nil || e.stopped() {
			return
		}
		now := e.opts.Now()
		next := w.Next(now)
		// What the quota allows now always goes, however little time the
		// bound leaves.
		if next.After(now) && next.After(until) {
			e.mu.Lock()
			e.result.Deferred = append(e.result.Deferred, Deferral{Destination: addr, PerHour: perHour, Next: next, Changes: changes[i:]})
			e.mu.Unlock()
			var addrs []string
			for _, c := range changes[i:] {
				addrs = append(addrs, c.Address)
			}
			e.emit(Event{Type: EventDeleteDeferred, Level: "warn", Deferred: &DeferredInfo{Destination: addr, PerHour: perHour, Next: next.UTC(), Addresses: addrs},
				Message: fmt.Sprintf("%s left for a later apply by destination.%s's delete quota (%d per hour)", plan.Plural(len(addrs), "delete"), addr, perHour)})
			e.log.Info("deletes deferred to a later apply", "destination", addr, "deletes", len(changes)-i, "per_hour", perHour, "next", next.UTC())
			return
		}
		err := e.opts.Sleep(ctx, next.Sub(now))
		if err == nil {
			err = e.limited(ctx, c, send)
		}
		e.done(c, err)
	}
}

// noteDelete counts a delete against addr's quota and persists the state
// with its time before the delete is sent: an apply killed right after
// sending leaves the next one knowing, so it cannot exceed the quota (a
// delete noted but never sent only makes the next one more careful).
func (e *engine) noteDelete(addr string, w *limit.Window) error {
	now := e.opts.Now()
	w.Take(now)
	e.mu.Lock()
	if e.st.SetRecentDeletes(addr, w.Recent(now)) {
		e.dirty = true
	}
	e.mu.Unlock()
	if err := e.persist(); err != nil {
		return fmt.Errorf("not deleting: recording the delete against destination %s's quota in the state: %w", addr, err)
	}
	return nil
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// limited runs do holding a connection slot of each provider c uses.
func (e *engine) limited(ctx context.Context, c plan.Change, do func(context.Context, plan.Change) error) error {
	names := []string{limit.Destination(c.Destination)}
	if c.Source != "" {
		names = append(names, limit.Source(c.Source))
	}
	release, err := e.limits.Acquire(ctx, names...)
	if err != nil {
		return err
	}
	defer release()
	e.emit(Event{Type: EventChangeStarted, Level: "info", Change: eventChange(c), Message: fmt.Sprintf("%s: %s started", c.Address, c.Verb())})
	return do(ctx, c)
}

func (e *engine) transfer(ctx context.Context, c plan.Change) error {
	dst, err := e.provs.Destination(c.Destination)
	if err != nil {
		return err
	}
	want := providers.Artifact{Key: c.Key, Name: c.Name, Version: c.Version, Size: -1, Digests: c.After.Digests, Created: c.Created, Origin: c.Origin}
	if c.SizeDeclared {
		want.Size = c.After.Size
	}

	src, srcErr := e.provs.Source(c.Source)
	pair, pairErr := providers.NewPair(src, dst)
	if c.Reason == plan.AlreadyAtDestination {
		// ferry did not write it (or cannot tell: a run killed before its
		// checkpoint): adopt it only once its bytes are verified.
		got, _, err := Adopt(ctx, pair, c.Source, c.Destination, want, e.opts.MaxArtifactSize)
		if err != nil {
			return fmt.Errorf("%w: not recording the object found at the destination: %w (plan again)", ErrNotOwned, err)
		}
		e.record(c, got.Size, mergeDigests(got.Digests, c.After.Digests))
		return nil
	}

	if srcErr != nil {
		return srcErr
	}
	if pair.Transfer == providers.GraphCopy {
		// A graph (an OCI image) is copied by the source, descriptor by
		// descriptor, each verified against its digest.
		got, err := pair.Copier.CopyTo(ctx, want, dst)
		if err != nil {
			return err
		}
		if !got.Digests.Matches(c.After.Digests) {
			return fmt.Errorf("destination %s holds %s under %s after the copy, want %s: not recorded", c.Destination, got.Digests.Primary(), c.Key, c.After.Digests.Primary())
		}
		e.mu.Lock()
		if got.Size > 0 {
			e.result.TransferredBytes += got.Size
		}
		e.mu.Unlock()
		e.record(c, got.Size, mergeDigests(got.Digests, c.After.Digests))
		return nil
	}
	// token is the destination's change token of what the Put stored, when
	// it tells one (providers.TokenPutter): recorded so refresh can trust a
	// listing that reports it.
	var token string
	put := dst.Put
	if tp, ok := dst.(providers.TokenPutter); ok && pair.Transfer == providers.Stream {
		put = func(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) (err error) {
			token, err = tp.PutToken(ctx, a, r, opts)
			return err
		}
	}
	if pair.Transfer == providers.ManifestPut {
		// A package registry publishes the bytes with their document.
		if pairErr != nil {
			return fmt.Errorf("destination %s publishes packages with their metadata, which source %s does not provide: %w", c.Destination, c.Source, providers.ErrUnsupported)
		}
		manifest, err := pair.Manifester.Manifest(ctx, want)
		if err != nil {
			return err
		}
		put = func(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
			return pair.ManifestPutter.PutWithManifest(ctx, a, manifest, r, opts)
		}
	}
	rc, err := src.Fetch(ctx, want)
	if err != nil {
		return err
	}
	defer rc.Close()
	vr := NewVerifyingReader(c, &progressReader{r: rc, advance: e.advance}, e.opts.MaxArtifactSize)
	err = put(ctx, want, vr, providers.PutOptions{Overwrite: c.Action == plan.Replace})
	if errors.Is(err, providers.ErrAlreadyExists) {
		// Something appeared at the key after planning (or the plan did not
		// refresh). Verified identical bytes are adopted; anything else is
		// left alone.
		ident := want
		if vr.Verified() {
			// What was streamed is proven: its digests identify it too.
			ident.Digests = mergeDigests(c.After.Digests, vr.Digests())
		}
		got, _, aerr := Adopt(ctx, pair, c.Source, c.Destination, ident, e.opts.MaxArtifactSize)
		if aerr == nil {
			e.record(c, got.Size, mergeDigests(got.Digests, c.After.Digests))
			return nil
		}
		return fmt.Errorf("%w (%w): remove it, plan with -replace='%s' to overwrite it, or adopt it with ferry import '%s' if it holds the source's bytes", ErrNotOwned, aerr, c.Address, c.Address)
	}
	if err != nil {
		return err
	}
	if !vr.Verified() {
		// The destination claims success without having read the whole
		// stream: we cannot vouch for what it stored.
		return fmt.Errorf("destination %s stored %s without reading it to the end: not recorded", c.Destination, c.Key)
	}
	e.mu.Lock()
	e.result.TransferredBytes += vr.N()
	e.mu.Unlock()
	e.recordToken(c, vr.N(), vr.Digests(), token)
	return nil
}

func mergeDigests(observed, declared providers.Digests) providers.Digests {
	out := observed
	for _, d := range declared {
		if _, ok := out.Get(d.Algorithm); !ok {
			out = out.With(d)
		}
	}
	return out
}

func (e *engine) record(c plan.Change, size int64, digests providers.Digests) {
	e.recordToken(c, size, digests, "")
}

// recordToken records c as landed with the destination's change token of
// the object ferry wrote (empty: none).
func (e *engine) recordToken(c plan.Change, size int64, digests providers.Digests, token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st.EnsureMirror(c.Mirror, c.Source, c.Destination)
	now := e.opts.Now().UTC()
	addedAt := now
	if prev := e.st.Artifact(c.Mirror, c.Key); prev != nil && !prev.AddedAt.IsZero() {
		addedAt = prev.AddedAt // a replace keeps when ferry first mirrored it
	}
	e.st.SetArtifact(c.Mirror, &state.Artifact{
		Key:           c.Key,
		Name:          c.Name,
		Version:       c.Version,
		Size:          size,
		Digests:       digests,
		Token:         token,
		SourceDigests: c.After.Digests,
		Created:       c.Created,
		AddedAt:       addedAt,
		VerifiedAt:    now,
		Origin:        c.Origin,
	})
	e.dirty = true
}

// publish hands an output change to the provider that planned it, with
// the keys it depends on that did not land.
func (e *engine) publish(ctx context.Context, c plan.Change) error {
	if c.Output == nil {
		return fmt.Errorf("%s: not a publish change", c.Address)
	}
	var pub providers.Publisher
	var ok bool
	switch c.Output.Side {
	case providers.SideSource:
		src, err := e.provs.Source(c.Source)
		if err != nil {
			return err
		}
		pub, ok = providers.As[providers.Publisher](src)
	case providers.SideDestination:
		dst, err := e.provs.Destination(c.Destination)
		if err != nil {
			return err
		}
		pub, ok = dst.(providers.Publisher)
	default:
		return fmt.Errorf("%s: unknown side %q", c.Address, c.Output.Side)
	}
	if !ok {
		return fmt.Errorf("the %s of mirror %s publishes no consumer outputs: %w", c.Output.Side, c.Mirror, providers.ErrUnsupported)
	}
	failed := e.failedKeys(c.Mirror)
	e.mu.Lock()
	var missing []string
	for _, key := range c.Output.DependsOn {
		if failed[key] || e.st.Artifact(c.Mirror, key) == nil {
			missing = append(missing, key)
		}
	}
	e.mu.Unlock()
	return pub.Publish(ctx, c.Output.Output, missing)
}

// failedKeys are the keys of mirror's changes that failed so far.
func (e *engine) failedKeys(mirror string) map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	failed := map[string]bool{}
	for _, f := range e.result.Failed {
		if f.Change.Mirror == mirror {
			failed[f.Change.Key] = true
		}
	}
	return failed
}

func (e *engine) delete(ctx context.Context, c plan.Change) error {
	if c.Action == plan.Delete {
		dst, err := e.provs.Destination(c.Destination)
		if err != nil {
			return err
		}
		if err := dst.Delete(ctx, c.Key); err != nil && !errors.Is(err, providers.ErrNotFound) {
			return err
		}
	}
	e.mu.Lock()
	e.st.RemoveArtifact(c.Mirror, c.Key)
	e.dirty = true
	e.mu.Unlock()
	return nil
}

// CheckpointSpacing is how many times the cost of its last snapshot the
// checkpoint loop waits before the next: each snapshot encodes and syncs
// the whole state, so a fixed interval would spend an ever larger share of
// the apply (and of the cores the transfers and the servers need) on a
// growing state. With 9, writing the state takes at most about a tenth of
// the apply's time.
const CheckpointSpacing = 9

func (e *engine) checkpointLoop(ctx context.Context) error {
	t := time.NewTimer(e.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			began := time.Now()
			if err := e.persist(); err != nil {
				return err
			}
			t.Reset(max(e.opts.CheckpointInterval, CheckpointSpacing*time.Since(began)))
		}
	}
}

// persist writes a snapshot if anything changed since the last one.
func (e *engine) persist() error {
	e.persistMu.Lock()
	defer e.persistMu.Unlock()
	e.mu.Lock()
	if !e.dirty {
		e.mu.Unlock()
		return nil
	}
	snap := e.st.DeepCopy()
	e.dirty = false
	e.mu.Unlock()
	_, err := e.cp.Persist(snap)
	if err != nil {
		e.mu.Lock()
		e.dirty = true
		e.mu.Unlock()
		return err
	}
	e.mu.Lock()
	// Persist bumps the serial on the snapshot; carry it to the live state.
	e.st.Serial, e.st.ToolVersion = snap.Serial, snap.ToolVersion
	e.mu.Unlock()
	return nil
}

type progressReader struct {
	r       io.Reader
	advance func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.advance(int64(n))
	}
	return n, err
}
