package inventory_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/planner/config"
	"github.com/ferry-mirror/ferry/planner/inventory"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/dir"
	"github.com/ferry-mirror/ferry/providers/httpsrc"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/state"
)

// countingDest forwards to a ListStater destination and counts its Stats.
type countingDest struct {
	providers.Destination
	stats atomic.Int64
}

func (c *countingDest) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	c.stats.Add(1)
	return c.Destination.Stat(ctx, key)
}

func (c *countingDest) ListStat(ctx context.Context, fn func(providers.Artifact) error) error {
	return c.Destination.(providers.ListStater).ListStat(ctx, fn)
}

// A listed object whose change token and size are the ones ferry recorded
// after its verified write holds the recorded digests without a Stat; one
// rewritten behind ferry's back (other bytes, same size) lists with another
// token and is Stat'ed, which shows the other bytes (drift); one recorded
// without a token (adopted) is Stat'ed. For dir (a file rewritten in
// place, mtime set back) and S3 (versitygw; an object overwritten).
func TestGatherTrustsRecordedTokens(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the destination and how to overwrite a key
		// behind ferry's back.
		setup func(t *testing.T) (providers.Destination, func(key string, content []byte))
	}{
		{name: "dir", setup: func(t *testing.T) (providers.Destination, func(string, []byte)) {
			root := t.TempDir()
			d := must(dir.NewDestination("dir.local", &dir.DestinationConfig{Path: root}, registry.Env{}))
			return d, func(key string, content []byte) {
				p := filepath.Join(root, key)
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
				os.Chtimes(p, fi.ModTime(), fi.ModTime())
			}
		}},
		{name: "s3", setup: func(t *testing.T) (providers.Destination, func(string, []byte)) {
			srv := testenv.StartS3(t, testenv.S3Options{})
			d := providertest.NewDestination(t, fmt.Sprintf(`destination "s3" "test" {
  bucket            = %q
  endpoint          = %q
  region            = %q
  force_path_style  = true
  access_key_id     = %q
  secret_access_key = %q
  prefix            = "mirror"
}`, srv.Bucket, srv.Endpoint, srv.Region, srv.AccessKey, srv.SecretKey), t.TempDir(), registry.Env{Logger: hclog.NewNullLogger()})
			return d, func(key string, content []byte) {
				if _, err := srv.Client().PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("mirror/" + key), Body: bytes.NewReader(content)}); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, overwrite := tc.setup(t)
			files := map[string][]byte{"same.bin": []byte("aaaa"), "rewritten.bin": []byte("bbbbbbbb"), "adopted.bin": []byte("cc")}
			prior := state.New("test")
			prior.EnsureMirror("m", "http.up", "dir.local")
			var arts []httpsrc.ArtifactConfig
			for key, content := range files {
				a := providers.Artifact{Key: key, Size: int64(len(content)), Digests: providers.NewDigests(digest(content))}
				tok, err := d.(providers.TokenPutter).PutToken(t.Context(), a, bytes.NewReader(content), providers.PutOptions{})
				if err != nil || tok == "" {
					t.Fatalf("PutToken(%s): %q, %v", key, tok, err)
				}
				if key == "adopted.bin" {
					tok = ""
				}
				prior.SetArtifact("m", &state.Artifact{Key: key, Size: a.Size, Digests: a.Digests, SourceDigests: a.Digests, Token: tok})
				arts = append(arts, httpsrc.ArtifactConfig{Name: key, URL: "http://127.0.0.1:1/" + key, DisplayURL: "http://127.0.0.1:1/" + key, Key: key, Size: a.Size, Digests: a.Digests})
			}
			overwrite("rewritten.bin", []byte("BBBBBBBB"))

			dst := &countingDest{Destination: d}
			p := provs{src: must(httpsrc.NewSource("http.up", &httpsrc.SourceConfig{Artifacts: arts}, registry.Env{HTTP: httpx.New(httpx.Options{})})), dst: dst}
			cfg := &config.Config{
				Mirrors:      map[string]*config.Mirror{"m": {Name: "m", From: "http.up", To: "dir.local"}},
				Destinations: map[string]*config.Destination{"dir.local": {}},
			}
			inv, err := inventory.Gather(t.Context(), cfg, prior, p, inventory.Options{Refresh: true})
			if err != nil {
				t.Fatal(err)
			}
			if n := dst.stats.Load(); n != 2 {
				t.Errorf("%d Stat calls, want 2 (rewritten.bin, adopted.bin)", n)
			}
			for key, content := range files {
				got, checked := inv.Lookup("dir.local", key)
				if !checked || !got.Exists || got.Size != int64(len(content)) || got.Claimed {
					t.Errorf("%s: checked=%v object=%+v", key, checked, got)
				}
				wantSame := key != "rewritten.bin"
				if same := got.Digests.Matches(providers.NewDigests(digest(content))); same != wantSame {
					t.Errorf("%s: digests %v match ferry's bytes: %v, want %v", key, got.Digests, same, wantSame)
				}
			}
			if got, _ := inv.Lookup("dir.local", "rewritten.bin"); !got.Digests.Matches(providers.NewDigests(digest([]byte("BBBBBBBB")))) {
				t.Errorf("rewritten.bin: digests %v, want those of the bytes written behind ferry's back", got.Digests)
			}
		})
	}
}
