package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
)

// TestFunctionErrorsHideSensitiveArguments: a failing file() or env() call
// with a sensitive argument never repeats it; a plain one still does, and a
// sensitive argument makes the result sensitive.
func TestFunctionErrorsHideSensitiveArguments(t *testing.T) {
	const secret = "hunter2-fn-SECRET"
	tests := []struct {
		name   string
		call   string
		hidden bool
	}{
		{name: "file of sensitive missing path", call: "file(var.secret)", hidden: true},
		{name: "file of sensitive() path", call: `file(sensitive("` + secret + `"))`, hidden: true},
		{name: "file of sensitive directory", call: `file(sensitive("` + secret + `-dir"))`, hidden: true},
		{name: "file of sensitive non-UTF-8 file", call: `file(sensitive("` + secret + `-bin"))`, hidden: true},
		{name: "env of sensitive unset name", call: "env(var.secret)", hidden: true},
		{name: "env of sensitive() unset name", call: `env(sensitive("` + secret + `"))`, hidden: true},
		{name: "file of plain path", call: `file("` + secret + `")`},
		{name: "env of plain name", call: `env("` + secret + `")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := writeConfig(t, `
variable "secret" {
  type      = string
  sensitive = true
}
source "http" "s" {
  artifact "a" {
    url    = "https://example.org/${`+tt.call+`}"
    key    = "a"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}
`, secret+"-bin", "\xff\xfe")
			if err := os.Mkdir(filepath.Join(d, secret+"-dir"), 0o755); err != nil {
				t.Fatal(err)
			}
			_, diags := config.Load(config.LoadOptions{Dir: d, Env: []string{"FERRY_VAR_secret=" + secret}, Types: types()})
			if !diags.HasErrors() {
				t.Fatalf("%s did not fail", tt.call)
			}
			shown := false
			for _, diag := range diags {
				shown = shown || strings.Contains(diag.Summary+diag.Detail, secret)
			}
			if shown != !tt.hidden {
				t.Errorf("argument shown = %v, want %v:\n%s", shown, !tt.hidden, diags)
			}
		})
	}

	t.Run("results carry the marks", func(t *testing.T) {
		d := writeConfig(t, `
variable "secret" {
  type      = string
  sensitive = true
}
source "http" "s" {
  artifact "file" {
    url    = "https://example.org/${file(var.secret)}"
    key    = "file"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
  artifact "env" {
    url    = "https://example.org/${env(var.secret)}"
    key    = "env"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  }
}
`, "token.txt", "tok")
		cfg, diags := config.Load(config.LoadOptions{Dir: d, Env: []string{"FERRY_VAR_secret=token.txt", "token.txt=tok"}, Types: types()})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, a := range cfg.Sources["http.s"].Settings.(*httpsrc.SourceConfig).Artifacts {
			if a.URL != "https://example.org/tok" || a.DisplayURL != "(sensitive)" {
				t.Errorf("artifact %s: URL, DisplayURL = %q, %q; want the token, (sensitive)", a.Key, a.URL, a.DisplayURL)
			}
		}
	})
}
