package main_test

import (
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/providers/providertest/faultproxy"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// The CLI's HTTP client: 1 attempt + httpx.DefaultMaxRetries (4) retries, and
// at most 4 resumes of one download.
const (
	wantAttempts = 5
	wantResumes  = 4
)

// faultSetup mirrors three blobs from a counting upstream, reached through a
// fault proxy with credentials in its URL, into a dir destination.
type faultSetup struct {
	work  string
	blobs blobSet
	up    *upstream
	proxy *faultproxy.Proxy
	d     dest
	env   []string
}

const faultSecret = "pr0xy-s3cret-pw"

func newSourceFaultSetup(t *testing.T) *faultSetup {
	t.Helper()
	f := &faultSetup{work: t.TempDir()}
	upDir := t.TempDir()
	f.blobs = makeBlobs(t, upDir, rand.New(rand.NewPCG(3, 3)), 3, 96<<10, 128<<10)
	f.up = startUpstream(t, upDir)
	f.proxy = faultproxy.Start(t, f.up.URL)
	f.d = dirDest(f.work)
	writeConfig(t, f.work, f.blobs, f.d)
	f.env = []string{"FERRY_VAR_upstream=http://ci:" + faultSecret + "@" + f.proxy.Host}
	return f
}

func (f *faultSetup) apply(t *testing.T, code int, contains ...string) result {
	t.Helper()
	r := ferry(t, f.work, f.env, "apply", "-auto-approve", "-parallelism", "1")
	r.must(t, code, contains...)
	if strings.Contains(r.stdout+r.stderr, faultSecret) {
		t.Fatalf("the upstream password appears in ferry's output:\n%s%s", r.stdout, r.stderr)
	}
	return r
}

// converged checks the destination and the state hold every blob, exactly.
func (f *faultSetup) converged(t *testing.T) {
	t.Helper()
	if got := checkVisible(t, f.d, f.blobs); !slices.Equal(got, f.blobs.names) {
		t.Fatalf("destination shows %v; want %v", got, f.blobs.names)
	}
	if got := stateArtifacts(readStateFile(t, filepath.Join(f.work, "ferry.state.json"))); !slices.Equal(got, f.blobs.names) {
		t.Fatalf("state records %v; want %v", got, f.blobs.names)
	}
}

// refusedOne checks blob-1.bin did not land (nor its temp file) and is not
// in the state, while the others did, then lifts the faults and checks the
// next apply repairs it.
func (f *faultSetup) refusedOne(t *testing.T) {
	t.Helper()
	if got := checkVisible(t, f.d, f.blobs); slices.Contains(got, "blob-1.bin") || len(got) != 2 {
		t.Fatalf("after the failed transfer the destination shows %v; want the two others", got)
	}
	if tmp, _ := os.ReadDir(filepath.Join(f.work, "mirror/.ferry-tmp")); len(tmp) != 0 {
		t.Fatalf("temp files left behind: %v", tmp)
	}
	if got := stateArtifacts(readStateFile(t, filepath.Join(f.work, "ferry.state.json"))); slices.Contains(got, "blob-1.bin") {
		t.Fatalf("the state records the refused object: %v", got)
	}
	f.proxy.Clear()
	f.apply(t, 0, "Apply complete: 1 change applied")
	f.converged(t)
}

var getBlob1 = faultproxy.Match(http.MethodGet, "/blob-1.bin")

func TestSourceFaults(t *testing.T) {
	t.Run("5xx then success", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		f.proxy.Script(getBlob1,
			faultproxy.Fault{Kind: faultproxy.Status, Status: 500},
			faultproxy.Fault{Kind: faultproxy.Status, Status: 502},
			faultproxy.Fault{Kind: faultproxy.Status, Status: 503})
		f.apply(t, 0, "Apply complete: 3 changes applied")
		f.converged(t)
		if n := f.proxy.Count(getBlob1); n != 4 {
			t.Fatalf("GET /blob-1.bin sent %d times; want 4 (3 failures, 1 success)", n)
		}
	})

	t.Run("429 Retry-After honoured", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		f.proxy.Script(getBlob1, faultproxy.Fault{Kind: faultproxy.Status, Status: 429, RetryAfter: "2"})
		f.apply(t, 0, "Apply complete: 3 changes applied")
		f.converged(t)
		var times []time.Time
		for _, r := range f.proxy.Records() {
			if r.Method == http.MethodGet && r.Path == "/blob-1.bin" {
				times = append(times, r.Time)
			}
		}
		// Without Retry-After the first backoff is 100-200ms.
		if len(times) != 2 || times[1].Sub(times[0]) < 2*time.Second {
			t.Fatalf("GET /blob-1.bin at %v; want 2 requests at least 2s apart (Retry-After: 2)", times)
		}
	})

	t.Run("persistent 5xx fails after bounded attempts", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		f.proxy.Always(getBlob1, faultproxy.Fault{Kind: faultproxy.Status, Status: 503})
		f.apply(t, 1, `mirror.m["blob-1.bin"]: add failed`,
			"GET http://xxxxx@"+f.proxy.Host+"/blob-1.bin: giving up after 5 attempts: last status 503 Service Unavailable")
		if n := f.proxy.Count(getBlob1); n != wantAttempts {
			t.Fatalf("GET /blob-1.bin sent %d times; want exactly %d", n, wantAttempts)
		}
		f.refusedOne(t)
	})

	t.Run("connection reset mid-body resumes", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		f.proxy.Script(getBlob1, faultproxy.Fault{Kind: faultproxy.Reset, After: 40000})
		f.apply(t, 0, "Apply complete: 3 changes applied")
		f.converged(t)
		recs := f.proxy.Records()
		var ranges []string
		for _, r := range recs {
			if r.Path == "/blob-1.bin" && r.Method == http.MethodGet {
				ranges = append(ranges, r.Range)
			}
		}
		if !slices.Equal(ranges, []string{"", "bytes=40000-"}) {
			t.Fatalf("GET /blob-1.bin Range headers %q; want a full GET then a resume from byte 40000", ranges)
		}
	})

	t.Run("connection reset on every attempt is bounded", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		f.proxy.Always(getBlob1, faultproxy.Fault{Kind: faultproxy.Reset, After: 1000})
		f.apply(t, 1, `mirror.m["blob-1.bin"]: add failed`, "giving up after 4 resumes", "connection reset by peer")
		if n := f.proxy.Count(getBlob1); n != 1+wantResumes {
			t.Fatalf("GET /blob-1.bin sent %d times; want %d (1 + %d resumes)", n, 1+wantResumes, wantResumes)
		}
		f.refusedOne(t)
	})

	t.Run("slow body", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		f.proxy.Always(faultproxy.Match(http.MethodGet, "*"), faultproxy.Fault{Kind: faultproxy.Slow, BytesPerSecond: 512 << 10})
		f.apply(t, 0, "Apply complete: 3 changes applied")
		f.converged(t)
	})

	t.Run("truncated body resumes", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		f.proxy.Script(getBlob1, faultproxy.Fault{Kind: faultproxy.Truncate, After: 50000})
		f.apply(t, 0, "Apply complete: 3 changes applied")
		f.converged(t)
		if n := f.proxy.Count(getBlob1); n != 2 {
			t.Fatalf("GET /blob-1.bin sent %d times; want 2 (cut, resumed)", n)
		}
	})

	t.Run("truncated body the transport cannot see", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		// The http source declares no size, so the digest catches it.
		f.proxy.Always(getBlob1, faultproxy.Fault{Kind: faultproxy.TruncateClean, After: 50000})
		f.apply(t, 1, `mirror.m["blob-1.bin"]: add failed`, "sha256 mismatch: want "+sha256Hex(f.blobs.data["blob-1.bin"]))
		f.refusedOne(t)
	})

	t.Run("bit-flipped body", func(t *testing.T) {
		f := newSourceFaultSetup(t)
		f.proxy.Always(getBlob1, faultproxy.Fault{Kind: faultproxy.FlipBit, After: 77777})
		f.apply(t, 1, `mirror.m["blob-1.bin"]: add failed`, "sha256 mismatch: want "+sha256Hex(f.blobs.data["blob-1.bin"]))
		if n := f.proxy.Count(getBlob1); n != 1 {
			t.Fatalf("GET /blob-1.bin sent %d times; a digest mismatch is not retried within a run", n)
		}
		f.refusedOne(t)
	})
}

// TestSourceRandomFaults runs applies through random upstream faults (seeded;
// FERRY_FAULT_SEED replays, FERRY_FAULT_RUNS sets how many applies): each
// apply either completes or fails naming the artifact, nothing wrong is ever
// visible, and once the faults stop the next apply converges.
func TestSourceRandomFaults(t *testing.T) {
	runs := envInt(t, "FERRY_FAULT_RUNS", 3)
	seed := envUint64(t, "FERRY_FAULT_SEED", uint64(time.Now().UnixNano()))
	var ok, failed int
	for i := range runs {
		f := newSourceFaultSetup(t)
		f.proxy.Random(t, faultproxy.Match(http.MethodGet, "*"), seed+uint64(i), 0.5,
			faultproxy.Status, faultproxy.Reset, faultproxy.Truncate, faultproxy.TruncateClean, faultproxy.Slow, faultproxy.FlipBit)
		r := ferry(t, f.work, f.env, "apply", "-auto-approve", "-parallelism", "1")
		switch r.code {
		case 0:
			ok++
		case 1:
			failed++
			if !strings.Contains(r.stdout+r.stderr, "add failed") {
				t.Fatalf("seed %d: apply failed without naming the artifact:\n%s%s", seed+uint64(i), r.stdout, r.stderr)
			}
		default:
			t.Fatalf("seed %d: exit %d", seed+uint64(i), r.code)
		}
		if strings.Contains(r.stdout+r.stderr, faultSecret) {
			t.Fatalf("seed %d: the password appears in the output", seed+uint64(i))
		}
		checkVisible(t, f.d, f.blobs)
		if t.Failed() {
			t.Fatalf("seed %d (FERRY_FAULT_SEED=%d): something wrong is visible", seed+uint64(i), seed)
		}
		f.proxy.Clear()
		f.apply(t, 0)
		f.converged(t)
	}
	t.Logf("RESULT random source faults: %d applies (seed %d): %d completed, %d failed cleanly; all converged after", runs, seed, ok, failed)
}

// TestDestinationFaultsOCI puts the proxy in front of a real docker-registry.
func TestDestinationFaultsOCI(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	setup := func(t *testing.T, repo string) *faultSetup {
		f := newSourceFaultSetup(t)
		f.proxy = faultproxy.Start(t, reg.URL) // the faults are on the registry side here
		f.env = []string{"FERRY_VAR_upstream=" + f.up.URL}
		f.d = ociDest(reg, f.proxy.Host, repo, f.blobs.names)
		writeConfig(t, f.work, f.blobs, f.d)
		return f
	}
	uploads := faultproxy.Match(http.MethodPut, "/v2/*")
	blobUploads := faultproxy.Match(http.MethodPost, "/v2/*")

	t.Run("5xx on upload start is retried", func(t *testing.T) {
		f := setup(t, "faults/retry")
		f.proxy.Script(blobUploads, faultproxy.Fault{Kind: faultproxy.Status, Status: 500}, faultproxy.Fault{Kind: faultproxy.Status, Status: 503, RetryAfter: "1"})
		f.apply(t, 0, "Apply complete: 3 changes applied")
		f.converged(t)
	})

	t.Run("persistent 5xx on manifests is bounded", func(t *testing.T) {
		f := setup(t, "faults/manifest")
		m := faultproxy.Match(http.MethodPut, "/v2/faults/manifest/manifests/blob-1.bin")
		f.proxy.Always(m, faultproxy.Fault{Kind: faultproxy.Status, Status: 502})
		f.apply(t, 1, `mirror.m["blob-1.bin"]: add failed`, "giving up after 5 attempts", "502 Bad Gateway")
		if n := f.proxy.Count(m); n != wantAttempts {
			t.Fatalf("manifest PUT sent %d times; want %d", n, wantAttempts)
		}
		f.refusedOne(t)
	})

	t.Run("5xx on a streamed blob upload fails cleanly", func(t *testing.T) {
		f := setup(t, "faults/put")
		f.proxy.Script(uploads, faultproxy.Fault{Kind: faultproxy.Status, Status: 500})
		f.apply(t, 1, "add failed", "answered PUT /v2/faults/put/blobs/uploads/", "with 500: Internal Server Error")
		f.proxy.Clear()
		f.apply(t, 0, "Apply complete: 1 change applied")
		f.converged(t)
	})

	t.Run("bit flipped in the upload never lands", func(t *testing.T) {
		f := setup(t, "faults/flip")
		// Only blob-1.bin's upload is big enough to have byte 90000.
		f.proxy.Always(uploads, faultproxy.Fault{Kind: faultproxy.FlipBit, After: 90000, OnRequest: true})
		// The registry checks the digest ferry gives with the upload.
		f.apply(t, 1, "Apply failed: 0 applied, 3 failed", "digest invalid: provided digest did not match uploaded content")
		if got := checkVisible(t, f.d, f.blobs); len(got) != 0 {
			t.Fatalf("objects landed through a corrupting proxy: %v", got)
		}
		if got := stateArtifacts(readStateFile(t, filepath.Join(f.work, "ferry.state.json"))); len(got) != 0 {
			t.Fatalf("state records %v", got)
		}
		f.proxy.Clear()
		f.apply(t, 0, "Apply complete: 3 changes applied")
		f.converged(t)
	})

	t.Run("connection reset mid-upload", func(t *testing.T) {
		f := setup(t, "faults/reset")
		f.proxy.Script(uploads, faultproxy.Fault{Kind: faultproxy.Reset, After: 30000, OnRequest: true})
		f.apply(t, 1, "add failed")
		if got := checkVisible(t, f.d, f.blobs); len(got) != 2 {
			t.Fatalf("after one reset upload the registry shows %v; want 2 objects", got)
		}
		f.proxy.Clear()
		f.apply(t, 0, "Apply complete: 1 change applied")
		f.converged(t)
	})
}

// TestDestinationFaultsWebDAV puts the proxy in front of a real nginx
// (the http destination).
func TestDestinationFaultsWebDAV(t *testing.T) {
	dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{})
	setup := func(t *testing.T, prefix string) *faultSetup {
		f := newSourceFaultSetup(t)
		f.proxy = faultproxy.Start(t, strings.TrimSuffix(dav.URL, "/"))
		f.env = []string{"FERRY_VAR_upstream=" + f.up.URL}
		f.d = webdavDest(dav, f.proxy.URL, prefix, "  username = \"ci\"\n  password = \""+faultSecret+"\"\n")
		writeConfig(t, f.work, f.blobs, f.d)
		return f
	}
	put1 := func(prefix string) faultproxy.Matcher {
		return faultproxy.Match(http.MethodPut, "/"+prefix+"/blob-1.bin")
	}

	t.Run("5xx on PUT fails cleanly", func(t *testing.T) {
		f := setup(t, "put5xx")
		f.proxy.Always(put1("put5xx"), faultproxy.Fault{Kind: faultproxy.Status, Status: 500})
		f.apply(t, 1, `mirror.m["blob-1.bin"]: add failed`, "500 Internal Server Error")
		if n := f.proxy.Count(put1("put5xx")); n != 1 {
			t.Fatalf("a streamed PUT was sent %d times; it cannot be replayed, so once", n)
		}
		f.refusedOne(t)
	})

	t.Run("persistent 5xx on HEAD is bounded", func(t *testing.T) {
		f := setup(t, "head5xx")
		m := faultproxy.Match(http.MethodHead, "/head5xx/blob-1.bin")
		f.proxy.Always(m, faultproxy.Fault{Kind: faultproxy.Status, Status: 503})
		r := ferry(t, f.work, f.env, "apply", "-auto-approve", "-parallelism", "1")
		r.must(t, 1, "HEAD "+f.proxy.URL+"/head5xx/blob-1.bin: giving up after 5 attempts: last status 503")
		if strings.Contains(r.stdout+r.stderr, faultSecret) {
			t.Fatal("the destination password appears in the output")
		}
		if n := f.proxy.Count(m); n%wantAttempts != 0 || n == 0 {
			t.Fatalf("HEAD sent %d times; want a multiple of %d (each request bounded)", n, wantAttempts)
		}
		f.proxy.Clear()
		f.apply(t, 0)
		f.converged(t)
	})

	t.Run("connection reset mid-upload leaves nothing", func(t *testing.T) {
		f := setup(t, "reset")
		f.proxy.Always(put1("reset"), faultproxy.Fault{Kind: faultproxy.Reset, After: 30000, OnRequest: true})
		f.apply(t, 1, `mirror.m["blob-1.bin"]: add failed`)
		f.refusedOne(t)
	})

	t.Run("bit flipped in the upload never stays", func(t *testing.T) {
		// A plain WebDAV server stores what it receives: ferry reads each
		// upload back (verify_upload, on by default) and removes it when
		// the stored bytes are not the ones it sent.
		f := setup(t, "flip")
		f.proxy.Script(put1("flip"), faultproxy.Fault{Kind: faultproxy.FlipBit, After: 1234, OnRequest: true})
		r := ferry(t, f.work, f.env, "apply", "-auto-approve", "-parallelism", "1")
		r.must(t, 1, `mirror.m["blob-1.bin"]: add failed`, "the server stored other bytes than were sent; the object was removed", "sha256 mismatch")
		f.refusedOne(t)
	})
}
