package main_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestConcurrentApplies runs applies against one state at the same time.
// Without -lock-timeout the second fails at once naming the holder (its pid
// and operation) and touches nothing; with -lock-timeout it waits, then
// finds nothing left to do. Every object is fetched exactly once and the
// state ends complete. See docs/reliability.md.
func TestConcurrentApplies(t *testing.T) {
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(7, 7)), 4, 64<<10, 96<<10)
	d := dirDest(work)
	writeConfig(t, work, blobs, d)
	up := startUpstream(t, upDir)
	up.bytesPerSecond.Store(256 << 10) // the first apply holds the lock for about a second
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	statePath := filepath.Join(work, "ferry.state.json")

	start := func(args ...string) (*exec.Cmd, *bytes.Buffer) { return startFerry(t, work, env, args...) }
	first, firstOut := start("apply", "-auto-approve", "-parallelism", "1")
	firstDone := make(chan error, 1)
	go func() { firstDone <- first.Wait() }()
	// Wait until the first apply holds the lock.
	for {
		if _, err := os.Stat(statePath + ".lock"); err == nil {
			break
		}
		select {
		case err := <-firstDone:
			t.Fatalf("the first apply ended (%v) without a lock file ever appearing:\n%s", err, firstOut)
		case <-time.After(5 * time.Millisecond):
		}
	}
	waiter, waiterOut := start("apply", "-auto-approve", "-lock-timeout", "10m")

	// A second apply and a plan without -lock-timeout fail at once, naming
	// the holder.
	holder := fmt.Sprintf("(pid %d, operation apply)", first.Process.Pid)
	ferry(t, work, env, "apply", "-auto-approve").must(t, 1, "state is locked by", holder, "wait for it to finish")
	ferry(t, work, env, "plan").must(t, 1, "state is locked by", holder)

	if err := <-firstDone; err != nil {
		t.Fatalf("the first apply failed: %v\n%s", err, firstOut)
	}
	if err := waiter.Wait(); err != nil {
		t.Fatalf("the apply waiting with -lock-timeout failed: %v\n%s", err, waiterOut)
	}
	if !bytes.Contains(firstOut.Bytes(), []byte("Apply complete: 4 changes applied")) {
		t.Fatalf("first apply:\n%s", firstOut)
	}
	if !bytes.Contains(waiterOut.Bytes(), []byte("No changes")) {
		t.Fatalf("the waiting apply should have found everything done by the first:\n%s", waiterOut)
	}
	for _, name := range blobs.names {
		if got, want := up.bytesSent("/"+name), int64(len(blobs.data[name])); got != want {
			t.Errorf("%s was fetched %d bytes; want %d (exactly once)", name, got, want)
		}
	}
	if got := checkVisible(t, d, blobs); len(got) != len(blobs.names) {
		t.Fatalf("destination shows %v", got)
	}
	st := readStateFile(t, statePath)
	if got := stateArtifacts(st); !slices.Equal(got, blobs.names) {
		t.Fatalf("state records %v; want %v", got, blobs.names)
	}
	if _, err := os.Stat(statePath + ".lock"); !os.IsNotExist(err) {
		t.Fatalf("lock left behind (err=%v)", err)
	}
	ferry(t, work, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
}

// TestSimultaneousApplies starts two applies at the same instant, several
// times on fresh directories: exactly one wins the lock, the other fails
// naming it, and the state is the winner's, complete.
func TestSimultaneousApplies(t *testing.T) {
	for round := range 3 {
		work, upDir := t.TempDir(), t.TempDir()
		blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(8, uint64(round))), 3, 32<<10, 64<<10)
		d := dirDest(work)
		writeConfig(t, work, blobs, d)
		up := startUpstream(t, upDir)
		up.bytesPerSecond.Store(256 << 10)
		env := []string{"FERRY_VAR_upstream=" + up.URL}

		cmds := make([]*exec.Cmd, 2)
		outs := make([]*bytes.Buffer, 2)
		for i := range cmds {
			cmds[i] = exec.Command(ferryBin, "apply", "-auto-approve")
			cmds[i].Dir = work
			cmds[i].Env = append([]string{"HOME=" + work, "PATH=" + os.Getenv("PATH")}, env...)
			outs[i] = &bytes.Buffer{}
			cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		}
		for _, c := range cmds {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
		}
		var winners, losers []int
		for i, c := range cmds {
			if err := c.Wait(); err == nil {
				winners = append(winners, i)
			} else {
				losers = append(losers, i)
			}
		}
		if len(winners) != 1 || len(losers) != 1 {
			t.Fatalf("round %d: %d applies succeeded; want exactly one\n0:\n%s\n1:\n%s", round, len(winners), outs[0], outs[1])
		}
		w, l := winners[0], losers[0]
		wantHolder := "(pid " + strconv.Itoa(cmds[w].Process.Pid) + ", operation apply)"
		if !bytes.Contains(outs[l].Bytes(), []byte("state is locked by")) || !bytes.Contains(outs[l].Bytes(), []byte(wantHolder)) {
			t.Fatalf("round %d: the losing apply does not name the winner %s:\n%s", round, wantHolder, outs[l])
		}
		if got := stateArtifacts(readStateFile(t, filepath.Join(work, "ferry.state.json"))); !slices.Equal(got, blobs.names) {
			t.Fatalf("round %d: state records %v; want %v", round, got, blobs.names)
		}
		if got := checkVisible(t, d, blobs); len(got) != len(blobs.names) {
			t.Fatalf("round %d: destination shows %v", round, got)
		}
		for _, name := range blobs.names {
			if got, want := up.bytesSent("/"+name), int64(len(blobs.data[name])); got != want {
				t.Errorf("round %d: %s fetched %d bytes; want %d (once, by the winner)", round, name, got, want)
			}
		}
	}
}
