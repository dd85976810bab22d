package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
)

// condaRecord is one repodata record, its fields in the order conda's
// indexer writes them (sorted).
type condaRecord struct {
	Build       string   `json:"build"`
	BuildNumber int      `json:"build_number"`
	Depends     []string `json:"depends"`
	License     string   `json:"license"`
	MD5         string   `json:"md5"`
	Name        string   `json:"name"`
	Noarch      string   `json:"noarch,omitempty"`
	SHA256      string   `json:"sha256"`
	Size        int64    `json:"size"`
	Subdir      string   `json:"subdir"`
	Timestamp   int64    `json:"timestamp"`
	Version     string   `json:"version"`
}

type condaRepodata struct {
	Info struct {
		Subdir string `json:"subdir"`
	} `json:"info"`
	Packages        map[string]condaRecord `json:"packages"`
	PackagesConda   map[string]condaRecord `json:"packages.conda"`
	Removed         []string               `json:"removed"`
	RepodataVersion int                    `json:"repodata_version"`
}

// condaChannel describes a generated channel.
type condaChannel struct {
	records    int   // linux-64 + noarch
	names      int   // package names
	indexBytes int64 // both repodata.json files
}

// Families of generated package names: NAME = FAMILY + 3 digits. Every
// fifth name is a noarch python package; the rest live in linux-64.
var condaFamilies = []string{"lib", "py-", "tool-", "r-", "py-"}

var condaLicenses = []string{"MIT", "BSD-3-Clause", "Apache-2.0", "MIT", "BSD-3-Clause", "Apache-2.0", "MPL-2.0", "LGPL-2.1-or-later", "GPL-3.0-or-later", "Zlib"}

// genCondaChannel writes dir/{linux-64,noarch}/repodata.json with n records
// in all (about 20 per package name), deterministically: several versions
// per name (pre-releases among them), one or two build numbers, python
// variants for linux-64 python packages, .conda and .tar.bz2 files,
// depends between the names, licenses (some GPL, which the scenario
// excludes), random digests and sizes. The package files themselves are
// not written: planning reads only the indexes (and stats the
// destination).
func genCondaChannel(dir string, n int, seed uint64) (condaChannel, error) {
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'c', 'o', 'n', 'd', 'a'}))
	hexN := func(nbytes int) string {
		b := make([]byte, nbytes)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return hex.EncodeToString(b)
	}
	names := max(n/20, 1)
	nameOf := func(i int) string { return fmt.Sprintf("%s%03d", condaFamilies[i%len(condaFamilies)], i) }
	noarch := func(i int) bool { return i%len(condaFamilies) == len(condaFamilies)-1 }
	repos := map[string]*condaRepodata{}
	for _, sd := range []string{"linux-64", "noarch"} {
		rd := &condaRepodata{Packages: map[string]condaRecord{}, PackagesConda: map[string]condaRecord{}, Removed: []string{}, RepodataVersion: 1}
		rd.Info.Subdir = sd
		repos[sd] = rd
	}
	for r := range n {
		i, c := r%names, r/names // name index; the name's c-th record
		name := nameOf(i)
		sd := "linux-64"
		if noarch(i) {
			sd = "noarch"
		}
		// Versions rise with c, two records (build numbers 0 and 1, or
		// the python variants) per version, some pre-releases.
		version := fmt.Sprintf("%d.%d.%d", 1+c/8, (c/2)%4, i%3)
		if c%7 == 5 {
			version += "rc1"
		}
		bn := c % 2
		build := fmt.Sprintf("h%s_%d", hexN(4), bn)
		if name[:3] == "py-" && sd == "linux-64" {
			build = fmt.Sprintf("py3%dh%s_%d", 11+c%2, hexN(4), 0)
			bn = 0
		}
		if sd == "noarch" {
			build = fmt.Sprintf("pyh%s_%d", hexN(4), bn)
		}
		var deps []string
		if name[:3] == "py-" {
			deps = append(deps, "python >=3.11,<3.13")
		}
		for range rng.IntN(4) {
			j := rng.IntN(names)
			if !noarch(j) && j != i {
				deps = append(deps, fmt.Sprintf("%s >=%d.0", nameOf(j), 1+rng.IntN(2)))
			}
		}
		rec := condaRecord{
			Build: build, BuildNumber: bn, Depends: deps, License: condaLicenses[rng.IntN(len(condaLicenses))],
			MD5: hexN(16), Name: name, SHA256: hexN(32), Size: 10<<10 + rng.Int64N(50<<20),
			Subdir: sd, Timestamp: 1700000000000 + int64(r)*60000, Version: version,
		}
		if rec.Depends == nil {
			rec.Depends = []string{}
		}
		if sd == "noarch" {
			rec.Noarch = "python"
		}
		fn := name + "-" + version + "-" + build
		if rng.IntN(10) < 6 {
			repos[sd].PackagesConda[fn+".conda"] = rec
		} else {
			repos[sd].Packages[fn+".tar.bz2"] = rec
		}
	}
	ch := condaChannel{records: n, names: names}
	for sd, rd := range repos {
		b, err := json.MarshalIndent(rd, "", "  ")
		if err != nil {
			return ch, err
		}
		if err := os.MkdirAll(filepath.Join(dir, sd), 0o755); err != nil {
			return ch, err
		}
		if err := os.WriteFile(filepath.Join(dir, sd, "repodata.json"), b, 0o644); err != nil {
			return ch, err
		}
		ch.indexBytes += int64(len(b))
	}
	return ch, nil
}

// condaFilter is the selection the scenario plans: MatchSpec globs with
// a version spec and a bracket key, an exclude by license, latest = 2.
const condaFilter = `  include = ["lib*", "py-* >=1.1", "tool-*[license=MIT]", "r-0[build_number=1]"]
  exclude = ["*[license=GPL*]"]
  latest  = 2
`

func writeCondaConfig(dir, channel string) error {
	if err := os.MkdirAll(filepath.Join(dir, "channel"), 0o755); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`ferry {
  state = "ferry.state.json"
}

source "conda" "up" {
  channel = %q
  subdirs = ["linux-64"]
%s}

destination "dir" "channel" {
  path = "channel"
}

mirror "conda" {
  from = source.conda.up
  to   = destination.dir.channel
}
`, channel, condaFilter)
	return os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644)
}

// scriptCondaRaw is the raw limit of reading a channel: download both
// indexes with one curl and parse them with jq (counting the records).
// No selection, no version order, no destination.
const scriptCondaRaw = `set -euo pipefail
curl -sSf "$UP/linux-64/repodata.json" "$UP/noarch/repodata.json" |
  jq -s 'map((.packages | length) + (.["packages.conda"] | length)) | add' >/dev/null
`

var planSummary = regexp.MustCompile(`Plan: (\d+) to add`)

// condaScenario: a generated conda channel on the file server, filtered
// and planned into an empty dir destination.
func (e *env) condaScenario() error {
	if _, err := exec.LookPath("jq"); err != nil {
		return fmt.Errorf("jq is missing (Debian: apt-get install -y jq)")
	}
	const id = "conda-channel"
	chDir := filepath.Join(e.work, "data", id)
	logf("conda: generating a channel of %d records", e.sz.condaN)
	ch, err := genCondaChannel(chDir, e.sz.condaN, 13)
	if err != nil {
		return err
	}
	fs, err := startFileServer(filepath.Join(e.work, "data"))
	if err != nil {
		return err
	}
	defer fs.Close()
	up := fs.URL + "/" + id
	scripts := filepath.Join(e.work, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		return err
	}
	rawScript := filepath.Join(scripts, "conda-raw.sh")
	if err := os.WriteFile(rawScript, []byte(scriptCondaRaw), 0o755); err != nil {
		return err
	}

	// One untimed plan first: it must succeed and select something; its
	// summary line gives the count for the report.
	dir := filepath.Join(e.work, "conda-plan-check")
	if err := writeCondaConfig(dir, up); err != nil {
		return err
	}
	reqs0 := fs.reqs.Load()
	out, err := exec.Command(e.ferry, "-chdir", dir, "plan").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ferry plan: %v\n%s", err, out)
	}
	// Planning reads the indexes only (for each subdir at most
	// repodata.json.zst, .bz2 and .json); the package files do not exist.
	reqs := fs.reqs.Load() - reqs0
	if reqs > 6 {
		return fmt.Errorf("ferry plan made %d requests to the channel, want at most 6 (the indexes)", reqs)
	}
	m := planSummary.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("ferry plan printed no summary line:\n%s", out)
	}
	selected, _ := strconv.Atoi(string(m[1]))
	if selected == 0 || selected >= ch.records {
		return fmt.Errorf("ferry plan selects %d of %d records: the filter should select some, not all", selected, ch.records)
	}
	os.RemoveAll(dir)

	type contender struct {
		name string
		argv func(run int) (dir string, env []string, argv []string, ok []int, err error)
	}
	cs := []contender{
		{name: "ferry plan (include + exclude + latest = 2, refresh)", argv: func(run int) (string, []string, []string, []int, error) {
			dir := filepath.Join(e.work, fmt.Sprintf("conda-plan-%d", run))
			os.RemoveAll(dir)
			// Exit 2: the plan has changes (every selected package to add).
			return dir, nil, []string{e.ferry, "plan", "-detailed-exitcode"}, []int{2}, writeCondaConfig(dir, up)
		}},
		{name: "raw: one curl downloading both indexes, jq parsing them", argv: func(int) (string, []string, []string, []int, error) {
			return e.work, []string{"UP=" + up}, []string{"bash", rawScript}, []int{0}, nil
		}},
		{name: "raw: one curl downloading both indexes (no parse)", argv: func(int) (string, []string, []string, []int, error) {
			return e.work, nil, []string{"curl", "-sSf", "-o", "/dev/null", "-o", "/dev/null", up + "/linux-64/repodata.json", up + "/noarch/repodata.json"}, []int{0}, nil
		}},
	}
	load0 := loadAvg()
	results := make([][]measurement, len(cs))
	for rn := 1; rn <= e.sz.runs; rn++ {
		for i, c := range cs {
			dir, cenv, argv, ok, err := c.argv(rn)
			if err != nil {
				return err
			}
			logf("conda run %d/%d: %s", rn, e.sz.runs, c.name)
			m, err := runExpect(dir, cenv, ok, argv[0], argv[1:]...)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			results[i] = append(results[i], m)
		}
	}
	s := &section{
		title: fmt.Sprintf("Conda: a %d-record channel filtered and planned, 127.0.0.1 HTTP → empty dir", ch.records),
		what: fmt.Sprintf("A generated channel (%d package names, linux-64 and noarch `repodata.json`, %s in all) served by the file server; "+
			"`include` (name globs, a version spec, bracket keys), `exclude` by license, `latest = 2`; "+
			"ferry plans %d packages to add into an empty `dir` destination (a stat of each, and the channel index outputs), "+
			"with %d requests to the channel (the indexes: `.zst` and `.bz2` are tried first and absent).",
			ch.names, fmtBytes(ch.indexBytes), selected, reqs),
		columns: []string{"Contender", "Median wall", "Records/s", "Peak RSS", "CPU (user + sys)", "ferry ÷ contender"},
	}
	meds := make([]measurement, len(cs))
	for i := range cs {
		meds[i] = median(results[i])
	}
	for i, c := range cs {
		s.rows = append(s.rows, []string{c.name, secs(meds[i].Wall), fmt.Sprintf("%.0f", float64(ch.records)/meds[i].Wall.Seconds()),
			fmtBytes(meds[i].MaxRSS), secs(meds[i].CPU), fmt.Sprintf("%.2f×", meds[i].Wall.Seconds()/meds[0].Wall.Seconds())})
	}
	s.notes = append(s.notes, fmt.Sprintf("Records/s counts every record of the channel (%d), read by each contender. "+
		"ferry's figure is the whole process: configuration, both indexes downloaded and parsed, selection in conda's version order, "+
		"the destination refreshed, the plan printed. No peer mirror tool is installable here; the raw lines are the floor. %d run(s), runs interleaved.",
		ch.records, e.sz.runs))
	s.notes = append(s.notes, fmt.Sprintf("Load average (1, 5, 15 min) before the runs: %s; after: %s.", load0, loadAvg()))
	e.rep.add(s)
	return nil
}
