package main_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

// k8sObject is the part of a Kubernetes object the example test reads.
type k8sObject struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     struct {
		CompletionMode       string `yaml:"completionMode"`
		Completions          *int   `yaml:"completions"`
		Parallelism          *int   `yaml:"parallelism"`
		BackoffLimitPerIndex *int   `yaml:"backoffLimitPerIndex"`
		Template             struct {
			Spec struct {
				RestartPolicy string `yaml:"restartPolicy"`
				Containers    []struct {
					Args []string `yaml:"args"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestKubernetesExample checks examples/kubernetes/ferry.yaml says what
// README.md and docs/scaling.md promise: a plan Job writing the plan
// file, an Indexed Job of N shards (completions = parallelism = N =
// -shards, per-index retries, restartPolicy Never) applying that file, a
// finalize Job applying it with -finalize, and a configuration that keeps
// the state in S3 and that ferry validate accepts.
func TestKubernetesExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/kubernetes/ferry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]k8sObject{}
	var config map[string]string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch o.Kind {
		case "Job":
			jobs[o.Metadata.Name] = o
		case "ConfigMap":
			config = o.Data
		}
	}
	args := func(name string) []string {
		t.Helper()
		j, ok := jobs[name]
		if !ok || len(j.Spec.Template.Spec.Containers) != 1 {
			t.Fatalf("no Job %q with one container", name)
		}
		if j.Spec.Template.Spec.RestartPolicy != "Never" {
			t.Errorf("Job %s: restartPolicy %q, want Never (a retried pod resumes from the state)", name, j.Spec.Template.Spec.RestartPolicy)
		}
		return j.Spec.Template.Spec.Containers[0].Args
	}
	const planFile = "/plans/plan.json"
	if got, want := args("ferry-plan"), []string{"plan", "-out", planFile}; !slices.Equal(got, want) {
		t.Errorf("plan Job args %q, want %q", got, want)
	}
	if got, want := args("ferry-finalize"), []string{"apply", "-finalize", planFile}; !slices.Equal(got, want) {
		t.Errorf("finalize Job args %q, want %q", got, want)
	}
	sh := jobs["ferry-shards"].Spec
	a := args("ferry-shards")
	switch {
	case sh.CompletionMode != "Indexed":
		t.Errorf("shard Job completionMode %q, want Indexed (JOB_COMPLETION_INDEX)", sh.CompletionMode)
	case sh.Completions == nil || sh.Parallelism == nil || *sh.Completions != *sh.Parallelism || *sh.Completions < 1:
		t.Errorf("shard Job completions %v, parallelism %v: want equal, N", sh.Completions, sh.Parallelism)
	case sh.BackoffLimitPerIndex == nil || *sh.BackoffLimitPerIndex < 1:
		t.Errorf("shard Job: no backoffLimitPerIndex (a failed shard must be retried for its index)")
	case !slices.Equal(a, []string{"apply", "-shards", strconv.Itoa(*sh.Completions), planFile}):
		t.Errorf("shard Job args %q, want apply -shards %d %s", a, *sh.Completions, planFile)
	}

	// The configuration the pods mount is valid and keeps the state in S3.
	dir := t.TempDir()
	for name, content := range config {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Contains([]byte(config["main.ferry.hcl"]), []byte(`backend "s3"`)) {
		t.Error(`the example's configuration keeps the state locally: shards on several nodes need backend "s3"`)
	}
	ferry(t, dir, nil, "validate").must(t, 0)
}
