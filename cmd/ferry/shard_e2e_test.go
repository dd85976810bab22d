package main_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner/shard"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/state"
)

// shardConfig writes main.ferry.hcl: source "http" "up" with the blobs
// named, mirror "m" into the destination block d (kind its type).
func shardConfig(t *testing.T, dir string, b blobSet, names []string, kind, d string) {
	t.Helper()
	var s strings.Builder
	s.WriteString("variable \"upstream\" {}\nsource \"http\" \"up\" {\n")
	for _, name := range names {
		fmt.Fprintf(&s, "  artifact %q {\n    url     = \"${var.upstream}/%s\"\n    sha256  = \"%x\"\n    version = \"1.0.0\"\n    key     = %q\n  }\n",
			strings.TrimSuffix(name, ".bin"), name, sha256.Sum256(b.data[name]), name)
	}
	s.WriteString("}\n" + d + "\nmirror \"m\" {\n  from = source.http.up\n  to   = destination." + kind + ".d\n}\n")
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(s.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitAll waits for the shard processes and fails on any exit but 0.
func waitAll(t *testing.T, procs []*shardProc) {
	t.Helper()
	for _, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("shard %s: %v\n%s", p.name, err, p.out)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

type shardProc struct {
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// TestShardedApplyS3RemoteState applies a saved plan in 3 shard processes
// started at once against a real versitygw (an s3 destination, and the
// state in an s3 backend on the same server), then finalizes it: the
// deletes wait for the finalize (which is refused before the shards ran),
// every object lands with its bytes, the state records every artifact
// (no shard lost another's records) and no barrier, and the next plan has
// no changes.
func TestShardedApplyS3RemoteState(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{PublicRead: true})
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(16, 5)), 18, 4<<10, 32<<10)
	old, kept, added := blobs.names[:2], blobs.names[2:6], blobs.names[6:]
	d := s3Block(srv, "d", "shards")
	shardConfig(t, work, blobs, append(slices.Clone(old), kept...), "s3", d)
	if err := os.WriteFile(filepath.Join(work, "backend.ferry.hcl"), []byte(backendHCL(srv)), 0o644); err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, upDir)
	env := append(append([]string{"FERRY_VAR_upstream=" + up.URL}, backendEnv(srv)...), s3Env(srv)...)
	ferry(t, work, env, "apply", "-auto-approve").must(t, 0, "6 changes applied")

	// The plan: 12 to add, the 2 old ones to delete.
	shardConfig(t, work, blobs, append(slices.Clone(kept), added...), "s3", d)
	ferry(t, work, env, "plan", "-out", "plan.json").must(t, 0, "12 to add, 0 to replace, 2 to delete")
	ferry(t, work, env, "apply", "-finalize", "plan.json").must(t, 1, "the state records no sharded apply")

	var procs []*shardProc
	for i := range 3 {
		args := []string{"apply", "-shard", fmt.Sprintf("%d/3", i), "plan.json"}
		penv := env
		if i == 2 { // as a Kubernetes Indexed Job runs it
			args = []string{"apply", "-shards", "3", "plan.json"}
			penv = append(slices.Clone(env), "JOB_COMPLETION_INDEX=2")
		}
		cmd, out := startFerry(t, work, penv, args...)
		procs = append(procs, &shardProc{name: fmt.Sprint(i), cmd: cmd, out: out})
	}
	waitAll(t, procs)
	for _, name := range old {
		if getObject(t, srv, "shards/"+name) == nil {
			t.Fatalf("%s was deleted by a shard: deletes wait for the finalize", name)
		}
	}
	// A shard run again after it finished does nothing.
	ferry(t, work, env, "apply", "-shard", "1/3", "plan.json").must(t, 0, "Shard 1/3 of plan sha256:", "already finished")
	ferry(t, work, env, "apply", "-finalize", "-shards", "4", "plan.json").must(t, 1, "applied in 3 shards, not 4")
	ferry(t, work, env, "apply", "-finalize", "plan.json").must(t, 0, "all 3 shards finished", "2 changes applied")

	for _, name := range append(slices.Clone(kept), added...) {
		if got := getObject(t, srv, "shards/"+name); !bytes.Equal(got, blobs.data[name]) {
			t.Errorf("%s at the destination: %d bytes, want its %d bytes", name, len(got), len(blobs.data[name]))
		}
	}
	for _, name := range old {
		if getObject(t, srv, "shards/"+name) != nil {
			t.Errorf("%s was not deleted by the finalize", name)
		}
	}
	pulled := ferry(t, work, env, "state", "pull")
	pulled.must(t, 0)
	st := pulledState(t, pulled.stdout)
	want := slices.Sorted(slices.Values(append(slices.Clone(kept), added...)))
	if got := stateArtifacts(st); !slices.Equal(got, want) {
		t.Errorf("the state records %v, want %v", got, want)
	}
	if st.Shards != nil {
		t.Errorf("the finalize left the barrier: %+v", st.Shards)
	}
	if lock := getObject(t, srv, backendKey+".lock"); lock != nil {
		t.Errorf("a lock object was left: %s", lock)
	}
	ferry(t, work, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
	ferry(t, work, env, "apply", "-finalize", "plan.json").must(t, 1, "the state records no sharded apply")
}

func pulledState(t *testing.T, data string) *state.State {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pulled.json")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return readStateFile(t, path)
}

// TestShardCrashResumes kills one of 3 shards (local state, dir
// destination, a slow upstream) with SIGKILL once it recorded part of its
// transfers: the finalize is refused naming it; the shard run again skips
// what it recorded and lands the rest; the finalize completes; every blob
// is at the destination once with its bytes, those recorded before the
// kill were fetched exactly once, and the next plan has no changes.
func TestShardCrashResumes(t *testing.T) {
	t.Run("local state", func(t *testing.T) { shardCrash(t, nil) })
	t.Run("s3 state", func(t *testing.T) { shardCrash(t, testenv.StartS3(t, testenv.S3Options{})) })
}

// shardCrash is TestShardCrashResumes with the state in srv's bucket, or
// in a local file when srv is nil.
func shardCrash(t *testing.T, srv *testenv.S3) {
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(16, 6)), 24, 48<<10, 96<<10)
	d := dirDest(work)
	shardConfig(t, work, blobs, blobs.names, "dir", d.hcl)
	up := startUpstream(t, upDir)
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	statePath := filepath.Join(work, "ferry.state.json")
	readSt := func() *state.State {
		return readStateFile(t, statePath)
	}
	if srv != nil {
		if err := os.WriteFile(filepath.Join(work, "backend.ferry.hcl"), []byte(backendHCL(srv)), 0o644); err != nil {
			t.Fatal(err)
		}
		env = append(env, backendEnv(srv)...)
		readSt = func() *state.State {
			b := getObject(t, srv, backendKey)
			if b == nil {
				return nil
			}
			return pulledState(t, string(b))
		}
	}
	ferry(t, work, env, "plan", "-out", "plan.json").must(t, 0, "24 to add")
	victim := 1
	var victims []string
	for _, name := range blobs.names {
		if shard.Of("m", name, 3) == victim {
			victims = append(victims, name)
		}
	}
	if len(victims) < 3 {
		t.Fatalf("shard %d has only %d blobs; pick another seed", victim, len(victims))
	}

	up.bytesPerSecond.Store(256 << 10) // per connection: the victim takes seconds
	var procs []*shardProc
	var killed *exec.Cmd
	var killedOut *bytes.Buffer
	for i := range 3 {
		cmd, out := startFerry(t, work, env, "apply", "-shard", fmt.Sprintf("%d/3", i), "-parallelism", "2", "plan.json")
		if i == victim {
			killed, killedOut = cmd, out
			defer cmd.Process.Kill()
			continue
		}
		procs = append(procs, &shardProc{name: fmt.Sprint(i), cmd: cmd, out: out})
	}
	// Kill the victim once the state records one of its blobs.
	var recorded []string
	for deadline := time.Now().Add(60 * time.Second); len(recorded) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("shard %d recorded nothing:\n%s", victim, killedOut)
		}
		st := readSt()
		if st == nil {
			continue // not written yet
		}
		for _, name := range victims {
			if st.Artifact("m", name) != nil {
				recorded = append(recorded, name)
			}
		}
	}
	if err := killed.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("shard %d finished before the kill: %v\n%s", victim, err, killedOut)
	}
	if err := killed.Wait(); err == nil {
		t.Fatalf("shard %d finished before the kill:\n%s", victim, killedOut)
	}
	up.bytesPerSecond.Store(0)
	waitAll(t, procs)

	st := readSt()
	recorded = recorded[:0]
	for _, name := range victims {
		if st.Artifact("m", name) != nil {
			recorded = append(recorded, name)
		}
	}
	if len(recorded) == len(victims) {
		t.Fatalf("shard %d recorded all its blobs before the kill", victim)
	}
	ferry(t, work, env, "apply", "-finalize", "plan.json").must(t, 1, "1 of 3 shards have not finished: 1/3")

	ferry(t, work, env, "apply", "-shard", "1/3", "plan.json").must(t, 0, fmt.Sprintf("(%d recorded by an earlier run)", len(recorded)), "every shard has")
	ferry(t, work, env, "apply", "-finalize", "plan.json").must(t, 0, "all 3 shards finished")

	objects, problems := d.inspect(t)
	if len(problems) > 0 {
		t.Errorf("destination problems: %v", problems)
	}
	all := slices.Sorted(slices.Values(blobs.names))
	if got := slices.Sorted(maps.Keys(objects)); !slices.Equal(got, all) {
		t.Errorf("destination holds %v, want %v", got, blobs.names)
	}
	for name, data := range objects {
		if !bytes.Equal(data, blobs.data[name]) {
			t.Errorf("%s: wrong bytes at the destination", name)
		}
	}
	for _, name := range recorded {
		if sent, size := up.bytesSent("/"+name), int64(len(blobs.data[name])); sent != size {
			t.Errorf("%s, recorded before the kill, was fetched %d bytes, want once (%d)", name, sent, size)
		}
	}
	st = readSt()
	if got := stateArtifacts(st); !slices.Equal(got, all) {
		t.Errorf("the state records %v, want %v", got, all)
	}
	if st.Shards != nil {
		t.Errorf("the finalize left the barrier: %+v", st.Shards)
	}
	if srv != nil {
		if lock := getObject(t, srv, backendKey+".lock"); lock != nil {
			t.Errorf("a lock object was left: %s", lock)
		}
		if _, err := os.Stat(statePath); !os.IsNotExist(err) {
			t.Errorf("a local state file was written beside the backend (err=%v)", err)
		}
	}
	ferry(t, work, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
}

// TestShardFlagErrors: the shard flags are refused clearly when they
// contradict each other, lack their index or their plan file.
func TestShardFlagErrors(t *testing.T) {
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(16, 7)), 2, 16, 32)
	shardConfig(t, work, blobs, blobs.names, "dir", dirDest(work).hcl)
	env := []string{"FERRY_VAR_upstream=http://127.0.0.1:1"}
	ferry(t, work, env, "plan", "-refresh=false", "-out", "plan.json").must(t, 0)
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{name: "no plan file", args: []string{"-shard", "0/2"}, want: "apply a saved plan: give its file"},
		{name: "both", args: []string{"-shard", "0/2", "-shards", "2", "plan.json"}, want: "either -shard I/N, or -shards N"},
		{name: "out of range", args: []string{"-shard", "2/2", "plan.json"}, want: "shard index 2 is out of range for 2 shards: want 0 to 1"},
		{name: "malformed", args: []string{"-shard", "1", "plan.json"}, want: "want I/N"},
		{name: "zero shards", args: []string{"-shard", "0/0", "plan.json"}, want: "want at least 1"},
		{name: "shards below 1", args: []string{"-shards", "0", "plan.json"}, want: "-shards 0: want at least 1"},
		{name: "no index", args: []string{"-shards", "3", "plan.json"}, want: "JOB_COMPLETION_INDEX, which is not set"},
		{name: "index out of range", env: []string{"JOB_COMPLETION_INDEX=3"}, args: []string{"-shards", "3", "plan.json"}, want: "JOB_COMPLETION_INDEX=3 with -shards 3: shard index 3 is out of range"},
		{name: "index not a number", env: []string{"JOB_COMPLETION_INDEX=x"}, args: []string{"-shards", "3", "plan.json"}, want: `JOB_COMPLETION_INDEX="x" is not a shard index`},
		{name: "finalize with a shard", args: []string{"-finalize", "-shard", "0/2", "plan.json"}, want: "drop -shard"},
		{name: "finalize without a plan", args: []string{"-finalize"}, want: "apply a saved plan"},
		{name: "without the lock", args: []string{"-shard", "0/2", "-lock=false", "plan.json"}, want: "cannot run with -lock=false"},
		{name: "planning options", args: []string{"-shard", "0/2", "-target", "mirror.m", "plan.json"}, want: "cannot be combined with a plan file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ferry(t, work, append(slices.Clone(env), tc.env...), append([]string{"apply"}, tc.args...)...).must(t, 1, tc.want)
		})
	}
	// An edited plan is refused before the shard joins (or creates) the
	// barrier: the state stays as it was (here: none).
	planBytes, err := os.ReadFile(filepath.Join(work, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(blobs.data[blobs.names[0]]))
	edited := bytes.ReplaceAll(planBytes, []byte(sum), []byte(strings.Repeat("0", 64)))
	if bytes.Equal(edited, planBytes) {
		t.Fatal("the plan does not name the blob's digest")
	}
	if err := os.WriteFile(filepath.Join(work, "edited.json"), edited, 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, work, env, "apply", "-shard", "0/1", "edited.json").must(t, 1, "Saved plan not justified by the configuration and state")
	if _, err := os.Stat(filepath.Join(work, "ferry.state.json")); !os.IsNotExist(err) {
		t.Errorf("a refused shard wrote the state (err=%v)", err)
	}
}

// TestShardExcludedByApplyLock: an apply holding the state lock for its
// whole run still excludes a shard, which gives up after -lock-timeout
// naming the holder, having written nothing.
func TestShardExcludedByApplyLock(t *testing.T) {
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(16, 8)), 4, 64<<10, 96<<10)
	shardConfig(t, work, blobs, blobs.names, "dir", dirDest(work).hcl)
	up := startUpstream(t, upDir)
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	ferry(t, work, env, "plan", "-out", "plan.json").must(t, 0, "4 to add")
	up.bytesPerSecond.Store(32 << 10)
	whole, out := startFerry(t, work, env, "apply", "-auto-approve", "-parallelism", "1")
	defer whole.Process.Kill()
	lock := filepath.Join(work, "ferry.state.json.lock")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(lock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the apply took no lock:\n%s", out)
		}
	}
	ferry(t, work, env, "apply", "-shard", "0/2", "-lock-timeout", "1s", "plan.json").must(t, 1, "state is locked by", "operation apply")
	if err := whole.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_ = whole.Wait()
	if st := readStateFile(t, filepath.Join(work, "ferry.state.json")); st != nil && st.Shards != nil {
		t.Errorf("the refused shard wrote a barrier: %+v", st.Shards)
	}
}

// TestShardedCondaIndexWaitsForFinalize applies a conda channel into a dir
// in 2 shards started at once: the shards land the packages and no index
// (the channel's repodata.json is a publish step); the finalize writes the
// indexes, and the next plan has no changes.
func TestShardedCondaIndexWaitsForFinalize(t *testing.T) {
	chdir := condaChannel(t)
	dir, _, env := condaWork(t, chdir, condaConfig)
	pkgs := []string{
		"linux-64/clobber-1-0.2.0-h4616a5c_0.tar.bz2",
		"linux-64/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda",
		"noarch/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2",
	}
	ferry(t, dir, env, "plan", "-out", "plan.json").must(t, 0, pkgs...)
	var procs []*shardProc
	for i := range 2 {
		cmd, out := startFerry(t, dir, env, "apply", "-shard", fmt.Sprintf("%d/2", i), "plan.json")
		procs = append(procs, &shardProc{name: fmt.Sprint(i), cmd: cmd, out: out})
	}
	waitAll(t, procs)
	if got := filesUnder(t, filepath.Join(dir, "channel")); !slices.Equal(got, pkgs) {
		t.Fatalf("after the shards the channel holds %v, want only the packages %v (no index before the finalize)", got, pkgs)
	}
	ferry(t, dir, env, "apply", "-finalize", "plan.json").must(t, 0, "all 2 shards finished")
	if got, want := filesUnder(t, filepath.Join(dir, "channel")), withIndexes(pkgs, "linux-64", "noarch"); !slices.Equal(got, want) {
		t.Fatalf("after the finalize the channel holds %v, want %v", got, want)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")
}
