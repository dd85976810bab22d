package planner

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/plan"
)

// A plan that deletes at a destination whose type declares what its
// deletes do says so once per destination, counting only executed
// deletes; destinations without a note, or without deletes, say nothing.
func TestDeleteNotes(t *testing.T) {
	cfg := &config.Config{Destinations: map[string]*config.Destination{
		"nuget.feed":  {Type: "nuget", Name: "feed", DeleteNote: "hard deletes"},
		"nuget.other": {Type: "nuget", Name: "other", DeleteNote: "hard deletes"},
		"dir.local":   {Type: "dir", Name: "local"},
	}}
	changes := []plan.Change{
		{Action: plan.Delete, Destination: "nuget.feed", Key: "a/1.0.0"},
		{Action: plan.Delete, Destination: "nuget.feed", Key: "a/2.0.0"},
		{Action: plan.Delete, Destination: "nuget.feed", Key: "a/3.0.0", DryRun: true},
		{Action: plan.Add, Destination: "nuget.other", Key: "b/1.0.0"},
		{Action: plan.Delete, Destination: "dir.local", Key: "c"},
	}
	want := []plan.DeleteNote{{Destination: "nuget.feed", Deletes: 2, Note: "hard deletes"}}
	if diff := cmp.Diff(want, deleteNotes(cfg, changes)); diff != "" {
		t.Errorf("deleteNotes (-want +got):\n%s", diff)
	}
}
