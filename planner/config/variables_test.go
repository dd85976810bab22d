package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
)

const precedenceConfig = `
variable "region" {
  default = "from-default"
}
variable "count" {
  type    = number
  default = 1
}
variable "tags" {
  type    = list(string)
  default = []
}
variable "anything" {
  default = null
}
variable "settings" {
  type    = object({ name = string, size = number })
  default = { name = "d", size = 0 }
}
`

func TestVariablePrecedence(t *testing.T) {
	d := writeConfig(t, precedenceConfig,
		"one.hcl", `region = "from-file-one"`+"\n",
		"two.hcl", `region = "from-file-two"`+"\ncount = 7\n",
		"complex.hcl", `tags = ["x", "y"]`+"\n"+`settings = { name = "f", size = "3" }`+"\n",
	)
	file := func(name string) config.VarArg { return config.VarArg{File: true, Value: filepath.Join(d, name)} }
	opt := func(nv string) config.VarArg { return config.VarArg{Value: nv} }

	tests := []struct {
		name string
		env  []string
		vars []config.VarArg
		want map[string]cty.Value // only the variables named here are checked
	}{
		{
			name: "default",
			want: map[string]cty.Value{"region": cty.StringVal("from-default"), "count": cty.NumberIntVal(1)},
		},
		{
			name: "env beats default",
			env:  []string{"FERRY_VAR_region=from-env", "OTHER=x"},
			want: map[string]cty.Value{"region": cty.StringVal("from-env")},
		},
		{
			name: "var-file beats env",
			env:  []string{"FERRY_VAR_region=from-env"},
			vars: []config.VarArg{file("one.hcl")},
			want: map[string]cty.Value{"region": cty.StringVal("from-file-one")},
		},
		{
			name: "var beats var-file given before it",
			env:  []string{"FERRY_VAR_region=from-env"},
			vars: []config.VarArg{file("one.hcl"), opt("region=from-var")},
			want: map[string]cty.Value{"region": cty.StringVal("from-var")},
		},
		{
			name: "var-file beats var given before it",
			vars: []config.VarArg{opt("region=from-var"), file("one.hcl")},
			want: map[string]cty.Value{"region": cty.StringVal("from-file-one")},
		},
		{
			name: "later var-file wins",
			vars: []config.VarArg{file("one.hcl"), file("two.hcl")},
			want: map[string]cty.Value{"region": cty.StringVal("from-file-two"), "count": cty.NumberIntVal(7)},
		},
		{
			name: "later var wins",
			vars: []config.VarArg{opt("region=a"), opt("region=b")},
			want: map[string]cty.Value{"region": cty.StringVal("b")},
		},
		{
			name: "var value may contain =",
			vars: []config.VarArg{opt("region=a=b")},
			want: map[string]cty.Value{"region": cty.StringVal("a=b")},
		},
		{
			name: "number from var and env is converted",
			env:  []string{"FERRY_VAR_count=3"},
			vars: []config.VarArg{opt("count=42")},
			want: map[string]cty.Value{"count": cty.NumberIntVal(42)},
		},
		{
			name: "number from env is converted",
			env:  []string{"FERRY_VAR_count=3"},
			want: map[string]cty.Value{"count": cty.NumberIntVal(3)},
		},
		{
			name: "list and object from var are HCL expressions",
			vars: []config.VarArg{opt(`tags=["a", "b"]`), opt(`settings={ name = "v", size = 2 }`)},
			want: map[string]cty.Value{
				"tags":     cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
				"settings": cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("v"), "size": cty.NumberIntVal(2)}),
			},
		},
		{
			name: "list from env is an HCL expression",
			env:  []string{`FERRY_VAR_tags=["e"]`},
			want: map[string]cty.Value{"tags": cty.ListVal([]cty.Value{cty.StringVal("e")})},
		},
		{
			name: "complex values from a var file are converted",
			vars: []config.VarArg{file("complex.hcl")},
			want: map[string]cty.Value{
				"tags":     cty.ListVal([]cty.Value{cty.StringVal("x"), cty.StringVal("y")}),
				"settings": cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("f"), "size": cty.NumberIntVal(3)}),
			},
		},
		{
			name: "untyped variable takes the raw string",
			vars: []config.VarArg{opt(`anything=[1, 2]`)},
			want: map[string]cty.Value{"anything": cty.StringVal("[1, 2]")},
		},
		{
			name: "null default of an untyped variable",
			want: map[string]cty.Value{"anything": cty.NullVal(cty.DynamicPseudoType)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := config.Load(config.LoadOptions{Dir: d, Env: tt.env, Vars: tt.vars, Types: types()})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got := map[string]cty.Value{}
			for name := range tt.want {
				got[name] = cfg.Variables[name].Value
			}
			if diff := cmp.Diff(tt.want, got, cmpConfig...); diff != "" {
				t.Errorf("variable values mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

const sensitiveConfig = `
variable "password" {
  type      = string
  sensitive = true
}
variable "host" {
  default = "example.org"
}
source "http" "private" {
  artifact "tool" {
    url    = "https://ci:${var.password}@${var.host}/tool.tgz"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "tool.tgz"
  }
  artifact "wrapped" {
    url    = sensitive("https://${var.host}/secret-path/file")
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "wrapped"
  }
  artifact "upper" {
    url    = lower("HTTPS://${upper(var.password)}.example.org/f")
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "upper"
  }
}
`

func TestSensitivePropagates(t *testing.T) {
	d := writeConfig(t, sensitiveConfig)
	cfg, diags := config.Load(config.LoadOptions{
		Dir:   d,
		Env:   []string{"FERRY_VAR_password=hunter2"},
		Types: types(),
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if v := cfg.Variables["password"].Value; !v.HasMark(schema.SensitiveMark) {
		t.Errorf("password value %#v is not marked sensitive", v)
	}
	if v := cfg.Variables["host"].Value; v.IsMarked() {
		t.Errorf("host value %#v is marked", v)
	}
	src := cfg.Sources["http.private"].Settings.(*httpsrc.SourceConfig)
	want := []struct{ url, display string }{
		{"https://ci:hunter2@example.org/tool.tgz", "(sensitive)"},
		{"https://example.org/secret-path/file", "(sensitive)"},
		{"https://hunter2.example.org/f", "(sensitive)"},
	}
	if len(src.Artifacts) != len(want) {
		t.Fatalf("got %d artifacts, want %d", len(src.Artifacts), len(want))
	}
	for i, w := range want {
		a := src.Artifacts[i]
		if a.URL != w.url || a.DisplayURL != w.display {
			t.Errorf("artifact %d: URL, DisplayURL = %q, %q; want %q, %q", i, a.URL, a.DisplayURL, w.url, w.display)
		}
	}
}

func TestDigest(t *testing.T) {
	d := writeConfig(t, sensitiveConfig)
	load := func(t *testing.T, dir string, env ...string) string {
		t.Helper()
		cfg, diags := config.Load(config.LoadOptions{Dir: dir, Env: env, Types: types()})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return cfg.Digest
	}
	base := load(t, d, "FERRY_VAR_password=one", "FERRY_VAR_host=a.example")

	if got := load(t, d, "FERRY_VAR_password=one", "FERRY_VAR_host=a.example"); got != base {
		t.Errorf("same inputs: digest %s, want %s", got, base)
	}
	if got := load(t, d, "FERRY_VAR_password=two", "FERRY_VAR_host=a.example"); got != base {
		t.Errorf("changing a sensitive variable changed the digest: %s, want %s", got, base)
	}
	if got := load(t, d, "FERRY_VAR_password=one", "FERRY_VAR_host=b.example"); got == base {
		t.Errorf("changing a non-sensitive variable did not change the digest (%s)", got)
	}
	// The directory spelling does not matter, the file contents do.
	rel, err := filepath.Rel(mustAbs(t, "."), d)
	if err == nil {
		if got := load(t, rel, "FERRY_VAR_password=one", "FERRY_VAR_host=a.example"); got != base {
			t.Errorf("relative dir: digest %s, want %s", got, base)
		}
	}
	if err := os.WriteFile(filepath.Join(d, "main.ferry.hcl"), []byte(sensitiveConfig+"\n# comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := load(t, d, "FERRY_VAR_password=one", "FERRY_VAR_host=a.example"); got == base {
		t.Errorf("changing a file did not change the digest (%s)", got)
	}
}

// TestSensitiveValuesNotInDiagnostics feeds rejected values of sensitive
// variables through every value source and checks that no diagnostic, and
// no rendered diagnostic with its source snippet, contains them.
func TestSensitiveValuesNotInDiagnostics(t *testing.T) {
	const secret = "hunter2-SECRET"
	d := writeConfig(t, `
variable "pin" {
  type      = number
  sensitive = true
}
variable "flag" {
  type      = bool
  sensitive = true
}
variable "list" {
  type      = list(string)
  sensitive = true
}
variable "obj" {
  type      = object({ user = string })
  sensitive = true
}
variable "from_file" {
  type      = number
  sensitive = true
}
variable "token" {
  sensitive = true
  default   = "t"
}
source "http" "s" {
  artifact "a" {
    url    = "ftp://${var.token}/x"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "a"
  }
  artifact "b" {
    url    = "https://example.org/%zz${var.token}"
    sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    key    = "b"
  }
}
`, "secret.hcl", "from_file = \""+secret+"\"\n")
	cfg, diags := config.Load(config.LoadOptions{
		Dir: d,
		Env: []string{"FERRY_VAR_pin=" + secret},
		Vars: []config.VarArg{
			{Value: "flag=" + secret},
			{Value: "list=[\"" + secret + "\","},
			{Value: "obj={ user = " + secret + " }"},
			{Value: "obj=\"" + secret + "\""},
			{File: true, Value: filepath.Join(d, "secret.hcl")},
			{Value: "token=ftp-" + secret},
		},
		Types: types(),
	})
	if len(diags) < 7 {
		t.Errorf("got %d diagnostics, want at least 7:\n%s", len(diags), diags)
	}
	for _, diag := range diags {
		if strings.Contains(diag.Summary, secret) || strings.Contains(diag.Detail, secret) {
			t.Errorf("diagnostic reveals the sensitive value: %s: %s", diag.Summary, diag.Detail)
		}
		if diag.Subject == nil {
			t.Errorf("diagnostic without Subject: %s", diag)
		}
	}
	var buf bytes.Buffer
	if err := hcl.NewDiagnosticTextWriter(&buf, cfg.Files, 100, false).WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secret) {
		t.Errorf("rendered diagnostics reveal the sensitive value:\n%s", buf.String())
	}
}

// TestVarFileNeverShowsSensitiveLines: when the configuration declares a
// sensitive variable, no diagnostic about a -var-file quotes any of its
// lines (not even with HCL's own writer, which prints every line of a
// range), whatever is wrong with the file. The position is kept.
func TestVarFileNeverShowsSensitiveLines(t *testing.T) {
	const secret = "hunter2-SECRET"
	const cfgSrc = `
variable "token" {
  type      = string
  sensitive = true
}
variable "pin" {
  type      = number
  sensitive = true
}
variable "region" {
  default = "eu"
}
`
	tests := []struct {
		name    string
		varFile string
	}{
		{name: "unquoted", varFile: "token = " + secret + "\n"},
		{name: "missing closing quote", varFile: "token = \"" + secret + "\nregion = \"us\"\n"},
		{name: "missing opening quote", varFile: "token = " + secret + "\"\n"},
		{name: "operator", varFile: "token = \"" + secret + "\" + 1\n"},
		{name: "unterminated string of another variable", varFile: "region = \"us\ntoken = \"" + secret + "\"\n"},
		{name: "unterminated heredoc", varFile: "token = <<EOT\n" + secret + "\n"},
		{name: "unterminated multi-line list", varFile: "region = [\"a\",\ntoken = \"" + secret + "\"\n"},
		{name: "template keyword quoted by HCL", varFile: "token = \"%{" + secret + "}\"\n"},
		{name: "bad escape", varFile: "token = \"\\" + secret + "\"\n"},
		{name: "mistyped name", varFile: "tokn = \"" + secret + "\"\n"},
		{name: "wrong type", varFile: "pin = \"" + secret + "\"\n"},
		{name: "function call", varFile: "token = upper(\"" + secret + "\")\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := writeConfig(t, cfgSrc, "secret.tfvars", tt.varFile)
			varFile := filepath.Join(d, "secret.tfvars")
			cfg, diags := config.Load(config.LoadOptions{
				Dir:   d,
				Env:   []string{"FERRY_VAR_pin=1", "FERRY_VAR_token=t"},
				Vars:  []config.VarArg{{File: true, Value: varFile}},
				Types: types(),
			})
			if !diags.HasErrors() {
				t.Fatalf("the var file %q loaded without error", tt.varFile)
			}
			for _, diag := range diags {
				if strings.Contains(diag.Summary, secret) || strings.Contains(diag.Detail, secret) {
					t.Errorf("diagnostic reveals the sensitive value: %s: %s", diag.Summary, diag.Detail)
				}
				if diag.Subject == nil || diag.Subject.Filename != varFile {
					t.Errorf("diagnostic lost its position in the var file: %s", diag)
				}
			}
			var buf bytes.Buffer
			if err := hcl.NewDiagnosticTextWriter(&buf, cfg.Files, 100, false).WriteDiagnostics(diags); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), secret) {
				t.Errorf("rendered diagnostics reveal the sensitive value:\n%s", buf.String())
			}
		})
	}
}

// TestVarFileShownWithoutSensitiveVariables: the var file's lines stay
// available to the diagnostic writer when nothing is sensitive.
func TestVarFileShownWithoutSensitiveVariables(t *testing.T) {
	d := writeConfig(t, "variable \"region\" {}\n", "v.tfvars", "region = eu\n")
	varFile := filepath.Join(d, "v.tfvars")
	cfg, diags := config.Load(config.LoadOptions{Dir: d, Vars: []config.VarArg{{File: true, Value: varFile}}, Types: types()})
	if !diags.HasErrors() {
		t.Fatal("an unquoted value loaded without error")
	}
	if cfg.Files[varFile] == nil {
		t.Errorf("the var file is not among the files diagnostics are rendered with")
	}
}
