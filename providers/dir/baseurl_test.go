package dir

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestDecodeBaseURL(t *testing.T) {
	tests := []struct {
		name, baseURL string
		want          string // BaseURL when wantDiag is ""
		wantDiag      string // the one diagnostic's summary
		wantDetail    string
	}{
		{name: "https", baseURL: "https://mirror.internal/deps/", want: "https://mirror.internal/deps"},
		{name: "http with port", baseURL: "http://127.0.0.1:8733", want: "http://127.0.0.1:8733"},
		// packit opens file:// uris inside the buildpack directory, so
		// consumer files would name files no build finds.
		{name: "file", baseURL: "file:///srv/mirror", wantDiag: "Unusable base URL", wantDetail: "inside the buildpack's own directory"},
		{name: "file upper case", baseURL: "FILE:///srv/mirror", wantDiag: "Unusable base URL", wantDetail: "http:// or https://"},
		{name: "file with host", baseURL: "file://host/srv", wantDiag: "Unusable base URL"},
		{name: "no host", baseURL: "https:///deps", wantDiag: "Invalid base URL"},
		{name: "ftp", baseURL: "ftp://mirror.internal/", wantDiag: "Invalid base URL"},
		{name: "credentials", baseURL: "https://u:p@mirror.internal/", wantDiag: "Invalid base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := decodeDest(t, "path = \"mirror\"\nbase_url = \""+tt.baseURL+"\"\n")
			if tt.wantDiag == "" {
				if diags.HasErrors() || got.BaseURL != tt.want {
					t.Errorf("BaseURL = %q, %v; want %q", got.BaseURL, diags, tt.want)
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != tt.wantDiag || !strings.Contains(diags[0].Detail, tt.wantDetail) {
				t.Fatalf("diags = %v, want one %q saying %q", diags, tt.wantDiag, tt.wantDetail)
			}
			// file:line:col of the value, where the user fixes it.
			want := hcl.Pos{Line: 2, Column: 12, Byte: 27}
			if s := diags[0].Subject; s == nil || s.Filename != "main.ferry.hcl" || s.Start != want {
				t.Errorf("diagnostic subject %v, want main.ferry.hcl at %v", s, want)
			}
			if got.BaseURL != "" {
				t.Errorf("BaseURL = %q after the error, want empty", got.BaseURL)
			}
		})
	}
}
