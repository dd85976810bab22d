package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Policy is a mirror's retention rules. The zero value keeps everything.
type Policy struct {
	// KeepLast keeps the newest N distinct versions (distinct by Order) per
	// package name; 0 means no limit. Artifacts without a version cannot be
	// ranked and are never dropped by this rule.
	KeepLast int
	// MaxAge drops artifacts whose age (from Candidate.Time) exceeds it;
	// 0 means no limit. Artifacts of unknown age are kept.
	MaxAge time.Duration
	// Keep pins versions or keys: a matching artifact is always kept.
	Keep []string
	// Order compares two versions of a package (negative, zero, positive
	// as a is older than, the same version as, or newer than b). It is the
	// ecosystem's order, supplied by the mirror's source type: conda's
	// 2.0.0rc1 is older than 2.0.0, plain text order says newer. nil means
	// CompareVersions.
	Order func(a, b string) int
}

// MayDrop reports whether p can drop anything; when it cannot, Decide
// keeps every candidate and need not be asked.
func (p Policy) MayDrop() bool { return p.KeepLast > 0 || p.MaxAge > 0 }

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
		order := p.Order
		if order == nil {
			order = CompareVersions
		}
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
			// Newest first; versions the order calls equal ("1.0" and
			// "1.0.0" in conda) are one version and keep their text order
			// among themselves, so the result never depends on input order.
			slices.SortFunc(versions, func(a, b string) int {
				if c := order(b, a); c != 0 {
					return c
				}
				return strings.Compare(a, b)
			})
			rank := 0
			for i, v := range versions {
				if i > 0 && order(versions[i-1], v) != 0 {
					rank++
				}
				if rank < p.KeepLast {
					continue
				}
				for _, c := range group {
					if c.Version == v {
						out[c.Key] = DroppedKeepLast
					}
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
