package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ferry-mirror/ferry/providers/oci"
	"github.com/ferry-mirror/ferry/state"
)

// refreshOCIScenario: refreshing plans (`ferry plan`, refresh on) over N
// owned keys of one OCI repository, the registry holding all of them
// (no-op plan) or a tenth (the plan puts the other nine tenths back). The
// refresh lists the repository's tags once, so a key absent from the
// listing costs no request, and reads the manifest of each key present
// (a tags list carries no digests). Side by side: ferry's whole-process
// time and its requests to the registry (through a counting proxy), and
// one curl GET per manifest, which is what a stat per key costs (ferry
// before the tags list); with BENCH_FERRY_BASELINE=PATH (a ferry binary
// built before the change) that binary runs the same plans.
func (e *env) refreshOCIScenario() error {
	n := 200
	if *sizeFlag == "full" {
		n = 5000
	}
	fs, reg, stop, err := e.startServers("registry-refreshoci")
	if err != nil {
		return err
	}
	defer stop()
	proxy, err := startCountingProxy(reg.URL)
	if err != nil {
		return err
	}
	defer proxy.Close()
	files, err := genFiles(filepath.Join(e.work, "data", "refreshoci"), "refreshoci", 1, 64, 11)
	if err != nil {
		return err
	}
	one := files[0]
	up := fs.URL + "/refreshoci/" + one.Name
	key := func(i int) string { return fmt.Sprintf("r/%07d/file.bin", i) }
	arts := func(keys []string) []ferryArtifact {
		a := make([]ferryArtifact, len(keys))
		for i, k := range keys {
			a[i] = ferryArtifact{Name: strings.ReplaceAll(k, "/", "-"), Key: k, URL: up, SHA256: one.SHA256, Size: one.Size}
		}
		return a
	}
	const repo = "bench/refresh"

	// Populate: N/10 keys through ferry itself (the "present" tenth); the
	// all-present case gets its own repository of N.
	type ferryCase struct {
		name    string
		repo    string
		present int
	}
	cases := []ferryCase{
		{name: "all present (no-op plan)", repo: repo + "-all", present: n},
		{name: "a tenth present (9/10 to add)", repo: repo + "-tenth", present: n / 10},
	}
	all := make([]string, n)
	for i := range all {
		all[i] = key(i)
	}
	s := &section{
		title: "Refresh by listing: OCI destination (`ferry plan` with refresh, N owned keys)",
		what: fmt.Sprintf("One http source listing N = %d artifacts, one oci destination (docker-registry 2.8, which answers a tags list in one page), "+
			"a state owning all N. ferry lists the repository's tags once (GET /v2/<repo>/tags/list, n = 1000, Link paging), "+
			"reads the manifest of each key whose tag is listed, and makes no request for the others. "+
			"\"curl GET each manifest\" is the request pattern of a stat per key (ferry before the listing): one curl process, 8 transfers in parallel. "+
			"Requests are counted by a proxy in front of the registry.", n),
		columns: []string{"Plan", "Keys present", "Median wall", "Requests to the registry", "Peak RSS"},
	}
	baseline := os.Getenv("BENCH_FERRY_BASELINE")
	for _, c := range cases {
		pop := filepath.Join(e.work, "refreshoci-populate-"+strconv.Itoa(c.present))
		if _, err := writeFerryConfig(pop, proxy.Host, c.repo, arts(all[:c.present])); err != nil {
			return err
		}
		logf("refreshoci: populating %s with %d artifacts", c.repo, c.present)
		if _, err := run(pop, nil, e.ferry, "apply", "-auto-approve", "-parallelism", "8"); err != nil {
			return err
		}
		popState, err := state.Read(filepath.Join(pop, "ferry.state.json"))
		if err != nil {
			return err
		}
		tmpl := popState.Mirrors["m"]
		if tmpl == nil || len(tmpl.Artifacts) != c.present {
			return fmt.Errorf("populated state of %s has %d artifacts, want %d", c.repo, len(tmpl.Artifacts), c.present)
		}
		var proto *state.Artifact
		for _, a := range tmpl.Artifacts {
			proto = a
			break
		}
		// The plan's directory: all N keys configured and owned.
		dir := filepath.Join(e.work, "refreshoci-"+strconv.Itoa(c.present))
		if _, err := writeFerryConfig(dir, proxy.Host, c.repo, arts(all)); err != nil {
			return err
		}
		st := state.New("0.1.0")
		st.Serial = 1
		m := st.EnsureMirror("m", tmpl.Source, tmpl.Destination)
		for _, k := range all {
			a := *proto
			a.Key, a.Name = k, strings.ReplaceAll(k, "/", "-")
			m.Artifacts[k] = &a
		}
		b, err := state.Marshal(st)
		if err != nil {
			return err
		}
		if err := state.WriteFileAtomic(filepath.Join(dir, "ferry.state.json"), b, 0o600); err != nil {
			return err
		}
		wantCode, wantOut := 0, "No changes."
		if c.present < n {
			wantCode, wantOut = 2, fmt.Sprintf("Plan: %d to add, 0 to replace, 0 to delete.", n-c.present)
		}
		plan := func(bin string) (measurement, int64, error) {
			var ms []measurement
			var reqs int64
			for r := 0; r < e.sz.runs; r++ {
				logf("refreshoci: %s, %s, run %d/%d", filepath.Base(bin), c.name, r+1, e.sz.runs)
				before := proxy.reqs.Load()
				out := filepath.Join(dir, "plan.out")
				m, err := runExpect(dir, nil, []int{wantCode}, "bash", "-c", `"$0" plan -detailed-exitcode >"$1" 2>&1; rc=$?; exit $rc`, bin, out)
				if err != nil {
					return m, 0, err
				}
				text, _ := os.ReadFile(out)
				if !strings.Contains(string(text), wantOut) {
					return m, 0, fmt.Errorf("%s plan over %s: output lacks %q:\n%s", bin, c.name, wantOut, text)
				}
				reqs = proxy.reqs.Load() - before
				ms = append(ms, m)
			}
			return median(ms), reqs, nil
		}
		med, reqs, err := plan(e.ferry)
		if err != nil {
			return err
		}
		s.rows = append(s.rows, []string{"ferry (tags list), " + c.name, fmt.Sprintf("%d of %d", c.present, n), secs(med.Wall),
			strconv.FormatInt(reqs, 10), fmtBytes(med.MaxRSS)})
		if baseline != "" {
			bmed, breqs, err := plan(baseline)
			if err != nil {
				return err
			}
			s.rows = append(s.rows, []string{"ferry before (stat per key), " + c.name, fmt.Sprintf("%d of %d", c.present, n), secs(bmed.Wall),
				strconv.FormatInt(breqs, 10), fmtBytes(bmed.MaxRSS)})
		}
	}
	// The raw cost of a stat per key: GET every configured manifest.
	curlCfg := filepath.Join(e.work, "refreshoci-urls.curl")
	var cb strings.Builder
	for _, k := range all {
		fmt.Fprintf(&cb, "url = \"%s/v2/%s/manifests/%s\"\noutput = \"/dev/null\"\n", reg.URL, cases[1].repo, oci.Tag(k))
	}
	if err := os.WriteFile(curlCfg, []byte(cb.String()), 0o644); err != nil {
		return err
	}
	var raw []measurement
	for r := 0; r < e.sz.runs; r++ {
		// Nine tenths answer 404: curl without -f.
		m, err := run(e.work, nil, "curl", "-sS", "-Z", "--parallel-max", "8", "-H", "Accept: application/vnd.oci.image.manifest.v1+json", "-K", curlCfg)
		if err != nil {
			return err
		}
		raw = append(raw, m)
	}
	rawMed := median(raw)
	s.rows = append(s.rows, []string{"raw: curl GET each manifest (a stat per key)", fmt.Sprintf("%d of %d", n/10, n), secs(rawMed.Wall),
		strconv.Itoa(n), fmtBytes(rawMed.MaxRSS)})
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		s.notes = append(s.notes, "Load average at the end (/proc/loadavg): "+strings.TrimSpace(string(la))+".")
	}
	e.rep.add(s)
	return nil
}
