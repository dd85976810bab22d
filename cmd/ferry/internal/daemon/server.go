package daemon

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/ferry-mirror/ferry/planner/plan"
)

// Handler serves the status page on /, liveness on /healthz, readiness
// (a plan succeeded) on /readyz, and metrics on /metrics; now is the
// clock the page measures freshness with.
func Handler(s *Status, metrics http.Handler, now func() time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready: no plan has succeeded yet")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		var buf bytes.Buffer
		if err := statusPage.Execute(&buf, pageData(s.Snapshot(), now())); err != nil {
			http.Error(w, "rendering the status page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	})
	return mux
}

// page is what the template renders.
type page struct {
	Snapshot
	Now     time.Time
	Mirrors []mirrorRow
	Chart   chart
}

type mirrorRow struct {
	MirrorStatus
	// Freshness is the time since LastSuccess ("never" without one);
	// Stale marks a mirror not in line for two intervals.
	Freshness string
	Stale     bool
	BytesText string
}

// chart is the bar chart of recent runs: one bar per run, its height the
// run's duration, its class its result.
type chart struct {
	Width, Height int
	Bars          []bar
	MaxText       string
}

type bar struct {
	X, Y, W, H int
	Class      string
	Title      string
}

const (
	chartHeight = 60
	barWidth    = 10
	barGap      = 3
)

func pageData(snap Snapshot, now time.Time) page {
	p := page{Snapshot: snap, Now: now}
	for _, m := range snap.Mirrors {
		row := mirrorRow{MirrorStatus: m, Freshness: "never", Stale: true, BytesText: plan.FormatBytes(m.Bytes)}
		if !m.LastSuccess.IsZero() {
			age := now.Sub(m.LastSuccess)
			row.Freshness = age.Round(time.Second).String() + " ago"
			row.Stale = age > 2*snap.Interval
		}
		p.Mirrors = append(p.Mirrors, row)
	}
	var longest time.Duration
	for _, r := range snap.Runs {
		longest = max(longest, r.Duration)
	}
	p.Chart = chart{Width: max(len(snap.Runs), 1)*(barWidth+barGap) + barGap, Height: chartHeight, MaxText: longest.Round(time.Millisecond).String()}
	for i, r := range snap.Runs {
		h := chartHeight - 4
		if longest > 0 {
			h = max(int(float64(chartHeight-4)*float64(r.Duration)/float64(longest)), 3)
		}
		title := fmt.Sprintf("%s: %s in %s, %d changes, %d applied, %d failed", r.Start.UTC().Format(time.RFC3339), r.Result, r.Duration.Round(time.Millisecond), r.Changes, r.Applied, r.Failed)
		if r.Message != "" {
			title += ": " + r.Message
		}
		p.Chart.Bars = append(p.Chart.Bars, bar{X: barGap + i*(barWidth+barGap), Y: chartHeight - h, W: barWidth, H: h, Class: "r-" + r.Result, Title: title})
	}
	return p
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"rfc3339": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	},
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ferry run</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; background: #fbfbfd; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
.meta { color: #5b6270; margin-bottom: 1em; }
.banner { padding: .6em .8em; border-radius: 4px; margin: .8em 0; }
.banner.err { background: #fde8e8; border: 1px solid #e39b9b; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
th { font-weight: 600; background: #f1f3f7; }
.ok { color: #17803d; } .bad { color: #b42318; font-weight: 600; } .muted { color: #8a909c; }
.failures { margin: .3em 0 0; padding-left: 1.2em; color: #b42318; font-family: ui-monospace, monospace; font-size: 12px; }
svg .r-success { fill: #2f9e55; } svg .r-failure { fill: #d64545; } svg .r-config_error { fill: #e08a1e; }
svg .r-stopped { fill: #7a6fd1; } svg .r-skipped { fill: #a0a6b2; }
.legend span { margin-right: 1em; } .sw { display: inline-block; width: .8em; height: .8em; margin-right: .3em; vertical-align: -1px; }
</style>
</head>
<body>
<h1>ferry run</h1>
<div class="meta">Started {{rfc3339 .Started}}, every {{.Interval}}; page rendered {{rfc3339 .Now}}.
{{if .Ready}}<span class="ok" id="ready">ready</span>{{else}}<span class="bad" id="ready">not ready: no plan has succeeded yet</span>{{end}}</div>
{{if .ConfigErr}}<div class="banner err" id="config-error"><strong>The configuration failed to load</strong> at {{rfc3339 .ConfigErrAt}}; the last good one is in use.<pre>{{.ConfigErr}}</pre></div>{{end}}
<h2>Recent runs</h2>
<svg id="runs" role="img" aria-label="recent runs: bar height is duration, colour is result" width="{{.Chart.Width}}" height="{{.Chart.Height}}" viewBox="0 0 {{.Chart.Width}} {{.Chart.Height}}">
<rect x="0" y="0" width="{{.Chart.Width}}" height="{{.Chart.Height}}" fill="#f1f3f7"/>
{{range .Chart.Bars}}<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{end}}</svg>
<div class="legend muted">{{len .Runs}} runs, the longest {{.Chart.MaxText}}.
<span><i class="sw" style="background:#2f9e55"></i>success</span><span><i class="sw" style="background:#d64545"></i>failure</span><span><i class="sw" style="background:#e08a1e"></i>config error</span><span><i class="sw" style="background:#7a6fd1"></i>stopped</span><span><i class="sw" style="background:#a0a6b2"></i>skipped</span></div>
<h2>Mirrors</h2>
<table id="mirrors">
<thead><tr><th>Mirror</th><th>Last plan</th><th>Last apply</th><th>Owned</th><th>Freshness</th></tr></thead>
<tbody>
{{range .Mirrors}}<tr class="mirror" data-mirror="{{.Name}}">
<td><strong>{{.Name}}</strong><br><span class="muted">{{.From}} &rarr; {{.To}}</span></td>
<td>{{if .PlannedAt.IsZero}}<span class="muted">not planned yet</span>{{else if or .Add .Replace .Delete .Publish}}{{.Add}} to add, {{.Replace}} to replace, {{.Delete}} to delete{{if .Publish}}, {{.Publish}} outputs{{end}}{{if .Drift}}; <span class="bad">{{.Drift}} drifted</span>{{end}}{{else}}<span class="ok">no changes</span><br><span class="muted">{{rfc3339 .PlannedAt}}</span>{{end}}</td>
<td>{{if .AppliedAt.IsZero}}<span class="muted">nothing applied yet</span>{{else}}{{if .Failed}}<span class="bad">{{.Failed}} failed</span>, {{end}}{{.Applied}} applied, {{.BytesText}}{{if .Skipped}}, {{.Skipped}} deletes skipped{{end}}<br><span class="muted">{{rfc3339 .AppliedAt}}</span>
{{if .Failures}}<ul class="failures">{{range .Failures}}<li class="failure"><span class="address">{{.Address}}</span>: {{.Message}}</li>{{end}}</ul>{{end}}{{end}}</td>
<td>{{.Owned}}</td>
<td class="{{if .Stale}}bad{{else}}ok{{end}} freshness">{{.Freshness}}</td>
</tr>
{{else}}<tr><td colspan="5" class="muted">No mirrors configured.</td></tr>
{{end}}</tbody>
</table>
<p class="muted">Metrics: <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></p>
</body>
</html>
`))
