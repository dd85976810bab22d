package s3backend_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferry-mirror/ferry/internal/s3client"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/state"
	"github.com/ferry-mirror/ferry/state/s3backend"
)

const stateKey = "ci/ferry.state.json"

func newRemote(t *testing.T, srv *testenv.S3) state.Remote {
	t.Helper()
	st, err := s3backend.New(&s3backend.Config{Bucket: srv.Bucket, Key: stateKey, Config: s3client.Config{
		Region: srv.Region, Endpoint: srv.Endpoint, ForcePathStyle: true, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
	}}, "ferry/test")
	if err != nil {
		t.Fatal(err)
	}
	return st.Remote()
}

func record(s *state.State, key string) {
	s.EnsureMirror("tools", "http.tools", "dir.local")
	s.SetArtifact("tools", &state.Artifact{Key: key, Size: 1,
		Digests: providers.Digests{{Algorithm: providers.SHA256, Hex: strings.Repeat("a", 64)}}, AddedAt: time.Unix(0, 0)})
}

func putRaw(t *testing.T, srv *testenv.S3, key string, data []byte) {
	t.Helper()
	if _, err := srv.Client().PutObject(t.Context(), &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
}

// Many processes lock the same remote state at once: exactly one gets it
// (the lock object is created with If-None-Match: *), every other is told
// who holds it and the lock ID to unlock with; only the holder releases it.
func TestRemoteLockConcurrentExactlyOneWinner(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	r := newRemote(t, srv)
	const n = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		held   []*state.HeldLock
		losers []error
	)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			l, err := state.LockRemote(context.Background(), r, "apply", "0.1.0", 0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				losers = append(losers, err)
			} else {
				held = append(held, l)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(held) != 1 {
		t.Fatalf("%d lockers won, want exactly 1 (losers: %v)", len(held), losers)
	}
	id := held[0].Info().ID
	for _, err := range losers {
		var lerr *state.LockError
		if !errors.As(err, &lerr) || !errors.Is(err, state.ErrLocked) {
			t.Fatalf("loser error %v is not a LockError", err)
		}
		msg := err.Error()
		for _, want := range []string{held[0].Info().Who, id, "ferry state unlock " + id, "operation apply", srv.Bucket + "/" + stateKey + ".lock"} {
			if !strings.Contains(msg, want) {
				t.Errorf("loser told %q, want it to name %q", msg, want)
			}
		}
	}
	// Nobody else can release it: unlock with another ID is refused.
	if err := state.ForceUnlockRemote(t.Context(), r, "not-the-id"); err == nil || !strings.Contains(err.Error(), id) {
		t.Errorf("ForceUnlockRemote(wrong id) = %v, want a refusal naming %s", err, id)
	}
	if err := held[0].Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	l, err := state.LockRemote(t.Context(), r, "plan", "0.1.0", 0)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	defer l.Unlock()
}

// -lock-timeout: a held lock is retried until its holder releases it.
func TestRemoteLockWaits(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	r := newRemote(t, srv)
	held, err := state.LockRemote(t.Context(), r, "apply", "0.1.0", 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		held.Unlock()
	}()
	l, err := state.LockRemote(t.Context(), r, "plan", "0.1.0", 10*time.Second)
	if err != nil {
		t.Fatalf("waiting for the lock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	// A context that ends stops the wait, with the holder named.
	held, err = state.LockRemote(t.Context(), r, "apply", "0.1.0", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := state.LockRemote(ctx, r, "plan", "0.1.0", time.Minute); !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), held.Info().ID) {
		t.Errorf("LockRemote with an ending context = %v, want ErrLocked naming %s", err, held.Info().ID)
	}
}

// A holder whose lock was broken (state unlock) and taken by another
// process does not delete the new holder's lock: release is a
// compare-and-delete on the ETag of the object it created.
func TestRemoteUnlockOnlyByHolder(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	r := newRemote(t, srv)
	first, err := state.LockRemote(t.Context(), r, "apply", "0.1.0", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := state.ForceUnlockRemote(t.Context(), r, first.Info().ID); err != nil {
		t.Fatalf("ForceUnlockRemote: %v", err)
	}
	second, err := state.LockRemote(t.Context(), r, "apply", "0.1.0", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Unlock(); err == nil || !strings.Contains(err.Error(), second.Info().ID) {
		t.Errorf("first.Unlock() = %v, want a refusal naming the new holder %s", err, second.Info().ID)
	}
	if _, err := state.LockRemote(t.Context(), r, "apply", "0.1.0", 0); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("the second holder's lock is gone: %v", err)
	}
	if err := second.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := state.ForceUnlockRemote(t.Context(), r, second.Info().ID); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("ForceUnlockRemote on no lock = %v, want ErrNotLocked", err)
	}
}

// Two writers that read the same state race to write it (as two ferry
// runs with -lock=false would): every write is conditional on the ETag
// read, so exactly one wins and the other is refused, the winner's state
// intact.
func TestRemoteConcurrentWritersOneWins(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	r := newRemote(t, srv)
	m, s, err := state.OpenRemote(t.Context(), r, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	record(s, "base")
	if _, err := m.Persist(s); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			m, s, err := state.OpenRemote(t.Context(), r, "0.1.0")
			if err != nil {
				t.Fatal(err)
			}
			record(s, fmt.Sprintf("round%d-writer%d", round, i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = m.Persist(s)
			}()
		}
		close(start)
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("round %d: writers %d and %d both won", round, won, i)
			case err == nil:
				won = i
			case !errors.Is(err, state.ErrChangedRemotely):
				t.Fatalf("round %d: writer %d: %v, want ErrChangedRemotely", round, i, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no writer won: %v", round, errs)
		}
		got, err := state.ReadRemote(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		if got.Artifact("tools", fmt.Sprintf("round%d-writer%d", round, won)) == nil || got.Serial != uint64(round+2) {
			t.Fatalf("round %d: the state is not the winner's (serial %d)", round, got.Serial)
		}
	}
}

// A state changed behind ferry's back between its read and its write is
// refused, not overwritten, and the error names the object.
func TestRemoteChangedBehindBackRefused(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	r := newRemote(t, srv)
	m, s, err := state.OpenRemote(t.Context(), r, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	record(s, "a")
	if _, err := m.Persist(s); err != nil {
		t.Fatal(err)
	}
	data, err := state.PullRemote(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(data, []byte(`"size": 1`), []byte(`"size": 2`), 1)
	putRaw(t, srv, stateKey, edited)
	record(s, "b")
	_, err = m.Persist(s)
	if !errors.Is(err, state.ErrChangedRemotely) || !strings.Contains(err.Error(), srv.Bucket+"/"+stateKey) {
		t.Fatalf("Persist after an outside write = %v, want ErrChangedRemotely naming the object", err)
	}
	if now, _ := state.PullRemote(t.Context(), r); !bytes.Equal(now, edited) {
		t.Errorf("the outside write was overwritten:\n%s", now)
	}

	// A first write when someone created the state meanwhile: refused too.
	srv2 := testenv.StartS3(t, testenv.S3Options{})
	r2 := newRemote(t, srv2)
	m2, s2, err := state.OpenRemote(t.Context(), r2, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	putRaw(t, srv2, stateKey, edited)
	record(s2, "c")
	if _, err := m2.Persist(s2); !errors.Is(err, state.ErrChangedRemotely) {
		t.Fatalf("first Persist over a state created meanwhile = %v, want ErrChangedRemotely", err)
	}
}

// The remote state is refused as the local file is: corrupt, newer format.
func TestRemoteCorruptAndNewerRefused(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	r := newRemote(t, srv)
	for _, tt := range []struct {
		name    string
		data    string
		want    error
		message string
	}{
		{name: "empty", data: "", want: state.ErrCorrupt, message: "is corrupt: the file is empty"},
		{name: "truncated", data: `{"version": 3, "lineage": "x"`, want: state.ErrCorrupt, message: "is corrupt: truncated JSON"},
		{name: "newer", data: `{"version": 99, "tool_version": "9.0.0"}`, want: state.ErrNewerVersion, message: fmt.Sprintf("has format version 99, written by ferry 9.0.0; this ferry reads up to version %d: upgrade ferry", state.FormatVersion)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			putRaw(t, srv, stateKey, []byte(tt.data))
			_, _, err := state.OpenRemote(t.Context(), r, "0.1.0")
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) || !strings.Contains(err.Error(), stateKey) {
				t.Errorf("OpenRemote = %v, want %v saying %q", err, tt.want, tt.message)
			}
			if _, err := state.ReadRemote(t.Context(), r); !errors.Is(err, tt.want) {
				t.Errorf("ReadRemote = %v, want %v", err, tt.want)
			}
		})
	}
}

// Push keeps the pushed state's lineage and serial, refuses another
// lineage and an older serial.
func TestRemotePush(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	r := newRemote(t, srv)
	local := state.New("0.1.0")
	record(local, "a")
	local.Serial = 7
	m, _, err := state.OpenRemote(t.Context(), r, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := m.Push(local); err != nil || !changed {
		t.Fatalf("Push into an empty backend = %v, %v", changed, err)
	}
	got, err := state.ReadRemote(t.Context(), r)
	if err != nil || got.Lineage != local.Lineage || got.Serial != 7 {
		t.Fatalf("after push: %+v, %v; want lineage %s serial 7", got, err, local.Lineage)
	}
	m, _, err = state.OpenRemote(t.Context(), r, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	other := state.New("0.1.0")
	record(other, "b")
	other.Serial = 9
	if _, err := m.Push(other); err == nil || !strings.Contains(err.Error(), "lineage") {
		t.Errorf("Push of another lineage = %v, want a refusal", err)
	}
	older := local.DeepCopy()
	record(older, "c")
	older.Serial = 6
	if _, err := m.Push(older); err == nil || !strings.Contains(err.Error(), "serial 6 over serial 7") {
		t.Errorf("Push of an older serial = %v, want a refusal", err)
	}
}
