package cli

import (
	"strings"
	"testing"
)

// TestParseImportAddress: one artifact; a whole mirror or a consumer
// output is refused.
func TestParseImportAddress(t *testing.T) {
	for in, want := range map[string]string{
		`mirror.tools["a/b"]`:             "",
		`mirror.tools`:                    "name one artifact",
		`mirror.tools.rewrite["bp.toml"]`: "a consumer output is not imported",
		`nonsense[`:                       "invalid address",
	} {
		_, err := parseImportAddress(in)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v; want %q", in, err, want)
		}
	}
}
