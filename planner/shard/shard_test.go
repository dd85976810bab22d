package shard_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/planner/internal/golden"
	"github.com/ferry-mirror/ferry/planner/plan"
	"github.com/ferry-mirror/ferry/planner/shard"
	"github.com/ferry-mirror/ferry/providers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixedPlan is a plan of two mirrors: 20 adds, a replace, an adoption, a
// delete, a forget, a dry-run delete, a no-op and a publish.
func fixedPlan() []plan.Change {
	d := providers.Digests{providers.Digest{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}
	add := func(mirror, key string, a plan.Action, r plan.Reason) plan.Change {
		return plan.Change{Address: plan.Address(mirror, key), Mirror: mirror, Key: key, Action: a, Reason: r,
			Source: "http.up", Destination: "dir.local", After: &plan.Object{Size: 1, Digests: d}}
	}
	var cs []plan.Change
	for i := range 10 {
		cs = append(cs, add("tools", fmt.Sprintf("tool/%d.0.0/tool-%d.0.0.tgz", i, i), plan.Add, plan.NewInSource))
		cs = append(cs, add("npm", fmt.Sprintf("left-pad/-/left-pad-1.%d.0.tgz", i), plan.Add, plan.NewInSource))
	}
	cs = append(cs,
		add("tools", "tool/old/tool.tgz", plan.Replace, plan.UpstreamChanged),
		add("npm", "found/-/found-1.0.0.tgz", plan.Add, plan.AlreadyAtDestination),
		plan.Change{Address: plan.Address("tools", "gone.tgz"), Mirror: "tools", Key: "gone.tgz", Action: plan.Delete, Reason: plan.RetentionKeepLast, Destination: "dir.local"},
		plan.Change{Address: plan.Address("npm", "moved.tgz"), Mirror: "npm", Key: "moved.tgz", Action: plan.Forget, Reason: plan.MovedToMirror, Destination: "dir.local"},
		plan.Change{Address: plan.Address("npm", "dry.tgz"), Mirror: "npm", Key: "dry.tgz", Action: plan.Delete, DryRun: true, Destination: "dir.local"},
		plan.Change{Address: plan.Address("npm", "same.tgz"), Mirror: "npm", Key: "same.tgz", Action: plan.NoOp, Destination: "dir.local"},
		plan.Change{Address: plan.OutputAddress("npm", "", "left-pad"), Mirror: "npm", Key: "left-pad", Action: plan.Publish, Reason: plan.OutputOutOfDate, Destination: "dir.local",
			Output: &plan.OutputDetail{Side: providers.SideDestination, Output: providers.Output{Path: "left-pad", Verb: "update"}}},
	)
	return cs
}

func render(s shard.Split) string {
	var b strings.Builder
	for i, part := range s.Shards {
		fmt.Fprintf(&b, "shard %d/%d (%d):\n", i, len(s.Shards), len(part))
		for _, c := range part {
			fmt.Fprintf(&b, "  %s %s\n", c.Action.Symbol(), c.Address)
		}
	}
	fmt.Fprintf(&b, "final (%d):\n", len(s.Final))
	for _, c := range s.Final {
		fmt.Fprintf(&b, "  %s %s\n", c.Action.Symbol(), c.Address)
	}
	return b.String()
}

// TestPartitionGolden pins which shard each change of a fixed plan goes
// to: the partition is part of the CLI contract (shards on different
// machines, or ferry versions, must agree), so a change of the hash shows
// up as a diff here.
func TestPartitionGolden(t *testing.T) {
	for _, n := range []int{1, 3, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s, err := shard.Partition(fixedPlan(), n)
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, filepath.Join("testdata", fmt.Sprintf("partition-%d.txt", n)), render(s), *update)
		})
	}
}

// TestPartitionCovers checks every executed change lands in exactly one
// part, whatever N, and that the partition does not depend on the order
// of the changes.
func TestPartitionCovers(t *testing.T) {
	cs := fixedPlan()
	executed := 0
	for _, c := range cs {
		if c.Executes() {
			executed++
		}
	}
	for n := 1; n <= 16; n++ {
		s, err := shard.Partition(cs, n)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for i, part := range s.Shards {
			for _, c := range part {
				seen[c.Address]++
				if got := shard.Of(c.Mirror, c.Key, n); got != i {
					t.Errorf("N=%d: %s in shard %d, Of says %d", n, c.Address, i, got)
				}
			}
		}
		for _, c := range s.Final {
			seen[c.Address]++
		}
		if len(seen) != executed {
			t.Errorf("N=%d: %d changes placed, want %d", n, len(seen), executed)
		}
		for addr, k := range seen {
			if k != 1 {
				t.Errorf("N=%d: %s placed %d times", n, addr, k)
			}
		}
		rev := make([]plan.Change, len(cs))
		for i, c := range cs {
			rev[len(cs)-1-i] = c
		}
		r, _ := shard.Partition(rev, n)
		for i := range s.Shards {
			if len(r.Shards[i]) != len(s.Shards[i]) {
				t.Errorf("N=%d: shard %d has %d changes reversed, %d in order", n, i, len(r.Shards[i]), len(s.Shards[i]))
			}
		}
	}
}

func TestParseIndex(t *testing.T) {
	tests := []struct {
		in      string
		i, n    int
		wantErr string
	}{
		{in: "0/1", i: 0, n: 1},
		{in: "2/3", i: 2, n: 3},
		{in: "3/3", wantErr: "out of range for 3 shards: want 0 to 2"},
		{in: "-1/3", wantErr: "out of range"},
		{in: "0/0", wantErr: "want at least 1"},
		{in: "1", wantErr: "want I/N"},
		{in: "a/b", wantErr: "want I/N"},
		{in: "", wantErr: "want I/N"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			i, n, err := shard.ParseIndex(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseIndex(%q) = %v, want error containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || i != tc.i || n != tc.n {
				t.Fatalf("ParseIndex(%q) = %d, %d, %v", tc.in, i, n, err)
			}
		})
	}
	if _, err := shard.Partition(nil, 0); err == nil {
		t.Error("Partition with 0 shards: no error")
	}
}
