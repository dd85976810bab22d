package config_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/internal/s3client"
	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/state/s3backend"
)

func TestLoadBackend(t *testing.T) {
	backends := map[string]config.BackendDecoder{"s3": s3backend.Decode}
	for _, tt := range []struct {
		name string
		src  string
		want *s3backend.Config
		// errs are the expected error summaries with their line.
		errs []string
	}{
		{name: "s3", src: `variable "secret" {
  sensitive = true
  default   = "s3cr3t"
}
ferry {
  backend "s3" {
    bucket            = "ferry-state"
    key               = "ci/prod.ferry.state.json"
    endpoint          = "http://127.0.0.1:9000/"
    force_path_style  = true
    access_key_id     = "AKID"
    secret_access_key = var.secret
  }
}`, want: &s3backend.Config{Bucket: "ferry-state", Key: "ci/prod.ferry.state.json", Config: s3client.Config{
			Endpoint: "http://127.0.0.1:9000", ForcePathStyle: true, AccessKeyID: "AKID", SecretAccessKey: "s3cr3t"}}},
		{name: "unsupported type", src: "ferry {\n  backend \"gcs\" {\n  }\n}", errs: []string{"Unsupported backend type:2"}},
		{name: "with state", src: "ferry {\n  state = \"x.json\"\n  backend \"s3\" {\n    bucket = \"abc\"\n    key = \"k\"\n  }\n}", errs: []string{"Conflicting state settings:2"}},
		{name: "two", src: "ferry {\n  backend \"s3\" {\n    bucket = \"abc\"\n    key = \"k\"\n  }\n  backend \"s3\" {\n    bucket = \"abc\"\n    key = \"k\"\n  }\n}", errs: []string{"Duplicate backend block:6"}},
		{name: "bad key and bucket", src: "ferry {\n  backend \"s3\" {\n    bucket = \"A\"\n    key = \"../k\"\n  }\n}", errs: []string{"Invalid bucket:3", "Invalid key:4"}},
		{name: "missing key", src: "ferry {\n  backend \"s3\" {\n    bucket = \"abc\"\n  }\n}", errs: []string{"Missing required argument:2"}},
		{name: "half credentials", src: "ferry {\n  backend \"s3\" {\n    bucket = \"abc\"\n    key = \"k\"\n    access_key_id = \"x\"\n  }\n}", errs: []string{"Incomplete credentials:5"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := config.Load(config.LoadOptions{Dir: writeConfig(t, tt.src), Types: types(), Backends: backends})
			var got []string
			for _, d := range diags {
				line := 0
				if d.Subject != nil {
					line = d.Subject.Start.Line
				}
				got = append(got, fmt.Sprintf("%s:%d", d.Summary, line))
			}
			if diff := cmp.Diff(tt.errs, got); diff != "" {
				t.Fatalf("diagnostics (-want +got):\n%s\n%v", diff, diags)
			}
			if tt.want == nil {
				return
			}
			if cfg.Settings.Backend == nil || cfg.Settings.Backend.Type != "s3" {
				t.Fatalf("backend = %+v", cfg.Settings.Backend)
			}
			if diff := cmp.Diff(tt.want, cfg.Settings.Backend.Settings); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}
