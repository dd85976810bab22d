package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
)

func art(key string, content []byte) providers.Artifact {
	return providers.Artifact{Key: key, Size: int64(len(content)), Digests: providers.NewDigests(providertest.SHA256(content))}
}

func head(t *testing.T, srv *testenv.S3, key string) (*awss3.HeadObjectOutput, error) {
	t.Helper()
	return srv.Client().HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
}

// objects lists every key in the bucket with the root account.
func objects(t *testing.T, srv *testenv.S3) []string {
	t.Helper()
	var keys []string
	p := awss3.NewListObjectsV2Paginator(srv.Client(), &awss3.ListObjectsV2Input{Bucket: &srv.Bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func pendingUploads(t *testing.T, srv *testenv.S3) int {
	t.Helper()
	out, err := srv.Client().ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: &srv.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// versitygw honours If-None-Match: * on PutObject and on
// CompleteMultipartUpload (412), which create-only Put relies on.
func TestVersityGWHonoursIfNoneMatch(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	cl, ctx := srv.Client(), t.Context()
	key := "k"
	if _, err := cl.PutObject(ctx, &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: strings.NewReader("one")}); err != nil {
		t.Fatal(err)
	}
	_, err := cl.PutObject(ctx, &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: strings.NewReader("two"), IfNoneMatch: aws.String("*")})
	if err == nil || !strings.Contains(err.Error(), "StatusCode: 412") {
		t.Fatalf("PutObject If-None-Match over an existing key: %v, want 412", err)
	}
	mu, err := cl.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &srv.Bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	part, err := cl.UploadPart(ctx, &awss3.UploadPartInput{Bucket: &srv.Bucket, Key: &key, UploadId: mu.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("three")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: &srv.Bucket, Key: &key, UploadId: mu.UploadId, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}})
	if err == nil || !strings.Contains(err.Error(), "StatusCode: 412") {
		t.Fatalf("CompleteMultipartUpload If-None-Match over an existing key: %v, want 412", err)
	}
	out, err := cl.GetObject(ctx, &awss3.GetObjectInput{Bucket: &srv.Bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != "one" {
		t.Fatalf("object = %q after refused writes, want \"one\"", got)
	}
}

// A file of several parts whose size or sha256 was not declared streams as
// a multipart upload and is checked against the composite sha256 the
// server stored; one whose size and sha256 were declared is one streamed
// PutObject the server checks against the declared sha256 and stores it.
// Stat reports its sha256 and size, also when the artifact declared no
// sha256 (from the x-amz-meta-sha256 ferry set, a claim, after a multipart
// upload).
func TestMultipart(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{PublicRead: true})
	d := newDest(t, srv, "  prefix = \"chan\"\n  part_size_mib = 5\n")
	content := providertest.Content(1, 12<<20+17)
	whole := sha256.Sum256(content)
	tests := []struct {
		name     string
		a        providers.Artifact
		metaSum  bool
		streamed bool // one PutObject: the server stores the whole sha256
	}{
		{name: "declared size and sha256", a: art("noarch/big.conda", content), metaSum: true, streamed: true},
		{name: "unknown size", a: func() providers.Artifact { a := art("noarch/big2.conda", content); a.Size = -1; return a }(), metaSum: true},
		{name: "sha512 only", a: func() providers.Artifact {
			a := art("noarch/big3.conda", content)
			s := sha512.Sum512(content)
			a.Digests = providers.NewDigests(providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(s[:])})
			return a
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := d.Put(t.Context(), tt.a, bytes.NewReader(content), providers.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			h, err := head(t, srv, "chan/"+tt.a.Key)
			if err != nil {
				t.Fatal(err)
			}
			wantSum, what := composite(content, 5<<20), "the composite sha256 of 3 parts"
			if tt.streamed {
				wantSum, what = base64Std(whole[:]), "the object's sha256"
			}
			if cs := aws.ToString(h.ChecksumSHA256); cs != wantSum {
				t.Errorf("stored checksum %q, want %s %q", cs, what, wantSum)
			}
			if got := h.Metadata["sha256"]; (got != "") != tt.metaSum {
				t.Errorf("x-amz-meta-sha256 = %q", got)
			}
			got, err := d.Stat(t.Context(), tt.a.Key)
			if err != nil {
				t.Fatal(err)
			}
			// The sha256 from x-amz-meta-sha256 is marked a claim: only
			// the server's single-part checksum or a hash of the bytes
			// is not.
			want := providers.Artifact{Key: tt.a.Key, Size: int64(len(content)), Digests: providers.NewDigests(providertest.SHA256(content)), Claimed: tt.metaSum && !tt.streamed, Token: got.Token}
			if got.Token == "" {
				t.Error("Stat reports no change token")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Stat (-want +got):\n%s", diff)
			}
		})
	}
	if n := pendingUploads(t, srv); n != 0 {
		t.Errorf("%d multipart uploads left pending", n)
	}
}

// A single-part upload is checked by the server against the sha256 the SDK
// sends, and stores it: Stat reads it from the HEAD.
func TestSinglePartStoresSHA256Checksum(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	d := newDest(t, srv, "")
	content := []byte("a small package")
	a := art("a/b.tar.bz2", content)
	a.Digests = nil
	if err := d.Put(t.Context(), a, bytes.NewReader(content), providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := head(t, srv, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	want := providertest.SHA256(content)
	raw, _ := hex.DecodeString(want.Hex)
	if got := aws.ToString(h.ChecksumSHA256); got == "" || strings.Contains(got, "-") {
		t.Fatalf("stored checksum %q, want the object's sha256", got)
	} else if got != base64Std(raw) {
		t.Fatalf("stored checksum %q, want %q", got, base64Std(raw))
	}
}

// Bytes that do not match never land: in a multipart upload whose earlier
// parts were already sent (a sha512 declared, no sha256) the upload is
// aborted and no part stays behind; in a streamed PutObject (sha256
// declared) the request fails before the object exists.
func TestMismatchAbortsMultipart(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	d := newDest(t, srv, "  part_size_mib = 5\n")
	content := providertest.Content(2, 11<<20)
	other := sha512.Sum512([]byte("other bytes"))
	for _, tc := range []struct {
		name      string
		overwrite bool
		streamed  bool
	}{
		{name: "multipart", overwrite: false},
		{name: "multipart overwrite", overwrite: true},
		{name: "streamed", overwrite: false, streamed: true},
		{name: "streamed overwrite", overwrite: true, streamed: true},
	} {
		overwrite := tc.overwrite
		t.Run(tc.name, func(t *testing.T) {
			a := art("x/y.bin", []byte("other bytes"))
			if !tc.streamed {
				a.Digests = providers.NewDigests(providers.Digest{Algorithm: providers.SHA512, Hex: hex.EncodeToString(other[:])})
			}
			a.Size = int64(len(content))
			err := d.Put(t.Context(), a, bytes.NewReader(content), providers.PutOptions{Overwrite: overwrite})
			if !errors.Is(err, providers.ErrDigestMismatch) {
				t.Fatalf("Put = %v, want ErrDigestMismatch", err)
			}
			if got := objects(t, srv); len(got) != 0 {
				t.Errorf("objects after a refused upload: %q", got)
			}
			if n := pendingUploads(t, srv); n != 0 {
				t.Errorf("%d multipart uploads left pending", n)
			}
		})
	}
}

// Consumers read what ferry stored over plain HTTP, without credentials,
// from public_url (the bucket has a public-read policy; without it
// versitygw refuses anonymous reads).
func TestAnonymousConsumerRead(t *testing.T) {
	for _, public := range []bool{true, false} {
		t.Run(fmt.Sprint("public=", public), func(t *testing.T) {
			srv := testenv.StartS3(t, testenv.S3Options{PublicRead: public})
			d := newDest(t, srv, "  prefix = \"channel\"\n")
			content := []byte("package bytes")
			a := art("linux-64/pkg-1.0+b1-0.conda", content)
			if err := d.Put(t.Context(), a, bytes.NewReader(content), providers.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			u, err := d.(providers.URLer).URL(a)
			if err != nil {
				t.Fatal(err)
			}
			if want := srv.PublicURL() + "/channel/linux-64/pkg-1.0%2Bb1-0.conda"; u != want {
				t.Errorf("URL = %s, want %s", u, want)
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case public && (resp.StatusCode != http.StatusOK || !bytes.Equal(body, content)):
				t.Fatalf("anonymous GET %s: %s %q, want 200 %q", u, resp.Status, body, content)
			case !public && resp.StatusCode != http.StatusForbidden:
				t.Fatalf("anonymous GET %s without a policy: %s, want 403", u, resp.Status)
			}
		})
	}
}

// Keys land under the prefix and never outside it.
func TestKeysStayUnderPrefix(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	d := newDest(t, srv, "  prefix = \"mirror/conda\"\n")
	content := []byte("x")
	if err := d.Put(t.Context(), art("noarch/a.conda", content), bytes.NewReader(content), providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../escape", "noarch/../../escape", "/abs", "a//b", "a\\b", "bad\xffutf8", strings.Repeat("k", 1020)} {
		err := d.Put(t.Context(), art(key, content), bytes.NewReader(content), providers.PutOptions{})
		if !errors.Is(err, providers.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := d.Stat(t.Context(), key); !errors.Is(err, providers.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := d.Delete(t.Context(), key); !errors.Is(err, providers.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if diff := cmp.Diff([]string{"mirror/conda/noarch/a.conda"}, objects(t, srv)); diff != "" {
		t.Errorf("bucket (-want +got):\n%s", diff)
	}
}

// ListStat pages through more than 1,000 objects (ListObjectsV2 returns at
// most 1,000 a request) and reports only those under the prefix, with
// their sizes.
func TestListStatPages(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	d := newDest(t, srv, "  prefix = \"p\"\n")
	cl := srv.Client()
	const n = 1003
	want := map[string]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		key := fmt.Sprintf("pkg/%04d.bin", i)
		want[key] = int64(i % 7)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := cl.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("p/" + key), Body: bytes.NewReader(make([]byte, i%7))}); err != nil {
				mu.Lock()
				t.Error(err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, k := range []string{"outside/x", "px/y", "p/dir/"} { // not under "p/", or not a key
		if _, err := cl.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(k), Body: strings.NewReader("")}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int64{}
	if err := d.(providers.ListStater).ListStat(t.Context(), func(a providers.Artifact) error {
		got[a.Key] = a.Size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListStat (-want +got):\n%s", diff)
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// composite is S3's checksum of a multipart upload of b in parts of size:
// base64(sha256(sha256(part1) ‖ sha256(part2) ‖ …))-PARTS.
func composite(b []byte, size int) string {
	var sums []byte
	n := 0
	for len(b) > 0 {
		part := b[:min(size, len(b))]
		s := sha256.Sum256(part)
		sums = append(sums, s[:]...)
		b = b[len(part):]
		n++
	}
	s := sha256.Sum256(sums)
	return base64Std(s[:]) + "-" + fmt.Sprint(n)
}

// Credentials come from the standard AWS chain when the block gives none:
// the environment, or a profile of the shared credentials file.
func TestCredentialsChain(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	hcl := func(extra string) string {
		return fmt.Sprintf("destination \"s3\" \"test\" {\n  bucket = %q\n  endpoint = %q\n  force_path_style = true\n%s}", srv.Bucket, srv.Endpoint, extra)
	}
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte(fmt.Sprintf("[mirror]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   map[string]string
		extra string
	}{
		{name: "environment", env: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}},
		{name: "profile attribute", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": creds}, extra: "  profile = \"mirror\"\n"},
		{name: "AWS_PROFILE", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_PROFILE": "mirror"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"} {
				t.Setenv(k, tt.env[k])
			}
			t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			d := providertest.NewDestination(t, hcl(tt.extra), t.TempDir(), registry.Env{Logger: hclog.NewNullLogger()})
			content := []byte(tt.name)
			a := art(fmt.Sprintf("k/%d", i), content)
			if err := d.Put(t.Context(), a, bytes.NewReader(content), providers.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Wrong credentials fail clearly, store nothing, and the error shows no
// secret.
func TestWrongSecretIsClearAndSecretFree(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	wrong := *srv
	wrong.SecretKey = "n0t-the-s3cr3t"
	d := newDest(t, &wrong, "")
	content := []byte("x")
	err := d.Put(t.Context(), art("a/b", content), bytes.NewReader(content), providers.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "authentication or authorization failed") {
		t.Fatalf("Put with a wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), wrong.SecretKey) || strings.Contains(err.Error(), srv.SecretKey) {
		t.Errorf("error shows a secret: %v", err)
	}
	if got := objects(t, srv); len(got) != 0 {
		t.Errorf("objects: %q", got)
	}
}

// genReader yields n deterministic bytes without holding them.
type genReader struct {
	block  []byte
	n, off int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), g.n-g.off)], g.block[g.off%int64(len(g.block)):])
	g.off += int64(k)
	return k, nil
}

// A large upload streams in bounded memory: a 96 MiB object in 5 MiB parts
// never has more than a few parts on the heap.
func TestLargeUploadBoundedMemory(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	d := newDest(t, srv, "  part_size_mib = 5\n")
	const size = 96 << 20
	block := providertest.Content(9, 1<<20+7)
	h := sha256.New()
	if _, err := io.Copy(h, &genReader{block: block, n: size}); err != nil {
		t.Fatal(err)
	}
	a := providers.Artifact{Key: "big/file.bin", Size: size, Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(h.Sum(nil))})}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	err := d.Put(t.Context(), a, &genReader{block: block, n: size}, providers.PutOptions{})
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by at most %.1f MiB for a %d MiB upload", float64(grew)/(1<<20), size>>20)
	if grew > 48<<20 {
		t.Errorf("heap in use grew by %.1f MiB uploading %d MiB in 5 MiB parts: not streamed", float64(grew)/(1<<20), size>>20)
	}
	got, err := d.Stat(t.Context(), a.Key)
	if err != nil || got.Size != size || !got.Digests.Matches(a.Digests) {
		t.Fatalf("Stat = %+v, %v", got, err)
	}
}

// A Put cancelled after the server carried out the write (the response is
// held back until the context is done): an object it created is removed,
// and an object that was there before (the create-only write got 412)
// stays untouched.
func TestCancelAfterTheServerWrote(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var cancel context.CancelFunc
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the Host header the request was signed with
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPut {
			mu.Lock()
			c := cancel
			mu.Unlock()
			if c != nil {
				c()
				time.Sleep(300 * time.Millisecond) // the client gives up first
			}
		}
		return nil
	}
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)
	viaProxy := *srv
	viaProxy.Endpoint = proxy.URL
	d := newDest(t, &viaProxy, "")
	theirs := []byte("someone else's bytes")
	if _, err := srv.Client().PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("taken"), Body: bytes.NewReader(theirs)}); err != nil {
		t.Fatal(err)
	}
	ours := []byte("ferry's bytes")
	for _, tt := range []struct {
		key  string
		want []byte // nil: absent
	}{
		{key: "free", want: nil},
		{key: "taken", want: theirs},
	} {
		t.Run(tt.key, func(t *testing.T) {
			ctx, c := context.WithCancel(t.Context())
			defer c()
			mu.Lock()
			cancel = c
			mu.Unlock()
			defer func() { mu.Lock(); cancel = nil; mu.Unlock() }()
			err := d.Put(ctx, art(tt.key, ours), bytes.NewReader(ours), providers.PutOptions{})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put = %v, want context.Canceled", err)
			}
			out, err := srv.Client().GetObject(t.Context(), &awss3.GetObjectInput{Bucket: &srv.Bucket, Key: aws.String(tt.key)})
			if tt.want == nil {
				if err == nil {
					out.Body.Close()
					t.Fatal("the object a cancelled Put created is still there")
				}
				return
			}
			if err != nil {
				t.Fatalf("the object that was there before is gone: %v", err)
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("object = %q, want %q", got, tt.want)
			}
		})
	}
}

// The checksum the server reports it stored is compared with the bytes ferry
// sent: a server claiming other content (here a proxy rewriting the HEAD's
// x-amz-checksum-sha256) gets the upload deleted and the Put fails.
func TestStoredChecksumMismatchRemovesTheObject(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodHead && resp.Header.Get("X-Amz-Checksum-Sha256") != "" {
			resp.Header.Set("X-Amz-Checksum-Sha256", base64Std(make([]byte, 32)))
		}
		return nil
	}
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)
	viaProxy := *srv
	viaProxy.Endpoint = proxy.URL
	d := newDest(t, &viaProxy, "")
	content := []byte("the bytes ferry sent")
	err = d.Put(t.Context(), art("a/b", content), bytes.NewReader(content), providers.PutOptions{})
	if !errors.Is(err, providers.ErrDigestMismatch) || !strings.Contains(err.Error(), "the object was removed") {
		t.Fatalf("Put = %v, want a digest mismatch and the object removed", err)
	}
	if got := objects(t, srv); len(got) != 0 {
		t.Errorf("objects: %q", got)
	}
}

// Fetch reads an object back (what a conda channel index is read with);
// a missing one is ErrNotFound.
func TestFetchReadsBack(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	dst := newDest(t, srv, "  prefix = \"pre\"\n")
	d, ok := dst.(providers.Fetcher)
	if !ok {
		t.Fatal("the s3 destination does not read back")
	}
	content := []byte(`{"packages": {}}`)
	a := art("noarch/repodata.json", content)
	if err := dst.Put(t.Context(), a, bytes.NewReader(content), providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := d.Fetch(t.Context(), providers.Artifact{Key: a.Key, Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("Fetch = %q, %v", got, err)
	}
	if _, err := d.Fetch(t.Context(), providers.Artifact{Key: "noarch/absent.json"}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("Fetch of a missing object: %v", err)
	}
}

// The change token PutToken returns (from the HEAD that verified the
// upload) is what ListStat and Stat report for the object, single-part
// and multipart; an object overwritten behind ferry's back with other
// bytes of the same size, at once (within the same second), lists with
// another token.
func TestListStatTokens(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	d := newDest(t, srv, "  prefix = \"p\"\n  part_size_mib = 5\n")
	tp := d.(providers.TokenPutter)
	small := []byte("ferry's verified bytes")
	big := providertest.Content(3, 5<<20+11)
	tokens := map[string]string{}
	for key, content := range map[string][]byte{"small.bin": small, "big.bin": big} {
		tok, err := tp.PutToken(t.Context(), art(key, content), bytes.NewReader(content), providers.PutOptions{})
		if err != nil || tok == "" {
			t.Fatalf("PutToken(%s): %q, %v", key, tok, err)
		}
		tokens[key] = tok
	}
	listed := func() map[string]providers.Artifact {
		got := map[string]providers.Artifact{}
		if err := d.(providers.ListStater).ListStat(t.Context(), func(a providers.Artifact) error {
			got[a.Key] = a
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := map[string]providers.Artifact{
		"small.bin": {Key: "small.bin", Size: int64(len(small)), Token: tokens["small.bin"]},
		"big.bin":   {Key: "big.bin", Size: int64(len(big)), Token: tokens["big.bin"]},
	}
	if diff := cmp.Diff(want, listed()); diff != "" {
		t.Errorf("ListStat (-want +got):\n%s", diff)
	}
	for key, tok := range tokens {
		if a, err := d.Stat(t.Context(), key); err != nil || a.Token != tok {
			t.Errorf("Stat(%s): token %q, error %v; want %q", key, a.Token, err, tok)
		}
	}

	other := []byte("someone else's bytes!")
	other = append(other, '!') // same length as small
	if _, err := srv.Client().PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("p/small.bin"), Body: bytes.NewReader(other)}); err != nil {
		t.Fatal(err)
	}
	got := listed()["small.bin"]
	if got.Size != int64(len(small)) || got.Token == "" || got.Token == tokens["small.bin"] {
		t.Errorf("after an overwrite with other bytes of the same size: listed %+v, want size %d and a token other than %q", got, len(small), tokens["small.bin"])
	}
}
