package retention

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{name: "semver patch", a: "1.2.10", b: "1.2.9", want: 1},
		{name: "semver prerelease older", a: "2.0.0-rc.1", b: "2.0.0", want: -1},
		{name: "lenient two part", a: "1.7", b: "1.6.9", want: 1},
		{name: "v prefix", a: "v2.0.1", b: "v2.0.0", want: 1},
		{name: "equal", a: "20.11.1", b: "20.11.1", want: 0},
		{name: "semver equal different text is total", a: "1.0", b: "1.0.0", want: -1},
		{name: "natural numbers", a: "jdk8u492", b: "jdk8u41", want: 1},
		{name: "natural ten beats nine", a: "r10", b: "r9", want: 1},
		{name: "natural prefix shorter first", a: "1.0", b: "1.0a", want: -1},
		{name: "natural leading zeros tie broken", a: "build-01", b: "build-1", want: 1},
		{name: "mixed semver and text", a: "8.0.492+9", b: "8.0.41+9", want: 1},
		// Semver and free text compare by one key: these three once made
		// a cycle (1.0.0 < 1.0.0-! < 1.0.0-rc1 < 1.0.0 by two rules).
		{name: "dash suffix is a pre-release", a: "1.0.0-!", b: "1.0.0", want: -1},
		{name: "pre-release identifiers bytewise", a: "1.0.0-!", b: "1.0.0-rc1", want: -1},
		{name: "pre-release before release", a: "1.0.0-rc1", b: "1.0.0", want: -1},
		{name: "numeric identifiers below words", a: "1.0.0-1", b: "1.0.0-alpha", want: -1},
		{name: "numeric identifiers numerically", a: "1.0.0-rc.10", b: "1.0.0-rc.9", want: 1},
		{name: "more identifiers later", a: "1.0.0-rc.1.1", b: "1.0.0-rc.1", want: 1},
		{name: "other suffix after release", a: "1.1.1w", b: "1.1.1", want: 1},
		{name: "four numbers", a: "1.2.3.4", b: "1.2.3", want: 1},
		{name: "words after versions", a: "latest", b: "v9.9.9", want: 1},
		{name: "punctuation before versions", a: "-x", b: "0.1", want: -1},
		{name: "build metadata tie broken by text", a: "1.0.0+a", b: "1.0.0+b", want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CompareVersions(tc.a, tc.b); got != tc.want {
				t.Errorf("CompareVersions(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.want)
			}
			if got := CompareVersions(tc.b, tc.a); got != -tc.want {
				t.Errorf("CompareVersions(%q, %q) = %d; want %d (antisymmetry)", tc.b, tc.a, got, -tc.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	cands := []Candidate{
		{Key: "node/18.0.0/amd64", Name: "node", Version: "18.0.0", Time: now.Add(-400 * day)},
		{Key: "node/18.0.0/arm64", Name: "node", Version: "18.0.0", Time: now.Add(-400 * day)},
		{Key: "node/20.1.0/amd64", Name: "node", Version: "20.1.0", Time: now.Add(-100 * day)},
		{Key: "node/20.10.0/amd64", Name: "node", Version: "20.10.0", Time: now.Add(-10 * day)},
		{Key: "node/22.0.0/amd64", Name: "node", Version: "22.0.0"},
		{Key: "jq/1.6/jq", Name: "jq", Version: "1.6", Time: now.Add(-1000 * day)},
		{Key: "jq/1.7.1/jq", Name: "jq", Version: "1.7.1", Time: now.Add(-5 * day)},
		{Key: "readme", Name: "readme"},
	}
	tests := []struct {
		name   string
		policy Policy
		want   map[string]Verdict
	}{
		{
			name:   "zero policy keeps all",
			policy: Policy{},
			want:   map[string]Verdict{},
		},
		{
			name:   "keep_last counts versions not arches",
			policy: Policy{KeepLast: 2},
			want: map[string]Verdict{
				"node/18.0.0/amd64": DroppedKeepLast,
				"node/18.0.0/arm64": DroppedKeepLast,
				"node/20.1.0/amd64": DroppedKeepLast,
			},
		},
		{
			name:   "max_age keeps unknown ages",
			policy: Policy{MaxAge: 90 * day},
			want: map[string]Verdict{
				"node/18.0.0/amd64": DroppedMaxAge,
				"node/18.0.0/arm64": DroppedMaxAge,
				"node/20.1.0/amd64": DroppedMaxAge,
				"jq/1.6/jq":         DroppedMaxAge,
			},
		},
		{
			name:   "pins by version and key win",
			policy: Policy{KeepLast: 1, Keep: []string{"18.0.0", "jq/1.6/jq"}},
			want: map[string]Verdict{
				"node/20.1.0/amd64":  DroppedKeepLast,
				"node/20.10.0/amd64": DroppedKeepLast,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.policy, now, cands)
			dropped := map[string]Verdict{}
			for k, v := range got {
				if v != Kept {
					dropped[k] = v
				}
			}
			if len(got) != len(cands) {
				t.Errorf("got %d verdicts; want %d", len(got), len(cands))
			}
			if diff := cmp.Diff(tc.want, dropped); diff != "" {
				t.Errorf("dropped (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideOrder: keep_last ranks by the policy's order, and versions the
// order calls equal count as one version.
func TestDecideOrder(t *testing.T) {
	// rcOlder is a stand-in for an ecosystem order (conda's, in
	// providers/conda): a trailing "rcN" is older than the release, and
	// trailing ".0" components do not count.
	rcOlder := func(a, b string) int {
		norm := func(v string) (string, bool) {
			base, _, rc := strings.Cut(v, "rc")
			for strings.HasSuffix(base, ".0") && strings.Count(base, ".") > 1 {
				base = strings.TrimSuffix(base, ".0")
			}
			return base, rc
		}
		ba, rcA := norm(a)
		bb, rcB := norm(b)
		if c := CompareVersions(ba, bb); c != 0 {
			return c
		}
		switch {
		case rcA && !rcB:
			return -1
		case !rcA && rcB:
			return 1
		}
		return 0
	}
	cands := []Candidate{
		{Key: "pkg/2.0.0rc1", Name: "pkg", Version: "2.0.0rc1"},
		{Key: "pkg/2.0.0", Name: "pkg", Version: "2.0.0"},
		{Key: "pkg/1.0", Name: "pkg", Version: "1.0"},
		{Key: "pkg/1.0.0", Name: "pkg", Version: "1.0.0"},
		{Key: "pkg/0.9", Name: "pkg", Version: "0.9"},
	}
	tests := []struct {
		name   string
		policy Policy
		want   map[string]Verdict
	}{
		{
			name:   "plain order keeps the rc",
			policy: Policy{KeepLast: 1},
			want: map[string]Verdict{
				"pkg/2.0.0": DroppedKeepLast, "pkg/1.0": DroppedKeepLast, "pkg/1.0.0": DroppedKeepLast, "pkg/0.9": DroppedKeepLast,
			},
		},
		{
			name:   "ecosystem order keeps the release",
			policy: Policy{KeepLast: 1, Order: rcOlder},
			want: map[string]Verdict{
				"pkg/2.0.0rc1": DroppedKeepLast, "pkg/1.0": DroppedKeepLast, "pkg/1.0.0": DroppedKeepLast, "pkg/0.9": DroppedKeepLast,
			},
		},
		{
			name:   "equal versions are one version",
			policy: Policy{KeepLast: 3, Order: rcOlder},
			want:   map[string]Verdict{"pkg/0.9": DroppedKeepLast},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.policy, time.Time{}, cands)
			dropped := map[string]Verdict{}
			for k, v := range got {
				if v != Kept {
					dropped[k] = v
				}
			}
			if diff := cmp.Diff(tc.want, dropped); diff != "" {
				t.Errorf("dropped (-want +got):\n%s", diff)
			}
		})
	}
}
