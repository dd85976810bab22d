package daemon

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/state"
)

// maxRuns is how many recent iterations the status page charts.
const maxRuns = 48

// maxFailures bounds the failures kept per mirror (the page lists them;
// the log has every one).
const maxFailures = 20

// Run is one iteration as the status page shows it.
type Run struct {
	Start    time.Time
	Duration time.Duration
	// Result is one of metrics' Run* values.
	Result string
	// Changes is what the plan held; Applied and Failed what came of it.
	Changes, Applied, Failed int
	Bytes                    int64
	// Message says what went wrong, if anything.
	Message string
}

// Failure is one change that failed, with its error.
type Failure struct {
	Address string
	Message string
}

// MirrorStatus is what the status page says about one mirror.
type MirrorStatus struct {
	Name, From, To string
	// The last plan: its changes by action, the drift it found, the
	// artifacts already in line.
	PlannedAt                               time.Time
	Add, Replace, Delete, Publish, UpToDate int
	Drift                                   int
	// The last apply that touched the mirror.
	AppliedAt       time.Time
	Applied, Failed int
	Skipped         int
	Bytes           int64
	Failures        []Failure
	// LastSuccess is when the mirror was last in line without a failure.
	LastSuccess time.Time
	Owned       int
}

// Status is what iterations leave for the status page and /readyz; safe
// for concurrent use.
type Status struct {
	mu       sync.Mutex
	started  time.Time
	interval time.Duration
	ready    bool
	// configErr is the last configuration load's error ("" when it loaded).
	configErr   string
	configErrAt time.Time
	mirrors     map[string]*MirrorStatus
	runs        []Run
}

// NewStatus is the status of a process started at started that runs
// every interval.
func NewStatus(started time.Time, interval time.Duration) *Status {
	return &Status{started: started, interval: interval, mirrors: map[string]*MirrorStatus{}}
}

// Ready reports whether a plan has succeeded since the process started.
func (s *Status) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// ConfigLoaded records the outcome of a configuration load: msg is ""
// when it loaded.
func (s *Status) ConfigLoaded(now time.Time, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configErr, s.configErrAt = msg, now
}

// Mirrors sets the configured mirrors (name to "from -> to"), dropping
// those no longer configured.
func (s *Status) Mirrors(mirrors map[string][2]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.mirrors {
		if _, ok := mirrors[name]; !ok {
			delete(s.mirrors, name)
		}
	}
	for name, ft := range mirrors {
		m := s.mirror(name)
		m.From, m.To = ft[0], ft[1]
	}
}

func (s *Status) mirror(name string) *MirrorStatus {
	m := s.mirrors[name]
	if m == nil {
		m = &MirrorStatus{Name: name}
		s.mirrors[name] = m
	}
	return m
}

// Planned records a successful plan made at now, which makes the process
// ready.
func (s *Status) Planned(now time.Time, p *plan.Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = true
	for _, m := range s.mirrors {
		m.PlannedAt = now
		m.Add, m.Replace, m.Delete, m.Publish, m.Drift = 0, 0, 0, 0, 0
	}
	for _, c := range p.Changes {
		m, ok := s.mirrors[c.Mirror]
		if !ok {
			continue // a mirror removed from the config: its deletes
		}
		if c.Reason.Drift() {
			m.Drift++
		}
		switch {
		case !c.Executes():
		case c.Action == plan.Add:
			m.Add++
		case c.Action == plan.Replace:
			m.Replace++
		case c.Action == plan.Delete, c.Action == plan.Forget:
			m.Delete++
		case c.Action == plan.Publish:
			m.Publish++
		}
	}
}

// Applied records an apply that ended at now (res nil when it did not
// start) with st the state after it.
func (s *Status) Applied(now time.Time, res *apply.Result, st *state.State) {
	if res == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	touched := map[string]bool{}
	for _, c := range res.Succeeded {
		touched[c.Mirror] = true
	}
	for _, f := range res.Failed {
		touched[f.Change.Mirror] = true
	}
	for _, c := range res.SkippedDeletes {
		touched[c.Mirror] = true
	}
	for name := range touched {
		if m, ok := s.mirrors[name]; ok {
			m.AppliedAt = now
			m.Applied, m.Failed, m.Skipped, m.Bytes, m.Failures = 0, 0, 0, 0, nil
		}
	}
	for _, c := range res.Succeeded {
		if m, ok := s.mirrors[c.Mirror]; ok {
			m.Applied++
			if a := st.Artifact(c.Mirror, c.Key); c.Transfers() && a != nil && a.Size > 0 {
				m.Bytes += a.Size
			}
		}
	}
	for _, f := range res.Failed {
		if m, ok := s.mirrors[f.Change.Mirror]; ok {
			m.Failed++
			if len(m.Failures) < maxFailures {
				m.Failures = append(m.Failures, Failure{Address: f.Change.Address, Message: f.Err.Error()})
			}
		}
	}
	for _, c := range res.SkippedDeletes {
		if m, ok := s.mirrors[c.Mirror]; ok {
			m.Skipped++
		}
	}
}

// Synced records now as the last success of each configured mirror not in
// troubled, and what st says each owns.
func (s *Status) Synced(now time.Time, troubled map[string]bool, st *state.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, m := range s.mirrors {
		if !troubled[name] {
			m.LastSuccess = now
		}
		m.Owned = 0
		if sm := st.Mirror(name); sm != nil {
			m.Owned = len(sm.Artifacts)
		}
	}
}

// RunDone records a finished iteration.
func (s *Status) RunDone(r Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, r)
	if len(s.runs) > maxRuns {
		s.runs = slices.Delete(s.runs, 0, len(s.runs)-maxRuns)
	}
}

// Snapshot is a copy of the status for rendering.
type Snapshot struct {
	Started     time.Time
	Interval    time.Duration
	Ready       bool
	ConfigErr   string
	ConfigErrAt time.Time
	Mirrors     []MirrorStatus // by name
	Runs        []Run          // oldest first
}

// Snapshot copies the status.
func (s *Status) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Started: s.started, Interval: s.interval, Ready: s.ready, ConfigErr: s.configErr, ConfigErrAt: s.configErrAt, Runs: slices.Clone(s.runs)}
	for _, m := range s.mirrors {
		c := *m
		c.Failures = slices.Clone(m.Failures)
		snap.Mirrors = append(snap.Mirrors, c)
	}
	sort.Slice(snap.Mirrors, func(i, j int) bool { return snap.Mirrors[i].Name < snap.Mirrors[j].Name })
	return snap
}
