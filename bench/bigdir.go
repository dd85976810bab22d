package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Yardsticks of the big-files-into-a-directory scenario (issue #16): P
// files at a time with xargs, from the file server ($UP) into $OUT, or
// over the local copies in $DATA.
const (
	// The machine's limit for moving the bytes: curl writing each body
	// to a file, nothing verified.
	scriptCurlO = `set -euo pipefail
cut -d' ' -f1 "$LIST" | xargs -P "$P" -I{} curl -sSf -o "$OUT/{}" "$UP/{}"
`
	// The machine's limit for landing the bytes durably, as ferry does
	// (its fsync per file): curl -o as above, then every file fsynced
	// (coreutils sync FILE...). Nothing verified.
	scriptCurlOSync = `set -euo pipefail
cut -d' ' -f1 "$LIST" | xargs -P "$P" -I{} curl -sSf -o "$OUT/{}" "$UP/{}"
sync "$OUT"/*
`
	// The fair script for a verified copy: download, then check.
	scriptCurlOSum = `set -euo pipefail
get() { curl -sSf -o "$OUT/$1" "$UP/$1" && echo "$2  $OUT/$1" | sha256sum -c --quiet -; }
export -f get
xargs -P "$P" -n 3 bash -c 'get "$@"' _ <"$LIST"
`
	// The hashing limit: sha256sum over the local files, nothing moved.
	scriptSum = `set -euo pipefail
cut -d' ' -f1 "$LIST" | (cd "$DATA" && xargs -P "$P" -n 1 sha256sum >/dev/null)
`
)

// bigDirScenario: big files from the file server into a directory, ferry
// against four parallel `curl -o` (the machine's limit with no
// verification), curl + sha256sum and sha256sum alone; then ferry on the
// same data into the registry and into S3, next to those destinations' raw
// limits (the curl | curl pipe of the big scenario, the curl PUT of the S3
// scenario).
func (e *env) bigDirScenario() error {
	n, size := e.sz.bigDirN, e.sz.bigDirSize
	dataDir := filepath.Join(e.work, "data", "bigdir")
	logf("big files into a directory: generating %d × %s", n, fmtBytes(size))
	files, err := genFiles(dataDir, "bigdir", n, size, 16)
	if err != nil {
		return err
	}
	total := totalSize(files)
	list := dataDir + ".list"
	fs, reg, stop, err := e.startServers("registry-bigdir")
	if err != nil {
		return err
	}
	defer stop()
	gw, err := startVersityGW(filepath.Join(e.work, "versitygw-bigdir"))
	if err != nil {
		return err
	}
	defer gw.Close()
	up := fs.URL + "/bigdir"
	scripts := filepath.Join(e.work, "scripts")
	if err := writeScripts(scripts); err != nil {
		return err
	}
	for name, body := range map[string]string{"curl-o.sh": scriptCurlO, "curl-o-sync.sh": scriptCurlOSync, "curl-o-sum.sh": scriptCurlOSum, "sum.sh": scriptSum, "s3-curl.sh": scriptS3Curl} {
		if err := os.WriteFile(filepath.Join(scripts, name), []byte(body), 0o755); err != nil {
			return err
		}
	}
	p := *par
	ps := strconv.Itoa(p)

	// prepare returns the timed command of one run and what checks its
	// result; it runs untimed.
	type prepared struct {
		dir   string
		env   []string
		argv  []string
		check func() error
		clean func()
	}
	type contender struct {
		name    string
		dest    string // "dir", "oci", "s3"
		kind    string // "ferry", "raw", "script"
		prepare func(run int) (prepared, error)
	}
	outDir := func(what string, run int) (string, error) {
		d := filepath.Join(e.work, fmt.Sprintf("bigdir-%s-%d", what, run))
		if err := os.RemoveAll(d); err != nil {
			return "", err
		}
		return d, os.MkdirAll(d, 0o755)
	}
	script := func(name, what string) func(int) (prepared, error) {
		return func(run int) (prepared, error) {
			out, err := outDir(what, run)
			if err != nil {
				return prepared{}, err
			}
			return prepared{dir: e.work, env: []string{"UP=" + up, "OUT=" + out, "DATA=" + dataDir, "LIST=" + list, "P=" + ps},
				argv:  []string{"bash", filepath.Join(scripts, name)},
				check: func() error { return checkDir(out, files, name != "sum.sh") },
				clean: func() { os.RemoveAll(out) }}, nil
		}
	}
	ferryTo := func(dest func(run int) (block, addr string, check func() error, clean func(), err error), env []string) func(int) (prepared, error) {
		return func(run int) (prepared, error) {
			block, addr, check, clean, err := dest(run)
			if err != nil {
				return prepared{}, err
			}
			dir := filepath.Join(e.work, fmt.Sprintf("ferry-bigdir-%s-%d", strings.SplitN(addr, ".", 3)[1], run))
			if err := os.RemoveAll(dir); err != nil {
				return prepared{}, err
			}
			if _, err := writeFerryConfigTo(dir, artifactsFor(files, up), block, addr); err != nil {
				return prepared{}, err
			}
			return prepared{dir: dir, env: env, argv: []string{e.ferry, "apply", "-auto-approve", "-parallelism", ps}, check: check,
				clean: func() { clean(); os.RemoveAll(dir) }}, nil
		}
	}
	cs := []contender{
		{name: "ferry apply -parallelism " + ps + " → dir (verified, fsync, atomic rename)", dest: "dir", kind: "ferry",
			prepare: ferryTo(func(run int) (string, string, func() error, func(), error) {
				out, err := outDir("ferry", run)
				if err != nil {
					return "", "", nil, nil, err
				}
				return fmt.Sprintf("destination \"dir\" \"out\" {\n  path = %q\n}\n", out), "destination.dir.out",
					func() error { return checkDir(out, files, true) }, func() { os.RemoveAll(out) }, nil
			}, nil)},
		{name: "raw: curl -o, " + ps + " at a time (nothing verified)", dest: "dir", kind: "raw", prepare: script("curl-o.sh", "curl")},
		{name: "durable limit: curl -o, " + ps + " at a time, then sync of every file (nothing verified)", dest: "dir", kind: "script", prepare: script("curl-o-sync.sh", "curlsync")},
		{name: "curl -o + sha256sum -c, " + ps + " at a time", dest: "dir", kind: "script", prepare: script("curl-o-sum.sh", "curlsum")},
		{name: "hashing limit: sha256sum over the local files, " + ps + " at a time", dest: "dir", kind: "script", prepare: script("sum.sh", "sum")},
		{name: "ferry apply -parallelism " + ps + " → OCI (docker-registry)", dest: "oci", kind: "ferry",
			prepare: ferryTo(func(run int) (string, string, func() error, func(), error) {
				repo := fmt.Sprintf("bigdir/ferry-%d", run)
				block := fmt.Sprintf("destination \"oci\" \"reg\" {\n  registry      = %q\n  repository    = %q\n  plain_http    = true\n  docker_config = false\n}\n", reg.Host, repo)
				return block, "destination.oci.reg", func() error { return checkTags(reg.URL, repo, files) }, func() {}, nil
			}, nil)},
		{name: "raw: curl \\| curl into blob uploads, " + ps + " pipes (nothing verified, no manifest)", dest: "oci", kind: "raw",
			prepare: func(run int) (prepared, error) {
				repo := fmt.Sprintf("bigdir/raw-%d", run)
				return prepared{dir: e.work, env: []string{"UP=" + up, "REG=" + reg.Host, "REPO=" + repo, "P=" + ps},
					argv: []string{"bash", filepath.Join(scripts, "driver.sh"), list, filepath.Join(scripts, "rawpipe.sh")}}, nil
			}},
		{name: "ferry apply -parallelism " + ps + " → S3 (versitygw)", dest: "s3", kind: "ferry",
			prepare: ferryTo(func(run int) (string, string, func() error, func(), error) {
				bucket, err := gw.bucket(fmt.Sprintf("bigdir-ferry-%d", run))
				if err != nil {
					return "", "", nil, nil, err
				}
				block := fmt.Sprintf("destination \"s3\" \"bucket\" {\n  bucket           = %q\n  endpoint         = %q\n  region           = \"us-east-1\"\n  force_path_style = true\n}\n", bucket, gw.URL)
				return block, "destination.s3.bucket", func() error { return gw.checkObjects(bucket, files) },
					func() { os.RemoveAll(filepath.Join(gw.root, bucket)) }, nil
			}, gw.env())},
		{name: "raw: curl PUT from the local files, " + ps + " at a time (nothing verified)", dest: "s3", kind: "raw",
			prepare: func(run int) (prepared, error) {
				bucket, err := gw.bucket(fmt.Sprintf("bigdir-raw-%d", run))
				if err != nil {
					return prepared{}, err
				}
				return prepared{dir: e.work, env: gw.env("S3="+gw.URL, "BUCKET="+bucket, "DATA="+dataDir, "LIST="+list, "P="+ps),
					argv:  []string{"bash", filepath.Join(scripts, "s3-curl.sh")},
					check: func() error { return gw.checkObjects(bucket, files) },
					clean: func() { os.RemoveAll(filepath.Join(gw.root, bucket)) }}, nil
			}},
	}
	if err := warm(dataDir, files); err != nil {
		return err
	}
	syscall.Sync()
	load0 := loadAvg()
	results := make([][]measurement, len(cs))
	for rn := 1; rn <= e.sz.runs; rn++ {
		for i, c := range cs {
			pr, err := c.prepare(rn)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			logf("big files into a directory run %d/%d: %s", rn, e.sz.runs, c.name)
			m, err := run(pr.dir, pr.env, pr.argv[0], pr.argv[1:]...)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if pr.check != nil {
				if err := pr.check(); err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
			}
			if pr.clean != nil {
				pr.clean()
			}
			// Flush what this contender left dirty (curl -o and the
			// servers do not fsync) before the next one is timed:
			// otherwise the next pays for this one's writeback.
			syscall.Sync()
			results[i] = append(results[i], m)
		}
	}
	meds := make([]measurement, len(cs))
	rates := make([]float64, len(cs))
	for i := range cs {
		meds[i] = median(results[i])
		rates[i] = mibps(total, meds[i].Wall)
	}
	// Each destination's ferry and raw rows.
	ferryRate, rawRate := map[string]float64{}, map[string]float64{}
	for i, c := range cs {
		switch c.kind {
		case "ferry":
			ferryRate[c.dest] = rates[i]
		case "raw":
			rawRate[c.dest] = rates[i]
		}
	}
	s := &section{
		title: fmt.Sprintf("Issue #16: big files near the machine's limit, %d × %s (%s), 127.0.0.1 HTTP → dir, OCI, S3", n, fmtBytes(size), fmtBytes(total)),
		what: "The same files from the same file server. ferry verifies size and sha256 of every file before it becomes visible " +
			"(dir: temp file, fsync, atomic link; OCI: blob upload with the digest, then manifest and tag; S3: create-only multipart upload, " +
			"stored checksum compared). The raw rows verify nothing. \"ferry ÷ raw\" compares each ferry row with the raw row of its destination.",
		columns: []string{"Destination", "Contender", "Median wall", "MiB/s", "CPU (user + sys)", "Peak RSS", "ferry ÷ raw"},
	}
	for i, c := range cs {
		ratio := ""
		if c.kind == "ferry" && rawRate[c.dest] > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*rates[i]/rawRate[c.dest])
		}
		if c.kind == "script" && ferryRate[c.dest] > 0 {
			ratio = fmt.Sprintf("(ferry ÷ this: %.2f×)", ferryRate[c.dest]/rates[i])
		}
		s.rows = append(s.rows, []string{c.dest, c.name, secs(meds[i].Wall), fmt.Sprintf("%.1f", rates[i]), secs(meds[i].CPU), fmtBytes(meds[i].MaxRSS), ratio})
	}
	for _, d := range []struct{ dest, raw string }{{"dir", "4 parallel curl -o"}, {"oci", "the curl \\| curl pipes"}, {"s3", "curl PUT"}} {
		r := ferryRate[d.dest] / rawRate[d.dest]
		s.targets = append(s.targets, target{
			desc: fmt.Sprintf("Big files → %s (%d × %s): ferry ≥ 70%% of %s", d.dest, n, fmtBytes(size), d.raw),
			met:  r >= 0.7, got: fmt.Sprintf("%.0f%% (%.1f vs %.1f MiB/s)", 100*r, ferryRate[d.dest], rawRate[d.dest])})
	}
	s.notes = append(s.notes, fmt.Sprintf("Wall time is the whole process (ferry: plan with refresh + apply). CPU is user + system time of the run "+
		"(the servers' CPU is not counted). %d run(s), runs interleaved across contenders. Load average (1, 5, 15 min) before the runs: %s; after: %s.",
		e.sz.runs, load0, loadAvg()))
	e.rep.add(s)
	return nil
}

// bucket creates a bucket named name.
func (g *versityGW) bucket(name string) (string, error) {
	if _, err := g.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		return "", fmt.Errorf("creating bucket %s: %w", name, err)
	}
	return name, nil
}

// checkDir makes sure dir holds every file at its size (when written).
func checkDir(dir string, files []file, written bool) error {
	if !written {
		return nil
	}
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		if fi.Size() != f.Size {
			return fmt.Errorf("%s has %d bytes, want %d", fi.Name(), fi.Size(), f.Size)
		}
	}
	return nil
}
