package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// TestCrashTrials kills `ferry apply` with SIGKILL at a random moment, per
// trial, for each destination type, and checks what the crash left: the
// state parses and records only objects that are really there; every object
// visible at the destination is complete and exact; the next apply converges
// (plan then says "No changes") and does not fetch again any object that had
// landed. FERRY_CRASH_TRIALS sets the trials per destination (default 3;
// `make faults` runs 50), FERRY_CRASH_SEED replays a run (the seed is
// logged). See docs/reliability.md.
func TestCrashTrials(t *testing.T) {
	trials := envInt(t, "FERRY_CRASH_TRIALS", 3)
	seed := envUint64(t, "FERRY_CRASH_SEED", uint64(time.Now().UnixNano()))
	t.Logf("crash trials: %d per destination, FERRY_CRASH_SEED=%d", trials, seed)

	t.Run("dir", func(t *testing.T) {
		runCrashTrials(t, trials, seed, 900*time.Millisecond, func(workdir string, i int, _ []string) dest { return dirDest(workdir) })
	})
	t.Run("oci", func(t *testing.T) {
		reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
		runCrashTrials(t, trials, seed, 1500*time.Millisecond, func(_ string, i int, keys []string) dest {
			return ociDest(reg, reg.Host, fmt.Sprintf("crash/trial%d", i), keys)
		})
	})
	t.Run("http", func(t *testing.T) {
		dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{})
		runCrashTrials(t, trials, seed, 900*time.Millisecond, func(_ string, i int, _ []string) dest {
			return webdavDest(dav, dav.URL, fmt.Sprintf("trial%d", i), "")
		})
	})
}

// crashStats sums up the trials of one destination.
type crashStats struct {
	trials, converged, completedBeforeKill, lockLeft, noState int
	landedAtKill, recordedAtKill, objects                     int
	resentLanded                                              int64
	stateTemps                                                int
}

func runCrashTrials(t *testing.T, trials int, seed uint64, maxDelay time.Duration, newDest func(workdir string, trial int, keys []string) dest) {
	var st crashStats
	for i := range trials {
		ok := t.Run(fmt.Sprintf("trial%d", i), func(t *testing.T) {
			crashTrial(t, seed, i, maxDelay, newDest, &st)
		})
		if !ok {
			t.Logf("trial %d failed: reproduce with FERRY_CRASH_SEED=%d FERRY_CRASH_TRIALS=%d", i, seed, i+1)
			break
		}
	}
	t.Logf("RESULT %s: %d/%d trials converged; killed mid-run %d, finished before the kill %d; at the kill %d of %d objects had landed and %d were recorded; no state file yet %d; stale lock left %d; stray state temp files %d; bytes re-sent for objects that had landed: %d",
		strings.TrimPrefix(t.Name(), "TestCrashTrials/"), st.converged, st.trials, st.trials-st.completedBeforeKill, st.completedBeforeKill,
		st.landedAtKill, st.objects, st.recordedAtKill, st.noState, st.lockLeft, st.stateTemps, st.resentLanded)
}

func crashTrial(t *testing.T, seed uint64, i int, maxDelay time.Duration, newDest func(string, int, []string) dest, st *crashStats) {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rng, 6, 16<<10, 160<<10)
	d := newDest(work, i, blobs.names)
	writeConfig(t, work, blobs, d)
	up := startUpstream(t, upDir)
	up.bytesPerSecond.Store(1 << 20) // per connection: a whole run takes about half a second
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	statePath := filepath.Join(work, "ferry.state.json")

	// Kill anywhere from process start to about when a typical run ends
	// (maxDelay, per destination type).
	delay := time.Duration(rng.Int64N(int64(maxDelay)))
	cmd, out := startFerry(t, work, env, "apply", "-auto-approve", "-parallelism", "2")
	time.Sleep(delay)
	killErr := cmd.Process.Signal(syscall.SIGKILL)
	waitErr := cmd.Wait()
	st.trials++
	st.objects += len(blobs.names)
	finished := errors.Is(killErr, os.ErrProcessDone) || waitErr == nil
	if finished {
		st.completedBeforeKill++
		if waitErr != nil {
			t.Fatalf("apply failed before the kill: %v\n%s", waitErr, out.String())
		}
	}
	t.Logf("trial %d: killed after %v (finished first: %v)", i, delay.Round(time.Millisecond), finished)

	// What the crash left.
	s := readStateFile(t, statePath)
	if s == nil {
		st.noState++
	}
	if _, err := os.Stat(statePath + ".backup"); err == nil {
		readStateFile(t, statePath+".backup")
	}
	temps, _ := filepath.Glob(filepath.Join(work, ".ferry.state.json.tmp-*"))
	st.stateTemps += len(temps)
	landed := checkVisible(t, d, blobs)
	recorded := stateArtifacts(s)
	for _, k := range recorded {
		if !slices.Contains(landed, k) {
			t.Errorf("the state records %s, which is not (completely) at the destination", k)
		}
	}
	st.landedAtKill += len(landed)
	st.recordedAtKill += len(recorded)
	if t.Failed() {
		t.FailNow()
	}

	// A lock left by the killed process is taken over by the next apply,
	// which says so: no `state unlock` needed.
	lockPath := statePath + ".lock"
	var tookOver []string
	if b, err := os.ReadFile(lockPath); err == nil {
		st.lockLeft++
		var lock struct{ ID string }
		if err := json.Unmarshal(b, &lock); err != nil {
			t.Fatalf("lock file left by the killed apply does not parse: %v\n%s", err, b)
		}
		tookOver = []string{"Warning: took over the state lock", "lock ID " + lock.ID}
	}

	// The next apply converges without fetching what had landed.
	up.bytesPerSecond.Store(0)
	before := map[string]int64{}
	for _, k := range landed {
		before[k] = up.bytesSent("/" + k)
	}
	ferry(t, work, env, "apply", "-auto-approve").must(t, 0, tookOver...)
	for _, k := range landed {
		if n := up.bytesSent("/"+k) - before[k]; n != 0 {
			st.resentLanded += n
			t.Errorf("the re-apply fetched %s again (%d bytes) although it had landed before the kill", k, n)
		}
	}
	ferry(t, work, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
	if got := checkVisible(t, d, blobs); len(got) != len(blobs.names) {
		t.Fatalf("after the re-apply the destination shows %v; want all %d objects", got, len(blobs.names))
	}
	if got := stateArtifacts(readStateFile(t, statePath)); !slices.Equal(got, blobs.names) {
		t.Fatalf("after the re-apply the state records %v; want %v", got, blobs.names)
	}
	if _, err := os.Stat(lockPath); !os.IsNotExist(err) {
		t.Fatalf("the re-apply left the lock behind (err=%v)", err)
	}
	if temps, _ := filepath.Glob(filepath.Join(work, ".ferry.state.json.tmp-*")); len(temps) > 0 {
		t.Fatalf("the re-apply left state temp files behind: %v", temps)
	}
	if !t.Failed() {
		st.converged++
	}
}
