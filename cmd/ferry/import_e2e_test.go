package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/state"
)

const (
	importGood = `mirror.tools["greeting/1.2.0/greeting-1.2.0.txt"]`
	importBad  = `mirror.tools["greeting/1.1.0/greeting-1.1.0.txt"]`
)

// TestImportDir: an object copied into a dir destination by hand with the
// source's bytes is imported (then owned: the next plan has no change for
// it, not even "already at destination"); one with other bytes is refused
// naming both digests, and the state is left byte for byte as it was.
func TestImportDir(t *testing.T) {
	dir := copyDir(t, "../../examples/quickstart")
	up := startUpstream(t, filepath.Join(dir, "upstream"))
	env := []string{"FERRY_VAR_upstream=" + up.URL}
	place := func(key, content string) {
		p := filepath.Join(dir, "mirror", filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good, err := os.ReadFile(filepath.Join(dir, "upstream", "greeting-1.2.0.txt"))
	if err != nil {
		t.Fatal(err)
	}
	place("greeting/1.2.0/greeting-1.2.0.txt", string(good))
	place("greeting/1.1.0/greeting-1.1.0.txt", "tampered\n")
	statePath := filepath.Join(dir, "ferry.state.json")

	ferry(t, dir, env, "import", "-dry-run", importGood).must(t, 0, "read back and hashed", "Dry run: the state is unchanged.")
	if _, err := os.Stat(statePath); err == nil {
		t.Fatal("import -dry-run wrote a state file")
	}
	// The state lock is honoured: held by a live process, import waits
	// for nobody and changes nothing.
	held, err := state.Lock(t.Context(), statePath, "apply", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "import", importGood).must(t, 1, "state is locked")
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(statePath); err == nil {
		t.Fatal("import under another's lock wrote a state file")
	}
	ferry(t, dir, env, "import", importGood).must(t, 0,
		"sha256:c4f28a3e30b10a036309c225a7ace0c8aa3f4aac4e59641702614b30285e4c1c at dir.local matches source http.tools",
		"Imported "+importGood)
	if got := stateKeys(t, statePath, "tools"); !slices.Equal(got, []string{"greeting/1.2.0/greeting-1.2.0.txt"}) {
		t.Fatalf("state owns %v after the import", got)
	}
	before, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	ferry(t, dir, env, "import", importBad).must(t, 1,
		"destination dir.local holds sha256:", "but source http.tools declares sha256:25be25e7", "digest mismatch; the state is unchanged")
	ferry(t, dir, env, "import", importGood).must(t, 1, "the state already owns it")
	ferry(t, dir, env, "import", `mirror.tools["tool/2.0.0/linux-amd64/tool"]`).must(t, 1, "holds nothing under")
	if after, _ := os.ReadFile(statePath); !bytes.Equal(after, before) {
		t.Fatalf("a refused import changed the state:\n%s", after)
	}

	// The imported object is owned and up to date; the refused one stays
	// in the way as an object ferry does not own.
	ferry(t, dir, env, "plan").must(t, 1, "Destination object not owned by ferry", "greeting/1.1.0/greeting-1.1.0.txt")
	if err := os.Remove(filepath.Join(dir, "mirror/greeting/1.1.0/greeting-1.1.0.txt")); err != nil {
		t.Fatal(err)
	}
	r := ferry(t, dir, env, "plan", "-detailed-exitcode")
	r.must(t, 2, "Plan: 2 to add, 0 to replace, 0 to delete.")
	if strings.Contains(r.stdout, "greeting-1.2.0") {
		t.Fatalf("the plan after the import still mentions the imported object:\n%s", r.stdout)
	}
	ferry(t, dir, env, "apply", "-auto-approve").must(t, 0, "Apply complete: 2 changes applied")
	if n := up.bytesSent("/greeting-1.2.0.txt"); n != 0 {
		t.Errorf("the imported object was downloaded again (%d bytes)", n)
	}
	ferry(t, dir, env, "plan", "-detailed-exitcode").must(t, 0, "No changes. 3 artifacts up to date.")
}

// TestImportS3: the same on a real versitygw, the state in the bucket
// (backend "s3"). The object with other bytes carries an x-amz-meta-sha256
// claiming the source's digest (what ferry itself sets at upload): import
// reads the bytes back rather than trusting the claim, and refuses.
func TestImportS3(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	dir, up, env := quickstartToS3(t, srv)
	// The state in the bucket too (backend "s3"): import takes the remote
	// lock and writes conditionally, as apply does.
	cfgPath := filepath.Join(dir, "main.ferry.hcl")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	local := "ferry {\n  state       = \"ferry.state.json\"\n  parallelism = 4\n}\n"
	if !bytes.Contains(cfg, []byte(local)) {
		t.Fatal("the quickstart's ferry block changed; update this test")
	}
	if err := os.WriteFile(cfgPath, bytes.Replace(cfg, []byte(local), []byte(backendHCL(srv)), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	env = append(env, backendEnv(srv)...)
	remoteKeys := func() []string {
		b := getObject(t, srv, backendKey)
		if b == nil {
			return nil
		}
		p := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return stateKeys(t, p, "tools")
	}

	good, err := os.ReadFile(filepath.Join(dir, "upstream", "greeting-1.2.0.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cl := srv.Client()
	for _, o := range []struct {
		key, body string
		meta      map[string]string
	}{
		{key: "quickstart/greeting/1.2.0/greeting-1.2.0.txt", body: string(good)},
		{key: "quickstart/greeting/1.1.0/greeting-1.1.0.txt", body: "tampered\n",
			meta: map[string]string{"sha256": "25be25e73b6de307f7b73ff0c5613bf699ed8b135c51c16aa1ce8a1b65212d4d"}},
	} {
		if _, err := cl.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(o.key), Body: strings.NewReader(o.body), Metadata: o.meta}); err != nil {
			t.Fatal(err)
		}
	}
	r := ferry(t, dir, env, "import", importBad)
	r.must(t, 1, "destination s3.local holds sha256:92e78d0b032962f47792a9fa95fd981ef63e1e3ef074d536d6304c75eddbe29f under \"greeting/1.1.0/greeting-1.1.0.txt\" (read back), but source http.tools declares sha256:25be25e7", "digest mismatch; the state is unchanged")
	if strings.Contains(r.stdout+r.stderr, srv.SecretKey) {
		t.Fatal("the secret key appears in the output")
	}
	if got := remoteKeys(); got != nil {
		t.Fatalf("a refused import wrote a state owning %v", got)
	}
	ferry(t, dir, env, "import", importGood).must(t, 0, "at s3.local matches source http.tools (read back and hashed, 83 B)", "Imported "+importGood)
	if got := remoteKeys(); !slices.Equal(got, []string{"greeting/1.2.0/greeting-1.2.0.txt"}) {
		t.Fatalf("the remote state owns %v after the import", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "ferry.state.json")); err == nil {
		t.Fatal("import wrote a local state beside the backend")
	}
	ferry(t, dir, env, "plan", "-target", importGood, "-detailed-exitcode").must(t, 0, "No changes")
	if n := up.bytesSent("/greeting-1.2.0.txt"); n != 0 {
		t.Errorf("the imported object was downloaded from the upstream (%d bytes)", n)
	}
}

// TestImportOCI: on registries an image is adopted by its root manifest
// digest (GraphStater), since it cannot be read back as one stream: a tag
// copied by another process with the source's manifest is imported, a tag
// holding another image is refused.
func TestImportOCI(t *testing.T) {
	regA, regB := seedTwoRegistries(t)
	ociSource := func(semver string) string {
		return `source "oci" "a" {
  registry   = "` + regA.Host + `"
  repository = "app"
  plain_http = true
  tags {
    semver = "` + semver + `"
  }
}
destination "oci" "b" {
  registry   = "` + regB.Host + `"
  repository = "mirror/app"
  plain_http = true
}
`
	}
	// Someone else's copy of 2.0.0 into B (its own state).
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "main.ferry.hcl"), []byte(ociSource("2.0.0")+"mirror \"other\" {\n  from = source.oci.a\n  to   = destination.oci.b\n}\n"), 0o644)
	ferry(t, other, nil, "apply", "-auto-approve").must(t, 0, "Apply complete: 1 change applied")
	// And another image under 1.1.0 in B.
	files := t.TempDir()
	body := []byte("not release 1.1.0\n")
	os.WriteFile(filepath.Join(files, "x.txt"), body, 0o644)
	up := startUpstream(t, files)
	wrong := t.TempDir()
	os.WriteFile(filepath.Join(wrong, "main.ferry.hcl"), []byte(`source "http" "files" {
  artifact "app" {
    url     = "`+up.URL+`/x.txt"
    sha256  = "`+sha256Hex(body)+`"
    version = "1.1.0"
    key     = "1.1.0"
  }
}
destination "oci" "b" {
  registry   = "`+regB.Host+`"
  repository = "mirror/app"
  plain_http = true
}
mirror "wrong" {
  from = source.http.files
  to   = destination.oci.b
}
`), 0o644)
	ferry(t, wrong, nil, "apply", "-auto-approve").must(t, 0, "Apply complete: 1 change applied")

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(ociSource(">= 1.1")+"mirror \"app\" {\n  from = source.oci.a\n  to   = destination.oci.b\n}\n"), 0o644)
	ferry(t, dir, nil, "import", `mirror.app["2.0.0"]`).must(t, 0, "at oci.b matches source oci.a (by the digest the destination reports", `Imported mirror.app["2.0.0"]`)
	ferry(t, dir, nil, "import", `mirror.app["1.1.0"]`).must(t, 1, `destination oci.b holds sha256:`, `under "1.1.0", but source oci.a declares sha256:`, "digest mismatch; the state is unchanged")
	if got := stateKeys(t, filepath.Join(dir, "ferry.state.json"), "app"); !slices.Equal(got, []string{"2.0.0"}) {
		t.Fatalf("state owns %v after the imports", got)
	}
	ferry(t, dir, nil, "plan").must(t, 1, "Destination object not owned by ferry", `"1.1.0"`)
	os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(ociSource(">= 2.0")+"mirror \"app\" {\n  from = source.oci.a\n  to   = destination.oci.b\n}\n"), 0o644)
	ferry(t, dir, nil, "plan", "-detailed-exitcode").must(t, 0, "No changes. 1 artifact up to date.")
}
