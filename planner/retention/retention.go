package retention

import (
	"fmt"
	"slices"
	"time"
)

// Policy is a mirror's retention rules. The zero value keeps everything.
type Policy struct {
	// KeepLast keeps the newest N distinct versions per package name;
	// 0 means no limit. Artifacts without a version cannot be ranked and are
	// never dropped by this rule.
	KeepLast int
	// MaxAge drops artifacts whose age (from Candidate.Time) exceeds it;
	// 0 means no limit. Artifacts of unknown age are kept.
	MaxAge time.Duration
	// Keep pins versions or keys: a matching artifact is always kept.
	Keep []string
}

// Candidate is one artifact retention decides about.
type Candidate struct {
	Key     string
	Name    string
	Version string
	// Time is the upstream publish time; zero if the source does not know it
	// (such artifacts are never dropped by max_age).
	Time time.Time
}

// Verdict is the decision for one candidate.
type Verdict uint8

const (
	Kept Verdict = iota
	DroppedKeepLast
	DroppedMaxAge
)

// Decide returns the verdict for every candidate key. now is the clock for
// max_age.
func Decide(p Policy, now time.Time, cands []Candidate) map[string]Verdict {
	out := make(map[string]Verdict, len(cands))
	pinned := func(c Candidate) bool {
		return slices.Contains(p.Keep, c.Version) && c.Version != "" || slices.Contains(p.Keep, c.Key)
	}
	for _, c := range cands {
		out[c.Key] = Kept
	}
	if p.KeepLast > 0 {
		byName := map[string][]Candidate{}
		for _, c := range cands {
			if c.Version != "" {
				byName[c.Name] = append(byName[c.Name], c)
			}
		}
		for _, group := range byName {
			var versions []string
			for _, c := range group {
				if !slices.Contains(versions, c.Version) {
					versions = append(versions, c.Version)
				}
			}
			// Newest first.
			slices.SortFunc(versions, func(a, b string) int { return CompareVersions(b, a) })
			if len(versions) <= p.KeepLast {
				continue
			}
			dropped := versions[p.KeepLast:]
			for _, c := range group {
				if slices.Contains(dropped, c.Version) {
					out[c.Key] = DroppedKeepLast
				}
			}
		}
	}
	if p.MaxAge > 0 {
		cutoff := now.Add(-p.MaxAge)
		for _, c := range cands {
			if out[c.Key] == Kept && !c.Time.IsZero() && c.Time.Before(cutoff) {
				out[c.Key] = DroppedMaxAge
			}
		}
	}
	for _, c := range cands {
		if pinned(c) {
			out[c.Key] = Kept
		}
	}
	return out
}

// Detail is the human explanation of a drop verdict for the plan.
func (p Policy) Detail(v Verdict) string {
	switch v {
	case DroppedKeepLast:
		return fmt.Sprintf("keep_last = %d", p.KeepLast)
	case DroppedMaxAge:
		return "max_age = " + FormatDuration(p.MaxAge)
	}
	return ""
}

// FormatDuration renders whole days as "30d" and anything else in Go's form.
func FormatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
