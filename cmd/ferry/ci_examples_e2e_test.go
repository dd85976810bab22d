package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

const (
	ciGitHub = "../../examples/ci/github/ferry.yml"
	ciGitLab = "../../examples/ci/gitlab/.gitlab-ci.yml"
	ciConfig = "../../examples/ci/mirrors"
)

// actionlintPath finds actionlint as .ci/install-test-servers installs it:
// on PATH, else under $FERRY_TESTENV_ROOT/bin (default ~/.cache/ferry-testenv/bin).
func actionlintPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("actionlint"); err == nil {
		return p
	}
	root := os.Getenv(testenv.EnvTestenvRoot)
	if root == "" {
		if h, err := os.UserHomeDir(); err == nil {
			root = filepath.Join(h, ".cache", "ferry-testenv")
		}
	}
	p := filepath.Join(root, "bin", "actionlint")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("actionlint not found on PATH or at %s: run `bash .ci/install-test-servers` (go install github.com/rhysd/actionlint/cmd/actionlint), or set %s=1", p, testenv.EnvSkip)
	}
	return p
}

// TestCIExampleGitHubActionlint lints the GitHub Actions example with
// actionlint (syntax, expressions, action inputs, permissions). shellcheck
// is left out so the result does not depend on whether it is installed.
func TestCIExampleGitHubActionlint(t *testing.T) {
	if reason := testenv.Skip(); reason != "" {
		t.Skip(reason)
	}
	out, err := exec.Command(actionlintPath(t), "-shellcheck=", "-pyflakes=", ciGitHub).CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint %s: %v\n%s", ciGitHub, err, out)
	}
}

// TestCIExamplesShape: both CI examples plan on review with the markdown
// posted, apply the saved plan on merge, and check drift on a schedule
// with -detailed-exitcode; every ferry command line in them uses commands
// and flags this build has.
func TestCIExamplesShape(t *testing.T) {
	gh := readYAML(t, ciGitHub)
	on := mapOf(t, gh["on"], "on")
	for _, trigger := range []string{"pull_request", "push", "schedule", "workflow_dispatch"} {
		if _, ok := on[trigger]; !ok {
			t.Errorf("%s: no %s trigger", ciGitHub, trigger)
		}
	}
	jobs := mapOf(t, gh["jobs"], "jobs")
	ghJobs := map[string]struct{ when, permission string }{
		"plan":  {when: "pull_request", permission: "pull-requests"},
		"apply": {when: "push"},
		"drift": {when: "schedule", permission: "issues"},
	}
	var ghRuns []string
	for name, want := range ghJobs {
		job := mapOf(t, jobs[name], "jobs."+name)
		if cond, _ := job["if"].(string); !strings.Contains(cond, want.when) {
			t.Errorf("%s: job %s runs if %q; want it on %s", ciGitHub, name, cond, want.when)
		}
		if want.permission != "" {
			if p, _ := mapOf(t, job["permissions"], name+".permissions")[want.permission].(string); p != "write" {
				t.Errorf("%s: job %s: %s permission %q; want write", ciGitHub, name, want.permission, p)
			}
		}
		for _, step := range job["steps"].([]any) {
			if run, ok := mapOf(t, step, name+".steps[]")["run"].(string); ok {
				ghRuns = append(ghRuns, run)
			}
		}
	}

	gl := readYAML(t, ciGitLab)
	glJobs := map[string]string{"plan": "merge_request_event", "apply": "CI_DEFAULT_BRANCH", "drift": "schedule"}
	var glRuns []string
	if def, ok := gl["default"].(map[string]any); ok {
		glRuns = append(glRuns, scriptLines(def["before_script"])...)
	}
	for name, when := range glJobs {
		job := mapOf(t, gl[name], name)
		rules, _ := yaml.Marshal(job["rules"])
		if !strings.Contains(string(rules), when) {
			t.Errorf("%s: job %s rules %s; want it on %s", ciGitLab, name, rules, when)
		}
		glRuns = append(glRuns, scriptLines(job["script"])...)
	}
	if paths, _ := yaml.Marshal(mapOf(t, gl["plan"], "plan")["artifacts"]); !strings.Contains(string(paths), "plan.json") {
		t.Errorf("%s: the plan job keeps no plan.json artifact", ciGitLab)
	}

	flags := map[string][]string{} // by subcommand, from -h
	for file, runs := range map[string][]string{ciGitHub: ghRuns, ciGitLab: glRuns} {
		calls := ferryCalls(runs)
		var seen []string
		for _, call := range calls {
			sub, used := parseCall(call)
			if sub == "" {
				t.Errorf("%s: %q names no ferry command", file, call)
				continue
			}
			if _, ok := flags[sub]; !ok {
				r := ferry(t, t.TempDir(), nil, append(strings.Fields(sub), "-h")...)
				if r.code != 0 {
					t.Errorf("%s: %q: ferry %s -h exit %d: not a command\n%s%s", file, call, sub, r.code, r.stdout, r.stderr)
				}
				flags[sub] = helpFlags(r.stdout)
			}
			for _, f := range used {
				seen = append(seen, sub+" -"+f)
				if !slices.Contains(flags[sub], f) {
					t.Errorf("%s: %q: ferry %s has no flag -%s (has %v)", file, call, sub, f, flags[sub])
				}
			}
			if sub == "apply" && !strings.HasSuffix(call, ".json") {
				t.Errorf("%s: %q: apply must apply the saved, reviewed plan file", file, call)
			}
		}
		for _, want := range []string{"plan -out", "show -markdown", "plan -detailed-exitcode", "apply -lock-timeout"} {
			if !slices.Contains(seen, want) {
				t.Errorf("%s: no `ferry %s`; it runs %q", file, want, calls)
			}
		}
	}
}

// TestCIExampleConfig: the configuration the CI examples run (its state in
// an s3 backend) is valid and formatted.
func TestCIExampleConfig(t *testing.T) {
	dir := copyDir(t, ciConfig)
	ferry(t, dir, nil, "fmt", "-check").must(t, 0)
	r := ferry(t, dir, nil, "validate")
	r.must(t, 0, "The configuration is valid")
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func mapOf(t *testing.T, v any, what string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want a mapping, got %T", what, v)
	}
	return m
}

// scriptLines are a GitLab script's lines (a string or a list of them).
func scriptLines(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ferryCalls finds every shell command in scripts that runs ferry: the
// first word of a command, after splitting at ; && || | { ( and $( and
// dropping redirections.
func ferryCalls(scripts []string) []string {
	split := regexp.MustCompile(`\$\(|&&|\|\||[;|{}()\n]`)
	var out []string
	for _, s := range scripts {
		for _, cmd := range split.Split(s, -1) {
			cmd, _, _ = strings.Cut(cmd, ">")
			cmd = strings.TrimSpace(cmd)
			if cmd == "ferry" || strings.HasPrefix(cmd, "ferry ") {
				out = append(out, cmd)
			}
		}
	}
	return out
}

// parseCall returns the subcommand of a ferry command line ("plan",
// "state show") and the flags it gives, without dashes or values.
func parseCall(call string) (string, []string) {
	var sub []string
	var flags []string
	words := strings.Fields(call)[1:]
	for i := 0; i < len(words); i++ {
		w := words[i]
		if strings.HasPrefix(w, "-") {
			name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if name == "chdir" && !hasValue {
				i++ // the global flag's value
			}
			flags = append(flags, name)
			continue
		}
		if len(sub) == 0 || sub[0] == "state" && len(sub) == 1 {
			sub = append(sub, w)
		}
	}
	return strings.Join(sub, " "), flags
}

// helpFlags are the long flags a -h output lists (global ones included).
func helpFlags(help string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(help, -1) {
		out = append(out, m[1])
	}
	return out
}
