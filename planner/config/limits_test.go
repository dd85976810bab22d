package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// max_artifact_size takes bytes or a size with a unit; http_idle_timeout a
// Go duration. Anything else is a diagnostic at the value.
func TestTransferLimits(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantSize int64
		wantIdle time.Duration
		wantDiag string // a substring of the one diagnostic; "" for none
	}{
		{name: "unset"},
		{name: "GiB", body: `max_artifact_size = "8GiB"`, wantSize: 8 << 30},
		{name: "MB with a space", body: `max_artifact_size = "500 MB"`, wantSize: 500e6},
		{name: "bytes as a number", body: `max_artifact_size = 1048576`, wantSize: 1 << 20},
		{name: "lower case unit", body: `max_artifact_size = "2mib"`, wantSize: 2 << 20},
		{name: "zero", body: `max_artifact_size = "0GiB"`, wantDiag: "max_artifact_size must be greater than zero"},
		{name: "unknown unit", body: `max_artifact_size = "8 gigs"`, wantDiag: `max_artifact_size "8 gigs" is not a size`},
		{name: "fraction", body: `max_artifact_size = "1.5GiB"`, wantDiag: "is not a size"},
		{name: "negative", body: `max_artifact_size = -1`, wantDiag: "is not a size"},
		{name: "overflow", body: `max_artifact_size = "99999999999TiB"`, wantDiag: "is too large"},
		{name: "idle timeout", body: `http_idle_timeout = "5m"`, wantIdle: 5 * time.Minute},
		{name: "idle timeout zero", body: `http_idle_timeout = "0s"`, wantDiag: "http_idle_timeout must be a positive Go duration"},
		{name: "idle timeout no unit", body: `http_idle_timeout = "60"`, wantDiag: `got "60"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := writeConfig(t, fmt.Sprintf("ferry {\n  %s\n}\n", tt.body))
			cfg, diags := config.Load(config.LoadOptions{Dir: d, Types: types()})
			var got []string
			for _, diag := range diags {
				if strings.Contains(diag.Summary, "max_artifact_size") || strings.Contains(diag.Summary, "http_idle_timeout") {
					got = append(got, diag.Detail)
					if diag.Subject == nil || diag.Subject.Start.Line != 2 {
						t.Errorf("diagnostic %q is not at line 2: %v", diag.Summary, diag.Subject)
					}
				}
			}
			if tt.wantDiag != "" {
				if len(got) != 1 || !strings.Contains(got[0], tt.wantDiag) {
					t.Fatalf("diagnostics %q; want one saying %q", got, tt.wantDiag)
				}
				return
			}
			if len(got) != 0 {
				t.Fatalf("unexpected diagnostics %q", got)
			}
			if cfg.Settings.MaxArtifactSize != tt.wantSize || cfg.Settings.HTTPIdleTimeout != tt.wantIdle {
				t.Errorf("settings = %d, %s; want %d, %s", cfg.Settings.MaxArtifactSize, cfg.Settings.HTTPIdleTimeout, tt.wantSize, tt.wantIdle)
			}
		})
	}
}

// TestDeletesPerHour: a destination's delete quota is its type's
// Limits.DeletesPerHour unless its block sets deletes_per_hour (0 lifts
// it); the argument is the core's, so the type's decoder never sees it,
// and a bad value is a diagnostic at the value.
func TestDeletesPerHour(t *testing.T) {
	// quota is dir with a declared quota, as a provider for a server with
	// one (ProGet's free edition) declares it.
	quota := func() []schema.Type {
		ts := types()
		for _, typ := range ts {
			if typ.Kind == schema.KindDestination && typ.Name == "dir" {
				typ.Name = "quota"
				typ.Limits.DeletesPerHour = 10
				ts = append(ts, typ)
				break
			}
		}
		return ts
	}()
	tests := []struct {
		name     string
		block    string
		want     int
		wantDiag string // a substring of the one error; "" for none
	}{
		{name: "type without a quota", block: `destination "dir" "d" { path = "m" }`, want: 0},
		{name: "type's quota", block: `destination "quota" "d" { path = "m" }`, want: 10},
		{name: "block sets one", block: "destination \"dir\" \"d\" {\n  path = \"m\"\n  deletes_per_hour = 4\n}", want: 4},
		{name: "block lowers the type's", block: "destination \"quota\" \"d\" {\n  path = \"m\"\n  deletes_per_hour = 3\n}", want: 3},
		{name: "zero lifts the type's", block: "destination \"quota\" \"d\" {\n  path = \"m\"\n  deletes_per_hour = 0\n}", want: 0},
		{name: "negative", block: "destination \"quota\" \"d\" {\n  path = \"m\"\n  deletes_per_hour = -1\n}", wantDiag: "deletes_per_hour is the most deletes"},
		{name: "not a number", block: "destination \"dir\" \"d\" {\n  path = \"m\"\n  deletes_per_hour = \"many\"\n}", wantDiag: "number"},
		{name: "the type still refuses unknown arguments", block: "destination \"dir\" \"d\" {\n  path = \"m\"\n  deletes_per_day = 4\n}", wantDiag: "deletes_per_day"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := writeConfig(t, tt.block+"\n")
			cfg, diags := config.Load(config.LoadOptions{Dir: d, Types: quota})
			if tt.wantDiag != "" {
				if len(diags) != 1 || !strings.Contains(diags[0].Summary+" "+diags[0].Detail, tt.wantDiag) {
					t.Fatalf("diagnostics %v; want one saying %q", diags, tt.wantDiag)
				}
				if diags[0].Subject == nil || diags[0].Subject.Start.Line != 3 {
					t.Errorf("diagnostic not at line 3: %v", diags[0].Subject)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			var got *config.Destination
			for _, dst := range cfg.Destinations {
				got = dst
			}
			if got == nil || got.DeletesPerHour != tt.want {
				t.Errorf("destination %+v; want DeletesPerHour %d", got, tt.want)
			}
		})
	}
}
