package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferry-mirror/ferry/bench/internal/latencyproxy"
)

var shardLatency = flag.Duration("shard-latency", 20*time.Millisecond, "shards scenario: delay the latency proxy adds to every request to versitygw, the registry and the upstream")

// shardProcTimeout bounds one ferry process of the scenario: a shard or a
// finalize that hangs fails the scenario instead of the harness.
const shardProcTimeout = 15 * time.Minute

// shardStateBucket holds every run's state (backend "s3"), beside the
// destination buckets on the same versitygw.
const shardStateBucket = "ferry-state"

// shardDest is one destination kind the scenario applies to.
type shardDest struct {
	id, title string
	// prepare makes a fresh bucket or repository for tag and returns its
	// destination block and address.
	prepare func(tag string) (block, addr string, err error)
	// count is how many objects landed so far (asked of the server
	// directly, not through the proxy).
	count func(tag string) (int, error)
	// check makes sure exactly the files landed, each at its size.
	check func(tag string) error
	// cleanup frees the disk after a run.
	cleanup func(tag string)
}

// shardSupport tells whether this ferry has `apply -shard` and
// `apply -finalize`, from its help text.
func shardSupport(ferry string) (bool, error) {
	out, err := exec.Command(ferry, "apply", "-h").CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("ferry apply -h: %v\n%s", err, out)
	}
	return hasFlag(out, "shard") && hasFlag(out, "finalize"), nil
}

// hasFlag reports whether help text lists the flag name (-name or --name).
func hasFlag(help []byte, name string) bool {
	return regexp.MustCompile(`(?m)(^|[\s,])--?` + regexp.QuoteMeta(name) + `([\s=]|$)`).Match(help)
}

// shardProc is one ferry process the scenario started.
type shardProc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
	stop *time.Timer
}

// startShardProc starts name args in dir with env added, in its own process
// group (so a kill reaches the whole process), without waiting.
func startShardProc(dir string, env []string, name string, args ...string) (*shardProc, error) {
	p := &shardProc{cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	if *verbose {
		fmt.Fprintf(os.Stderr, "    $ %s %s &\n", name, strings.Join(args, " "))
	}
	p.stop = time.AfterFunc(shardProcTimeout, p.kill)
	go func() {
		p.err = p.cmd.Wait()
		p.stop.Stop()
		close(p.done)
	}()
	return p, nil
}

// kill sends SIGKILL to the process group.
func (p *shardProc) kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }

// wait waits for the process and fails with its output's tail.
func (p *shardProc) wait() error {
	<-p.done
	if p.err == nil {
		return nil
	}
	tail := p.out.String()
	if len(tail) > 4000 {
		tail = "…" + tail[len(tail)-4000:]
	}
	return fmt.Errorf("%s: %v\n%s", strings.Join(p.cmd.Args, " "), p.err, tail)
}

// cpu is the user + system time of the exited process.
func (p *shardProc) cpu() time.Duration {
	if s := p.cmd.ProcessState; s != nil {
		return s.UserTime() + s.SystemTime()
	}
	return 0
}

// runShardProc starts and waits for one process; it returns its wall and
// CPU time.
func runShardProc(dir string, env []string, name string, args ...string) (time.Duration, time.Duration, error) {
	t0 := time.Now()
	p, err := startShardProc(dir, env, name, args...)
	if err != nil {
		return 0, 0, err
	}
	err = p.wait()
	return time.Since(t0), p.cpu(), err
}

// shardArgs is the argv of shard i of n applying plan.json.
func (e *env) shardArgs(i, n int) []string {
	return []string{"apply", "-parallelism", strconv.Itoa(*par), "-shard", fmt.Sprintf("%d/%d", i, n), "plan.json"}
}

// runSharded starts n shard processes at once, waits for all, then runs
// the finalize step; it returns the wall time of the whole and the CPU
// time of every process.
func (e *env) runSharded(dir string, env []string, n int) (wall, cpu time.Duration, err error) {
	t0 := time.Now()
	procs := make([]*shardProc, n)
	for i := range n {
		if procs[i], err = startShardProc(dir, env, e.ferry, e.shardArgs(i, n)...); err != nil {
			for _, p := range procs[:i] {
				p.kill()
				<-p.done
			}
			return 0, 0, err
		}
	}
	var errs []error
	for _, p := range procs {
		errs = append(errs, p.wait())
		cpu += p.cpu()
	}
	if err := errors.Join(errs...); err != nil {
		return 0, 0, err
	}
	_, fcpu, err := runShardProc(dir, env, e.ferry, "apply", "-finalize", "plan.json")
	return time.Since(t0), cpu + fcpu, err
}

// writeShardConfig writes DIR/main.ferry.hcl and DIR/artifacts.jsonl: the
// state in the s3 backend at stateKey, one http source reading the
// artifacts from the list file, the destination block, one mirror.
func writeShardConfig(dir, stateEndpoint, stateKey string, arts []ferryArtifact, block, addr string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var l bytes.Buffer
	enc := json.NewEncoder(&l)
	for _, a := range arts {
		if err := enc.Encode(map[string]any{"name": a.Name, "url": a.URL, "sha256": a.SHA256, "size": a.Size, "key": a.Key}); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "artifacts.jsonl"), l.Bytes(), 0o644); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`ferry {
  backend "s3" {
    bucket           = %q
    key              = %q
    region           = "us-east-1"
    endpoint         = %q
    force_path_style = true
  }
}

source "http" "up" {
  artifacts_file = "artifacts.jsonl"
}

%s
mirror "m" {
  from = source.http.up
  to   = %s
}
`, shardStateBucket, stateKey, stateEndpoint, block, addr)
	return os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644)
}

// shardsScenario: a saved plan of many small artifacts applied by N shard
// processes at once (N = 1, 2, 4, 8), then finalized, into versitygw and
// into docker-registry, every server behind a proxy that delays each
// request as a WAN would; and a shard killed mid-way, re-run, converging.
func (e *env) shardsScenario() error {
	m, size := e.sz.shardN, e.sz.shardSize
	dataDir := filepath.Join(e.work, "data", "shards")
	logf("shards: generating %d × %s", m, fmtBytes(size))
	files, err := genFiles(dataDir, "shards", m, size, uint64(len("shards")))
	if err != nil {
		return err
	}
	sharded, err := shardSupport(e.ferry)
	if err != nil {
		return err
	}
	counts := e.sz.shardNs
	if !sharded {
		counts = []int{1}
		logf("shards: this ferry has no `apply -shard`/`-finalize`: measuring N = 1 only (one `ferry apply plan.json`)")
	}

	fs, err := startFileServer(filepath.Join(e.work, "data"))
	if err != nil {
		return err
	}
	defer fs.Close()
	gw, err := startVersityGW(filepath.Join(e.work, "versitygw-shards"))
	if err != nil {
		return err
	}
	defer gw.Close()
	reg, err := startRegistry(filepath.Join(e.work, "registry-shards"))
	if err != nil {
		return err
	}
	defer reg.Close()
	var proxies []*latencyproxy.Server
	defer func() {
		for _, p := range proxies {
			p.Close()
		}
	}()
	proxy := func(target string) (*latencyproxy.Server, error) {
		p, err := latencyproxy.Start("127.0.0.1:0", target, *shardLatency)
		if err == nil {
			proxies = append(proxies, p)
		}
		return p, err
	}
	fsP, err := proxy(fs.URL)
	if err != nil {
		return err
	}
	gwP, err := proxy(gw.URL)
	if err != nil {
		return err
	}
	regP, err := proxy(reg.URL)
	if err != nil {
		return err
	}
	requests := func() int64 { return fsP.Requests() + gwP.Requests() + regP.Requests() }
	ctx := context.Background()
	if _, err := gw.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(shardStateBucket)}); err != nil {
		return fmt.Errorf("creating bucket %s: %w", shardStateBucket, err)
	}
	arts := artifactsFor(files, fsP.URL+"/shards")

	dests := []shardDest{
		{id: "s3", title: "S3 (versitygw)",
			prepare: func(tag string) (string, string, error) {
				if _, err := gw.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(tag)}); err != nil {
					return "", "", fmt.Errorf("creating bucket %s: %w", tag, err)
				}
				return fmt.Sprintf("destination \"s3\" \"bucket\" {\n  bucket           = %q\n  endpoint         = %q\n  region           = \"us-east-1\"\n  force_path_style = true\n}\n", tag, gwP.URL),
					"destination.s3.bucket", nil
			},
			count: func(tag string) (int, error) {
				got, err := listBucket(ctx, gw.client, tag)
				return len(got), err
			},
			check: func(tag string) error {
				got, err := listBucket(ctx, gw.client, tag)
				if err != nil {
					return err
				}
				return sameObjects("bucket "+tag, got, files)
			},
			cleanup: func(tag string) { os.RemoveAll(filepath.Join(gw.root, tag)) },
		},
		{id: "oci", title: "OCI (docker-registry)",
			prepare: func(tag string) (string, string, error) {
				return fmt.Sprintf("destination \"oci\" \"reg\" {\n  registry      = %q\n  repository    = %q\n  plain_http    = true\n  docker_config = false\n}\n", regP.Host, "bench/"+tag),
					"destination.oci.reg", nil
			},
			count: func(tag string) (int, error) {
				tags, err := listTags(reg.URL, "bench/"+tag)
				return len(tags), err
			},
			check: func(tag string) error {
				// One tag per artifact (ferry's key-to-tag mapping is
				// its own; the count and the state's plan tell the rest).
				tags, err := listTags(reg.URL, "bench/"+tag)
				if err != nil {
					return err
				}
				if len(tags) != len(files) {
					return fmt.Errorf("repository bench/%s has %d tags, want %d", tag, len(tags), len(files))
				}
				return nil
			},
			cleanup: func(string) {},
		},
	}

	p := *par
	s := &section{
		title: fmt.Sprintf("Issue #16: sharded apply, %d × %s, every server %v a request away", m, fmtBytes(size), *shardLatency),
		what: fmt.Sprintf("`ferry plan -out plan.json` once, then N processes `ferry apply -parallelism %d -shard I/N plan.json` started at once, "+
			"then `ferry apply -finalize plan.json`; the state in a `backend \"s3\"` bucket. versitygw, docker-registry and the upstream file server "+
			"each sit behind a reverse proxy adding %v to every request (bench/internal/latencyproxy); a fresh bucket or repository per run. "+
			"Wall is from the first shard's start to the end of the finalize step; the plan is timed apart.", p, *shardLatency),
		columns: []string{"Destination", "Processes", "Plan (once)", "Shards + finalize wall", "Artifacts/s", "Speed-up vs N = 1", "CPU (all processes)", "Requests / artifact", "Load (1 min) at start"},
	}
	if !sharded {
		s.notes = append(s.notes, "**This ferry has no `apply -shard`/`-finalize`: only N = 1 was measured, as one `ferry apply plan.json`. "+
			"N = 2, 4, 8 and the killed-shard run are pending.**\n")
	}
	type result struct {
		wall, cpu, plan time.Duration
		reqs            int64
		load            string
	}
	// one plans and applies into a fresh bucket or repository; mode is
	// the shard count, or -1 for one unsharded process with -parallelism
	// pp.
	one := func(d shardDest, tag string, mode, pp int) (result, error) {
		dir := filepath.Join(e.work, "shards-"+d.id+"-"+tag)
		defer os.RemoveAll(dir)
		defer d.cleanup(tag)
		block, addr, err := d.prepare(tag)
		if err != nil {
			return result{}, err
		}
		if err := writeShardConfig(dir, gwP.URL, "shards/"+d.id+"-"+tag+".json", arts, block, addr); err != nil {
			return result{}, err
		}
		env := gw.env()
		var r result
		if r.plan, _, err = runShardProc(dir, env, e.ferry, "plan", "-out", "plan.json"); err != nil {
			return r, err
		}
		r.load, _, _ = strings.Cut(loadAvg(), ",")
		q0 := requests()
		if mode > 0 && sharded {
			r.wall, r.cpu, err = e.runSharded(dir, env, mode)
		} else {
			r.wall, r.cpu, err = runShardProc(dir, env, e.ferry, "apply", "-parallelism", strconv.Itoa(pp), "plan.json")
		}
		if err != nil {
			return r, err
		}
		r.reqs = requests() - q0
		if err := d.check(tag); err != nil {
			return r, fmt.Errorf("after the apply: %w", err)
		}
		// Every shard's records are in the state: a plan without refresh
		// has nothing left to do.
		if _, _, err := runShardProc(dir, env, e.ferry, "plan", "-refresh=false", "-detailed-exitcode"); err != nil {
			return r, fmt.Errorf("the state after the apply does not hold every artifact: %w", err)
		}
		return r, nil
	}

	// The same concurrency as the most shards, in one process: what
	// sharding adds over a higher -parallelism (measurable without -shard).
	most := e.sz.shardNs[len(e.sz.shardNs)-1]
	wide := p * most
	load0 := loadAvg()
	for _, d := range dests {
		res := map[int][]result{}
		for rn := 1; rn <= e.sz.runs; rn++ {
			for _, n := range counts {
				logf("shards: %s, N = %d, run %d/%d", d.title, n, rn, e.sz.runs)
				r, err := one(d, fmt.Sprintf("shards-n%d-r%d", n, rn), n, p)
				if err != nil {
					return fmt.Errorf("%s, N = %d: %w", d.title, n, err)
				}
				res[n] = append(res[n], r)
			}
			logf("shards: %s, one process -parallelism %d, run %d/%d", d.title, wide, rn, e.sz.runs)
			r, err := one(d, fmt.Sprintf("shards-wide-r%d", rn), -1, wide)
			if err != nil {
				return fmt.Errorf("%s, one process -parallelism %d: %w", d.title, wide, err)
			}
			res[-1] = append(res[-1], r)
		}
		med := func(rs []result) result {
			ms := make([]measurement, len(rs))
			for i, r := range rs {
				ms[i] = measurement{Wall: r.wall, CPU: r.cpu}
			}
			mm := median(ms)
			var plans []time.Duration
			for _, r := range rs {
				plans = append(plans, r.plan)
			}
			// Requests and load of the first run: they hardly vary.
			return result{wall: mm.Wall, cpu: mm.CPU, plan: medianDuration(plans), reqs: rs[0].reqs, load: rs[0].load}
		}
		base := med(res[1])
		var speedups []string
		growing := true
		prev := 0.0
		for _, n := range counts {
			r := med(res[n])
			rate := float64(m) / r.wall.Seconds()
			procs := fmt.Sprintf("N = %d × `-parallelism %d`", n, p)
			if !sharded {
				procs = fmt.Sprintf("1 × `ferry apply -parallelism %d plan.json` (no -shard)", p)
			}
			up := base.wall.Seconds() / r.wall.Seconds()
			speedups = append(speedups, fmt.Sprintf("N = %d: %.2f×", n, up))
			if rate <= prev {
				growing = false
			}
			prev = rate
			s.rows = append(s.rows, []string{d.title, procs, secs(r.plan), secs(r.wall), fmt.Sprintf("%.1f", rate), fmt.Sprintf("%.2f×", up),
				secs(r.cpu), fmt.Sprintf("%.1f", float64(r.reqs)/float64(m)), r.load})
		}
		w := med(res[-1])
		s.rows = append(s.rows, []string{d.title, fmt.Sprintf("1 × `-parallelism %d`, unsharded (the concurrency of N = %d)", wide, most),
			secs(w.plan), secs(w.wall), fmt.Sprintf("%.1f", float64(m)/w.wall.Seconds()), fmt.Sprintf("%.2f×", base.wall.Seconds()/w.wall.Seconds()),
			secs(w.cpu), fmt.Sprintf("%.1f", float64(w.reqs)/float64(m)), w.load})
		// Below four shard counts (-size small) the data is too small to
		// show scaling: process start-up and the finalize dominate.
		if sharded && len(counts) >= 4 {
			s.targets = append(s.targets, target{
				desc: fmt.Sprintf("Sharded apply, %s, %v a request: throughput grows with N = %s", d.title, *shardLatency, joinInts(counts)),
				met:  growing, got: strings.Join(speedups, ", ")})
		}
	}
	s.notes = append(s.notes, fmt.Sprintf("Median of %d run(s), N interleaved within a run. CPU is the user + system time of the ferry processes "+
		"(the servers' not counted). Requests / artifact counts every request through the three proxies during the apply (state reads and writes included). "+
		"Each run ends with `ferry plan -refresh=false -detailed-exitcode` exiting 0: the state holds every shard's records. "+
		"Load average (1, 5, 15 min) before: %s; after: %s (2 cores, shared: compare rows of one run, not absolute figures).", e.sz.runs, load0, loadAvg()))
	e.rep.add(s)
	if sharded {
		n := 1
		for _, c := range counts {
			if c <= 4 {
				n = max(n, c)
			}
		}
		return e.killedShard(dests, arts, gw, gwP.URL, m, n)
	}
	return nil
}

// unlockHint finds the lock ID in ferry's "state is locked" error.
var unlockHint = regexp.MustCompile("ferry state unlock ([0-9A-Za-z-]+)")

// killedShard: n shards (4 at full size), shard 0 killed with SIGKILL once about a
// third of the artifacts landed, the others left to finish; then shard 0
// again, the finalize step, and a refreshing plan that must find nothing
// to do, with every object at the destination.
func (e *env) killedShard(dests []shardDest, arts []ferryArtifact, gw *versityGW, stateEndpoint string, m, n int) error {
	s := &section{
		title: fmt.Sprintf("Issue #16: a killed shard re-run converges (N = %d, shard 0 killed with SIGKILL)", n),
		what: "The same setup. Shard 0 is killed once a third of the artifacts landed (counted at the destination); the other shards finish; " +
			"shard 0 runs again, then the finalize step. Then every object must be at the destination and a refreshing `ferry plan -detailed-exitcode` must exit 0.",
		columns: []string{"Destination", "Landed when killed", "Shard 0 state when killed", "Re-run", "Finalize", "Objects at the destination", "Plan after: no changes"},
	}
	for _, d := range dests {
		tag := "shards-killed"
		dir := filepath.Join(e.work, "shards-"+d.id+"-"+tag)
		block, addr, err := d.prepare(tag)
		if err != nil {
			return err
		}
		if err := writeShardConfig(dir, stateEndpoint, "shards/"+d.id+"-"+tag+".json", arts, block, addr); err != nil {
			return err
		}
		env := gw.env()
		if _, _, err := runShardProc(dir, env, e.ferry, "plan", "-out", "plan.json"); err != nil {
			return fmt.Errorf("%s: %w", d.title, err)
		}
		logf("shards: %s, killed shard trial", d.title)
		procs := make([]*shardProc, n)
		for i := range n {
			// A short -lock-timeout: a lock the kill leaves behind is
			// reported in seconds rather than after the default minutes.
			args := append([]string{"apply", "-lock-timeout", "30s"}, e.shardArgs(i, n)[1:]...)
			if procs[i], err = startShardProc(dir, env, e.ferry, args...); err != nil {
				return err
			}
		}
		landed, when := 0, "running"
	poll:
		for {
			select {
			case <-procs[0].done:
				when = "had already exited (data too small to catch it mid-way)"
				break poll
			case <-time.After(20 * time.Millisecond):
			}
			if landed, err = d.count(tag); err != nil {
				return err
			}
			if landed >= m/3 {
				procs[0].kill()
				break poll
			}
		}
		<-procs[0].done
		if when != "running" && procs[0].err != nil {
			return fmt.Errorf("%s: shard 0 failed by itself before the kill: %w", d.title, procs[0].wait())
		}
		if when == "running" && procs[0].err == nil {
			when = "exited before the kill reached it"
		}
		// The others finish. A shard killed while it held the state lock
		// for a checkpoint leaves that remote lock until its lease expires
		// (state-format.md): shards waiting longer than -lock-timeout give
		// up naming it, and are run again below like shard 0.
		rerun := []int{0}
		for i, p := range procs[1:] {
			if err := p.wait(); err != nil {
				if !unlockHint.MatchString(err.Error()) {
					return fmt.Errorf("%s: shard %d while shard 0 was killed: %w", d.title, i+1, err)
				}
				rerun = append(rerun, i+1)
			}
		}
		// Shard 0 (and any shard that gave up) again, as a Job's per-index
		// retry would; a lock the killed process left needs the
		// operator's step, `ferry state unlock ID`, then once more.
		unlocked := ""
		var wall time.Duration
		for _, i := range rerun {
			args := append([]string{"apply", "-lock-timeout", "20s"}, e.shardArgs(i, n)[1:]...)
			w, _, err := runShardProc(dir, env, e.ferry, args...)
			if err != nil {
				id := unlockHint.FindStringSubmatch(err.Error())
				if id == nil {
					return fmt.Errorf("%s: re-running shard %d: %w", d.title, i, err)
				}
				if _, _, uerr := runShardProc(dir, env, e.ferry, "state", "unlock", id[1]); uerr != nil {
					return fmt.Errorf("%s: re-running shard %d: %w; then unlocking: %v", d.title, i, err, uerr)
				}
				unlocked = " (after `ferry state unlock`: the killed shard's lock stayed)"
				if w, _, err = runShardProc(dir, env, e.ferry, args...); err != nil {
					return fmt.Errorf("%s: re-running shard %d after unlocking: %w", d.title, i, err)
				}
			}
			wall += w
		}
		rerunWhat := "shard 0"
		if len(rerun) > 1 {
			rerunWhat = fmt.Sprintf("shards %s (those after 0 gave up waiting for the lock)", joinInts(rerun))
		}
		fwall, _, err := runShardProc(dir, env, e.ferry, "apply", "-finalize", "plan.json")
		if err != nil {
			return fmt.Errorf("%s: finalizing after the re-run: %w", d.title, err)
		}
		if err := d.check(tag); err != nil {
			return fmt.Errorf("%s: after the killed shard's re-run: %w", d.title, err)
		}
		if _, _, err := runShardProc(dir, env, e.ferry, "plan", "-detailed-exitcode"); err != nil {
			return fmt.Errorf("%s: after the killed shard's re-run, the plan is not empty: %w", d.title, err)
		}
		s.rows = append(s.rows, []string{d.title, fmt.Sprintf("%d of %d", landed, m), when, rerunWhat + ": exit 0, " + secs(wall) + unlocked, "exit 0, " + secs(fwall),
			fmt.Sprintf("all %d", m), "yes"})
		s.targets = append(s.targets, target{desc: fmt.Sprintf("Sharded apply, %s: a killed shard re-run converges", d.title), met: true,
			got: fmt.Sprintf("shard 0 %s at %d of %d landed; all %d there after re-running %s and the finalize%s", when, landed, m, m, rerunWhat, unlocked)})
		d.cleanup(tag)
		os.RemoveAll(dir)
	}
	e.rep.add(s)
	return nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// listBucket is every object of bucket with its size.
func listBucket(ctx context.Context, c *s3.Client, bucket string) (map[string]int64, error) {
	got := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", bucket, err)
		}
		for _, o := range out.Contents {
			got[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	return got, nil
}

// listTags is every tag of repo (the registry's tags list, all pages).
func listTags(regURL, repo string) ([]string, error) {
	var all []string
	next := regURL + "/v2/" + repo + "/tags/list?n=1000"
	for next != "" {
		resp, err := http.Get(next)
		if err != nil {
			return nil, err
		}
		var tl struct {
			Tags []string `json:"tags"`
		}
		if resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			return nil, nil // no tag yet
		}
		err = json.NewDecoder(resp.Body).Decode(&tl)
		link := resp.Header.Get("Link")
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %v", repo, err)
		}
		all = append(all, tl.Tags...)
		next = ""
		// Link: </v2/REPO/tags/list?last=X&n=1000>; rel="next"
		if l, _, ok := strings.Cut(link, ">"); ok && strings.HasPrefix(l, "<") {
			next = regURL + strings.TrimPrefix(l, "<")
		}
	}
	return all, nil
}

// sameObjects checks that got holds exactly the files, each at its size.
func sameObjects(where string, got map[string]int64, files []file) error {
	if len(got) != len(files) {
		return fmt.Errorf("%s holds %d objects, want %d", where, len(got), len(files))
	}
	for _, f := range files {
		sz, ok := got[f.Name]
		if !ok {
			return fmt.Errorf("%s: %s is missing", where, f.Name)
		}
		if sz != f.Size {
			return fmt.Errorf("%s: %s has %d bytes, want %d", where, f.Name, sz, f.Size)
		}
	}
	return nil
}
