package cli

import (
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
)

// TestBuildProviders: every configured block becomes a provider through the
// registry, and a type this build does not register is an error, not a
// provider silently missing later.
func TestBuildProviders(t *testing.T) {
	a := &app{logger: hclog.NewNullLogger(), env: []string{"FERRY_CACHE_DIR=" + t.TempDir()}}
	cfg := &config.Config{
		Sources:      map[string]*config.Source{"http.up": {Type: "http", Name: "up", Settings: &httpsrc.SourceConfig{}}},
		Destinations: map[string]*config.Destination{"dir.local": {Type: "dir", Name: "local", Settings: &dir.DestinationConfig{Path: t.TempDir()}}},
	}
	ps, err := a.buildProviders(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Source("http.up"); err != nil {
		t.Error(err)
	}
	if _, err := ps.Destination("dir.local"); err != nil {
		t.Error(err)
	}

	cfg.Sources["echo.x"] = &config.Source{Type: "echo", Name: "x", Settings: &httpsrc.SourceConfig{}}
	if _, err := a.buildProviders(cfg); err == nil || !strings.Contains(err.Error(), `no source type "echo"`) {
		t.Errorf("unknown source type: err = %v", err)
	}
	delete(cfg.Sources, "echo.x")
	// Settings of another type than the block's are refused too.
	cfg.Destinations["dir.local"].Settings = &httpsrc.SourceConfig{}
	if _, err := a.buildProviders(cfg); err == nil {
		t.Error("mismatched destination settings were accepted")
	}
}
