// Command bench is ferry's performance harness (issue #6): ferry against
// peer tools and the raw limits, side by side in one run on the same
// machine, with the same data and the same local servers (a net/http file
// server for the upstream; Debian's docker-registry, a directory or
// versitygw for the destination; all on 127.0.0.1). It prints a Markdown
// table of medians and ratios.
//
//	go run ./bench -size small   # CI: tiny data, one run, < 2 minutes
//	go run ./bench -size full    # the sizes, 3 runs, median
//
// See docs/performance.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

var (
	sizeFlag = flag.String("size", envOr("BENCH_SIZE", "small"), "small (CI: tiny data, 1 run) or full (the issue's sizes, 3 runs); env BENCH_SIZE")
	runsFlag = flag.Int("runs", 0, "runs per contender (default: 1 small, 3 full); the median is reported")
	only     = flag.String("only", "", "comma-separated scenarios to run: big,small,rawoci,plan,planlist,memory,reapply,conda,s3,refreshoci,refresh,shards,bigdir (default all)")
	outFlag  = flag.String("out", "", "also write the Markdown report to this file")
	keep     = flag.Bool("keep", false, "keep the work directory")
	workFlag = flag.String("work", "", "work directory (default: a new temp dir)")
	verbose  = flag.Bool("v", false, "print every command with its time and peak RSS")
	par      = flag.Int("parallelism", 4, "concurrency for ferry and every peer script")
)

// sizes are the data set dimensions of one -size.
type sizes struct {
	bigN        int
	bigSize     int64
	smallN      int
	smallSize   int64
	planNs      []int
	refreshNs   []int // must be <= the last one, which is populated
	memSize     int64
	reapplyN    int
	reapplySize int64
	condaN      int // records in the generated conda channel (linux-64 + noarch)
	s3N         int
	s3Size      int64
	shardN      int // artifacts of the sharded apply scenario
	shardSize   int64
	shardNs     []int // shard counts measured (the killed-shard trial uses the largest up to 4)
	// refreshListN objects of 1 KiB are refreshed by listing (dir, S3).
	refreshListN int
	bigDirN      int // issue #16: big files into dir, OCI and S3
	bigDirSize   int64
	runs         int
}

var presets = map[string]sizes{
	"small": {bigN: 4, bigSize: 8 << 20, smallN: 100, smallSize: 8 << 10, planNs: []int{1000, 10000}, refreshNs: []int{500},
		memSize: 256 << 20, reapplyN: 4, reapplySize: 8 << 20, condaN: 500, s3N: 4, s3Size: 8 << 20,
		shardN: 16, shardSize: 4 << 10, shardNs: []int{1, 2}, refreshListN: 1000, bigDirN: 4, bigDirSize: 4 << 20, runs: 1},
	"full": {bigN: 32, bigSize: 32 << 20, smallN: 2000, smallSize: 8 << 10, planNs: []int{1000, 10000, 100000}, refreshNs: []int{1000, 10000},
		memSize: 2 << 30, reapplyN: 32, reapplySize: 32 << 20, condaN: 5000, s3N: 32, s3Size: 32 << 20,
		shardN: 2000, shardSize: 64 << 10, shardNs: []int{1, 2, 4, 8}, refreshListN: 100000, bigDirN: 16, bigDirSize: 64 << 20, runs: 3},
}

type env struct {
	repo  string // repository root
	ferry string // bin/ferry
	tools string // bench/.tools
	work  string
	sz    sizes
	rep   *report
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	flag.Parse()
	stopOnSignal()
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	sz, ok := presets[*sizeFlag]
	if !ok {
		return fmt.Errorf("-size %q: want small or full", *sizeFlag)
	}
	if *runsFlag > 0 {
		sz.runs = *runsFlag
	}
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	e := &env{repo: repo, ferry: filepath.Join(repo, "bin", "ferry"), tools: filepath.Join(repo, "bench", ".tools"), sz: sz}
	e.rep = &report{size: *sizeFlag, runs: sz.runs, par: *par}

	for _, bin := range []string{"curl", "sha256sum", "xargs", "bash", "cp"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is missing (Debian: apt-get install -y curl coreutils findutils)", bin)
		}
	}
	if _, err := os.Stat(timeBin); err != nil {
		return fmt.Errorf("%s (GNU time) is missing: apt-get install -y time", timeBin)
	}
	logf("building bin/ferry")
	if _, err := run(repo, nil, "go", "build", "-o", e.ferry, "./cmd/ferry"); err != nil {
		return err
	}
	if err := installTools(e.tools); err != nil {
		return err
	}

	if *workFlag != "" {
		e.work = *workFlag
		if err := os.MkdirAll(e.work, 0o755); err != nil {
			return err
		}
	} else {
		// os.TempDir (TMPDIR): the data, the registry's storage, the
		// peers' downloads and cp's copy all live on this one disk; use
		// -work when /tmp is a tmpfs.
		e.work, err = os.MkdirTemp("", "ferry-bench-")
		if err != nil {
			return err
		}
	}
	if !*keep && *workFlag == "" {
		defer os.RemoveAll(e.work)
	}
	logf("work directory %s", e.work)
	e.rep.machine = machineInfo(e)

	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	sel := func(s string) bool { return len(want) == 0 || want[s] }
	start := time.Now()
	if sel("big") {
		if err := e.transferScenario("big", "Big files", sz.bigN, sz.bigSize); err != nil {
			return fmt.Errorf("big files: %w", err)
		}
	}
	if sel("small") {
		if err := e.transferScenario("small", "Many small files", sz.smallN, sz.smallSize); err != nil {
			return fmt.Errorf("small files: %w", err)
		}
	}
	if sel("rawoci") {
		if err := e.rawOCIScenario(); err != nil {
			return fmt.Errorf("raw OCI client: %w", err)
		}
	}
	if sel("plan") {
		if err := e.planScenario(); err != nil {
			return fmt.Errorf("planning: %w", err)
		}
	}
	if sel("planlist") {
		if err := e.planListScenario(); err != nil {
			return fmt.Errorf("planning from list files: %w", err)
		}
	}
	if sel("memory") {
		if err := e.memoryScenario(); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	if sel("reapply") {
		if err := e.reapplyScenario(); err != nil {
			return fmt.Errorf("re-apply: %w", err)
		}
	}
	if sel("conda") {
		if err := e.condaScenario(); err != nil {
			return fmt.Errorf("conda planning: %w", err)
		}
	}
	if sel("s3") {
		if err := e.s3Scenario(); err != nil {
			return fmt.Errorf("s3 apply: %w", err)
		}
	}
	if sel("refreshoci") {
		if err := e.refreshOCIScenario(); err != nil {
			return fmt.Errorf("oci refresh by listing: %w", err)
		}
	}
	if sel("refresh") {
		if err := e.refreshScenario(); err != nil {
			return fmt.Errorf("refresh by listing: %w", err)
		}
	}
	if sel("shards") {
		if err := e.shardsScenario(); err != nil {
			return fmt.Errorf("sharded apply: %w", err)
		}
	}
	if sel("bigdir") {
		if err := e.bigDirScenario(); err != nil {
			return fmt.Errorf("big files into a directory: %w", err)
		}
	}
	e.rep.elapsed = time.Since(start)
	var w io.Writer = os.Stdout
	var f *os.File
	if *outFlag != "" {
		f, err = os.Create(*outFlag)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	e.rep.write(w)
	if f != nil {
		return f.Close()
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w (run from the ferry repository)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Pinned peer tool versions, installed with go install into bench/.tools.
var peerTools = []struct{ name, pkg string }{
	{"oras", "oras.land/oras/cmd/oras@v1.2.3"},
	{"crane", "github.com/google/go-containerregistry/cmd/crane@v0.20.6"},
}

func installTools(dir string) error {
	for _, t := range peerTools {
		if _, err := os.Stat(filepath.Join(dir, t.name)); err == nil {
			continue
		}
		logf("installing %s into %s", t.pkg, dir)
		cmd := exec.Command("go", "install", t.pkg)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
		cmd.Dir = os.TempDir() // outside the module: no go.mod changes
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go install %s: %v\n%s", t.pkg, err, out)
		}
	}
	return nil
}

func machineInfo(e *env) []string {
	var m []string
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, v, _ := strings.Cut(l, ":")
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	m = append(m, fmt.Sprintf("CPU: %s, %d cores (runtime.NumCPU)", cpu, runtime.NumCPU()))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		m = append(m, "Memory: "+strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " "))
	}
	if b, err := exec.Command("uname", "-srm").Output(); err == nil {
		m = append(m, "Kernel: "+strings.TrimSpace(string(b)))
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		m = append(m, "Debian "+strings.TrimSpace(string(b)))
	}
	m = append(m, "Go: "+runtime.Version())
	ver := func(label string, name string, args ...string) {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return
		}
		l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		m = append(m, label+": "+strings.TrimSpace(l))
	}
	ver("ferry", e.ferry, "version")
	ver("oras", filepath.Join(e.tools, "oras"), "version")
	ver("crane", filepath.Join(e.tools, "crane"), "version")
	ver("curl", "curl", "--version")
	ver("docker-registry", "docker-registry", "--version")
	if bin, err := versityGWBin(); err == nil {
		// Its --version says "git" when built with go install: read the
		// module version from the binary.
		if out, err := exec.Command("go", "version", "-m", bin).Output(); err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if f := strings.Fields(l); len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/versity/versitygw" {
					m = append(m, "versitygw: "+f[2])
				}
			}
		}
	}
	ver("jq", "jq", "--version")
	ver("aws", "aws", "--version")
	m = append(m, "Load average at start (1, 5, 15 min): "+loadAvg())
	if b, err := exec.Command("df", "-hT", e.work).Output(); err == nil {
		ls := strings.Split(strings.TrimSpace(string(b)), "\n")
		if f := strings.Fields(ls[len(ls)-1]); len(f) >= 2 {
			m = append(m, "Work disk: "+f[1]+" ("+f[0]+")")
		}
	}
	return m
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute load averages: other
// processes competing for the cores show up here.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], ", ")
	}
	return "unknown"
}
