package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// versityGW is a versitygw process (posix backend: a bucket is a directory
// of root, an object a file), started the way
// providers/providertest/testenv.StartS3 does it.
type versityGW struct {
	URL            string // http://127.0.0.1:PORT
	root           string
	access, secret string
	cmd            *exec.Cmd
	client         *s3.Client
}

// versityGWBin finds versitygw as testenv.StartS3 does: $FERRY_VERSITYGW,
// else on $PATH, else ${FERRY_TESTENV_ROOT:-~/.cache/ferry-testenv}/bin.
func versityGWBin() (string, error) {
	if p := os.Getenv(testenv.EnvVersityGWBin); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	root := os.Getenv(testenv.EnvTestenvRoot)
	if root == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		root = filepath.Join(h, ".cache", "ferry-testenv")
	}
	bin := filepath.Join(root, "bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("versitygw not found in $PATH or at %s: %s", bin, testenv.VersityGWInstallHint)
	}
	return bin, nil
}

// startVersityGW starts versitygw keeping its buckets under dir, emptied
// first (buckets of an earlier harness run in a reused -work directory).
func startVersityGW(dir string) (*versityGW, error) {
	bin, err := versityGWBin()
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	g := &versityGW{root: filepath.Join(dir, "root"), access: "ferrybench", secret: rand.Text()}
	if err := os.MkdirAll(g.root, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	g.cmd = exec.Command(bin, "--access", g.access, "--secret", g.secret, "--region", "us-east-1",
		"--port", "127.0.0.1:"+strconv.Itoa(port), "posix", g.root)
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	g.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	g.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(g.URL), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(g.access, g.secret, ""),
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// Anonymous GET / is refused (403): the server is up.
		resp, err := http.Get(g.URL + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusForbidden {
				return g, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.Close()
	log, _ := os.ReadFile(filepath.Join(dir, "versitygw.log"))
	return nil, fmt.Errorf("versitygw did not answer on %s: %s", g.URL, log)
}

func (g *versityGW) Close() {
	if g.cmd.Process == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-done
	}
}

// cpu is the user + system time versitygw has used so far (0 when it
// cannot be read).
func (g *versityGW) cpu() time.Duration { return processCPU(g.cmd.Process.Pid) }

// processCPU is the user + system time process pid has used so far, from
// /proc/PID/stat (0 when it cannot be read).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// env is the environment every S3 contender runs with: the server's
// credentials in the standard variables, no shared files, no instance
// metadata probe.
func (g *versityGW) env(extra ...string) []string {
	return append([]string{"AWS_ACCESS_KEY_ID=" + g.access, "AWS_SECRET_ACCESS_KEY=" + g.secret, "AWS_REGION=us-east-1",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_CONFIG_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}, extra...)
}

// checkObjects makes sure a contender stored every file, at its size.
func (g *versityGW) checkObjects(bucket string, files []file) error {
	got := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(g.client, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			return fmt.Errorf("listing %s: %w", bucket, err)
		}
		for _, o := range out.Contents {
			got[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	for _, f := range files {
		if got[f.Name] != f.Size {
			return fmt.Errorf("bucket %s: %s has %d bytes, want %d (%d objects)", bucket, f.Name, got[f.Name], f.Size, len(got))
		}
	}
	return nil
}

// scriptS3Curl is the raw limit of an S3 write: one signed single-stream
// PUT per file with curl (--aws-sigv4, unsigned payload: no hashing), from
// the local file; P at a time. Not multipart, no checksum, no verification.
const scriptS3Curl = `set -euo pipefail
put() {
  curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$DATA/$1" -o /dev/null "$S3/$BUCKET/$1"
}
export -f put
cut -d' ' -f1 "$LIST" | xargs -P "$P" -I{} bash -c 'put {}'
`

// s3Scenario: the big files from the file server into a versitygw bucket,
// ferry against the SDK's upload manager and the raw limits.
func (e *env) s3Scenario() error {
	n, size := e.sz.s3N, e.sz.s3Size
	dataDir := filepath.Join(e.work, "data", "big")
	logf("s3: generating %d × %s", n, fmtBytes(size))
	files, err := genFiles(dataDir, "big", n, size, uint64(len("big")))
	if err != nil {
		return err
	}
	total := totalSize(files)
	list := dataDir + ".list"
	fs, err := startFileServer(filepath.Join(e.work, "data"))
	if err != nil {
		return err
	}
	defer fs.Close()
	gw, err := startVersityGW(filepath.Join(e.work, "versitygw"))
	if err != nil {
		return err
	}
	defer gw.Close()
	up := fs.URL + "/big"

	logf("s3: building the SDK peer (bench/s3put)")
	s3put := filepath.Join(e.work, "s3put")
	if _, err := run(e.repo, nil, "go", "build", "-o", s3put, "./bench/s3put"); err != nil {
		return err
	}
	scripts := filepath.Join(e.work, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		return err
	}
	curlScript := filepath.Join(scripts, "s3-curl.sh")
	if err := os.WriteFile(curlScript, []byte(scriptS3Curl), 0o755); err != nil {
		return err
	}

	type contender struct {
		name    string
		objects bool // stores every file as an object (checked)
		// prepare runs untimed; bucket exists.
		prepare func(run int, bucket string) (dir string, env []string, argv []string, cleanup func(), err error)
	}
	p := *par
	curlPeer := func(pp int) func(int, string) (string, []string, []string, func(), error) {
		return func(_ int, bucket string) (string, []string, []string, func(), error) {
			return e.work, gw.env("S3="+gw.URL, "BUCKET="+bucket, "DATA="+dataDir, "LIST="+list, "P="+strconv.Itoa(pp)),
				[]string{"bash", curlScript}, nil, nil
		}
	}
	cs := []contender{
		{name: fmt.Sprintf("ferry apply -parallelism %d (HTTP → S3, verified)", p), objects: true,
			prepare: func(run int, bucket string) (string, []string, []string, func(), error) {
				dir := filepath.Join(e.work, fmt.Sprintf("ferry-s3-%d", run))
				dest := fmt.Sprintf("destination \"s3\" \"bucket\" {\n  bucket           = %q\n  endpoint         = %q\n  region           = \"us-east-1\"\n  force_path_style = true\n}\n", bucket, gw.URL)
				if _, err := writeFerryConfigTo(dir, artifactsFor(files, up), dest, "destination.s3.bucket"); err != nil {
					return "", nil, nil, nil, err
				}
				return dir, gw.env(), []string{e.ferry, "apply", "-auto-approve", "-parallelism", strconv.Itoa(p)}, func() { os.RemoveAll(dir) }, nil
			}},
		{name: fmt.Sprintf("SDK upload manager, HTTP stream → S3 (%d files × 2 parts in flight)", p), objects: true,
			prepare: func(_ int, bucket string) (string, []string, []string, func(), error) {
				return e.work, gw.env(), []string{s3put, "-endpoint", gw.URL, "-bucket", bucket, "-list", list, "-from", up,
					"-files", strconv.Itoa(p), "-concurrency", "2"}, nil, nil
			}},
		{name: fmt.Sprintf("SDK upload manager, local files → S3 (%d files × 2 parts in flight)", p), objects: true,
			prepare: func(_ int, bucket string) (string, []string, []string, func(), error) {
				return e.work, gw.env(), []string{s3put, "-endpoint", gw.URL, "-bucket", bucket, "-list", list, "-dir", dataDir,
					"-files", strconv.Itoa(p), "-concurrency", "2"}, nil, nil
			}},
	}
	if awsBin, err := exec.LookPath("aws"); err == nil && *sizeFlag != "small" {
		// The AWS CLI itself where it is installed (it is not a Go
		// module: the harness does not install it); not at -size small,
		// where its start-up alone would double the scenario's time.
		cs = append(cs, contender{name: fmt.Sprintf("aws s3 cp --recursive, local files (max_concurrent_requests %d)", 2*p), objects: true,
			prepare: func(_ int, bucket string) (string, []string, []string, func(), error) {
				cfg := filepath.Join(e.work, "aws-config")
				body := fmt.Sprintf("[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = %d\n  multipart_chunksize = 8MB\n  multipart_threshold = 8MB\n  addressing_style = path\n", 2*p)
				if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
					return "", nil, nil, nil, err
				}
				return e.work, gw.env("AWS_CONFIG_FILE=" + cfg), []string{awsBin, "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", gw.URL,
					dataDir, "s3://" + bucket + "/"}, nil, nil
			}})
	}
	cs = append(cs,
		contender{name: "raw: curl PUT (single stream), one file at a time", objects: true, prepare: curlPeer(1)},
		contender{name: fmt.Sprintf("raw: curl PUT (single stream), %d at a time", p), objects: true, prepare: curlPeer(p)},
		contender{name: "raw: cp -r into versitygw's backing directory", prepare: func(run int, bucket string) (string, []string, []string, func(), error) {
			dst := filepath.Join(gw.root, bucket, "copy")
			return e.work, nil, []string{"cp", "-r", dataDir, dst}, nil, nil
		}},
	)
	if err := warm(dataDir, files); err != nil {
		return err
	}
	load0 := loadAvg()
	results := make([][]measurement, len(cs))
	gwCPU := make([][]time.Duration, len(cs)) // versitygw's CPU time during each run
	for rn := 1; rn <= e.sz.runs; rn++ {
		for i, c := range cs {
			bucket := fmt.Sprintf("bench-s3-%d-%d", i, rn)
			if _, err := gw.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				return fmt.Errorf("creating bucket %s: %w", bucket, err)
			}
			dir, cenv, argv, cleanup, err := c.prepare(rn, bucket)
			if err != nil {
				return err
			}
			logf("S3 run %d/%d: %s", rn, e.sz.runs, c.name)
			cpu0 := gw.cpu()
			m, err := run(dir, cenv, argv[0], argv[1:]...)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			gwCPU[i] = append(gwCPU[i], gw.cpu()-cpu0)
			if c.objects {
				if err := gw.checkObjects(bucket, files); err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
			}
			if cleanup != nil {
				cleanup()
			}
			// Free the disk for the next contender.
			if err := os.RemoveAll(filepath.Join(gw.root, bucket)); err != nil {
				return err
			}
			results[i] = append(results[i], m)
		}
	}
	meds := make([]measurement, len(cs))
	for i := range cs {
		meds[i] = median(results[i])
	}
	ferryRate := mibps(total, meds[0].Wall)
	s := &section{
		title: fmt.Sprintf("S3: %d × %s (%s), 127.0.0.1 HTTP → versitygw", n, fmtBytes(size), fmtBytes(total)),
		what: "versitygw " + testenv.VersityGWVersion + " (posix backend) on 127.0.0.1, a fresh bucket per run. " +
			"ferry: `destination \"s3\"` (8 MiB parts, 2 in flight per file, `x-amz-checksum-sha256` on every part, create-only, " +
			"stored checksum compared by HEAD), each file streamed from the file server and verified (size, sha256). " +
			"The SDK peer (`bench/s3put`) is aws-sdk-go-v2's upload manager with its default checksums (CRC32) and the same parts in flight, verifying nothing.",
		columns: []string{"Contender", "Median wall", "MiB/s", "Peak RSS", "CPU (user + sys)", "versitygw CPU", "ferry ÷ contender"},
	}
	for i, c := range cs {
		r := mibps(total, meds[i].Wall)
		s.rows = append(s.rows, []string{c.name, secs(meds[i].Wall), fmt.Sprintf("%.1f", r), fmtBytes(meds[i].MaxRSS), secs(meds[i].CPU), secs(medianDuration(gwCPU[i])), fmt.Sprintf("%.2f×", ferryRate/r)})
	}
	s.notes = append(s.notes, fmt.Sprintf("Wall time is the whole process (ferry: plan with refresh + apply). "+
		"Peak RSS is the largest single process of the run, CPU the user + system time of the whole run (rusage); versitygw's memory is not counted, its CPU time during the run (from /proc) is the next column. %d run(s), runs interleaved across contenders. "+
		"Load average (1, 5, 15 min) before the runs: %s; after: %s.", e.sz.runs, load0, loadAvg()))
	e.rep.add(s)
	return nil
}

func medianDuration(ds []time.Duration) time.Duration {
	ms := make([]measurement, len(ds))
	for i, d := range ds {
		ms[i].CPU = d
	}
	return median(ms).CPU
}
