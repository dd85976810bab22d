package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/planner/shard"
	"github.com/ferry-mirror/ferry/state"
)

// shardLockTimeout bounds how long a shard waits for the state lock at
// each of its checkpoints unless -lock-timeout says otherwise. Shards
// take the lock for a moment per checkpoint, so they wait for each other
// briefly; an apply or plan holding it for its whole run makes them give
// up after this long.
const shardLockTimeout = 5 * time.Minute

// jobIndexEnv is the variable a Kubernetes Indexed Job sets in each pod:
// its completion index, 0 to completions-1.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

// shardRequest is what the shard flags of apply ask for.
type shardRequest struct {
	spec     string // -shard I/N
	count    int    // -shards N
	countSet bool
	finalize bool
}

func (r shardRequest) any() bool { return r.spec != "" || r.countSet || r.finalize }

// resolve checks the shard flags and returns the shard index and count
// (for -finalize: -1, and the count -shards gave, or 0).
func (a *app) resolveShard(r shardRequest, planFile bool, lock bool) (i, n int, err error) {
	fail := func(format string, args ...any) (int, int, error) {
		return 0, 0, &exitError{code: ExitError, err: fmt.Errorf(format, args...)}
	}
	switch {
	case !planFile:
		return fail("-shard, -shards and -finalize apply a saved plan: give its file (ferry plan -out=plan.json first), the same one to every shard and to -finalize")
	case !lock:
		return fail("a sharded apply takes the state lock at each checkpoint to merge its records: it cannot run with -lock=false")
	case r.spec != "" && r.countSet:
		return fail("give either -shard I/N, or -shards N with the index in %s, not both", jobIndexEnv)
	case r.finalize && r.spec != "":
		return fail("-finalize runs once after every shard, not as one: drop -shard (-shards N, if given, is checked against the shards recorded)")
	case r.countSet && r.count < 1:
		return fail("-shards %d: want at least 1", r.count)
	case r.finalize:
		return -1, r.count, nil
	case r.spec != "":
		i, n, err := shard.ParseIndex(r.spec)
		if err != nil {
			return fail("%w", err)
		}
		return i, n, nil
	}
	v, ok := a.lookupEnv(jobIndexEnv)
	if !ok {
		return fail("-shards %d takes the shard index from %s, which is not set (a Kubernetes Indexed Job sets it; elsewhere use -shard I/%d)", r.count, jobIndexEnv, r.count)
	}
	i, err = strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return fail("%s=%q is not a shard index (a whole number from 0)", jobIndexEnv, v)
	}
	if err := shard.Check(i, r.count); err != nil {
		return fail("%s=%d with -shards %d: %w", jobIndexEnv, i, r.count, err)
	}
	return i, r.count, nil
}

// lookupEnv is getenv telling an empty variable from an absent one.
func (a *app) lookupEnv(name string) (string, bool) {
	for i := len(a.env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(a.env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// readPlanID reads a saved plan and its ID: the sha256 of the file's
// bytes, which every shard and the finalize must share.
func readPlanID(path string) (*plan.Plan, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", &exitError{code: ExitError, err: fmt.Errorf("reading plan: %w", err)}
	}
	p, err := plan.Unmarshal(b)
	if err != nil {
		return nil, "", &exitError{code: ExitError, err: fmt.Errorf("%s: %w", path, err)}
	}
	sum := sha256.Sum256(b)
	return p, "sha256:" + hex.EncodeToString(sum[:]), nil
}

// shardUpdater returns the short read-merge-write of the configured state
// (file or backend) that shards use instead of holding the lock. Its
// writes are not cancelled with the command: a shard's last checkpoint
// after an interrupt must land, as a whole apply's does.
func (a *app) shardUpdater(path, op string, lf lockFlags) (func(state.UpdateFunc) (*state.State, error), error) {
	timeout := shardLockTimeout
	if lf.timeout > 0 {
		timeout = lf.timeout
	}
	ctx := context.WithoutCancel(a.ctx)
	r, ok, err := a.remoteState(a.backend)
	if err != nil {
		return nil, err
	}
	if ok {
		return func(fn state.UpdateFunc) (*state.State, error) {
			return state.UpdateRemote(ctx, r, op, Version, timeout, fn)
		}, nil
	}
	return func(fn state.UpdateFunc) (*state.State, error) {
		return state.Update(ctx, path, op, Version, timeout, fn)
	}, nil
}

// shardCheckpointer persists a shard's checkpoints by merging the records
// of its own artifacts into the state as it is now, so shards writing at
// once never lose each other's records.
type shardCheckpointer struct {
	update func(state.UpdateFunc) (*state.State, error)
	planID string
	refs   []state.ArtifactRef
}

func (c *shardCheckpointer) Persist(s *state.State) (bool, error) {
	changed := false
	_, err := c.update(func(cur *state.State, next uint64) (bool, error) {
		var err error
		changed, err = cur.MergeShard(c.planID, s, c.refs, next)
		return changed, err
	})
	return changed, err
}

// applyShard applies shard i of n of the saved plan at path: its part of
// the transfers and adoptions (shard.Partition), recording them in the
// shared state as they land, then its mark in the barrier. Publish steps
// and deletes wait for applyFinalize.
func (a *app) applyShard(path string, f *planFlags, asJSON bool, i, n int) error {
	p, id, err := readPlanID(path)
	if err != nil {
		return err
	}
	cfg, err := a.loadConfigForPlan(path, p, f.vars)
	if err != nil {
		return err
	}
	update, err := a.shardUpdater(statePath(cfg), fmt.Sprintf("apply -shard %d/%d", i, n), f.lock)
	if err != nil {
		return err
	}
	join := func(s *state.State, next uint64) (bool, error) {
		return s.JoinShards(id, p.PriorState.Lineage, p.PriorState.Serial, n, next)
	}
	// First only read and check: a plan refused below (stale, or not
	// justified) must leave the state as it was.
	st, err := update(func(s *state.State, next uint64) (bool, error) {
		c := *s // JoinShards replaces the barrier, never changes it
		_, err := join(&c, next)
		return false, err
	})
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("shard %d/%d of saved plan %s: %w", i, n, path, err)}
	}
	if b := st.Shards; b != nil && b.Plan == id {
		if d, ok := b.Done[i]; ok {
			msg := a.streams.Out
			if asJSON {
				msg = a.streams.Err // stdout carries only events
			}
			fmt.Fprintf(msg, "Shard %d/%d of plan %s already finished at %s (%s). Nothing to do.\n",
				i, n, id, d.At.Format(time.RFC3339), plan.Plural(d.Changes, "change"))
			return nil
		}
	}
	split, err := shard.Partition(p.Changes, n)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	// Resume: what an earlier run of this shard recorded after the plan
	// was made (only this plan's shards wrote the state since, and only
	// this one writes these keys) is skipped; anything else landed at the
	// destination is adopted by apply as usual.
	var mine []plan.Change
	skipped := 0
	for _, c := range split.Shards[i] {
		if rec := st.Artifact(c.Mirror, c.Key); rec != nil && rec.VerifiedAt.After(p.CreatedAt) && rec.SourceDigests.Equal(c.After.Digests) {
			skipped++
			continue
		}
		mine = append(mine, c)
	}
	sub := *p
	sub.Changes, sub.Feeds, sub.Reports, sub.DeleteQuotas, sub.DeleteNotes = mine, nil, nil, nil, nil
	sub.Summarize(0)
	ps, err := a.providersFor(cfg, f)
	if err != nil {
		return err
	}
	defer ps.close()
	if err := checkDestinations(path, ps, p); err != nil {
		return err
	}
	sess := &stateSession{path: statePath(cfg), state: st}
	if err := a.validateSaved(path, cfg, sess, ps, &sub, f); err != nil {
		return err
	}
	if st, err = update(join); err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("shard %d/%d of saved plan %s: %w", i, n, path, err)}
	}
	sess.state = st
	refs := make([]state.ArtifactRef, len(mine))
	for k, c := range mine {
		refs[k] = state.ArtifactRef{Mirror: c.Mirror, Key: c.Key}
	}
	sess.cp = &shardCheckpointer{update: update, planID: id, refs: refs}
	if !asJSON {
		fmt.Fprintf(a.streams.Out, "Shard %d/%d of plan %s: %s of %d transfers", i, n, id, plan.Plural(len(mine), "change"), len(split.Shards[i]))
		if skipped > 0 {
			fmt.Fprintf(a.streams.Out, " (%d recorded by an earlier run)", skipped)
		}
		fmt.Fprintf(a.streams.Out, "; %d publish and delete steps wait for the finalize.\n\n", len(split.Final))
	}
	if err := a.execute(cfg, sess, ps, &sub, f, asJSON); err != nil {
		return err
	}
	var bytes int64
	if sess.result != nil {
		bytes = sess.result.TransferredBytes
	}
	st, err = update(func(s *state.State, next uint64) (bool, error) {
		return s.FinishShard(id, i, state.ShardDone{At: time.Now(), Changes: len(mine), Skipped: skipped, Bytes: bytes}, next)
	})
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("recording shard %d/%d as finished: %w", i, n, err)}
	}
	if asJSON {
		return nil
	}
	if missing := st.Shards.Missing(); len(missing) > 0 {
		fmt.Fprintf(a.streams.Out, "\nShard %d/%d finished. Waiting for %s: %s.\n", i, n, plan.Plural(len(missing), "shard"), indexList(missing, n))
	} else {
		fmt.Fprintf(a.streams.Out, "\nShard %d/%d finished; every shard has. Run ferry apply -finalize %s.\n", i, n, path)
	}
	return nil
}

func indexList(is []int, n int) string {
	out := make([]string, len(is))
	for k, i := range is {
		out[k] = fmt.Sprintf("%d/%d", i, n)
	}
	return strings.Join(out, ", ")
}

// applyFinalize runs what the shards of the saved plan at path left for
// after all of them: publish steps, deletes and forgets, and the feed
// positions. It holds the state lock throughout, as an apply does, and
// refuses (naming them) while shards are missing. It clears the barrier:
// a finalize that fails part-way is resumed by planning again, as any
// interrupted apply.
func (a *app) applyFinalize(path string, f *planFlags, asJSON bool, n int) error {
	p, id, err := readPlanID(path)
	if err != nil {
		return err
	}
	cfg, err := a.loadConfigForPlan(path, p, f.vars)
	if err != nil {
		return err
	}
	sess, err := a.openState(statePath(cfg), "apply -finalize", f.lock)
	if err != nil {
		return err
	}
	defer sess.close()
	if err := sess.state.ShardsComplete(id); err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("finalizing saved plan %s: %w", path, err)}
	}
	b := sess.state.Shards
	if n > 0 && n != b.Count {
		return &exitError{code: ExitError, err: fmt.Errorf("finalizing saved plan %s: %w: it was applied in %d shards, not %d", path, state.ErrBarrier, b.Count, n)}
	}
	split, err := shard.Partition(p.Changes, b.Count)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	sub := *p
	sub.Changes = split.Final
	sub.Summarize(0)
	ps, err := a.providersFor(cfg, f)
	if err != nil {
		return err
	}
	defer ps.close()
	if err := checkDestinations(path, ps, p); err != nil {
		return err
	}
	if err := a.validateSaved(path, cfg, sess, ps, &sub, f); err != nil {
		return err
	}
	sess.state.Shards = nil
	if !asJSON {
		fmt.Fprintf(a.streams.Out, "Finalizing plan %s: all %d shards finished; %s.\n\n", id, b.Count, plan.Plural(len(split.Final), "publish or delete step"))
	}
	err = a.execute(cfg, sess, ps, &sub, f, asJSON)
	// The barrier is cleared (and the feeds recorded) even when apply had
	// nothing to write.
	sess.state.SetFeeds(p.Feeds)
	if _, perr := sess.manager.Persist(sess.state); perr != nil && err == nil {
		err = &exitError{code: ExitError, err: perr}
	}
	return err
}
