package metrics_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferry-mirror/ferry/cmd/ferry/internal/metrics"
	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/state"
)

func change(mirror, key string, action plan.Action, reason plan.Reason) plan.Change {
	return plan.Change{Address: plan.Address(mirror, key), Mirror: mirror, Key: key, Action: action, Reason: reason}
}

// observeOneRun feeds m the plan and apply of one iteration over mirrors
// a and b: a transfers two artifacts (one fails), adopts one, deletes one
// and skips another; b repairs a drifted artifact.
func observeOneRun(m *metrics.Metrics, now time.Time) {
	mirrors := []string{"a", "b"}
	added := change("a", "x/1", plan.Add, plan.NewInSource)
	failed := change("a", "x/2", plan.Add, plan.NewInSource)
	adopted := change("a", "x/3", plan.Add, plan.AlreadyAtDestination)
	deleted := change("a", "x/0", plan.Delete, plan.RetentionKeepLast)
	skipped := change("a", "x/00", plan.Delete, plan.RetentionKeepLast)
	repaired := change("b", "y/1", plan.Add, plan.MissingAtDestination)
	p := &plan.Plan{Changes: []plan.Change{added, failed, adopted, deleted, skipped, repaired}}
	m.ObservePlan(p, mirrors, 1500*time.Millisecond)

	st := state.New("test")
	st.EnsureMirror("a", "http.s", "dir.d")
	st.EnsureMirror("b", "http.s", "dir.d")
	st.SetArtifact("a", &state.Artifact{Key: "x/1", Size: 1000})
	st.SetArtifact("a", &state.Artifact{Key: "x/3", Size: 7})
	st.SetArtifact("b", &state.Artifact{Key: "y/1", Size: 24})
	res := &apply.Result{
		Applied:        4,
		Succeeded:      []plan.Change{added, adopted, deleted, repaired},
		Failed:         []apply.Failure{{Change: failed, Err: errors.New("digest mismatch")}},
		SkippedDeletes: []plan.Change{skipped},
	}
	m.ObserveApply(res, nil, st, mirrors, 3*time.Second, now)
	m.ObserveOwned(st, mirrors)
	m.ObserveRun(metrics.RunFailure)
	m.ConfigLoaded(true)
}

func TestMetricsExactValues(t *testing.T) {
	m := metrics.New()
	now := time.Unix(1_800_000_000, 0)
	observeOneRun(m, now)
	observeOneRun(m, now.Add(time.Minute)) // counters add up, gauges are set again

	want := `
# HELP ferry_artifacts_deleted_total Deletes of owned artifacts by mirror and result: success, failure, skipped (an earlier change failed or the apply stopped), deferred (delete quota), forgotten (left to the mirror now owning it).
# TYPE ferry_artifacts_deleted_total counter
ferry_artifacts_deleted_total{mirror="a",result="failure"} 0
ferry_artifacts_deleted_total{mirror="a",result="skipped"} 2
ferry_artifacts_deleted_total{mirror="a",result="success"} 2
ferry_artifacts_deleted_total{mirror="b",result="failure"} 0
ferry_artifacts_deleted_total{mirror="b",result="success"} 0
# HELP ferry_artifacts_transferred_total Artifact transfers (add, replace) by mirror and result: success, failure, adopted (already at the destination, recorded without a transfer).
# TYPE ferry_artifacts_transferred_total counter
ferry_artifacts_transferred_total{mirror="a",result="adopted"} 2
ferry_artifacts_transferred_total{mirror="a",result="failure"} 2
ferry_artifacts_transferred_total{mirror="a",result="success"} 2
ferry_artifacts_transferred_total{mirror="b",result="failure"} 0
ferry_artifacts_transferred_total{mirror="b",result="success"} 2
# HELP ferry_transferred_bytes_total Bytes of artifacts transferred and verified, by mirror.
# TYPE ferry_transferred_bytes_total counter
ferry_transferred_bytes_total{mirror="a"} 2000
ferry_transferred_bytes_total{mirror="b"} 48
# HELP ferry_drift_artifacts Owned artifacts the last plan found missing or changed at the destination, by mirror.
# TYPE ferry_drift_artifacts gauge
ferry_drift_artifacts{mirror="a"} 0
ferry_drift_artifacts{mirror="b"} 1
# HELP ferry_owned_artifacts Artifacts the state records as owned, by mirror.
# TYPE ferry_owned_artifacts gauge
ferry_owned_artifacts{mirror="a"} 2
ferry_owned_artifacts{mirror="b"} 1
# HELP ferry_last_successful_apply_timestamp_seconds Unix time at which the mirror was last brought in line without a failure (an apply that succeeded, or a plan with nothing to apply).
# TYPE ferry_last_successful_apply_timestamp_seconds gauge
ferry_last_successful_apply_timestamp_seconds{mirror="b"} 1.80000006e+09
# HELP ferry_runs_total ferry run iterations by result: success, failure, config_error, stopped, skipped.
# TYPE ferry_runs_total counter
ferry_runs_total{result="failure"} 2
# HELP ferry_config_last_reload_successful 1 when the last configuration load succeeded, 0 when it failed (the last good configuration is in use).
# TYPE ferry_config_last_reload_successful gauge
ferry_config_last_reload_successful 1
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want),
		"ferry_artifacts_deleted_total", "ferry_artifacts_transferred_total", "ferry_transferred_bytes_total",
		"ferry_drift_artifacts", "ferry_owned_artifacts", "ferry_last_successful_apply_timestamp_seconds",
		"ferry_runs_total", "ferry_config_last_reload_successful"); err != nil {
		t.Error(err)
	}
	// Two plans of 1.5 s and two applies of 3 s.
	hist := `
# HELP ferry_plan_duration_seconds Time to plan: listing the sources, refreshing the destinations and planning.
# TYPE ferry_plan_duration_seconds histogram
ferry_plan_duration_seconds_bucket{le="0.05"} 0
ferry_plan_duration_seconds_bucket{le="0.1"} 0
ferry_plan_duration_seconds_bucket{le="0.2"} 0
ferry_plan_duration_seconds_bucket{le="0.4"} 0
ferry_plan_duration_seconds_bucket{le="0.8"} 0
ferry_plan_duration_seconds_bucket{le="1.6"} 2
ferry_plan_duration_seconds_bucket{le="3.2"} 2
ferry_plan_duration_seconds_bucket{le="6.4"} 2
ferry_plan_duration_seconds_bucket{le="12.8"} 2
ferry_plan_duration_seconds_bucket{le="25.6"} 2
ferry_plan_duration_seconds_bucket{le="51.2"} 2
ferry_plan_duration_seconds_bucket{le="102.4"} 2
ferry_plan_duration_seconds_bucket{le="204.8"} 2
ferry_plan_duration_seconds_bucket{le="409.6"} 2
ferry_plan_duration_seconds_bucket{le="819.2"} 2
ferry_plan_duration_seconds_bucket{le="1638.4"} 2
ferry_plan_duration_seconds_bucket{le="+Inf"} 2
ferry_plan_duration_seconds_sum 3
ferry_plan_duration_seconds_count 2
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(hist), "ferry_plan_duration_seconds"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Gatherer(), "ferry_apply_duration_seconds"); err != nil || n != 1 {
		t.Errorf("apply duration series: %d, %v", n, err)
	}
}

// TestMetricsNaming holds the names to Prometheus conventions (promlint:
// _total only on counters, base units, help on every metric).
func TestMetricsNaming(t *testing.T) {
	m := metrics.New()
	observeOneRun(m, time.Unix(1_800_000_000, 0))
	problems, err := testutil.GatherAndLint(m.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestWriteTextfileIsAtomicAndParses(t *testing.T) {
	m := metrics.New()
	observeOneRun(m, time.Unix(1_800_000_000, 0))
	path := filepath.Join(t.TempDir(), "ferry.prom")
	if err := m.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`ferry_artifacts_transferred_total{mirror="a",result="success"} 1`,
		`ferry_transferred_bytes_total{mirror="b"} 24`,
		"# TYPE ferry_plan_duration_seconds histogram",
	} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("metrics file lacks %q:\n%s", line, b)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only the metrics file (no temp file left)", len(entries))
	}
}
