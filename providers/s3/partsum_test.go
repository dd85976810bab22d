package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ferry-mirror/ferry/internal/s3client"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
)

// content is n bytes of a pattern depending on seed.
func content(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*31+i>>8)
	}
	return b
}

func sum64(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// partHasher hands out each part's sum once the part passed, the last
// one at the end of the stream.
func TestPartHasherParts(t *testing.T) {
	content := content(3, 2*1000+17)
	p := &partHasher{size: 1000}
	r := p.reader(iotestHalves{bytes.NewReader(content)})
	buf := make([]byte, 1500)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	if got, ok := p.part(1); !ok || got != sum64(content[:1000]) {
		t.Errorf("part 1 = %q, %v", got, ok)
	}
	if _, ok := p.part(2); ok {
		t.Error("part 2 reported before all of it passed")
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{sum64(content[:1000]), sum64(content[1000:2000]), sum64(content[2000:])} {
		if got, ok := p.part(i + 1); !ok || got != want {
			t.Errorf("part %d = %q, %v; want %q", i+1, got, ok, want)
		}
	}
	if _, ok := p.whole(); ok {
		t.Error("whole reported for a stream of several parts")
	}

	one := &partHasher{size: 1000}
	if _, err := io.ReadAll(one.reader(bytes.NewReader(content[:10]))); err != nil {
		t.Fatal(err)
	}
	if got, ok := one.whole(); !ok || got != sum64(content[:10]) {
		t.Errorf("whole = %q, %v", got, ok)
	}
}

type iotestHalves struct{ r io.Reader }

func (h iotestHalves) Read(p []byte) (int, error) { return h.r.Read(p[:(len(p)+1)/2]) }

// The uploader sends the sums the upload's partHasher computed (not sums
// of its own): given a hasher of other bytes, the server refuses every
// part, and a single-part object.
func TestUploaderSendsFerrysPartSums(t *testing.T) {
	srv := testenv.StartS3(t, testenv.S3Options{})
	cfg := &DestinationConfig{Bucket: srv.Bucket, PartSize: 5 << 20, Config: s3client.Config{
		Region: srv.Region, Endpoint: srv.Endpoint, ForcePathStyle: true, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}}
	s, err := NewDestination("s3.test", cfg, registry.Env{})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{12<<20 + 5, 1000} {
		content := content(4, size)
		other := bytes.Clone(content)
		other[0]++
		wrong := &partHasher{size: s.partSize}
		if _, err := io.Copy(io.Discard, wrong.reader(bytes.NewReader(other))); err != nil {
			t.Fatal(err)
		}
		in := &awss3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String("k"), Body: bytes.NewReader(content), ChecksumAlgorithm: types.ChecksumAlgorithmSha256}
		_, err = s.uploader.Upload(context.WithValue(t.Context(), partSumsKey{}, wrong), in) //lint:ignore SA1019 see newUploader
		if statusOf(err) != http.StatusBadRequest {
			t.Errorf("%d bytes: upload with sums of other bytes = %v, want refused (400 BadDigest)", size, err)
		}
	}
}
