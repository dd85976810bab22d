package s3_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// block is the HCL of an s3 destination on srv with explicit credentials
// and extra attributes.
func block(srv *testenv.S3, extra string) string {
	return fmt.Sprintf(`destination "s3" "test" {
  bucket            = %q
  endpoint          = %q
  region            = %q
  force_path_style  = true
  access_key_id     = %q
  secret_access_key = %q
  public_url        = %q
%s}`, srv.Bucket, srv.Endpoint, srv.Region, srv.AccessKey, srv.SecretKey, srv.PublicURL(), extra)
}

func newDest(t *testing.T, srv *testenv.S3, extra string) providers.Destination {
	t.Helper()
	return providertest.NewDestination(t, block(srv, extra), t.TempDir(), registry.Env{Logger: hclog.NewNullLogger()})
}

// The destination conformance suite against a real versitygw, built from
// an HCL block through the registry, at the bucket's root and under a
// prefix.
func TestConformanceVersityGW(t *testing.T) {
	for _, prefix := range []string{"", "conda/channel"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			providertest.Run(t, providertest.Harness{
				New: func(t *testing.T) providers.Destination {
					srv := testenv.StartS3(t, testenv.S3Options{})
					extra := ""
					if prefix != "" {
						extra = fmt.Sprintf("  prefix = %q\n", prefix)
					}
					return newDest(t, srv, extra)
				},
			})
		})
	}
}
