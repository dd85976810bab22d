package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rawOCIScenario (issue #16, item 3): the small-file workload (the "small"
// scenario's files) into docker-registry, ferry against bench/rawoci, a
// raw Go client sending only the minimal request sequence one artifact
// needs (GET upstream, blob POST + PUT with the digest, manifest PUT by
// tag; the config blob once) and verifying nothing: what the registry
// itself sustains. A second, untimed pass of each through a proxy counts
// the registry requests per artifact by kind.
func (e *env) rawOCIScenario() error {
	const id = "small"
	n, size := e.sz.smallN, e.sz.smallSize
	dataDir := filepath.Join(e.work, "data", id)
	logf("raw OCI: generating %d × %s", n, fmtBytes(size))
	files, err := genFiles(dataDir, id, n, size, uint64(len(id)))
	if err != nil {
		return err
	}
	fs, reg, stop, err := e.startServers("registry-rawoci")
	if err != nil {
		return err
	}
	defer stop()
	up := fs.URL + "/" + id
	list := dataDir + ".list"
	logf("raw OCI: building the raw client (bench/rawoci)")
	rawBin := filepath.Join(e.work, "rawoci")
	if _, err := run(e.repo, nil, "go", "build", "-o", rawBin, "./bench/rawoci"); err != nil {
		return err
	}
	if err := warm(dataDir, files); err != nil {
		return err
	}
	p := *par
	type rawContender struct {
		name string
		// prepare returns the directory and command for the registry at host.
		prepare func(run int, host, repo string) (string, []string, func(), error)
	}
	cs := []rawContender{
		{name: fmt.Sprintf("ferry apply -parallelism %d", p),
			prepare: func(run int, host, repo string) (string, []string, func(), error) {
				dir := filepath.Join(e.work, fmt.Sprintf("ferry-rawoci-%d", run))
				os.RemoveAll(dir)
				if _, err := writeFerryConfig(dir, host, repo, artifactsFor(files, up)); err != nil {
					return "", nil, nil, err
				}
				return dir, []string{e.ferry, "apply", "-auto-approve", "-parallelism", strconv.Itoa(p)}, func() { os.RemoveAll(dir) }, nil
			}},
		{name: fmt.Sprintf("raw: Go client, minimal requests, no verification, %d in flight", p),
			prepare: func(_ int, host, repo string) (string, []string, func(), error) {
				return e.work, []string{rawBin, "-registry", host, "-repo", repo, "-from", up, "-list", list, "-p", strconv.Itoa(p)}, nil, nil
			}},
		// The registry's cost of ferry's request sequence without ferry:
		// what separates ferry from the minimum splits into this and
		// ferry's own work.
		{name: fmt.Sprintf("raw: Go client, ferry's requests (+ HEAD manifest, HEAD blob), %d in flight", p),
			prepare: func(_ int, host, repo string) (string, []string, func(), error) {
				return e.work, []string{rawBin, "-registry", host, "-repo", repo, "-from", up, "-list", list, "-p", strconv.Itoa(p), "-checks"}, nil, nil
			}},
	}
	results := make([][]measurement, len(cs))
	regCPU := make([][]time.Duration, len(cs))
	var loads []string
	for rn := 1; rn <= e.sz.runs; rn++ {
		for i, c := range cs {
			repo := fmt.Sprintf("bench/rawoci-%d-%d", i, rn)
			dir, argv, cleanup, err := c.prepare(rn, reg.Host, repo)
			if err != nil {
				return err
			}
			logf("raw OCI run %d/%d: %s", rn, e.sz.runs, c.name)
			loads = append(loads, loadAvg())
			rc0 := reg.cpu()
			m, err := run(dir, nil, argv[0], argv[1:]...)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			regCPU[i] = append(regCPU[i], reg.cpu()-rc0)
			if err := checkTags(reg.URL, repo, files); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if cleanup != nil {
				cleanup()
			}
			results[i] = append(results[i], m)
		}
	}

	// Untimed: each contender once more through a proxy counting the
	// registry requests by kind.
	proxy, err := startKindProxy(reg.URL)
	if err != nil {
		return err
	}
	defer proxy.Close()
	counts := make([]map[string]int64, len(cs))
	for i, c := range cs {
		repo := fmt.Sprintf("bench/rawoci-count-%d", i)
		dir, argv, cleanup, err := c.prepare(0, proxy.Host, repo)
		if err != nil {
			return err
		}
		proxy.reset()
		logf("raw OCI: counting the requests of %s", c.name)
		if _, err := run(dir, nil, argv[0], argv[1:]...); err != nil {
			return fmt.Errorf("%s (through the counting proxy): %w", c.name, err)
		}
		counts[i] = proxy.snapshot()
		if cleanup != nil {
			cleanup()
		}
	}

	rate := func(m measurement) float64 { return float64(n) / m.Wall.Seconds() }
	meds := make([]measurement, len(cs))
	for i := range cs {
		meds[i] = median(results[i])
	}
	ferryRate, rawRate := rate(meds[0]), rate(meds[1])
	s := &section{
		title: fmt.Sprintf("Small objects near the registry's limit: %d × %s, 127.0.0.1 HTTP → docker-registry", n, fmtBytes(size)),
		what: "ferry apply (plan with refresh, then apply with every byte verified) against bench/rawoci, a Go client sending only the " +
			"minimal requests per artifact (upstream GET, blob POST + PUT with the digest, manifest PUT by tag; the config blob once) " +
			"with keep-alive connections and no verification. Registry requests per artifact are counted in a separate, untimed pass " +
			"through a proxy.",
		columns: []string{"Contender", "Median wall", "artifacts/s", "CPU (user + sys)", "Registry CPU", "Peak RSS", "Registry requests per artifact", "ferry ÷ contender", "Target"},
	}
	for i, c := range cs {
		r := rate(meds[i])
		tgt := ""
		if i == 1 {
			tgt = fmt.Sprintf("ferry ≥ 70%% of raw: %s", yesNo(ferryRate >= 0.7*r))
		}
		slices.Sort(regCPU[i])
		s.rows = append(s.rows, []string{c.name, secs(meds[i].Wall), fmt.Sprintf("%.1f", r), secs(meds[i].CPU), secs(regCPU[i][len(regCPU[i])/2]), fmtBytes(meds[i].MaxRSS),
			perArtifact(counts[i], n), fmt.Sprintf("%.2f×", ferryRate/r), tgt})
	}
	s.targets = append(s.targets, target{desc: "Small objects: ferry ≥ 70% of the raw registry client (bench/rawoci)",
		met: ferryRate >= 0.7*rawRate, got: fmt.Sprintf("%.0f%% (%.1f vs %.1f artifacts/s)", 100*ferryRate/rawRate, ferryRate, rawRate)})
	s.notes = append(s.notes, fmt.Sprintf("CPU is the contender's (user + sys, with its children); Registry CPU is docker-registry's during the run (/proc/PID/stat, median). "+
		"Both share the machine's cores, so on a loaded machine the sum sets the pace. %d run(s), interleaved; load average (1, 5, 15 min) before each run: %s.", e.sz.runs, strings.Join(loads, "; ")))
	e.rep.add(s)
	return nil
}

// perArtifact formats request counts by kind divided by n artifacts.
func perArtifact(c map[string]int64, n int) string {
	var total int64
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range c {
			if !yield(k) {
				return
			}
		}
	}) {
		total += c[k]
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(c[k])/float64(n)))
	}
	return fmt.Sprintf("%.2f (%s)", float64(total)/float64(n), strings.Join(parts, ", "))
}

// kindProxy is a reverse proxy in front of the registry counting requests
// by method and API kind ("HEAD manifest", "POST upload", …).
type kindProxy struct {
	Host string
	mu   sync.Mutex
	n    map[string]int64
	srv  *http.Server
}

func startKindProxy(target string) (*kindProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &kindProxy{Host: ln.Addr().String(), n: map[string]int64{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			kind := "other"
			switch path := r.URL.Path; {
			case strings.Contains(path, "/blobs/uploads/"):
				kind = "upload"
			case strings.Contains(path, "/blobs/"):
				kind = "blob"
			case strings.Contains(path, "/manifests/"):
				kind = "manifest"
			case strings.HasSuffix(path, "/tags/list"):
				kind = "tags"
			}
			p.mu.Lock()
			p.n[r.Method+" "+kind]++
			p.mu.Unlock()
			r.Host = p.Host // Location headers keep pointing at the proxy
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *kindProxy) reset() {
	p.mu.Lock()
	p.n = map[string]int64{}
	p.mu.Unlock()
}

func (p *kindProxy) snapshot() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.n))
	for k, v := range p.n {
		out[k] = v
	}
	return out
}

func (p *kindProxy) Close() { p.srv.Close() }

// cpu is the user + system time the registry process has used so far (0
// when it cannot be read).
func (r *registry) cpu() time.Duration { return processCPU(r.cmd.Process.Pid) }
