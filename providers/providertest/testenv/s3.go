package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// EnvVersityGWBin overrides the versitygw binary StartS3 runs.
const EnvVersityGWBin = "FERRY_VERSITYGW"

// VersityGWVersion is the versitygw release .ci/install-test-servers
// installs (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0).
const VersityGWVersion = "v1.8.0"

// VersityGWInstallHint is what a test failing for a missing versitygw
// tells the reader to do.
const VersityGWInstallHint = "run `bash .ci/install-test-servers` (builds versitygw " + VersityGWVersion +
	" with go install into $" + EnvTestenvRoot + "/bin, default ~/.cache/ferry-testenv/bin), " +
	"or set " + EnvSkip + "=1 to skip integration tests"

// S3 is a running versitygw S3 gateway (posix backend: buckets are
// directories of Root, objects files) with one root account, SigV4
// enforced, and one bucket created at start. Plain HTTP, path-style.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT
	Region    string // us-east-1
	AccessKey string // the root account's
	SecretKey string
	Bucket    string // created at start
	Root      string // the posix backend's directory
}

// S3Options configures StartS3.
type S3Options struct {
	// Bucket names the bucket created at start; empty: "ferry-test".
	Bucket string
	// PublicRead gives the bucket a policy letting anyone GET its objects
	// without credentials (s3:GetObject for "*"), as a mirror consumers
	// read over plain HTTP needs.
	PublicRead bool
}

// StartS3 starts versitygw on a free 127.0.0.1 port, waits until it
// answers, creates the bucket (and its public-read policy) and stops the
// server when the test ends. It skips the test when FERRY_SKIP_INTEGRATION
// is set and fails it when versitygw is not installed.
//
// The binary is $FERRY_VERSITYGW, else versitygw on $PATH, else
// ${FERRY_TESTENV_ROOT:-$HOME/.cache/ferry-testenv}/bin/versitygw.
func StartS3(t testing.TB, opts S3Options) *S3 {
	t.Helper()
	if reason := Skip(); reason != "" {
		t.Skip(reason)
	}
	bin, err := findVersityGW(os.Getenv, os.UserHomeDir, exec.LookPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := &S3{Region: "us-east-1", AccessKey: "ferrytest", SecretKey: rand.Text(), Bucket: opts.Bucket, Root: filepath.Join(t.TempDir(), "s3")}
	if srv.Bucket == "" {
		srv.Bucket = "ferry-test"
	}
	if err := os.MkdirAll(srv.Root, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	port := launch(t, "versitygw", bin,
		// Anonymous GET / is refused (403): the server is up.
		func(r *http.Response) bool { return r.StatusCode == http.StatusForbidden },
		func(dir string, port int) ([]string, string, []string, error) {
			return []string{"--access", srv.AccessKey, "--secret", srv.SecretKey, "--region", srv.Region,
				"--port", fmt.Sprintf("127.0.0.1:%d", port), "posix", srv.Root}, fmt.Sprintf("http://127.0.0.1:%d/", port), nil, nil
		})
	srv.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx := context.Background()
	cl := srv.Client()
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &srv.Bucket}); err != nil {
		t.Fatalf("testenv: creating bucket %s: %v", srv.Bucket, err)
	}
	if opts.PublicRead {
		policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, srv.Bucket)
		if _, err := cl.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &srv.Bucket, Policy: &policy}); err != nil {
			t.Fatalf("testenv: public-read policy on %s: %v", srv.Bucket, err)
		}
	}
	return srv
}

// Client is an S3 client for the server with the root account.
func (s *S3) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(s.Endpoint),
		Region:                     s.Region,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// PublicURL is the base URL anonymous consumers read the bucket from.
func (s *S3) PublicURL() string { return s.Endpoint + "/" + s.Bucket }

func findVersityGW(getenv func(string) string, home func() (string, error), lookPath func(string) (string, error)) (string, error) {
	if p := getenv(EnvVersityGWBin); p != "" {
		if _, err := lookPath(p); err != nil {
			return "", fmt.Errorf("testenv: %s=%s: %v; %s", EnvVersityGWBin, p, err, VersityGWInstallHint)
		}
		return p, nil
	}
	if p, err := lookPath("versitygw"); err == nil {
		return p, nil
	}
	root := getenv(EnvTestenvRoot)
	if root == "" {
		h, err := home()
		if err != nil {
			return "", fmt.Errorf("testenv: versitygw: no %s and no home directory (%v); %s", EnvTestenvRoot, err, VersityGWInstallHint)
		}
		root = filepath.Join(h, ".cache", "ferry-testenv")
	}
	bin := filepath.Join(root, "bin", "versitygw")
	if _, err := lookPath(bin); err != nil {
		return "", fmt.Errorf("testenv: versitygw not found in $PATH or at %s: %s", bin, VersityGWInstallHint)
	}
	return bin, nil
}
