package daemon_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/cmd/ferry/internal/daemon"
	"github.com/ferry-mirror/ferry/cmd/ferry/internal/daemon/pagetest"
	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/state"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHandlerHealthReadyAndStatusPage(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := daemon.NewStatus(t0, time.Minute)
	s.Mirrors(map[string][2]string{"tools": {"http.tools", "dir.local"}, "npm": {"npm.public", "npm.internal"}})
	metricsHandler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ferry_runs_total 0\n") })
	h := daemon.Handler(s, metricsHandler, func() time.Time { return t0.Add(5 * time.Minute) })

	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(t, h, "/readyz"); code != 503 {
		t.Errorf("/readyz before a plan: %d %s; want 503", code, body)
	}
	if code, body := get(t, h, "/metrics"); code != 200 || body != "ferry_runs_total 0\n" {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if code, _ := get(t, h, "/nothing"); code != 404 {
		t.Errorf("/nothing: %d; want 404", code)
	}

	ok := plan.Change{Address: `mirror.tools["a"]`, Mirror: "tools", Key: "a", Action: plan.Add, Reason: plan.NewInSource}
	bad := plan.Change{Address: `mirror.npm["<b>"]`, Mirror: "npm", Key: "<b>", Action: plan.Add, Reason: plan.MissingAtDestination}
	s.Planned(t0.Add(time.Minute), &plan.Plan{Changes: []plan.Change{ok, bad}})
	st := state.New("test")
	st.EnsureMirror("tools", "http.tools", "dir.local")
	st.SetArtifact("tools", &state.Artifact{Key: "a", Size: 2048})
	s.Applied(t0.Add(2*time.Minute), &apply.Result{Applied: 1, Succeeded: []plan.Change{ok}, Failed: []apply.Failure{{Change: bad, Err: errors.New("sha256 mismatch <script>")}}}, st)
	s.Synced(t0.Add(2*time.Minute), map[string]bool{"npm": true}, st)
	s.RunDone(daemon.Run{Start: t0, Duration: 2 * time.Second, Result: "failure", Changes: 2, Applied: 1, Failed: 1})
	s.ConfigLoaded(t0.Add(3*time.Minute), "main.ferry.hcl:3,1-2: Unsupported block type")

	if code, body := get(t, h, "/readyz"); code != 200 {
		t.Errorf("/readyz after a plan: %d %s", code, body)
	}
	code, body := get(t, h, "/")
	if code != 200 {
		t.Fatalf("/: %d", code)
	}
	if strings.Contains(body, "<script>") {
		t.Error("the page does not escape an error message")
	}
	page, err := pagetest.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rows := page.Rows
	bars, failures := page.Bars, len(page.Failures)
	if bars != 1 || failures != 1 {
		t.Errorf("%d bars, %d failures on the page; want 1 and 1", bars, failures)
	}
	for name, want := range map[string][]string{
		"tools": {"http.tools → dir.local", "1 to add", "1 applied, 2.0 KiB", "3m0s ago"},
		"npm":   {"1 drifted", "1 failed", `mirror.npm["<b>"]: sha256 mismatch <script>`, "never"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[name], w) {
				t.Errorf("row of %s lacks %q: %q", name, w, rows[name])
			}
		}
	}
	if !strings.Contains(body, `id="config-error"`) || !strings.Contains(body, "Unsupported block type") {
		t.Error("the page does not show the configuration error")
	}
}
