package planner

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/planner/retention"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// ErrNotImportable is wrapped by every refusal of ImportCandidate.
var ErrNotImportable = errors.New("cannot import")

// ImportCandidate decides, without I/O, whether the artifact at t may be
// adopted into the state (ferry import): the mirror is configured, the
// state owns nothing under the key at that destination, the source (whose
// listing is listed) offers the key with a declared digest, and retention
// keeps it, so the next plan neither deletes nor re-transfers it. It
// returns the source's artifact, whose digests the object at the
// destination must match before it is recorded.
func ImportCandidate(cfg *config.Config, prior *state.State, t plan.Target, listed []providers.Artifact, now time.Time) (providers.Artifact, error) {
	addr := plan.Address(t.Mirror, t.Key)
	refuse := func(format string, args ...any) (providers.Artifact, error) {
		return providers.Artifact{}, fmt.Errorf("%w %s: %s", ErrNotImportable, addr, fmt.Sprintf(format, args...))
	}
	m := cfg.Mirrors[t.Mirror]
	if m == nil {
		return refuse("no mirror %q is configured", t.Mirror)
	}
	if prior == nil {
		prior = &state.State{}
	}
	if sm := prior.Mirrors[m.Name]; sm != nil && sm.Destination != m.To {
		return refuse("the state records mirror %q at %s, but its configuration sends it to %s (see ferry plan)", m.Name, sm.Destination, m.To)
	}
	for _, name := range slices.Sorted(maps.Keys(prior.Mirrors)) {
		sm := prior.Mirrors[name]
		if sm.Destination != m.To || sm.Artifacts[t.Key] == nil {
			continue
		}
		if name == m.Name {
			return refuse("the state already owns it (ferry state show %s)", addr)
		}
		return refuse("mirror %q already owns %q at %s", name, t.Key, m.To)
	}
	var found *providers.Artifact
	var cands []retention.Candidate
	for i, a := range listed {
		if a.Key == t.Key {
			if found != nil {
				return refuse("source %s lists the key more than once", m.From)
			}
			found = &listed[i]
		}
		cands = append(cands, retention.Candidate{Key: a.Key, Name: a.Name, Version: a.Version, Time: a.Created})
	}
	if found == nil {
		return refuse("source %s does not list %q, so the next plan would not keep it", m.From, t.Key)
	}
	if len(found.Digests) == 0 {
		return refuse("source %s declares no digest for it: there is nothing to verify the destination's bytes against", m.From)
	}
	var order func(a, b string) int
	if src := cfg.SourceFor(m); src != nil {
		order = src.VersionOrder
	}
	policy := retention.Policy{KeepLast: m.Retention.KeepLast, MaxAge: m.Retention.MaxAge, Keep: m.Retention.Keep, Order: order}
	if v := retention.Decide(policy, now, cands)[t.Key]; v != retention.Kept {
		return refuse("the mirror's retention (%s) does not keep it, so the next plan would delete it", policy.Detail(v))
	}
	return *found, nil
}

// ImportRecord is the state entry for an object ImportCandidate allowed and
// whose bytes were verified at the destination (observed: size and digests
// as read back or stat'ed), recorded as apply records an object it found
// already at the destination.
func ImportRecord(src providers.Artifact, observed providers.Artifact, now time.Time) *state.Artifact {
	digests := observed.Digests
	for _, d := range src.Digests {
		if _, ok := digests.Get(d.Algorithm); !ok {
			digests = digests.With(d)
		}
	}
	return &state.Artifact{
		Key:           src.Key,
		Name:          src.Name,
		Version:       src.Version,
		Size:          observed.Size,
		Digests:       digests,
		SourceDigests: src.Digests,
		Created:       src.Created,
		AddedAt:       now.UTC(),
		VerifiedAt:    now.UTC(),
		Origin:        src.Origin,
	}
}
