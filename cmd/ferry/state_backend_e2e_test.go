package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/state"
)

const backendKey = "ci/prod.ferry.state.json"

// backendHCL is a ferry block keeping the state on srv, with explicit
// credentials from sensitive variables (set through FERRY_VAR_*, see
// backendEnv), so a test can check they appear nowhere.
func backendHCL(srv *testenv.S3) string {
	return fmt.Sprintf(`variable "s3_key" {
  sensitive = true
}
variable "s3_secret" {
  sensitive = true
}
ferry {
  backend "s3" {
    bucket            = %q
    key               = %q
    endpoint          = %q
    region            = %q
    force_path_style  = true
    access_key_id     = var.s3_key
    secret_access_key = var.s3_secret
  }
}
`, srv.Bucket, backendKey, srv.Endpoint, srv.Region)
}

func backendEnv(srv *testenv.S3) []string {
	return []string{"FERRY_VAR_s3_key=" + srv.AccessKey, "FERRY_VAR_s3_secret=" + srv.SecretKey, "AWS_EC2_METADATA_DISABLED=true"}
}

// getObject returns the object at key on srv, nil when there is none.
func getObject(t *testing.T, srv *testenv.S3, key string) []byte {
	t.Helper()
	out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: &srv.Bucket, Key: aws.String(key)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") || strings.Contains(err.Error(), "StatusCode: 404") {
			return nil
		}
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRemoteStateKilledApplyNeedsUnlock keeps the state in an s3 backend
// on a real versitygw. A second apply while the first runs is refused,
// told who holds the lock. The first is killed with SIGKILL mid-apply: its
// lock object stays, and the next apply is refused naming the holder, when
// and the lock ID, with the `ferry state unlock ID` hint (a holder on
// another machine cannot be checked, so it is never taken over). After
// `ferry state unlock ID`, apply converges and the next plan has no
// changes. The credentials appear in no output, in neither the state nor
// the lock object.
func TestRemoteStateKilledApplyNeedsUnlock(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(15, 1)), 6, 64<<10, 160<<10)
	writeConfig(t, work, blobs, dirDest(work))
	if err := os.WriteFile(filepath.Join(work, "backend.ferry.hcl"), []byte(backendHCL(srv)), 0o644); err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, upDir)
	up.bytesPerSecond.Store(128 << 10) // per connection: a whole run takes seconds
	env := append([]string{"FERRY_VAR_upstream=" + up.URL}, backendEnv(srv)...)
	var outputs []string

	first, firstOut := startFerry(t, work, env, "apply", "-auto-approve", "-parallelism", "2")
	var lockObj []byte
	for deadline := time.Now().Add(20 * time.Second); lockObj == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			first.Process.Kill()
			first.Wait()
			t.Fatalf("the apply took no lock object:\n%s", firstOut)
		}
		lockObj = getObject(t, srv, backendKey+".lock")
	}
	var lock state.LockInfo
	if err := json.Unmarshal(lockObj, &lock); err != nil || lock.ID == "" || lock.Operation != "apply" {
		t.Fatalf("lock object %s: %v", lockObj, err)
	}

	// A concurrent apply is refused, told who holds the lock.
	second := ferry(t, work, env, "apply", "-auto-approve")
	second.must(t, 1, "state is locked by "+lock.Who, "lock ID "+lock.ID, "operation apply")
	outputs = append(outputs, second.stdout, second.stderr)

	// Kill the first mid-apply, once it checkpointed something.
	for deadline := time.Now().Add(20 * time.Second); getObject(t, srv, backendKey) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			first.Process.Kill()
			first.Wait()
			t.Fatalf("the apply wrote no state:\n%s", firstOut)
		}
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("the apply finished before the kill: %v\n%s", err, firstOut)
	}
	if err := first.Wait(); err == nil {
		t.Fatalf("the apply finished before the kill:\n%s", firstOut)
	}
	outputs = append(outputs, firstOut.String())
	if !bytes.Equal(getObject(t, srv, backendKey+".lock"), lockObj) {
		t.Fatal("the killed apply's lock object is gone or changed")
	}

	// The next run is refused with the unlock hint.
	up.bytesPerSecond.Store(0)
	refused := ferry(t, work, env, "apply", "-auto-approve")
	refused.must(t, 1, "state is locked by "+lock.Who, "since "+lock.Created.UTC().Format(time.RFC3339), "lock ID "+lock.ID,
		"ferry cannot tell whether a holder on another machine is still running", "`ferry state unlock "+lock.ID+"`")
	outputs = append(outputs, refused.stdout, refused.stderr)
	if bytes.Contains(getObject(t, srv, backendKey+".lock"), []byte(`"operation": "apply"`)) == false {
		t.Fatal("the refused apply changed the lock")
	}

	wrong := ferry(t, work, env, "state", "unlock", "0b7e3c1a-0000-0000-0000-000000000000")
	wrong.must(t, 1, "does not match", lock.ID)
	unlock := ferry(t, work, env, "state", "unlock", lock.ID)
	unlock.must(t, 0, "The state lock was removed.")
	outputs = append(outputs, wrong.stderr, unlock.stdout)

	apply := ferry(t, work, env, "apply", "-auto-approve")
	apply.must(t, 0)
	plan := ferry(t, work, env, "plan", "-detailed-exitcode")
	plan.must(t, 0, "No changes")
	outputs = append(outputs, apply.stdout, apply.stderr, plan.stdout, plan.stderr)
	pulled := ferry(t, work, env, "state", "pull")
	pulled.must(t, 0)
	pulledPath := filepath.Join(t.TempDir(), "pulled.json")
	if err := os.WriteFile(pulledPath, []byte(pulled.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	st := readStateFile(t, pulledPath)
	if got := stateArtifacts(st); !slices.Equal(got, blobs.names) {
		t.Fatalf("the remote state records %v, want %v", got, blobs.names)
	}
	if got := getObject(t, srv, backendKey+".lock"); got != nil {
		t.Fatalf("the lock object was left behind: %s", got)
	}
	if _, err := os.Stat(filepath.Join(work, "ferry.state.json")); !os.IsNotExist(err) {
		t.Errorf("a local state file was written beside the backend (err=%v)", err)
	}
	outputs = append(outputs, string(getObject(t, srv, backendKey)), string(lockObj))
	for _, o := range outputs {
		if strings.Contains(o, srv.SecretKey) {
			t.Fatalf("the secret access key leaked into:\n%s", o)
		}
	}
}

// TestRemoteStateMigration moves a local state into an empty s3 backend
// with `ferry state push`: the backend then holds the same state (state
// pull prints the file's bytes), plans against it find nothing to do,
// pushing it again changes nothing, and an older or foreign state is
// refused.
func TestRemoteStateMigration(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(15, 2)), 3, 1<<10, 4<<10)
	writeConfig(t, work, blobs, dirDest(work))
	up := startUpstream(t, upDir)
	env := append([]string{"FERRY_VAR_upstream=" + up.URL}, backendEnv(srv)...)
	ferry(t, work, env, "apply", "-auto-approve").must(t, 0)
	local, err := os.ReadFile(filepath.Join(work, "ferry.state.json"))
	if err != nil {
		t.Fatal(err)
	}
	ferry(t, work, env, "state", "pull").must(t, 0) // the local file, before the backend

	// The backend block, then the push.
	if err := os.WriteFile(filepath.Join(work, "backend.ferry.hcl"), []byte(backendHCL(srv)), 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, work, env, "state", "pull").must(t, 1, "no state at s3+"+srv.Endpoint+"/"+srv.Bucket+"/"+backendKey)
	ferry(t, work, env, "state", "push", "ferry.state.json").must(t, 0, "Pushed state lineage", "serial 1 (3 artifacts)")
	if got := getObject(t, srv, backendKey); !bytes.Equal(got, local) {
		t.Fatalf("the backend holds\n%s\nwant the local file\n%s", got, local)
	}
	if got := ferry(t, work, env, "state", "pull"); got.stdout != string(local) {
		t.Fatalf("state pull printed\n%s\nwant\n%s", got.stdout, local)
	}
	ferry(t, work, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
	ferry(t, work, env, "state", "list").must(t, 0, blobs.names...)
	ferry(t, work, env, "state", "push", "ferry.state.json").must(t, 0, "already holds this state")

	// A change through the backend, then the stale local copy is refused.
	ferry(t, work, env, "state", "rm", `mirror.m["`+blobs.names[0]+`"]`).must(t, 0)
	ferry(t, work, env, "state", "push", "ferry.state.json").must(t, 1, "refusing to push serial 1 over serial 2")
	foreign := strings.Replace(string(local), `"lineage": "`, `"lineage": "0`, 1)
	if err := os.WriteFile(filepath.Join(work, "foreign.json"), []byte(foreign), 0o600); err != nil {
		t.Fatal(err)
	}
	ferry(t, work, env, "state", "push", "foreign.json").must(t, 1, "refusing to push lineage")
	// A corrupt file is refused before anything is locked or written.
	if err := os.WriteFile(filepath.Join(work, "bad.json"), []byte(`{"version": 9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ferry(t, work, env, "state", "push", "bad.json").must(t, 1, "upgrade ferry")
	if got := getObject(t, srv, backendKey+".lock"); got != nil {
		t.Fatalf("a lock object was left behind: %s", got)
	}
}

// TestRemoteStateChangedBehindBack: while an apply holds the lock of a
// remote state, someone writes the state object without ferry (as a run
// with -lock=false or a manual upload would). The apply's next checkpoint
// is conditional on the ETag it wrote last, so it is refused (exit 1,
// "the remote state changed since ferry read it") and the outside write
// stays; the next apply starts from that state and converges.
func TestRemoteStateChangedBehindBack(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	work, upDir := t.TempDir(), t.TempDir()
	blobs := makeBlobs(t, upDir, rand.New(rand.NewPCG(15, 3)), 6, 64<<10, 160<<10)
	writeConfig(t, work, blobs, dirDest(work))
	if err := os.WriteFile(filepath.Join(work, "backend.ferry.hcl"), []byte(backendHCL(srv)), 0o644); err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, upDir)
	up.bytesPerSecond.Store(128 << 10)
	env := append([]string{"FERRY_VAR_upstream=" + up.URL}, backendEnv(srv)...)

	cmd, out := startFerry(t, work, env, "apply", "-auto-approve", "-parallelism", "1")
	var written []byte
	for deadline := time.Now().Add(20 * time.Second); written == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the apply wrote no state:\n%s", out)
		}
		written = getObject(t, srv, backendKey)
	}
	outside := bytes.Replace(written, []byte(`"tool_version": "0.1.0"`), []byte(`"tool_version": "0.0.9-outside"`), 1)
	if bytes.Equal(outside, written) {
		t.Fatalf("unexpected state:\n%s", written)
	}
	if _, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(backendKey), Body: bytes.NewReader(outside)}); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("the apply succeeded over a state written behind its back:\n%s", out)
	}
	for _, want := range []string{"the remote state changed since ferry read it", "refusing to overwrite it", srv.Bucket + "/" + backendKey} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the apply's output lacks %q:\n%s", want, out)
		}
	}
	if got := getObject(t, srv, backendKey); !bytes.Equal(got, outside) {
		t.Fatalf("the outside write was overwritten:\n%s", got)
	}
	if got := getObject(t, srv, backendKey+".lock"); got != nil {
		t.Fatalf("the refused apply left its lock: %s", got)
	}
	up.bytesPerSecond.Store(0)
	ferry(t, work, env, "apply", "-auto-approve").must(t, 0)
	ferry(t, work, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
}
