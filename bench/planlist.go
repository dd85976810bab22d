package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// planListNs are the list sizes of the planlist scenario: 1k and 10k at
// -size small, 10k, 100k and 1M at -size full.
func planListNs(size string) []int {
	if size == "full" {
		return []int{10000, 100000, 1000000}
	}
	return []int{1000, 10000}
}

// planListArtifact is row i of a generated list: ten versions per name,
// like a package mirror, each with its own digest.
func planListArtifact(i int) (name, version, url, sha string, size int64, published time.Time) {
	name = fmt.Sprintf("pkg-%06d", i/10)
	version = fmt.Sprintf("1.%d.0", i%10)
	url = fmt.Sprintf("https://files.example.org/%s/%s-%s.tar.gz", name, name, version)
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(i))
	sum := sha256.Sum256(seed[:])
	sha = hex.EncodeToString(sum[:])
	size = 1000 + int64(i%9000)
	published = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	return
}

// writePlanList writes into dir a configuration whose http source reads n
// artifacts from artifacts.FORMAT (format "jsonl" or "csv"), that list,
// and a state in which ferry already mirrored every one of them into a dir
// destination: `ferry plan -refresh=false` there is a no-op. It returns
// the sizes of the list and of the state file.
func writePlanList(dir string, n int, format string) (listBytes, stateBytes int64, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	cfg := fmt.Sprintf(`ferry {
  state = "ferry.state.json"
}

source "http" "up" {
  artifacts_file = "artifacts.%s"
}

destination "dir" "local" {
  path = "mirror"
}

mirror "m" {
  from = source.http.up
  to   = destination.dir.local
}
`, format)
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
		return 0, 0, err
	}
	listBytes, err = writeFileWith(filepath.Join(dir, "artifacts."+format), func(w io.Writer) error {
		if format == "csv" {
			fmt.Fprintln(w, "name,version,url,sha256,size,published")
		}
		for i := range n {
			name, version, url, sha, size, pub := planListArtifact(i)
			var err error
			if format == "csv" {
				_, err = fmt.Fprintf(w, "%s,%s,%s,%s,%d,%s\n", name, version, url, sha, size, pub.Format(time.RFC3339))
			} else {
				_, err = fmt.Fprintf(w, `{"name":%q,"version":%q,"url":%q,"sha256":%q,"size":%d,"published":%q}`+"\n",
					name, version, url, sha, size, pub.Format(time.RFC3339))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	stateBytes, err = writeFileWith(filepath.Join(dir, "ferry.state.json"), func(w io.Writer) error {
		return writePlanListState(w, n)
	})
	return listBytes, stateBytes, err
}

// writePlanListState streams a state as ferry writes it (indented, keys
// sorted) with the n artifacts of the list, each recorded as apply
// records an http artifact. Streaming keeps the harness small at 1M.
func writePlanListState(w io.Writer, n int) error {
	head := struct {
		Version     int    `json:"version"`
		ToolVersion string `json:"tool_version"`
		Serial      uint64 `json:"serial"`
		Lineage     string `json:"lineage"`
	}{state.FormatVersion, "0.1.0", 1, "7b0c6a57-6f0e-4a43-9d8e-0d1c2b3a4f5e"}
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	// Reopen the header object to append the mirrors.
	fmt.Fprintf(w, "%s,\n  \"mirrors\": {\n    \"m\": {\n      \"source\": \"http.up\",\n      \"destination\": \"dir.local\",\n      \"artifacts\": {\n", b[:len(b)-2])
	added := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		name, version, url, sha, size, pub := planListArtifact(i)
		d := providers.Digests{{Algorithm: providers.SHA256, Hex: sha}}
		key := name + "/" + version + "/" + filepath.Base(url)
		a := state.Artifact{Key: key, Name: name, Version: version, Size: size, Digests: d, SourceDigests: d,
			Created: pub, AddedAt: added, VerifiedAt: added, Origin: url}
		b, err := json.MarshalIndent(a, "        ", "  ")
		if err != nil {
			return err
		}
		sep := ","
		if i == n-1 {
			sep = ""
		}
		if _, err := fmt.Fprintf(w, "        %s: %s%s\n", strconv.Quote(key), b, sep); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "      }\n    }\n  }\n}\n")
	return err
}

// writeFileWith writes path through a buffer and returns its size.
func writeFileWith(path string, fill func(io.Writer) error) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	cw := &countW{}
	bw := bufio.NewWriterSize(io.MultiWriter(f, cw), 1<<20)
	if err := fill(bw); err != nil {
		f.Close()
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return cw.n, f.Close()
}

// planListScenario: no-op plans (`ferry plan -refresh=false
// -detailed-exitcode`, exit 0 required) of an http source reading its
// artifacts from a list file, JSON Lines and CSV, against a state that
// holds the same artifacts.
func (e *env) planListScenario() error {
	ns := planListNs(*sizeFlag)
	s := &section{
		title: "Issue #16: no-op plan from an artifacts_file (`ferry plan -refresh=false -detailed-exitcode`, exit 0 required)",
		what: "One http source reading N artifacts from `artifacts_file` (ten versions per name, each with name, version, url, sha256, size, published), " +
			"one dir destination (not contacted without refresh), and a state in which ferry mirrored all N. " +
			"Plan phase is `ferry_plan_duration_seconds` from `-metrics-file` (listing the source and planning, in the process); " +
			"state decode is the CPU time (user + system, all threads) of `state.Read` of the same file in the harness: steadier than wall time on a loaded machine.",
		columns: []string{"Format", "N artifacts", "List size", "State size", "Median wall", "Artifacts/s", "Peak RSS", "CPU", "Plan phase", "State decode (CPU)", "Target"},
	}
	type result struct {
		m            measurement
		plan, decode time.Duration
	}
	for _, format := range []string{"jsonl", "csv"} {
		res := map[int]result{}
		for _, n := range ns {
			dir := filepath.Join(e.work, fmt.Sprintf("planlist-%s-%d", format, n))
			logf("planlist: generating %d artifacts (%s)", n, format)
			listBytes, stateBytes, err := writePlanList(dir, n, format)
			if err != nil {
				return err
			}
			var ms []measurement
			var plans []time.Duration
			for r := 0; r < e.sz.runs; r++ {
				logf("planlist: %s, %d artifacts, run %d/%d (load %s)", format, n, r+1, e.sz.runs, loadAvg())
				metrics := filepath.Join(dir, "metrics.prom")
				m, err := run(dir, nil, e.ferry, "plan", "-refresh=false", "-detailed-exitcode", "-metrics-file", metrics)
				if err != nil {
					return err
				}
				ms = append(ms, m)
				d, err := planSeconds(metrics)
				if err != nil {
					return err
				}
				plans = append(plans, d)
			}
			var decodes []time.Duration
			for r := 0; r < e.sz.runs; r++ {
				runtime.GC() // the previous run's garbage is not this one's
				start := selfCPU()
				st, err := state.Read(filepath.Join(dir, "ferry.state.json"))
				if err != nil {
					return err
				}
				decodes = append(decodes, selfCPU()-start)
				if got := st.ArtifactCount(); got != n {
					return fmt.Errorf("generated state holds %d artifacts, want %d", got, n)
				}
			}
			med := median(ms)
			r := result{m: med, plan: medianDuration(plans), decode: medianDuration(decodes)}
			res[n] = r
			tgt := ""
			if n == 100000 {
				ok := med.Wall < time.Second && med.MaxRSS < 300<<20
				tgt = fmt.Sprintf("< 1 s and < 300 MiB: %s", yesNo(ok))
				s.targets = append(s.targets, target{desc: fmt.Sprintf("No-op plan from a %s artifacts_file, 100,000 artifacts, -refresh=false: < 1 s, RSS < 300 MiB", format),
					met: ok, got: fmt.Sprintf("%s, %s (load %s)", secs(med.Wall), fmtBytes(med.MaxRSS), loadAvg())})
			}
			s.rows = append(s.rows, []string{format, strconv.Itoa(n), fmtBytes(listBytes), fmtBytes(stateBytes), secs(med.Wall),
				fmt.Sprintf("%.0f", float64(n)/med.Wall.Seconds()), fmtBytes(med.MaxRSS), secs(med.CPU), secs(r.plan), secs(r.decode), tgt})
			os.RemoveAll(dir)
		}
		for i := 1; i < len(ns); i++ {
			a, b := res[ns[i-1]], res[ns[i]]
			s.notes = append(s.notes, fmt.Sprintf("Growth %s from %d to %d artifacts (×%d): wall ×%.1f, peak RSS ×%.1f, CPU ×%.1f, plan phase ×%.1f, state decode ×%.1f.",
				format, ns[i-1], ns[i], ns[i]/ns[i-1], b.m.Wall.Seconds()/a.m.Wall.Seconds(), float64(b.m.MaxRSS)/float64(a.m.MaxRSS),
				b.m.CPU.Seconds()/max(a.m.CPU.Seconds(), 0.001), b.plan.Seconds()/max(a.plan.Seconds(), 1e-6), b.decode.Seconds()/max(a.decode.Seconds(), 1e-6)))
		}
	}
	s.notes = append(s.notes, "Load average after the scenario (1, 5, 15 min): "+loadAvg()+".")
	e.rep.add(s)
	return nil
}

// selfCPU is the CPU time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// planSeconds reads ferry_plan_duration_seconds_sum from a metrics file
// written by -metrics-file.
func planSeconds(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "ferry_plan_duration_seconds_sum "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %q: %v", path, l, err)
			}
			return time.Duration(f * float64(time.Second)), nil
		}
	}
	return 0, fmt.Errorf("%s: no ferry_plan_duration_seconds_sum", path)
}
