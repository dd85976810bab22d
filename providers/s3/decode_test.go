package s3

import (
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/internal/s3client"
	"github.com/ferry-mirror/ferry/planner/config/schema/schematest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
)

func decodeDest(t *testing.T, src string) (*DestinationConfig, hcl.Diagnostics) {
	t.Helper()
	return schematest.Decode[DestinationConfig](t, DestinationType().Type, src, map[string]cty.Value{
		"key":    schematest.Sensitive("AKIDEXAMPLE"),
		"secret": schematest.Sensitive("s3cr3t"),
	}, schema.DecodeEnv{Dir: "/work/cfg", Address: "destination.s3.channel"})
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want DestinationConfig
	}{
		{name: "bucket only", src: `bucket = "ferry-mirror"`, want: DestinationConfig{Bucket: "ferry-mirror"}},
		{name: "everything", src: `
bucket            = "b.x-1"
prefix            = "conda/channel/"
region            = "eu-west-1"
endpoint          = "http://127.0.0.1:9400/"
force_path_style  = true
access_key_id     = var.key
secret_access_key = var.secret
session_token     = "tok"
public_url        = "https://cdn.example.com/b"
part_size_mib     = 16
`, want: DestinationConfig{Bucket: "b.x-1", Prefix: "conda/channel/", Config: s3client.Config{Region: "eu-west-1", Endpoint: "http://127.0.0.1:9400", ForcePathStyle: true,
			AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "s3cr3t", SessionToken: "tok"}, PublicURL: "https://cdn.example.com/b", PartSize: 16 << 20}},
		{name: "profile", src: "bucket = \"abc\"\nprofile = \"mirror\"\nprefix = \"p\"", want: DestinationConfig{Bucket: "abc", Config: s3client.Config{Profile: "mirror"}, Prefix: "p/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := decodeDest(t, tt.src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		summary string
		line    int
	}{
		{name: "no bucket", src: `prefix = "x"`, summary: "Missing required argument", line: 1},
		{name: "bad bucket", src: `bucket = "My_Bucket"`, summary: "Invalid bucket", line: 1},
		{name: "sensitive bucket", src: `bucket = var.secret`, summary: "Sensitive value not allowed", line: 1},
		{name: "prefix escapes", src: "bucket = \"abc\"\nprefix = \"a/../..\"", summary: "Invalid prefix", line: 2},
		{name: "absolute prefix", src: "bucket = \"abc\"\nprefix = \"/a\"", summary: "Invalid prefix", line: 2},
		{name: "endpoint with credentials", src: "bucket = \"abc\"\nendpoint = \"http://k:s@127.0.0.1:9000\"", summary: "Invalid endpoint", line: 2},
		{name: "endpoint not http", src: "bucket = \"abc\"\nendpoint = \"s3://x\"", summary: "Invalid endpoint", line: 2},
		{name: "public_url with query", src: "bucket = \"abc\"\npublic_url = \"https://x/b?sig=1\"", summary: "Invalid public_url", line: 2},
		{name: "key without secret", src: "bucket = \"abc\"\naccess_key_id = var.key", summary: "Incomplete credentials", line: 2},
		{name: "secret without key", src: "bucket = \"abc\"\n\nsecret_access_key = var.secret", summary: "Incomplete credentials", line: 3},
		{name: "token alone", src: "bucket = \"abc\"\nsession_token = \"t\"", summary: "Incomplete credentials", line: 2},
		{name: "profile and keys", src: "bucket = \"abc\"\nprofile = \"p\"\naccess_key_id = var.key\nsecret_access_key = var.secret", summary: "Conflicting credentials", line: 2},
		{name: "part size too small", src: "bucket = \"abc\"\npart_size_mib = 1", summary: "Invalid part_size_mib", line: 2},
		{name: "unknown argument", src: "bucket = \"abc\"\nregoin = \"x\"", summary: "Unsupported argument", line: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeDest(t, tt.src)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			d := diags[0]
			if d.Summary != tt.summary || d.Subject == nil || d.Subject.Start.Line != tt.line {
				t.Errorf("diagnostic %q at %v, want %q on line %d (all: %v)", d.Summary, d.Subject, tt.summary, tt.line, diags)
			}
			for _, secret := range []string{"s3cr3t", "AKIDEXAMPLE"} {
				if strings.Contains(diags.Error(), secret) {
					t.Errorf("diagnostics show a secret: %v", diags)
				}
			}
		})
	}
}

func TestLocation(t *testing.T) {
	loc := func(bucket, prefix, endpoint string) providers.Location {
		return (&DestinationConfig{Bucket: bucket, Prefix: prefix, Config: s3client.Config{Endpoint: endpoint}}).Location()
	}
	tests := []struct {
		name    string
		a, b    providers.Location
		overlap bool
	}{
		{name: "same bucket, nested prefixes", a: loc("b", "a/", ""), b: loc("b", "a/b/", ""), overlap: true},
		{name: "same bucket, bucket root", a: loc("b", "", ""), b: loc("b", "x/", ""), overlap: true},
		{name: "sibling prefixes", a: loc("b", "a/", ""), b: loc("b", "ab/", ""), overlap: false},
		{name: "other bucket", a: loc("b", "a/", ""), b: loc("c", "a/", ""), overlap: false},
		{name: "same bucket on another server", a: loc("b", "a/", "http://127.0.0.1:9400"), b: loc("b", "a/", "http://127.0.0.1:9500"), overlap: false},
		{name: "same server spelled differently", a: loc("b", "a/", "http://127.0.0.1:80"), b: loc("b", "a/", "HTTP://127.0.0.1/"), overlap: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Overlaps(tt.b); got != tt.overlap {
				t.Errorf("%s overlaps %s = %v, want %v", tt.a, tt.b, got, tt.overlap)
			}
		})
	}
	if got, want := loc("b", "conda/", "http://127.0.0.1:9400").String(), "s3+http://127.0.0.1:9400/b/conda/"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
