package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// editPlan decodes a saved plan, lets edit change it and writes it to name.
func editPlan(t *testing.T, dir, from, name string, edit func(p map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, from))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		t.Fatal(err)
	}
	edit(p)
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// planChange returns the change at addr of a decoded plan.
func planChange(t *testing.T, p map[string]any, addr string) map[string]any {
	t.Helper()
	for _, c := range p["changes"].([]any) {
		if c := c.(map[string]any); c["address"] == addr {
			return c
		}
	}
	t.Fatalf("the plan has no change %s", addr)
	return nil
}

// TestEditedPlanIsRefused: apply executes a saved plan only if every change
// in it is one the configuration and the state justify. An edited plan (a
// delete of a file ferry never owned, another digest, a consumer output in
// another directory) is refused whole, and nothing is touched.
func TestEditedPlanIsRefused(t *testing.T) {
	dir, _, _, env := buildpackExample(t)
	ferry(t, dir, env, "plan", "-out", "p.json").must(t, 0, "Plan: 8 to add, 0 to replace, 0 to delete, 3 to rewrite.")

	// A file ferry never wrote, at the destination.
	victim := filepath.Join(dir, "mirror", "victim.txt")
	if err := os.WriteFile(victim, []byte("not ferry's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const (
		nodeRewrite = `mirror.node.rewrite["out/node-engine/buildpack.toml"]`
		victimAddr  = `mirror.node["victim.txt"]`
	)
	var firstAdd string
	editPlan(t, dir, "p.json", "probe.json", func(p map[string]any) {
		for _, c := range p["changes"].([]any) {
			if c := c.(map[string]any); c["action"] == "add" && firstAdd == "" {
				firstAdd = c["address"].(string)
			}
		}
	})

	deleteVictim := func(p map[string]any) {
		p["changes"] = append(p["changes"].([]any), map[string]any{
			"address": victimAddr, "mirror": "node", "key": "victim.txt",
			"action": "delete", "reason": "removed_from_source", "destination": "dir.local",
		})
	}
	otherDigest := func(p map[string]any) {
		c := planChange(t, p, firstAdd)
		c["after"].(map[string]any)["digests"] = []any{"sha256:" + strings.Repeat("0", 64)}
	}
	moveOutput := func(p map[string]any) {
		c := planChange(t, p, nodeRewrite)
		c["key"] = "elsewhere/buildpack.toml"
		c["address"] = `mirror.node.rewrite["elsewhere/buildpack.toml"]`
		c["output"].(map[string]any)["path"] = "elsewhere/buildpack.toml"
		c["output"].(map[string]any)["detail"].(map[string]any)["path"] = "elsewhere/buildpack.toml"
	}
	const (
		wantDelete = victimAddr + ` (delete): the state records no object "victim.txt" of mirror "node" at dir.local, and ferry deletes only what it owns`
		wantDigest = " (add): it expects digests sha256:0000000000000000000000000000000000000000000000000000000000000000, but source"
		wantOutput = `mirror.node.rewrite["elsewhere/buildpack.toml"] (rewrite): mirror "node" has no such consumer output`
	)
	for _, tc := range []struct {
		name  string
		edits []func(map[string]any)
		want  []string
	}{
		{"delete.json", []func(map[string]any){deleteVictim}, []string{wantDelete}},
		{"digest.json", []func(map[string]any){otherDigest}, []string{firstAdd + wantDigest}},
		{"output.json", []func(map[string]any){moveOutput}, []string{wantOutput}},
		{"all.json", []func(map[string]any){deleteVictim, otherDigest, moveOutput}, []string{wantDelete, firstAdd + wantDigest, wantOutput}},
	} {
		editPlan(t, dir, "p.json", tc.name, func(p map[string]any) {
			for _, e := range tc.edits {
				e(p)
			}
		})
		r := ferry(t, dir, env, "apply", tc.name)
		r.must(t, 1, append(tc.want, "Saved plan "+tc.name+" refused", "Nothing was applied")...)

		if got := mirroredFiles(t, filepath.Join(dir, "mirror")); len(got) != 1 || got[0] != "victim.txt" {
			t.Fatalf("%s: after a refused apply the destination holds %v; want only victim.txt", tc.name, got)
		}
		for _, p := range []string{"out", "elsewhere", "ferry.state.json"} {
			if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
				t.Fatalf("%s: a refused apply wrote %s (err=%v)", tc.name, p, err)
			}
		}
	}

	// The plan as ferry wrote it applies, and leaves what ferry does not own.
	ferry(t, dir, env, "apply", "p.json").must(t, 0, "Apply complete: 11 changes applied")
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("apply removed a file ferry does not own: %v", err)
	}
}

// TestDeleteOfChangedObjectNeedsConfirmation: a retention delete of an object
// someone replaced at the destination is shown as such and refused until
// -allow-delete names it; a saved plan keeps that confirmation.
func TestDeleteOfChangedObjectNeedsConfirmation(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")

	const addr = `mirror.tools["greeting/1.1.0/greeting-1.1.0.txt"]`
	changed := filepath.Join(dir, "mirror/greeting/1.1.0/greeting-1.1.0.txt")
	if err := os.WriteFile(changed, []byte("someone else's work\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	orig, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, bytes.Replace(orig, []byte("keep_last   = 2"), []byte("keep_last   = 1"), 1), 0o644)

	ferry(t, dir, env, "plan").must(t, 1, "Error: Owned object changed at destination", "The plan would delete "+addr+" (retention: keep_last = 1)",
		"-allow-delete='"+addr+"'")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 1, "Owned object changed at destination")
	if _, err := os.Stat(changed); err != nil {
		t.Fatalf("a refused plan deleted the changed file: %v", err)
	}

	ferry(t, dir, env, "plan", "-allow-delete", addr, "-out", "p.json").must(t, 0,
		addr+"    (retention: keep_last = 1; changed at destination since ferry wrote it)", "Plan: 0 to add, 0 to replace, 1 to delete")
	ferry(t, dir, env, "apply", "-allow-delete", addr, "p.json").must(t, 1, "cannot be combined with a plan file")
	editPlan(t, dir, "p.json", "unconfirmed.json", func(p map[string]any) { delete(p, "allow_deletes") })
	ferry(t, dir, env, "apply", "unconfirmed.json").must(t, 1, addr+" (delete): it changed at the destination since ferry wrote it, and -allow-delete does not name it")
	ferry(t, dir, env, "apply", "p.json").must(t, 0, addr+": deleted")
	if _, err := os.Stat(changed); !os.IsNotExist(err) {
		t.Fatalf("the confirmed delete left the file (err=%v)", err)
	}
}
