package schema

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestNameSuggestion(t *testing.T) {
	names := []string{"keep", "keep_last", "max_age"}
	tests := []struct{ given, want string }{
		{"keep_lats", "keep_last"},
		{"kep", "keep"},
		{"max_ages", "max_age"},
		{"retention", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NameSuggestion(tt.given, names); got != tt.want {
			t.Errorf("NameSuggestion(%q) = %q, want %q", tt.given, got, tt.want)
		}
	}
	if got := editDistance("kitten", "sitting"); got != 3 {
		t.Errorf("editDistance(kitten, sitting) = %d, want 3", got)
	}
	if got := editDistance("äb", "ab"); got != 1 {
		t.Errorf("editDistance counts bytes, not runes: got %d, want 1", got)
	}
}

func TestDropConsequences(t *testing.T) {
	rng := hcl.Range{Filename: "x"}
	real := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No value for required variable", Subject: &rng}
	cons := dependsOnInvalid(rng)
	if got := DropConsequences(hcl.Diagnostics{cons, real}); len(got) != 1 || got[0] != real {
		t.Errorf("DropConsequences kept %v, want only the real error", got)
	}
	// Never hide the only errors there are.
	if got := DropConsequences(hcl.Diagnostics{cons}); len(got) != 1 {
		t.Errorf("DropConsequences dropped an unexplained error: %v", got)
	}
}
