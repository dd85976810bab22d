package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mirror/ferry/state"
)

// contender is one way of moving a data set: ferry, a peer script or a raw
// limit. prepare runs untimed and returns the timed command.
type contender struct {
	name    string
	kind    string // "ferry", "peer", "baseline", "raw"
	tagged  bool   // leaves one tag per file in the repository (checked)
	prepare func(run int, repo string) (dir string, env []string, argv []string, cleanup func(), err error)
}

// transferScenario: n files of size bytes from the file server into the
// registry, every contender in turn, runs interleaved.
func (e *env) transferScenario(id, title string, n int, size int64) error {
	dataDir := filepath.Join(e.work, "data", id)
	logf("%s: generating %d × %s", title, n, fmtBytes(size))
	files, err := genFiles(dataDir, id, n, size, uint64(len(id)))
	if err != nil {
		return err
	}
	total := totalSize(files)
	fs, reg, stop, err := e.startServers("registry-" + id)
	if err != nil {
		return err
	}
	defer stop()
	up := fs.URL + "/" + id
	list := dataDir + ".list"
	scripts := filepath.Join(e.work, "scripts")
	if err := writeScripts(scripts); err != nil {
		return err
	}
	tmpd := filepath.Join(e.work, "tmp")
	if err := os.MkdirAll(tmpd, 0o755); err != nil {
		return err
	}
	scriptEnv := func(repo string, p int, extra ...string) []string {
		return append([]string{"UP=" + up, "REG=" + reg.Host, "REPO=" + repo, "TOOLS=" + e.tools, "TMPD=" + tmpd, "P=" + strconv.Itoa(p)}, extra...)
	}
	driver := func(per string, p int, extra ...string) func(int, string) (string, []string, []string, func(), error) {
		return func(_ int, repo string) (string, []string, []string, func(), error) {
			return e.work, scriptEnv(repo, p, extra...), []string{"bash", filepath.Join(scripts, "driver.sh"), list, filepath.Join(scripts, per)}, nil, nil
		}
	}
	p := *par
	cs := []contender{
		{name: fmt.Sprintf("ferry apply -parallelism %d", p), kind: "ferry", tagged: true,
			prepare: func(run int, repo string) (string, []string, []string, func(), error) {
				dir := filepath.Join(e.work, fmt.Sprintf("ferry-%s-%d", id, run))
				if _, err := writeFerryConfig(dir, reg.Host, repo, artifactsFor(files, up)); err != nil {
					return "", nil, nil, nil, err
				}
				return dir, nil, []string{e.ferry, "apply", "-auto-approve", "-parallelism", strconv.Itoa(p)}, func() { os.RemoveAll(dir) }, nil
			}},
		// The empty config blob is pushed once up front for oras (as for
		// bpsync, and as ferry does): four oras processes uploading the
		// same blob to one repository at once race inside
		// docker-registry (DIGEST_INVALID, then MANIFEST_BLOB_UNKNOWN:
		// seen failing CI). oras skips a blob the registry already has.
		{name: fmt.Sprintf("oras push per file (curl + sha256sum + oras, xargs -P %d)", p), kind: "peer", tagged: true, prepare: driver("peer.sh", p, "TOOL=oras", "CONFIG_BLOB=1")},
		{name: fmt.Sprintf("crane append per file (curl + sha256sum + crane, xargs -P %d)", p), kind: "peer", tagged: true, prepare: driver("peer.sh", p, "TOOL=crane")},
		{name: fmt.Sprintf("bpsync-style (curl to disk, verify, curl upload, xargs -P %d)", p), kind: "baseline", tagged: true, prepare: driver("bpsync.sh", p, "CONFIG_BLOB=1")},
		{name: fmt.Sprintf("raw: curl \\| curl, %d pipes", p), kind: "raw", prepare: driver("rawpipe.sh", p)},
		{name: "raw: cp -r on the same disk", kind: "raw",
			prepare: func(run int, _ string) (string, []string, []string, func(), error) {
				dst := filepath.Join(e.work, fmt.Sprintf("cp-%s-%d", id, run))
				return e.work, nil, []string{"cp", "-r", dataDir, dst}, func() { os.RemoveAll(dst) }, nil
			}},
	}
	if id == "big" {
		// For big files the single stream is the raw limit the issue
		// names; for small files it only measures curl's start-up.
		single := contender{name: "raw: curl \\| curl, one pipe at a time", kind: "raw", prepare: driver("rawpipe.sh", 1)}
		cs = slices.Insert(cs, 4, single)
	}
	if err := warm(dataDir, files); err != nil {
		return err
	}
	results := make([][]measurement, len(cs))
	for rn := 1; rn <= e.sz.runs; rn++ {
		for i, c := range cs {
			repo := fmt.Sprintf("bench/%s-%d-%d", id, i, rn)
			dir, cenv, argv, cleanup, err := c.prepare(rn, repo)
			if err != nil {
				return err
			}
			logf("%s run %d/%d: %s", title, rn, e.sz.runs, c.name)
			m, err := run(dir, cenv, argv[0], argv[1:]...)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if c.tagged {
				if err := checkTags(reg.URL, repo, files); err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
			}
			if cleanup != nil {
				cleanup()
			}
			results[i] = append(results[i], m)
		}
	}

	// Table.
	rate := func(m measurement) float64 {
		if id == "small" {
			return float64(n) / m.Wall.Seconds()
		}
		return mibps(total, m.Wall)
	}
	unit := "MiB/s"
	if id == "small" {
		unit = "artifacts/s"
	}
	meds := make([]measurement, len(cs))
	for i := range cs {
		meds[i] = median(results[i])
	}
	ferryRate := rate(meds[0])
	s := &section{
		title:   fmt.Sprintf("%s: %d × %s (%s), 127.0.0.1 HTTP → docker-registry", title, n, fmtBytes(size), fmtBytes(total)),
		columns: []string{"Contender", "Median wall", unit, "Peak RSS", "ferry ÷ contender", "Target"},
	}
	bestPeer, bestPeerName, bestRaw, bestRawName, bpsync := 0.0, "", 0.0, "", 0.0
	for i, c := range cs {
		r := rate(meds[i])
		switch c.kind {
		case "peer":
			if r > bestPeer {
				bestPeer, bestPeerName = r, c.name
			}
		case "raw":
			if c.name != cs[len(cs)-1].name && r > bestRaw { // the pipes, not cp
				bestRaw, bestRawName = r, c.name
			}
		case "baseline":
			bpsync = r
		}
	}
	for i, c := range cs {
		r := rate(meds[i])
		tgt := ""
		switch {
		case id == "big" && c.kind == "peer" && c.name == bestPeerName:
			tgt = fmt.Sprintf("ferry ≥ 1.3× best peer: %s", yesNo(ferryRate >= 1.3*r))
		case id == "big" && c.kind == "raw" && c.name == bestRawName:
			tgt = fmt.Sprintf("ferry ≥ 0.8× raw pipe: %s", yesNo(ferryRate >= 0.8*r))
		case id == "small" && c.kind == "peer" && c.name == bestPeerName:
			tgt = fmt.Sprintf("ferry ≥ 1.5× best peer: %s", yesNo(ferryRate >= 1.5*r))
		case id == "small" && c.kind == "baseline":
			tgt = fmt.Sprintf("ferry ≥ 3× bpsync-style: %s", yesNo(ferryRate >= 3*r))
		}
		fr := fmt.Sprintf("%.2f×", ferryRate/r)
		s.rows = append(s.rows, []string{c.name, secs(meds[i].Wall), fmt.Sprintf("%.1f", r), fmtBytes(meds[i].MaxRSS), fr, tgt})
	}
	if id == "big" {
		s.targets = append(s.targets,
			target{desc: "Big files: ferry ≥ 1.3× the best peer (" + bestPeerName + ")", met: ferryRate >= 1.3*bestPeer, got: fmt.Sprintf("%.2f×", ferryRate/bestPeer)},
			target{desc: "Big files: ferry ≥ 80% of the raw pipe (" + bestRawName + ")", met: ferryRate >= 0.8*bestRaw, got: fmt.Sprintf("%.0f%%", 100*ferryRate/bestRaw)})
	} else {
		s.targets = append(s.targets,
			target{desc: "Small files: ferry ≥ 3× the bpsync-style baseline", met: ferryRate >= 3*bpsync, got: fmt.Sprintf("%.2f×", ferryRate/bpsync)},
			target{desc: "Small files: ferry ≥ 1.5× the best peer (" + bestPeerName + ")", met: ferryRate >= 1.5*bestPeer, got: fmt.Sprintf("%.2f×", ferryRate/bestPeer)})
	}
	s.notes = append(s.notes, fmt.Sprintf("Wall time is the whole process (ferry: plan with refresh + apply; scripts: every curl, sha256sum and tool process). "+
		"Peak RSS is the largest single process of the run (rusage). Each run writes to a fresh repository; %d run(s), runs interleaved across contenders.", e.sz.runs))
	e.rep.add(s)
	return nil
}

func writeScripts(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, body := range map[string]string{"peer.sh": scriptPeer, "bpsync.sh": scriptBpsync, "rawpipe.sh": scriptRawPipe, "driver.sh": scriptDriver} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// checkTags makes sure a contender really stored one tag per file.
func checkTags(regURL, repo string, files []file) error {
	resp, err := http.Get(regURL + "/v2/" + repo + "/tags/list")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tl struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tl); err != nil {
		return fmt.Errorf("tags of %s: %v", repo, err)
	}
	if len(tl.Tags) != len(files) {
		return fmt.Errorf("repository %s has %d tags, want %d", repo, len(tl.Tags), len(files))
	}
	return nil
}

// planScenario: no-op plans over states of N artifacts, without refresh and
// with refresh against objects that exist in the registry.
func (e *env) planScenario() error {
	fs, reg, stop, err := e.startServers("registry-plan")
	if err != nil {
		return err
	}
	defer stop()
	pdir := filepath.Join(e.work, "data", "plan")
	files, err := genFiles(pdir, "plan", 1, 64, 7)
	if err != nil {
		return err
	}
	one := files[0]
	up := fs.URL + "/plan/" + one.Name
	arts := func(n int) []ferryArtifact {
		a := make([]ferryArtifact, n)
		for i := range a {
			a[i] = ferryArtifact{Name: fmt.Sprintf("p-%07d", i), Key: fmt.Sprintf("p-%07d.bin", i), URL: up, SHA256: one.SHA256, Size: one.Size}
		}
		return a
	}
	const repo = "bench/plan"

	// Populate the registry with the largest refresh size through ferry
	// itself (one blob, M manifests and tags); its state is the template.
	maxRefresh := slices.Max(e.sz.refreshNs)
	popDir := filepath.Join(e.work, "plan-populate")
	if _, err := writeFerryConfig(popDir, reg.Host, repo, arts(maxRefresh)); err != nil {
		return err
	}
	logf("planning: populating the registry with %d artifacts (ferry apply -parallelism 8)", maxRefresh)
	popM, err := run(popDir, nil, e.ferry, "apply", "-auto-approve", "-parallelism", "8")
	if err != nil {
		return err
	}
	popState, err := state.Read(filepath.Join(popDir, "ferry.state.json"))
	if err != nil {
		return err
	}
	tmpl := popState.Mirrors["m"]
	if tmpl == nil || len(tmpl.Artifacts) != maxRefresh {
		return fmt.Errorf("populated state has %d artifacts, want %d", len(tmpl.Artifacts), maxRefresh)
	}
	var proto *state.Artifact
	for _, a := range tmpl.Artifacts {
		proto = a
		break
	}

	// writeState writes a state with artifacts p-0000000 … p-(n-1).
	writeState := func(dir string, n int) error {
		st := state.New("0.1.0")
		st.Serial = 1
		m := st.EnsureMirror("m", tmpl.Source, tmpl.Destination)
		for i := range n {
			a := *proto
			a.Key = fmt.Sprintf("p-%07d.bin", i)
			a.Name = fmt.Sprintf("p-%07d", i)
			if real := tmpl.Artifacts[a.Key]; real != nil {
				a = *real
			}
			m.Artifacts[a.Key] = &a
		}
		b, err := state.Marshal(st)
		if err != nil {
			return err
		}
		return state.WriteFileAtomic(filepath.Join(dir, "ferry.state.json"), b, 0o600)
	}

	s := &section{
		title: "Planning: no-op plan (`ferry plan -detailed-exitcode`, exit 0 required)",
		what: "One http source listing N artifacts (generated `artifact` blocks), one oci destination, a state holding the same N artifacts. " +
			"Without refresh the registry is not contacted; with refresh ferry stats every owned key at the registry " +
			"(GET of each tag's manifest; default parallelism 8). The objects statted exist: the registry was populated by a ferry apply of " +
			strconv.Itoa(maxRefresh) + " artifacts.",
		columns: []string{"Plan", "N artifacts", "Config size", "Median wall", "Artifacts/s", "Peak RSS", "Target"},
	}
	noRefresh := map[int]measurement{}
	for _, n := range e.sz.planNs {
		dir := filepath.Join(e.work, fmt.Sprintf("plan-%d", n))
		hclBytes, err := writeFerryConfig(dir, reg.Host, repo, arts(n))
		if err != nil {
			return err
		}
		if err := writeState(dir, n); err != nil {
			return err
		}
		var ms []measurement
		for r := 0; r < e.sz.runs; r++ {
			logf("planning: -refresh=false, %d artifacts, run %d/%d", n, r+1, e.sz.runs)
			m, err := run(dir, nil, e.ferry, "plan", "-refresh=false", "-detailed-exitcode")
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
		med := median(ms)
		noRefresh[n] = med
		tgt := ""
		if n == 100000 {
			ok := med.Wall < time.Second && med.MaxRSS < 300<<20
			tgt = fmt.Sprintf("< 1 s and < 300 MiB: %s", yesNo(ok))
			s.targets = append(s.targets, target{desc: "No-op plan, 100,000 artifacts, -refresh=false: < 1 s, RSS < 300 MiB",
				met: ok, got: secs(med.Wall) + ", " + fmtBytes(med.MaxRSS)})
		}
		s.rows = append(s.rows, []string{"-refresh=false", strconv.Itoa(n), fmtBytes(hclBytes), secs(med.Wall),
			fmt.Sprintf("%.0f", float64(n)/med.Wall.Seconds()), fmtBytes(med.MaxRSS), tgt})
	}
	for _, n := range e.sz.refreshNs {
		dir := filepath.Join(e.work, fmt.Sprintf("plan-refresh-%d", n))
		hclBytes, err := writeFerryConfig(dir, reg.Host, repo, arts(n))
		if err != nil {
			return err
		}
		if err := writeState(dir, n); err != nil {
			return err
		}
		var ms, base []measurement
		for r := 0; r < e.sz.runs; r++ {
			logf("planning: refresh, %d artifacts, run %d/%d", n, r+1, e.sz.runs)
			m, err := run(dir, nil, e.ferry, "plan", "-detailed-exitcode")
			if err != nil {
				return err
			}
			ms = append(ms, m)
			b, err := run(dir, nil, e.ferry, "plan", "-refresh=false", "-detailed-exitcode")
			if err != nil {
				return err
			}
			base = append(base, b)
		}
		// The registry's own limit for these stats: one curl process
		// fetching every manifest, 8 transfers in parallel (curl -Z).
		curlCfg := filepath.Join(dir, "urls.curl")
		var cb strings.Builder
		for i := range n {
			fmt.Fprintf(&cb, "url = \"%s/v2/%s/manifests/p-%07d.bin\"\noutput = \"/dev/null\"\n", reg.URL, repo, i)
		}
		if err := os.WriteFile(curlCfg, []byte(cb.String()), 0o644); err != nil {
			return err
		}
		var raw []measurement
		for r := 0; r < e.sz.runs; r++ {
			m, err := run(dir, nil, "curl", "-sSf", "-Z", "--parallel-max", "8", "-H", "Accept: application/vnd.oci.image.manifest.v1+json", "-K", curlCfg)
			if err != nil {
				return err
			}
			raw = append(raw, m)
		}
		rawMed := median(raw)
		med, bmed := median(ms), median(base)
		rate := float64(n) / med.Wall.Seconds()
		net := float64(n) / (med.Wall - bmed.Wall).Seconds()
		tgt := ""
		if n == maxRefresh {
			tgt = fmt.Sprintf("≥ 2,000 stats/s: %s", yesNo(rate >= 2000))
			s.targets = append(s.targets, target{desc: fmt.Sprintf("Refreshing plan against the registry (%d existing objects): ≥ 2,000 stats/s", n),
				met: rate >= 2000, got: fmt.Sprintf("%.0f/s whole process (%.0f/s net of the no-refresh plan)", rate, net)})
		}
		s.rows = append(s.rows, []string{"refresh (stat each object)", strconv.Itoa(n), fmtBytes(hclBytes), secs(med.Wall),
			fmt.Sprintf("%.0f (net of config load: %.0f)", rate, net), fmtBytes(med.MaxRSS), tgt})
		s.rows = append(s.rows, []string{"raw: curl -Z --parallel-max 8, GET each manifest", strconv.Itoa(n), "", secs(rawMed.Wall),
			fmt.Sprintf("%.0f", float64(n)/rawMed.Wall.Seconds()), fmtBytes(rawMed.MaxRSS), ""})
	}
	s.notes = append(s.notes, fmt.Sprintf("Populating the registry (first apply of %d artifacts, one shared 64-byte blob): %s, %.0f artifacts/s, peak RSS %s.",
		maxRefresh, secs(popM.Wall), float64(maxRefresh)/popM.Wall.Seconds(), fmtBytes(popM.MaxRSS)))
	keys := slices.Collect(func(yield func(int) bool) {
		for k := range noRefresh {
			if !yield(k) {
				return
			}
		}
	})
	sort.Ints(keys)
	if len(keys) >= 2 {
		a, b := noRefresh[keys[0]], noRefresh[keys[len(keys)-1]]
		s.notes = append(s.notes, fmt.Sprintf("Growth without refresh from %d to %d artifacts (×%d): wall ×%.1f, peak RSS ×%.1f.",
			keys[0], keys[len(keys)-1], keys[len(keys)-1]/keys[0], b.Wall.Seconds()/a.Wall.Seconds(), float64(b.MaxRSS)/float64(a.MaxRSS)))
	}
	e.rep.add(s)
	return nil
}

// startServers starts the file server over the work directory's data and a
// fresh registry storing under regDir (relative to the work directory);
// stop stops both.
func (e *env) startServers(regDir string) (*fileServer, *registry, func(), error) {
	fs, err := startFileServer(filepath.Join(e.work, "data"))
	if err != nil {
		return nil, nil, nil, err
	}
	reg, err := startRegistry(filepath.Join(e.work, regDir))
	if err != nil {
		fs.Close()
		return nil, nil, nil, err
	}
	return fs, reg, func() { reg.Close(); fs.Close() }, nil
}

// memoryScenario: one big artifact, peak RSS of ferry apply.
func (e *env) memoryScenario() error {
	size := e.sz.memSize
	dataDir := filepath.Join(e.work, "data", "mem")
	logf("memory: generating 1 × %s", fmtBytes(size))
	files, err := genFiles(dataDir, "mem", 1, size, 3)
	if err != nil {
		return err
	}
	fs, reg, stop, err := e.startServers("registry-mem")
	if err != nil {
		return err
	}
	defer stop()
	if err := warm(dataDir, files); err != nil {
		return err
	}
	var ms []measurement
	for r := 1; r <= e.sz.runs; r++ {
		dir := filepath.Join(e.work, fmt.Sprintf("ferry-mem-%d", r))
		repo := fmt.Sprintf("bench/mem-%d", r)
		if _, err := writeFerryConfig(dir, reg.Host, repo, artifactsFor(files, fs.URL+"/mem")); err != nil {
			return err
		}
		logf("memory: ferry apply, run %d/%d", r, e.sz.runs)
		m, err := run(dir, nil, e.ferry, "apply", "-auto-approve")
		if err != nil {
			return err
		}
		if err := checkTags(reg.URL, repo, files); err != nil {
			return err
		}
		ms = append(ms, m)
		os.RemoveAll(dir)
	}
	med := median(ms)
	ok := med.MaxRSS < 64<<20
	s := &section{
		title:   fmt.Sprintf("Memory: one %s artifact, 127.0.0.1 HTTP → docker-registry", fmtBytes(files[0].Size)),
		columns: []string{"Contender", "Median wall", "MiB/s", "Peak RSS", "Target"},
		rows: [][]string{{"ferry apply", secs(med.Wall), fmt.Sprintf("%.1f", mibps(files[0].Size, med.Wall)), fmtBytes(med.MaxRSS),
			fmt.Sprintf("< 64 MiB: %s", yesNo(ok))}},
	}
	desc := fmt.Sprintf("One %s artifact mirrored with peak RSS < 64 MiB", fmtBytes(files[0].Size))
	s.targets = append(s.targets, target{desc: desc, met: ok, got: fmtBytes(med.MaxRSS)})
	e.rep.add(s)
	return nil
}

// reapplyScenario: apply, then apply again; bytes on the wire counted by
// the file server (upstream) and a counting proxy in front of the registry.
func (e *env) reapplyScenario() error {
	dataDir := filepath.Join(e.work, "data", "big")
	files, err := genFiles(dataDir, "big", e.sz.reapplyN, e.sz.reapplySize, uint64(len("big")))
	if err != nil {
		return err
	}
	fs, reg, stop, err := e.startServers("registry-reapply")
	if err != nil {
		return err
	}
	defer stop()
	proxy, err := startCountingProxy(reg.URL)
	if err != nil {
		return err
	}
	defer proxy.Close()
	dir := filepath.Join(e.work, "ferry-reapply")
	if _, err := writeFerryConfig(dir, proxy.Host, "bench/reapply", artifactsFor(files, fs.URL+"/big")); err != nil {
		return err
	}
	s := &section{
		title: fmt.Sprintf("Re-apply after success: %d × %s", len(files), fmtBytes(e.sz.reapplySize)),
		what: "Bytes counted on the wire: response bodies sent by the upstream file server, and request bodies (uploads) " +
			"and response bodies (manifests read by the refresh) through a counting reverse proxy in front of the registry.",
		columns: []string{"Step", "Wall", "Upstream bytes sent", "Registry: bytes uploaded", "Registry: bytes read", "Registry requests (writes)"},
	}
	var second [3]int64
	for step, name := range []string{"ferry apply (first)", "ferry apply (again)"} {
		u0, s0, r0, q0, w0 := fs.bytes.Load(), proxy.sent.Load(), proxy.recv.Load(), proxy.reqs.Load(), proxy.uploads.Load()
		logf("re-apply: %s", name)
		m, err := run(dir, nil, e.ferry, "apply", "-auto-approve")
		if err != nil {
			return err
		}
		u, sent, recv, q, w := fs.bytes.Load()-u0, proxy.sent.Load()-s0, proxy.recv.Load()-r0, proxy.reqs.Load()-q0, proxy.uploads.Load()-w0
		s.rows = append(s.rows, []string{name, secs(m.Wall), strconv.FormatInt(u, 10), strconv.FormatInt(sent, 10), strconv.FormatInt(recv, 10), fmt.Sprintf("%d (%d)", q, w)})
		if step == 1 {
			second = [3]int64{u, sent, w}
		}
	}
	ok := second[0] == 0 && second[1] == 0 && second[2] == 0
	s.targets = append(s.targets, target{desc: "Re-apply after success transfers 0 artifact bytes",
		met: ok, got: fmt.Sprintf("%d B from upstream, %d B uploaded, %d write requests", second[0], second[1], second[2])})
	e.rep.add(s)
	return nil
}
