package providers_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

func TestLocationOverlaps(t *testing.T) {
	loc := func(store, prefix string) providers.Location { return providers.Location{Store: store, Prefix: prefix} }
	tests := []struct {
		name string
		a, b providers.Location
		want bool
	}{
		{name: "same directory", a: loc("file://", "/srv/a/"), b: loc("file://", "/srv/a/"), want: true},
		{name: "nested directory", a: loc("file://", "/srv/a/"), b: loc("file://", "/srv/a/b/"), want: true},
		{name: "containing directory", a: loc("file://", "/srv/a/b/"), b: loc("file://", "/srv/a/"), want: true},
		{name: "sibling with a common name prefix", a: loc("file://", "/srv/a/"), b: loc("file://", "/srv/ab/")},
		{name: "other store", a: loc("https://h:443", "/a/"), b: loc("http://h:80", "/a/")},
		{name: "repository and its template", a: loc("oci://r:443", "/deps/node:"), b: loc("oci://r:443", "/deps/"), want: true},
		{name: "repository and a nested one", a: loc("oci://r:443", "/deps:"), b: loc("oci://r:443", "/deps/node:")},
		{name: "S3 key prefixes", a: loc("s3://bucket", "mirror"), b: loc("s3://bucket", "mirror-old/"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Overlaps(tt.b); got != tt.want {
				t.Errorf("%v.Overlaps(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestURLLocation(t *testing.T) {
	tests := []struct {
		url  string
		want providers.Location
	}{
		{url: "https://Repo.Example/generic/mirror", want: providers.Location{Store: "https://repo.example:443", Prefix: "/generic/mirror/"}},
		{url: "http://user:secret@127.0.0.1:8080/dav/", want: providers.Location{Store: "http://127.0.0.1:8080", Prefix: "/dav/"}},
		{url: "http://h", want: providers.Location{Store: "http://h:80", Prefix: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, providers.URLLocation(tt.url)); diff != "" {
				t.Errorf("URLLocation (-want +got):\n%s", diff)
			}
		})
	}
}
