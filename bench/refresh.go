package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/internal/s3client"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	provregistry "github.com/ferry-mirror/ferry/providers/registry"
	s3dest "github.com/ferry-mirror/ferry/providers/s3"
	"github.com/ferry-mirror/ferry/state"
)

// refreshObjectSize is the size of every object of the refresh scenario:
// small, so that the listing, not the bytes, is what is measured.
const refreshObjectSize = 1 << 10

// refreshKey is the key of object i: 1,000 objects a directory (prefix).
func refreshKey(i int) string { return fmt.Sprintf("p/%03d/p-%07d.bin", i/1000, i) }

// refreshScenario: a refreshing no-op plan over N objects ferry owns in a
// dir and in an S3 (versitygw) destination, which it proves from one
// listing by the change tokens recorded in the state, against a
// -refresh=false plan (the same process without the destination) and the
// raw listing limit (find -printf of the same lstat fields; a
// ListObjectsV2 loop with the SDK). The objects are written directly and
// the state generated with the tokens the destination lists (not N ferry
// uploads); a debug run checks ferry stats no object.
func (e *env) refreshScenario() error {
	n := e.sz.refreshListN
	content := bytes.Repeat([]byte("ferry refresh by listing\n"), refreshObjectSize/25+1)[:refreshObjectSize]
	sum := sha256.Sum256(content)
	sha := hex.EncodeToString(sum[:])
	digests := providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: sha})

	s := &section{
		title: "Refresh by listing: refreshing no-op plan (`ferry plan -detailed-exitcode`, exit 0 required)",
		what: fmt.Sprintf("One http source listing N artifacts (`artifacts_file`, JSON Lines), a state owning the same N objects of %s "+
			"with the change token ferry records after its verified write, and the objects at the destination (1,000 a directory or prefix). "+
			"ferry lists the destination once (dir: a directory walk with one lstat a file; S3: ListObjectsV2, 1,000 keys a request) "+
			"and stats no object: a debug run checks `stats=0 proven_by_token=N`. "+
			"The -refresh=false plan is the same process without the destination (config, state, plan); "+
			"the raw line lists the same destination without ferry.", fmtBytes(refreshObjectSize)),
		columns: []string{"Destination", "Run", "N objects", "Median wall", "Objects/s", "Peak RSS", "Target"},
	}
	load0 := loadAvg()
	for _, kind := range []string{"dir", "s3"} {
		if err := e.refreshOne(s, kind, n, content, digests); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
	}
	s.notes = append(s.notes, fmt.Sprintf("Load average before: %s; after: %s (the machine is shared: compare the rows of one run side by side).", load0, loadAvg()),
		"Objects/s of ferry is N over the whole process's wall time; \"net\" is N over the time the refresh adds to the -refresh=false plan.")
	e.rep.add(s)
	return nil
}

// refreshOne populates one destination kind, writes the config and the
// state, checks the plan, and measures it.
func (e *env) refreshOne(s *section, kind string, n int, content []byte, digests providers.Digests) error {
	work := filepath.Join(e.work, "refresh-"+kind)
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	var (
		dest, destAddr string
		ls             providers.ListStater
		raw            func() (measurement, error)
		rawName        string
	)
	var env []string
	start := time.Now()
	switch kind {
	case "dir":
		root := filepath.Join(work, "mirror")
		logf("refresh: writing %d files into %s", n, root)
		for i := range n {
			p := filepath.Join(root, filepath.FromSlash(refreshKey(i)))
			if i%1000 == 0 {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
			}
			if err := os.WriteFile(p, content, 0o644); err != nil {
				return err
			}
		}
		dest, destAddr = "destination \"dir\" \"local\" {\n  path = \"mirror\"\n}\n", "dir.local"
		d, err := dir.NewDestination(destAddr, &dir.DestinationConfig{Path: root}, provregistry.Env{Logger: hclog.NewNullLogger()})
		if err != nil {
			return err
		}
		ls = d
		rawName = "raw: find -type f -fprintf (size, inode, mtime, ctime, path)"
		raw = func() (measurement, error) {
			return run(work, nil, "find", root, "-type", "f", "-fprintf", "/dev/null", "%s %i %T@ %C@ %p\n")
		}
	case "s3":
		gw, err := startVersityGW(filepath.Join(work, "versitygw"))
		if err != nil {
			return err
		}
		defer gw.Close()
		bucket := "bench-refresh"
		ctx := context.Background()
		if _, err := gw.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
			return fmt.Errorf("creating bucket %s: %w", bucket, err)
		}
		logf("refresh: putting %d objects into versitygw (16 at a time)", n)
		if err := putObjects(ctx, gw.client, bucket, "mirror/", n, content); err != nil {
			return err
		}
		dest = fmt.Sprintf("destination \"s3\" \"bucket\" {\n  bucket           = %q\n  prefix           = \"mirror/\"\n  endpoint         = %q\n  region           = \"us-east-1\"\n  force_path_style = true\n}\n", bucket, gw.URL)
		destAddr = "s3.bucket"
		d, err := s3dest.NewDestination(destAddr, &s3dest.DestinationConfig{Bucket: bucket, Prefix: "mirror/",
			Config: s3client.Config{Region: "us-east-1", Endpoint: gw.URL, ForcePathStyle: true, AccessKeyID: gw.access, SecretAccessKey: gw.secret}},
			provregistry.Env{Logger: hclog.NewNullLogger()})
		if err != nil {
			return err
		}
		ls = d
		rawName = "raw: ListObjectsV2 loop, SDK, in the harness"
		raw = func() (measurement, error) {
			t0 := time.Now()
			got, err := listAll(ctx, gw.client, bucket, "mirror/")
			if err != nil {
				return measurement{}, err
			}
			if got != n {
				return measurement{}, fmt.Errorf("listed %d objects, want %d", got, n)
			}
			return measurement{Wall: time.Since(t0)}, nil
		}
		env = gw.env()
	}
	return e.refreshMeasure(s, kind, work, dest, destAddr, n, content, digests, ls, raw, rawName, start, env)
}

// refreshMeasure writes the config and the state from ls's listing, checks
// the refreshing plan stats nothing, and times it.
func (e *env) refreshMeasure(s *section, kind, work, dest, destAddr string, n int, content []byte, digests providers.Digests,
	ls providers.ListStater, raw func() (measurement, error), rawName string, start time.Time, env []string) error {
	// The artifacts file: the source's listing (never fetched: no-op).
	af, err := os.Create(filepath.Join(work, "artifacts.jsonl"))
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(af, 1<<20)
	sha, _ := digests.Get(providers.SHA256)
	enc := json.NewEncoder(w)
	for i := range n {
		if err := enc.Encode(map[string]any{"name": fmt.Sprintf("p-%07d", i), "url": "http://127.0.0.1:9/unused", "sha256": sha.Hex, "size": len(content), "key": refreshKey(i)}); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := af.Close(); err != nil {
		return err
	}
	cfg := fmt.Sprintf("ferry {\n  state = \"ferry.state.json\"\n}\n\nsource \"http\" \"up\" {\n  artifacts_file = \"artifacts.jsonl\"\n}\n\n%s\nmirror \"m\" {\n  from = source.http.up\n  to   = destination.%s\n}\n", dest, destAddr)
	if err := os.WriteFile(filepath.Join(work, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
		return err
	}

	// The state: every listed object as ferry records it after its
	// verified write, with the token the destination lists.
	st := state.New("0.1.0")
	st.Serial = 1
	m := st.EnsureMirror("m", "http.up", destAddr)
	now := time.Now().UTC()
	var mu sync.Mutex
	err = ls.ListStat(context.Background(), func(a providers.Artifact) error {
		if a.Token == "" {
			return fmt.Errorf("%s listed without a token", a.Key)
		}
		mu.Lock()
		defer mu.Unlock()
		var i int
		if _, err := fmt.Sscanf(filepath.Base(a.Key), "p-%07d.bin", &i); err != nil {
			return fmt.Errorf("unexpected key %s", a.Key)
		}
		m.Artifacts[a.Key] = &state.Artifact{Key: a.Key, Name: fmt.Sprintf("p-%07d", i), Size: a.Size, Digests: digests, SourceDigests: digests,
			Token: a.Token, AddedAt: now, VerifiedAt: now}
		return nil
	})
	if err != nil {
		return err
	}
	if len(m.Artifacts) != n {
		return fmt.Errorf("the destination lists %d objects, want %d", len(m.Artifacts), n)
	}
	b, err := state.Marshal(st)
	if err != nil {
		return err
	}
	if err := state.WriteFileAtomic(filepath.Join(work, "ferry.state.json"), b, 0o600); err != nil {
		return err
	}
	s.notes = append(s.notes, fmt.Sprintf("%s: populating %d objects and generating the state took %s.", kind, n, secs(time.Since(start))))

	// The plan is a no-op that stats nothing (checked untimed).
	cmd := exec.Command(e.ferry, "plan", "-detailed-exitcode")
	cmd.Dir = work
	cmd.Env = append(append(os.Environ(), env...), "FERRY_LOG=debug")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 4000 {
			out = out[len(out)-4000:]
		}
		return fmt.Errorf("ferry plan: %v (a refreshing plan over the generated state must be a no-op)\n%s", err, out)
	}
	if want := fmt.Sprintf("stats=0 proven_by_token=%d ", n); !regexp.MustCompile(regexp.QuoteMeta(want)).Match(out) {
		return fmt.Errorf("ferry plan did not prove every object from the listing (want %q in its debug log)", want)
	}

	var ms, base, rs []measurement
	for r := 0; r < e.sz.runs; r++ {
		logf("refresh: %s, %d objects, run %d/%d", kind, n, r+1, e.sz.runs)
		m, err := run(work, env, e.ferry, "plan", "-detailed-exitcode")
		if err != nil {
			return err
		}
		ms = append(ms, m)
		b, err := run(work, env, e.ferry, "plan", "-refresh=false", "-detailed-exitcode")
		if err != nil {
			return err
		}
		base = append(base, b)
		rm, err := raw()
		if err != nil {
			return err
		}
		rs = append(rs, rm)
	}
	med, bmed, rmed := median(ms), median(base), median(rs)
	rate := float64(n) / med.Wall.Seconds()
	net := float64(n) / (med.Wall - bmed.Wall).Seconds()
	tgt := ""
	if n >= 100000 {
		tgt = fmt.Sprintf("≥ 20,000 objects/s: %s", yesNo(rate >= 20000))
		s.targets = append(s.targets, target{desc: fmt.Sprintf("Refreshing no-op plan by listing, %s destination, %d objects: ≥ 20,000 objects/s", kind, n),
			met: rate >= 20000, got: fmt.Sprintf("%.0f/s whole process (%.0f/s net of the -refresh=false plan; raw listing %.0f/s)", rate, net, float64(n)/rmed.Wall.Seconds())})
	}
	rawRSS := "n/a (in the harness)"
	if rmed.MaxRSS > 0 {
		rawRSS = fmtBytes(rmed.MaxRSS)
	}
	netS := "n/a"
	if med.Wall > bmed.Wall {
		netS = fmt.Sprintf("%.0f", net)
	}
	s.rows = append(s.rows,
		[]string{kind, "ferry plan (refresh by listing)", strconv.Itoa(n), secs(med.Wall), fmt.Sprintf("%.0f (net: %s)", rate, netS), fmtBytes(med.MaxRSS), tgt},
		[]string{kind, "ferry plan -refresh=false", strconv.Itoa(n), secs(bmed.Wall), fmt.Sprintf("%.0f", float64(n)/bmed.Wall.Seconds()), fmtBytes(bmed.MaxRSS), ""},
		[]string{kind, rawName, strconv.Itoa(n), secs(rmed.Wall), fmt.Sprintf("%.0f", float64(n)/rmed.Wall.Seconds()), rawRSS, ""})
	return nil
}

// putObjects writes objects prefix+refreshKey(i), i < n, 16 at a time.
func putObjects(ctx context.Context, cl *s3.Client, bucket, prefix string, n int, content []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(prefix + refreshKey(i)), Body: bytes.NewReader(content)}); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// listAll counts the objects under prefix with a ListObjectsV2 loop.
func listAll(ctx context.Context, cl *s3.Client, bucket, prefix string) (int, error) {
	n := 0
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, MaxKeys: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.Contents)
	}
	return n, nil
}
