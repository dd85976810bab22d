package oci

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestComponent(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "node", want: "node"},
		{name: "uppercase", in: "Node.js", want: "node.js"},
		{name: "version dots", in: "20.11.1", want: "20.11.1"},
		{name: "plus", in: "jdk+fx", want: "jdk-fx"},
		{name: "double underscore kept", in: "a__b", want: "a__b"},
		{name: "triple underscore", in: "a___b", want: "a-b"},
		{name: "dot dash mix", in: "a.-b", want: "a-b"},
		{name: "dashes kept", in: "a---b", want: "a---b"},
		{name: "leading and trailing separators", in: "._a_.", want: "a"},
		{name: "non-ascii", in: "café", want: "caf"},
		{name: "nothing left", in: "+++", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := component(tt.in)
			if got != tt.want {
				t.Errorf("component(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got != "" && !repositoryRE.MatchString(got) {
				t.Errorf("component(%q) = %q is not a repository component", tt.in, got)
			}
		})
	}
}

func TestRepoTemplateExpand(t *testing.T) {
	tests := []struct {
		name, template, key, want, wantErr string
	}{
		{name: "first segment", template: "buildpack-deps/{key.0}", key: "node/20.11.1/node.tgz", want: "buildpack-deps/node"},
		{name: "two segments", template: "{key.0}/v{key.1}", key: "Node/20.11.1/node.tgz", want: "node/v20.11.1"},
		{name: "digest segment", template: "d/{key.0}", key: strings.Repeat("ab", 32) + "/f.tgz", want: "d/" + strings.Repeat("ab", 32)},
		{name: "too few segments", template: "d/{key.2}", key: "a/b", wantErr: "has only 2 segment(s)"},
		{name: "segment without letters", template: "d/{key.0}", key: "+++/b", wantErr: "no letter or digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, ok, err := parseRepoTemplate(tt.template)
			if err != nil || !ok {
				t.Fatalf("parseRepoTemplate(%q) = %v, %v", tt.template, ok, err)
			}
			got, err := tmpl.expand(tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("expand(%q) = %q, %v; want an error containing %q", tt.key, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("expand(%q) (-want +got):\n%s", tt.key, diff)
			}
		})
	}
}

func TestParseRepoTemplate(t *testing.T) {
	tests := []struct {
		name, in   string
		templated  bool
		wantErr    bool
		wantString string
	}{
		{name: "plain name", in: "deps"},
		{name: "one placeholder", in: "deps/{key.0}", templated: true, wantString: "deps/{key.0}"},
		{name: "adjacent literal", in: "x{key.1}y", templated: true, wantString: "x{key.1}y"},
		{name: "unknown name", in: "deps/{version}", templated: true, wantErr: true},
		{name: "leading zero", in: "deps/{key.01}", templated: true, wantErr: true},
		{name: "negative", in: "deps/{key.-1}", templated: true, wantErr: true},
		{name: "unclosed", in: "deps/{key.0", templated: true, wantErr: true},
		{name: "unopened", in: "deps/key.0}", templated: true, wantErr: true},
		{name: "nested", in: "deps/{{key.0}}", templated: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, templated, err := parseRepoTemplate(tt.in)
			if templated != tt.templated || (err != nil) != tt.wantErr {
				t.Fatalf("parseRepoTemplate(%q) = templated %v, err %v; want templated %v, error %v",
					tt.in, templated, err, tt.templated, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errTemplate) {
				t.Errorf("error %v does not wrap errTemplate", err)
			}
			if tmpl != nil && tmpl.String() != tt.wantString {
				t.Errorf("String() = %q, want %q", tmpl.String(), tt.wantString)
			}
		})
	}
}
