package main

import "testing"

// The scenario measures N > 1 only when ferry's help lists both flags;
// a similar name (-shards, -finalizer) must not count.
func TestHasFlag(t *testing.T) {
	tests := []struct {
		name string
		help string
		flag string
		want bool
	}{
		{name: "pflag long", help: "Flags:\n      --shard I/N   apply partition I of N\n", flag: "shard", want: true},
		{name: "single dash", help: "  -shard I/N\n", flag: "shard", want: true},
		{name: "with shorthand", help: "  -f, --finalize   run the publish steps\n", flag: "finalize", want: true},
		{name: "equals", help: "  --shard=I/N\n", flag: "shard", want: true},
		{name: "at the end", help: "  --finalize", flag: "finalize", want: true},
		{name: "only -shards", help: "      --shards int   shard count (with JOB_COMPLETION_INDEX)\n", flag: "shard", want: false},
		{name: "in prose", help: "  --parallelism int  concurrent operations per shard\n", flag: "shard", want: false},
		{name: "absent", help: "      --auto-approve   apply without asking\n", flag: "finalize", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasFlag([]byte(tc.help), tc.flag); got != tc.want {
				t.Errorf("hasFlag(%q, %q) = %v, want %v", tc.help, tc.flag, got, tc.want)
			}
		})
	}
}
