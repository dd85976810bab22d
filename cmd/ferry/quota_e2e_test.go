package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeleteQuota: a destination with a delete quota (deletes_per_hour, as
// a type such as ProGet's declares it) shows its deletes' pace in the
// plan; apply sends what the quota allows now and leaves the rest owned
// for a later apply (exit 0: nothing failed); an apply right after (as
// after an interrupted one) sends nothing more, because the state records
// the deletes just sent; lifting the quota lets the rest go.
func TestDeleteQuota(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")

	// The mirror goes: its three objects are to be deleted, two an hour.
	noMirror := bytes.Split(orig, []byte("mirror \"tools\" {"))[0]
	withQuota := func(n string) []byte {
		return bytes.Replace(noMirror, []byte("path = \"mirror\"\n"), []byte("path = \"mirror\"\n  deletes_per_hour = "+n+"\n"), 1)
	}
	if err := os.WriteFile(cfgPath, withQuota("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan").must(t, 0,
		"destination.dir.local: 3 deletes, at most 2 per hour: about 1h",
		"Plan: 0 to add, 0 to replace, 3 to delete")
	r := ferry(t, dir, env, "plan", "-json")
	r.must(t, 0)
	var p struct {
		DeleteQuotas []map[string]any `json:"delete_quotas"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.DeleteQuotas) != 1 || p.DeleteQuotas[0]["destination"] != "dir.local" || p.DeleteQuotas[0]["deletes"] != 3.0 || p.DeleteQuotas[0]["per_hour"] != 2.0 {
		t.Fatalf("plan JSON delete_quotas = %v", p.DeleteQuotas)
	}

	last := `mirror.tools["tool/2.0.0/linux-amd64/tool"]`
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0,
		"Apply complete: 2 changes applied",
		"1 delete left for a later apply by delete quotas",
		"destination.dir.local takes at most 2 per hour; the next may start at",
		"    - "+last)
	if got := mirroredFiles(t, filepath.Join(dir, "mirror")); len(got) != 1 || got[0] != "tool/2.0.0/linux-amd64/tool" {
		t.Fatalf("after the paced apply the destination holds %v; want only the deferred tool", got)
	}
	if got := stateKeys(t, filepath.Join(dir, "ferry.state.json"), "tools"); len(got) != 1 || got[0] != "tool/2.0.0/linux-amd64/tool" {
		t.Fatalf("state owns %v; want the deferred tool still owned", got)
	}
	st := readState(t, filepath.Join(dir, "ferry.state.json"))
	if recent, _ := st["recent_deletes"].(map[string]any)["dir.local"].([]any); len(recent) != 2 {
		t.Fatalf("state recent_deletes = %v; want the two deletes sent", st["recent_deletes"])
	}

	// The next plan plans the rest again and counts the deletes just sent;
	// the next apply sends nothing before the hour is over.
	ferry(t, dir, env, "plan").must(t, 0, "destination.dir.local: 1 delete, at most 2 per hour: about ", "1 to delete")
	r = ferry(t, dir, env, "apply", "-auto-approve", "-max-delete-wait=1s")
	r.must(t, 0, "Apply complete: 0 changes applied", "1 delete left for a later apply", "    - "+last)
	if strings.Contains(r.stdout, ": deleted") {
		t.Fatalf("an apply within the hour deleted:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "mirror/tool/2.0.0/linux-amd64/tool")); err != nil {
		t.Fatalf("the deferred object is gone: %v", err)
	}

	// deletes_per_hour = 0 lifts the quota.
	if err := os.WriteFile(cfgPath, withQuota("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0, last+": deleted", "Apply complete: 1 change applied")
	if strings.Contains(r.stdout, "Delete quotas") || strings.Contains(r.stdout, "later apply") {
		t.Fatalf("a lifted quota still shows:\n%s", r.stdout)
	}
}
