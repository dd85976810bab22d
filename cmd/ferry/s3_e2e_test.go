package main_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
)

// s3Block declares destination "s3" NAME on srv's bucket under prefix,
// read anonymously through public_url.
func s3Block(srv *testenv.S3, name, prefix string) string {
	return fmt.Sprintf(`destination "s3" %q {
  bucket           = %q
  prefix           = %q
  endpoint         = %q
  force_path_style = true
  public_url       = %q
}`, name, srv.Bucket, prefix, srv.Endpoint, srv.PublicURL())
}

// s3Env is the AWS chain's environment for srv's root account.
func s3Env(srv *testenv.S3) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey, "AWS_EC2_METADATA_DISABLED=true"}
}

// quickstartToS3 lays out the quickstart with its destination replaced by
// destination "s3" "local" on srv under the prefix "quickstart", served by a
// fresh upstream; env has the upstream variable and srv's credentials.
func quickstartToS3(t *testing.T, srv *testenv.S3) (dir string, up *upstream, env []string) {
	t.Helper()
	dir = copyDir(t, "../../examples/quickstart")
	up = startUpstream(t, filepath.Join(dir, "upstream"))
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(cfg), "destination \"dir\" \"local\" {\n  path = \"mirror\"\n}", s3Block(srv, "local", "quickstart"), 1)
	src = strings.Replace(src, "destination.dir.local", "destination.s3.local", 1)
	if src == string(cfg) {
		t.Fatal("the quickstart's destination block changed; update this test")
	}
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, up, append([]string{"FERRY_VAR_upstream=" + up.URL}, s3Env(srv)...)
}

// TestQuickstartToS3 runs the quickstart into an s3 destination on a real
// versitygw, credentials from the environment (the AWS chain): apply,
// repeat plan = no changes, an object deleted or edited in the bucket is
// drift that apply repairs, and consumers read the objects anonymously
// through public_url.
func TestQuickstartToS3(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{PublicRead: true})
	dir, _, env := quickstartToS3(t, srv)

	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "Plan: 3 to add, 0 to replace, 0 to delete.")
	r := ferry(t, dir, env, "apply", "-auto-approve")
	r.must(t, 0, "Apply complete: 3 changes applied")
	if strings.Contains(r.stdout+r.stderr, srv.SecretKey) {
		t.Fatal("the secret key appears in the output")
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")
	// The refresh listed the prefix once (ListObjectsV2) instead of a HEAD per absent key.
	ferry(t, dir, append(env, "FERRY_LOG=debug"), "plan").must(t, 0, "listed destination", "destination=s3.local", "objects=3")

	// Consumers: an anonymous GET through public_url.
	want, err := os.ReadFile(filepath.Join(dir, "upstream", "greeting-1.2.0.txt"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.PublicURL() + "/quickstart/greeting/1.2.0/greeting-1.2.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("anonymous GET: %s %q, want 200 %q", resp.Status, got, want)
	}

	// Drift: an object deleted, another edited behind ferry's back.
	cl := srv.Client()
	if _, err := cl.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &srv.Bucket, Key: aws.String("quickstart/greeting/1.2.0/greeting-1.2.0.txt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("quickstart/greeting/1.1.0/greeting-1.1.0.txt"), Body: strings.NewReader("tampered\n")}); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, "(missing at destination)", "(changed at destination", "Plan: 1 to add, 1 to replace")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 2 changes applied")
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes")
}

// A conda channel into an s3 destination on a real versitygw, selected by
// subdir, MatchSpecs (version, build and bracket forms) and latest: exactly
// the selected packages and each subdir's index land under the prefix;
// consumers read the channel anonymously over plain HTTP (rattler solves
// from it); a re-plan has no changes; an index file deleted in the bucket
// is drift that apply repairs.
func TestCondaChannelToS3(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{PublicRead: true})
	// MatchSpecs with version, build and bracket forms, selecting what
	// condaConfig's name globs do.
	cfg := strings.NewReplacer(`include = ["clobber-*"]`, `include = ["clobber-* >=0.1,<1", "clobber-pynoarch-1 0.1.* py*"]`,
		`exclude = ["clobber-2"]`, `exclude = ["clobber-2", "*[license=GPL*]"]`).Replace(condaConfigTo(t, "s3", s3Block(srv, "channel", "conda")))
	if !strings.Contains(cfg, "[license=GPL*]") || !strings.Contains(cfg, "<1") {
		t.Fatal("condaConfig's filters changed; update this test")
	}
	dir, _, env := condaWork(t, condaChannel(t), cfg)
	env = append(env, s3Env(srv)...)
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, `["linux-64/repodata.json"]: published`, `["noarch/repodata.json"]: published`)
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
	// The filters hold in the bucket: linux-64 and noarch only (no win-64),
	// clobber-* but not clobber-2 (MatchSpec include and exclude), the newest
	// clobber-1 only (latest = 1); every subdir indexed.
	list, err := srv.Client().ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &srv.Bucket, Prefix: aws.String("conda/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, strings.TrimPrefix(*o.Key, "conda/"))
	}
	slices.Sort(keys)
	want := withIndexes([]string{
		"linux-64/clobber-1-0.2.0-h4616a5c_0.tar.bz2",
		"linux-64/clobber-directory-upgrade-0.2.0-h4616a5c_0.conda",
		"noarch/clobber-pynoarch-1-0.1.0-pyh4616a5c_0.tar.bz2",
	}, "linux-64", "noarch")
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("objects in the bucket (-want +got):\n%s", diff)
	}

	// Anonymous HTTP, as conda clients read it.
	channel := srv.PublicURL() + "/conda"
	for _, f := range []string{"linux-64/repodata.json", "linux-64/repodata.json.zst", "noarch/repodata.json.bz2", "linux-64/clobber-1-0.2.0-h4616a5c_0.tar.bz2"} {
		resp, err := http.Get(channel + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("anonymous GET %s: %s", f, resp.Status)
		}
		if f == "linux-64/repodata.json" && !bytes.Contains(body, []byte("clobber-directory-upgrade-0.2.0-h4616a5c_0.conda")) {
			t.Errorf("linux-64/repodata.json does not name the .conda package:\n%s", body)
		}
	}
	checkRattler(t, rattlerModules(t), channel)

	// Drift: an index file deleted in the bucket.
	if _, err := srv.Client().DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &srv.Bucket, Key: aws.String("conda/linux-64/repodata.json.zst")}); err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 2, `["linux-64/repodata.json"]`, "drift")
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0)
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes.")
}
