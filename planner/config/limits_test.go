package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mirror/ferry/planner/config"
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
