// Package state is ferry's record of what it has mirrored: the model, its
// versioned JSON file format (read, validate, write atomically with a
// backup), and the sidecar lock that guards every command that writes.
//
// The state says which artifacts ferry verified at each mirror's
// destination. Planning compares it with the config and the live inventory;
// apply records each artifact as it lands, so an interrupted apply resumes
// without transferring again what already arrived.
package state

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ferry-mirror/ferry/providers"
)

// FormatVersion is the state file format this ferry writes and the newest it
// reads. Bump it whenever an older ferry could not read (or would silently
// drop part of) a file written by a newer one.
//
// Version 2 added feeds; version 3 recent_deletes; version 4 artifacts'
// token; version 5 shards (the barrier of a sharded apply). Older files
// read as version 5 without them.
const FormatVersion = 5

// State is everything ferry remembers between runs.
type State struct {
	// Version is the file format version; always FormatVersion once read or
	// written.
	Version int `json:"version"`
	// ToolVersion is the version of ferry that last wrote the file. It is
	// informational: it is quoted in errors, never compared.
	ToolVersion string `json:"tool_version"`
	// Serial increases by one each time the content changes on disk. Plans
	// record it so apply can refuse a plan made against an older state.
	Serial uint64 `json:"serial"`
	// Lineage is a UUID chosen when the state is created and never changed.
	// It tells apart unrelated states that happen to share a serial; compare
	// it byte for byte, never parse it.
	Lineage string `json:"lineage"`
	// Mirrors by mirror name. Never nil after New or Read.
	Mirrors map[string]*Mirror `json:"mirrors"`
	// Feeds are, by source address ("npm.public") and then by changes feed
	// URL, the position the next plan starts reading the feed from. They
	// only save requests: a lost or wrong position makes the next plan
	// re-validate what it reads, never skip a change.
	Feeds map[string]map[string]string `json:"feeds,omitempty"`
	// RecentDeletes are, by destination address ("proget.feed"), the
	// times ferry sent deletes to a destination with a delete quota
	// (deletes_per_hour) within the last hour, oldest first: recorded
	// before each delete is sent, so the next apply (even after a kill)
	// stays within the quota, and the next plan's estimate counts them.
	RecentDeletes map[string][]time.Time `json:"recent_deletes,omitempty"`
	// Shards is the barrier of a sharded apply in progress (`ferry apply
	// -shard I/N`): which saved plan, in how many shards, and which of
	// them finished their transfers. Nil when none is in progress; the
	// finalizing apply clears it.
	Shards *Barrier `json:"shards,omitempty"`
}

// Barrier records a sharded apply of one saved plan. Shards write the
// state concurrently, each merging its own records under a short lock;
// Serial tells their writes from anyone else's.
type Barrier struct {
	// Plan is the saved plan's ID: "sha256:" and the digest of the plan
	// file's bytes.
	Plan string `json:"plan"`
	// Count is N, the number of shards.
	Count int `json:"count"`
	// Serial is the state serial the last shard write produced: a state
	// whose serial differs was written by something else since (then the
	// plan is stale for the remaining shards and the finalize).
	Serial uint64 `json:"serial"`
	// Done are the shards that landed all their transfers, by index.
	Done map[int]ShardDone `json:"done,omitempty"`
}

// ShardDone is what one finished shard landed.
type ShardDone struct {
	At time.Time `json:"at"`
	// Changes counts the transfers and adoptions the shard applied (in
	// its last run: a resumed shard skips what an earlier run recorded).
	Changes int `json:"changes"`
	// Skipped counts the shard's changes an earlier run had recorded.
	Skipped int   `json:"skipped,omitempty"`
	Bytes   int64 `json:"bytes"`
}

// Missing are the indexes of the shards not done, in order.
func (b *Barrier) Missing() []int {
	var out []int
	for i := range b.Count {
		if _, ok := b.Done[i]; !ok {
			out = append(out, i)
		}
	}
	return out
}

// Mirror is what one configured mirror has put at its destination.
type Mirror struct {
	// Source is the source provider address, e.g. "http.tools".
	Source string `json:"source"`
	// Destination is the destination provider address, e.g. "dir.local".
	Destination string `json:"destination"`
	// Artifacts by artifact key. Never nil after EnsureMirror or Read.
	Artifacts map[string]*Artifact `json:"artifacts"`
}

// Artifact is one object ferry verified at a destination.
type Artifact struct {
	// Key is the destination key; it always equals the artifact's map key.
	Key     string `json:"key"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Size    int64  `json:"size"`
	// Digests were observed at the destination (sha256 always).
	Digests providers.Digests `json:"digests"`
	// Token is the destination's change token of the object right after
	// ferry's verified write (providers.TokenPutter); empty when the
	// destination has none or ferry did not write the bytes itself (an
	// adoption). Refresh takes a listed object with this token and Size
	// as holding Digests without a Stat.
	Token string `json:"token,omitempty"`
	// SourceDigests are what the upstream declared when the artifact was
	// mirrored; they let plan notice an upstream republishing a version.
	SourceDigests providers.Digests `json:"source_digests,omitempty"`
	// Created is the upstream publish time, zero if unknown.
	Created time.Time `json:"created,omitzero"`
	// AddedAt is when ferry first verified the artifact at the destination;
	// a replace or a drift repair keeps it.
	AddedAt time.Time `json:"added_at"`
	// Origin is the secret-free upstream location the bytes were copied
	// from. A buildpack.toml rewritten in place names the mirror afterwards;
	// this is where a repair fetches from.
	Origin string `json:"origin,omitempty"`
	// VerifiedAt is when ferry last verified and recorded the object (a
	// transfer, a replace, a repair, an adoption). Every recording changes it,
	// so the state serial moves and older saved plans are refused.
	VerifiedAt time.Time `json:"verified_at,omitzero"`
}

// New returns an empty state with a fresh lineage and serial 0.
func New(toolVersion string) *State {
	return &State{
		Version:     FormatVersion,
		ToolVersion: toolVersion,
		Lineage:     uuid.NewString(),
		Mirrors:     map[string]*Mirror{},
	}
}

// DeepCopy returns a copy that shares nothing mutable with s.
func (s *State) DeepCopy() *State {
	if s == nil {
		return nil
	}
	c := *s
	c.Mirrors = make(map[string]*Mirror, len(s.Mirrors))
	for name, m := range s.Mirrors {
		c.Mirrors[name] = m.deepCopy()
	}
	if s.Feeds != nil {
		c.Feeds = make(map[string]map[string]string, len(s.Feeds))
		for src, f := range s.Feeds {
			c.Feeds[src] = maps.Clone(f)
		}
	}
	if s.RecentDeletes != nil {
		c.RecentDeletes = make(map[string][]time.Time, len(s.RecentDeletes))
		for dst, ts := range s.RecentDeletes {
			c.RecentDeletes[dst] = slices.Clone(ts)
		}
	}
	if s.Shards != nil {
		b := *s.Shards
		b.Done = maps.Clone(s.Shards.Done)
		c.Shards = &b
	}
	return &c
}

func (m *Mirror) deepCopy() *Mirror {
	if m == nil {
		return nil
	}
	c := *m
	c.Artifacts = make(map[string]*Artifact, len(m.Artifacts))
	for key, a := range m.Artifacts {
		c.Artifacts[key] = a.deepCopy()
	}
	return &c
}

func (a *Artifact) deepCopy() *Artifact {
	if a == nil {
		return nil
	}
	c := *a
	c.Digests = slices.Clone(a.Digests)
	c.SourceDigests = slices.Clone(a.SourceDigests)
	return &c
}

// Mirror returns the named mirror, or nil if the state has none by that name.
func (s *State) Mirror(name string) *Mirror {
	return s.Mirrors[name]
}

// Artifact returns the artifact stored under key in the named mirror, or nil.
func (s *State) Artifact(mirror, key string) *Artifact {
	m := s.Mirrors[mirror]
	if m == nil {
		return nil
	}
	return m.Artifacts[key]
}

// EnsureMirror returns the named mirror, creating it if needed, and records
// its current source and destination addresses.
func (s *State) EnsureMirror(name, source, destination string) *Mirror {
	if s.Mirrors == nil {
		s.Mirrors = map[string]*Mirror{}
	}
	m := s.Mirrors[name]
	if m == nil {
		m = &Mirror{Artifacts: map[string]*Artifact{}}
		s.Mirrors[name] = m
	}
	if m.Artifacts == nil {
		m.Artifacts = map[string]*Artifact{}
	}
	m.Source, m.Destination = source, destination
	return m
}

// SetArtifact stores a copy of a under a.Key in the named mirror, replacing
// any artifact with that key. Digests are normalised and times converted to
// UTC. The mirror must exist (call EnsureMirror first); a missing mirror, a
// nil artifact or an empty key is a programming error and panics.
func (s *State) SetArtifact(mirror string, a *Artifact) {
	m := s.Mirrors[mirror]
	if m == nil {
		panic(fmt.Sprintf("state: SetArtifact: no mirror %q (call EnsureMirror first)", mirror))
	}
	if a == nil || a.Key == "" {
		panic(fmt.Sprintf("state: SetArtifact: mirror %q: artifact without a key", mirror))
	}
	c := a.deepCopy()
	c.normalize()
	if m.Artifacts == nil {
		m.Artifacts = map[string]*Artifact{}
	}
	m.Artifacts[c.Key] = c
}

// RemoveArtifact forgets the artifact stored under key in the named mirror,
// and the mirror itself once it holds no artifacts. Missing names are ignored.
func (s *State) RemoveArtifact(mirror, key string) {
	m := s.Mirrors[mirror]
	if m == nil {
		return
	}
	delete(m.Artifacts, key)
	if len(m.Artifacts) == 0 {
		delete(s.Mirrors, mirror)
	}
}

// SetFeeds records where the next plan starts reading changes feeds, by
// source address and feed URL, replacing what was recorded for the feeds
// named (others are kept). It reports whether anything changed.
func (s *State) SetFeeds(feeds map[string]map[string]string) bool {
	changed := false
	for source, positions := range feeds {
		for url, pos := range positions {
			if s.Feeds[source][url] == pos {
				continue
			}
			if s.Feeds == nil {
				s.Feeds = map[string]map[string]string{}
			}
			if s.Feeds[source] == nil {
				s.Feeds[source] = map[string]string{}
			}
			s.Feeds[source][url] = pos
			changed = true
		}
	}
	return changed
}

// SetRecentDeletes records the times of the recent deletes sent to the
// destination at addr (none: forgets them). It reports whether anything
// changed.
func (s *State) SetRecentDeletes(addr string, times []time.Time) bool {
	if slices.EqualFunc(s.RecentDeletes[addr], times, time.Time.Equal) {
		return false
	}
	if len(times) == 0 {
		delete(s.RecentDeletes, addr)
		return true
	}
	if s.RecentDeletes == nil {
		s.RecentDeletes = map[string][]time.Time{}
	}
	s.RecentDeletes[addr] = slices.Clone(times)
	return true
}

// ArtifactCount is the number of artifacts across all mirrors.
func (s *State) ArtifactCount() int {
	n := 0
	for _, m := range s.Mirrors {
		if m != nil {
			n += len(m.Artifacts)
		}
	}
	return n
}

// normalize puts s in canonical form in place: non-nil maps, UTC times,
// sorted digests, nil for empty digest sets. It does not validate.
func (s *State) normalize() { s.normalizeBut(nil) }

// normalizeBut is normalize but for the artifacts of the mirrors in done,
// which are normalized already (decodeStream normalizes each artifact as
// it reads it, while it is in the cache).
func (s *State) normalizeBut(done map[*Mirror]bool) {
	if s.Mirrors == nil {
		s.Mirrors = map[string]*Mirror{}
	}
	for addr, ts := range s.RecentDeletes {
		if len(ts) == 0 {
			delete(s.RecentDeletes, addr)
			continue
		}
		for i := range ts {
			ts[i] = ts[i].UTC()
		}
		slices.SortFunc(ts, time.Time.Compare)
	}
	if len(s.RecentDeletes) == 0 {
		s.RecentDeletes = nil
	}
	if b := s.Shards; b != nil {
		for i, d := range b.Done {
			d.At = d.At.UTC()
			b.Done[i] = d
		}
		if len(b.Done) == 0 {
			b.Done = nil
		}
	}
	for _, m := range s.Mirrors {
		if m == nil {
			continue
		}
		if m.Artifacts == nil {
			m.Artifacts = map[string]*Artifact{}
		}
		if done[m] {
			continue
		}
		for _, a := range m.Artifacts {
			if a != nil {
				a.normalize()
			}
		}
	}
}

func (a *Artifact) normalize() {
	a.Digests = sortDigests(a.Digests)
	a.SourceDigests = sortDigests(a.SourceDigests)
	if !a.Created.IsZero() {
		a.Created = a.Created.UTC()
	}
	a.AddedAt = a.AddedAt.UTC()
	if !a.VerifiedAt.IsZero() {
		a.VerifiedAt = a.VerifiedAt.UTC()
	}
}

// sortDigests sorts by algorithm without merging duplicates, so validate can
// still report them. Empty sets become nil.
func sortDigests(ds providers.Digests) providers.Digests {
	if len(ds) == 0 {
		return nil
	}
	slices.SortStableFunc(ds, func(a, b providers.Digest) int {
		return cmp.Compare(a.Algorithm, b.Algorithm)
	})
	return ds
}

// validate reports the first structural problem in a normalised state, as a
// human-readable location and description.
func (s *State) validate() error { return s.validateBut(nil) }

// validateBut is validate but for the artifacts of the mirrors in valid,
// which checkArtifact found valid already (decodeStream checks each
// artifact as it reads it). A mirror with an invalid artifact is not in
// valid: it is checked here again, to report its first problem in order.
func (s *State) validateBut(valid map[*Mirror]bool) error {
	if s.Lineage == "" {
		return fmt.Errorf("lineage is missing")
	}
	for _, src := range slices.Sorted(maps.Keys(s.Feeds)) {
		for _, url := range slices.Sorted(maps.Keys(s.Feeds[src])) {
			if src == "" || url == "" || s.Feeds[src][url] == "" {
				return fmt.Errorf("feeds[%q][%q]: empty source, feed URL or position", src, url)
			}
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(s.RecentDeletes)) {
		if addr == "" {
			return fmt.Errorf("recent_deletes: empty destination address")
		}
		for i, t := range s.RecentDeletes[addr] {
			if t.IsZero() {
				return fmt.Errorf("recent_deletes[%q][%d]: no time", addr, i)
			}
		}
	}
	if b := s.Shards; b != nil {
		if b.Plan == "" || b.Count < 1 {
			return fmt.Errorf("shards: no plan ID, or a shard count below 1")
		}
		for _, i := range slices.Sorted(maps.Keys(b.Done)) {
			if i < 0 || i >= b.Count {
				return fmt.Errorf("shards.done[%d]: out of range for %d shards", i, b.Count)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Mirrors)) {
		m := s.Mirrors[name]
		if name == "" {
			return fmt.Errorf("mirror with an empty name")
		}
		if m == nil {
			return fmt.Errorf("mirrors[%q] is null", name)
		}
		if valid[m] {
			continue
		}
		// Sorting a large mirror's keys costs more than checking them: the
		// keys are sorted only to report the first problem.
		if validateArtifacts(name, maps.All(m.Artifacts)) != nil {
			return validateArtifacts(name, func(yield func(string, *Artifact) bool) {
				for _, key := range slices.Sorted(maps.Keys(m.Artifacts)) {
					if !yield(key, m.Artifacts[key]) {
						return
					}
				}
			})
		}
	}
	return nil
}

// validateArtifacts reports the first problem among the artifacts of mirror
// name, in the order arts yields them.
func validateArtifacts(name string, arts iter.Seq2[string, *Artifact]) error {
	for key, a := range arts {
		if err := checkArtifact(name, key, a, false); err != nil {
			return err
		}
	}
	return nil
}

// checkArtifact reports what is wrong with the artifact a stored under key
// in mirror name, if anything. parsed says each of its digests is zero or
// passed Digest.Validate already, as the scanner reads them (see
// scanner.digests): then it is not validated twice.
func checkArtifact(name, key string, a *Artifact, parsed bool) error {
	at := func() string { return fmt.Sprintf("mirrors[%q].artifacts[%q]", name, key) }
	switch {
	case a == nil:
		return fmt.Errorf("%s is null", at())
	case key == "":
		return fmt.Errorf("mirrors[%q] has an artifact with an empty key", name)
	case a.Key != key:
		return fmt.Errorf("%s: key %q does not match its map key", at(), a.Key)
	}
	if err := validateDigests(a.Digests, parsed); err != nil {
		return fmt.Errorf("%s.digests: %w", at(), err)
	}
	if err := validateDigests(a.SourceDigests, parsed); err != nil {
		return fmt.Errorf("%s.source_digests: %w", at(), err)
	}
	return nil
}

func validateDigests(ds providers.Digests, parsed bool) error {
	for i, d := range ds {
		if d.IsZero() {
			return fmt.Errorf("empty digest")
		}
		if !parsed {
			if err := d.Validate(); err != nil {
				return err
			}
		}
		if i > 0 && ds[i-1].Algorithm == d.Algorithm {
			return fmt.Errorf("more than one %s digest", d.Algorithm)
		}
	}
	return nil
}
