package state

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ferry-mirror/ferry/providers"
)

// Digests used across the tests.
var (
	sha256A = providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat("a", 64)}
	sha256B = providers.Digest{Algorithm: providers.SHA256, Hex: strings.Repeat("b", 64)}
	sha512A = providers.Digest{Algorithm: providers.SHA512, Hex: strings.Repeat("a", 128)}
)

func TestNew(t *testing.T) {
	a, b := New("0.4.0"), New("0.4.0")
	if _, err := uuid.Parse(a.Lineage); err != nil {
		t.Errorf("lineage %q is not a UUID: %v", a.Lineage, err)
	}
	if a.Lineage == b.Lineage {
		t.Errorf("two new states share lineage %q", a.Lineage)
	}
	want := &State{Version: FormatVersion, ToolVersion: "0.4.0", Lineage: a.Lineage, Mirrors: map[string]*Mirror{}}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("New (-want +got):\n%s", diff)
	}
}

func TestMutations(t *testing.T) {
	added := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	s := New("0.4.0")
	s.EnsureMirror("tools", "http.tools", "dir.old")
	if m := s.EnsureMirror("tools", "http.tools", "dir.local"); m.Destination != "dir.local" {
		t.Errorf("EnsureMirror did not update the destination: got %q", m.Destination)
	}
	s.SetArtifact("tools", &Artifact{Key: "jq-1", Size: 1, Digests: providers.Digests{sha512A, sha256A}, AddedAt: added})
	s.SetArtifact("tools", &Artifact{Key: "jq-2", Size: 2, Digests: providers.Digests{sha256B}})
	s.EnsureMirror("node", "http.node", "dir.local")
	s.SetArtifact("node", &Artifact{Key: "node-1", Size: 3})

	want := map[string]*Mirror{
		"tools": {Source: "http.tools", Destination: "dir.local", Artifacts: map[string]*Artifact{
			"jq-1": {Key: "jq-1", Size: 1, Digests: providers.Digests{sha256A, sha512A}, AddedAt: added.UTC()},
			"jq-2": {Key: "jq-2", Size: 2, Digests: providers.Digests{sha256B}},
		}},
		"node": {Source: "http.node", Destination: "dir.local", Artifacts: map[string]*Artifact{
			"node-1": {Key: "node-1", Size: 3},
		}},
	}
	if diff := cmp.Diff(want, s.Mirrors); diff != "" {
		t.Errorf("after SetArtifact (-want +got):\n%s", diff)
	}
	if got := s.Artifact("tools", "jq-1").AddedAt.Location(); got != time.UTC {
		t.Errorf("AddedAt location = %v, want UTC", got)
	}
	if got := s.ArtifactCount(); got != 3 {
		t.Errorf("ArtifactCount = %d, want 3", got)
	}

	s.RemoveArtifact("tools", "jq-1")
	s.RemoveArtifact("tools", "missing")
	s.RemoveArtifact("missing", "jq-2")
	s.RemoveArtifact("node", "node-1")
	if s.Mirror("node") != nil {
		t.Errorf("empty mirror node was not removed")
	}
	if s.Mirror("tools") == nil || s.Artifact("tools", "jq-2") == nil {
		t.Errorf("mirror tools lost jq-2: %+v", s.Mirror("tools"))
	}
	if got := s.ArtifactCount(); got != 1 {
		t.Errorf("ArtifactCount = %d, want 1", got)
	}
}

func TestSetArtifactCopies(t *testing.T) {
	s := New("0.4.0")
	s.EnsureMirror("tools", "http.tools", "dir.local")
	a := &Artifact{Key: "jq", Digests: providers.Digests{sha256A}}
	s.SetArtifact("tools", a)
	a.Size = 99
	a.Digests[0] = sha256B
	want := &Artifact{Key: "jq", Digests: providers.Digests{sha256A}}
	if diff := cmp.Diff(want, s.Artifact("tools", "jq")); diff != "" {
		t.Errorf("stored artifact changed with its source (-want +got):\n%s", diff)
	}
}

func TestSetArtifactPanics(t *testing.T) {
	tests := []struct {
		name   string
		mirror string
		a      *Artifact
	}{
		{name: "unknown mirror", mirror: "nope", a: &Artifact{Key: "k"}},
		{name: "nil artifact", mirror: "tools", a: nil},
		{name: "empty key", mirror: "tools", a: &Artifact{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New("0.4.0")
			s.EnsureMirror("tools", "http.tools", "dir.local")
			defer func() {
				if recover() == nil {
					t.Errorf("SetArtifact(%q, %+v) did not panic", tc.mirror, tc.a)
				}
			}()
			s.SetArtifact(tc.mirror, tc.a)
		})
	}
}

func TestDeepCopy(t *testing.T) {
	s := New("0.4.0")
	s.EnsureMirror("tools", "http.tools", "dir.local")
	s.SetArtifact("tools", &Artifact{Key: "jq", Size: 1, Digests: providers.Digests{sha256A}, SourceDigests: providers.Digests{sha256A}})
	orig := s.DeepCopy()

	c := s.DeepCopy()
	if diff := cmp.Diff(s, c); diff != "" {
		t.Fatalf("DeepCopy differs (-orig +copy):\n%s", diff)
	}
	c.Serial = 9
	c.Mirror("tools").Source = "changed"
	c.Artifact("tools", "jq").Size = 2
	c.Artifact("tools", "jq").Digests[0] = sha256B
	c.Artifact("tools", "jq").SourceDigests[0] = sha256B
	c.EnsureMirror("other", "a", "b")
	c.SetArtifact("tools", &Artifact{Key: "yq"})
	if diff := cmp.Diff(orig, s); diff != "" {
		t.Errorf("mutating the copy changed the original (-want +got):\n%s", diff)
	}
}

func TestFeedsRoundTripAndValidate(t *testing.T) {
	s := New("0.6.0")
	s.EnsureMirror("npm", "npm.public", "npm.internal")
	if !s.SetFeeds(map[string]map[string]string{"npm.public": map[string]string{"https://replicate.example/registry/_changes": "120"}}) {
		t.Fatal("SetFeeds on an empty state reported no change")
	}
	if s.SetFeeds(map[string]map[string]string{"npm.public": map[string]string{"https://replicate.example/registry/_changes": "120"}}) {
		t.Error("SetFeeds with the same position reported a change")
	}
	// Another feed of the same source is added; the first one is kept.
	s.SetFeeds(map[string]map[string]string{"npm.public": map[string]string{"https://corp.example/_changes": "7"}})
	data, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode("feeds.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{"npm.public": {
		"https://replicate.example/registry/_changes": "120",
		"https://corp.example/_changes":               "7",
	}}
	if diff := cmp.Diff(want, got.Feeds); diff != "" {
		t.Errorf("feeds after a round trip (-want +got):\n%s", diff)
	}
	// A copy shares nothing with the original.
	c := got.DeepCopy()
	c.Feeds["npm.public"]["https://corp.example/_changes"] = "8"
	if got.Feeds["npm.public"]["https://corp.example/_changes"] != "7" {
		t.Error("DeepCopy shares the feeds map")
	}

	s.Feeds["npm.public"]["https://corp.example/_changes"] = ""
	if _, err := Marshal(s); err == nil || !strings.Contains(err.Error(), `feeds["npm.public"]["https://corp.example/_changes"]: empty`) {
		t.Errorf("Marshal of an empty position: err = %v", err)
	}
}

// TestRecentDeletesRoundTripAndValidate: the delete times a quota-limited
// destination needs survive a write and a read (sorted, UTC), a copy
// shares none of them, and an empty list drops the destination.
func TestRecentDeletesRoundTripAndValidate(t *testing.T) {
	t1 := time.Date(2026, 12, 5, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	t2 := time.Date(2026, 12, 5, 11, 30, 0, 0, time.UTC)
	s := New("0.6.0")
	s.EnsureMirror("m", "http.src", "proget.feed")
	if !s.SetRecentDeletes("proget.feed", []time.Time{t1, t2}) {
		t.Fatal("SetRecentDeletes on an empty state reported no change")
	}
	if s.SetRecentDeletes("proget.feed", []time.Time{t1, t2}) {
		t.Error("SetRecentDeletes with the same times reported a change")
	}
	data, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode("recent.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]time.Time{"proget.feed": {t2, t1.UTC()}}
	if diff := cmp.Diff(want, got.RecentDeletes); diff != "" {
		t.Errorf("recent deletes after a round trip (-want +got):\n%s", diff)
	}
	c := got.DeepCopy()
	c.RecentDeletes["proget.feed"][0] = time.Time{}
	if got.RecentDeletes["proget.feed"][0].IsZero() {
		t.Error("DeepCopy shares the recent deletes")
	}
	if _, err := Marshal(c); err == nil || !strings.Contains(err.Error(), `recent_deletes["proget.feed"][0]: no time`) {
		t.Errorf("Marshal of a zero time: err = %v", err)
	}
	if !got.SetRecentDeletes("proget.feed", nil) || got.RecentDeletes["proget.feed"] != nil {
		t.Errorf("SetRecentDeletes(nil) kept %v", got.RecentDeletes)
	}
}
