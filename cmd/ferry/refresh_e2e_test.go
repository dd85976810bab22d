package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// TestRefreshByListing: after apply, a refreshing plan proves every owned
// object from one listing of the destination (dir: a directory walk; S3:
// ListObjectsV2) by the change token ferry recorded after its verified
// write, with no Stat of any object; an object rewritten behind ferry's
// back with other bytes of the same size (dir: in place, mtime set back;
// S3: overwritten) lists with another token, is Stat'ed and shows as
// drift, which apply repairs.
func TestRefreshByListing(t *testing.T) {
	const key = "greeting/1.1.0/greeting-1.1.0.txt"
	tests := []struct {
		name  string
		setup func(t *testing.T) (dir string, env []string, tamper func(content []byte))
	}{
		{name: "dir", setup: func(t *testing.T) (string, []string, func([]byte)) {
			dir := copyDir(t, "../../examples/quickstart")
			up := startUpstream(t, filepath.Join(dir, "upstream"))
			return dir, []string{"FERRY_VAR_upstream=" + up.URL}, func(content []byte) {
				p := filepath.Join(dir, "mirror", key)
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(content, 0); err != nil {
					t.Fatal(err)
				}
				f.Close()
				if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "s3", setup: func(t *testing.T) (string, []string, func([]byte)) {
			srv := testenv.StartS3(t, testenv.S3Options{})
			dir, _, env := quickstartToS3(t, srv)
			return dir, env, func(content []byte) {
				if _, err := srv.Client().PutObject(t.Context(), &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("quickstart/" + key), Body: strings.NewReader(string(content))}); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, env, tamper := tc.setup(t)
			ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 3 changes applied")
			debug := append(env, "FERRY_LOG=debug")
			ferry(t, dir, debug, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.", "listed destination", "stats=0 proven_by_token=3")

			orig, err := os.ReadFile(filepath.Join(dir, "upstream", filepath.Base(key)))
			if err != nil {
				t.Fatal(err)
			}
			tampered := []byte(strings.Repeat("x", len(orig)))
			tamper(tampered)
			ferry(t, dir, debug, "plan", "-detailed-exitcode").must(t, 2, `-/+ mirror.tools["`+key+`"]`, "(changed at destination", "stats=1 proven_by_token=2")
			ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 1 change applied")
			ferry(t, dir, debug, "plan", "-detailed-exitcode").must(t, 0, "No changes", "stats=0 proven_by_token=3")
		})
	}
}
