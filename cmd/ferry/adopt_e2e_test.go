package main_test

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// TestAdoptS3FalseClaim: an object someone else uploaded to the bucket
// with an x-amz-meta-sha256 claiming the source's digest is not adopted on
// that claim. The plan says apply will verify it; apply reads it back,
// finds other bytes, fails the change, records nothing and leaves the
// object alone; the objects it transfers land as usual.
func TestAdoptS3FalseClaim(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	dir, _, env := quickstartToS3(t, srv)
	const key = "quickstart/greeting/1.1.0/greeting-1.1.0.txt"
	cl := srv.Client()
	if _, err := cl.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(key), Body: strings.NewReader("tampered\n"),
		Metadata: map[string]string{"sha256": "25be25e73b6de307f7b73ff0c5613bf699ed8b135c51c16aa1ce8a1b65212d4d"}}); err != nil {
		t.Fatal(err)
	}

	ferry(t, dir, env, "plan").must(t, 0, `mirror.tools["greeting/1.1.0/greeting-1.1.0.txt"]`, "its digest is only the uploader's claim, so apply reads it back and verifies its bytes first")
	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 1, "greeting-1.1.0.txt", "(read back), but source http.tools declares sha256:25be25e7", "digest mismatch")
	if got := stateKeys(t, filepath.Join(dir, "ferry.state.json"), "tools"); slices.Contains(got, "greeting/1.1.0/greeting-1.1.0.txt") {
		t.Fatalf("the state owns the object whose bytes differ: %v", got)
	}
	out, err := cl.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &srv.Bucket, Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	if b, _ := io.ReadAll(out.Body); string(b) != "tampered\n" {
		t.Errorf("the unowned object was overwritten: %q", b)
	}
}
