package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/internal/s3client"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/registry"
	"github.com/ferry-mirror/ferry/providers/verify"
)

// metaSHA256 is the user metadata (x-amz-meta-sha256) holding the hex
// sha256 of the object, set at upload when the artifact declares one.
const metaSHA256 = "sha256"

// uploadConcurrency is how many parts of one upload are in flight; with
// the part being read, memory per upload is at most
// (uploadConcurrency+1) × part size, whatever the object's size.
const uploadConcurrency = 2

// Store keeps objects in a bucket under a key prefix. It is safe for
// concurrent use.
//
// Put streams through a verifying reader into the SDK's multipart
// uploader (feature/s3/manager), which buffers one part at a time: an
// object smaller than a part is one PutObject, a larger one a multipart
// upload completed only after the last part was read, so a mismatch found
// at the end of the stream aborts the upload and nothing becomes visible.
// Every request carries an x-amz-checksum-sha256 the server checks, and
// after the upload a HEAD compares the checksum the server stored (full
// object, or the composite of the parts) with the bytes ferry verified;
// a server that returns no checksum is read back with a GET that hashes.
type Store struct {
	name     string
	cfg      *DestinationConfig
	client   *s3.Client
	partSize int64
	log      hclog.Logger
	// uploader is shared by every Put so that its pool of part buffers is
	// reused between uploads instead of allocated (and zeroed) per object.
	uploader *manager.Uploader //lint:ignore SA1019 see newUploader
}

var (
	_ providers.Destination = (*Store)(nil)
	_ providers.ListStater  = (*Store)(nil)
	_ providers.TokenPutter = (*Store)(nil)
	_ providers.Lister      = (*Store)(nil)
	_ providers.URLer       = (*Store)(nil)
	_ providers.Describer   = (*Store)(nil)
	_ providers.Fetcher     = (*Store)(nil)
)

// NewDestination returns the destination named name ("s3.channel").
// Credentials and region come from the block, else from the standard AWS
// chain (AWS_* environment variables, the shared config and credentials
// files, the profile, a role); they are resolved on the first request.
func NewDestination(name string, cfg *DestinationConfig, env registry.Env) (*Store, error) {
	client, err := s3client.New(cfg.Config, "destination "+name, env.UserAgent)
	if err != nil {
		return nil, err
	}
	ps := cfg.PartSize
	if ps <= 0 {
		ps = DefaultPartSize
	}
	return &Store{name: name, cfg: cfg, client: client, partSize: ps, log: env.Log(), uploader: newUploader(client, ps)}, nil
}

// newUploader is the multipart uploader every Put of a store shares.
// feature/s3/manager is deprecated in favour of feature/s3/transfermanager,
// which added CRC32 checksums nobody asked for (aws-sdk-go-v2#3469);
// manager's uploader is still maintained and takes
// RequestChecksumCalculation. Revisit when moving the SDK on.
//
//lint:ignore SA1019 see above
func newUploader(client *s3.Client, partSize int64) *manager.Uploader {
	//lint:ignore SA1019 see above
	return manager.NewUploader(partSumClient{client}, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = uploadConcurrency
		u.LeavePartsOnError = false
		u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
}

func (s *Store) opErr(op, key string, err error) error {
	return &providers.OpError{Op: op, Side: providers.SideDestination, Provider: s.name, Key: key, Err: err}
}

// objectKey is the S3 key of artifact key: the prefix and the key, which
// passes the common key rules (so it never leaves the prefix) and S3's.
func (s *Store) objectKey(key string) (string, error) {
	if err := providers.CheckKey(key); err != nil {
		return "", err
	}
	if !utf8.ValidString(key) {
		return "", fmt.Errorf("%w %q: not valid UTF-8 (S3 keys are UTF-8)", providers.ErrInvalidKey, key)
	}
	k := s.cfg.Prefix + key
	if len(k) > 1024 {
		return "", fmt.Errorf("%w %q: with the prefix it is %d bytes, S3 keys are at most 1024", providers.ErrInvalidKey, key, len(k))
	}
	return k, nil
}

// statusOf is the HTTP status of a failed request, or 0.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// classify maps S3 errors to the sentinels.
func classify(err error) error {
	switch statusOf(err) {
	case http.StatusNotFound:
		return fmt.Errorf("%w (%v)", providers.ErrNotFound, err)
	case http.StatusPreconditionFailed:
		return fmt.Errorf("%w (%v)", providers.ErrAlreadyExists, err)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("authentication or authorization failed (check the destination's credentials and the bucket policy): %w", err)
	}
	return err
}

// Stat reports the object's size and sha256: the sha256 checksum the
// server stored for a single-part upload, else the x-amz-meta-sha256 ferry
// set at upload (marked Claimed: anyone may set that header to any value,
// so adopting such an object reads its bytes back), else (an object ferry
// did not write, or uploaded without a declared sha256 in several parts) a
// GET that hashes it. The token is the HEAD's (see objectToken).
func (s *Store) Stat(ctx context.Context, key string) (providers.Artifact, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &k, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, classify(err))
	}
	size, token := aws.ToInt64(out.ContentLength), objectToken(out.ETag, out.LastModified)
	if hx, ok := fullSHA256(aws.ToString(out.ChecksumSHA256)); ok {
		return providers.Artifact{Key: key, Size: size, Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hx}), Token: token}, nil
	}
	if hx := strings.ToLower(out.Metadata[metaSHA256]); hx != "" {
		d := providers.Digest{Algorithm: providers.SHA256, Hex: hx}
		if d.Validate() == nil {
			// Whoever uploaded the object set it; S3 never checked it.
			return providers.Artifact{Key: key, Size: size, Digests: providers.NewDigests(d), Claimed: true, Token: token}, nil
		}
	}
	hx, n, err := s.hashObject(ctx, k)
	if err != nil {
		return providers.Artifact{}, s.opErr("stat", key, err)
	}
	return providers.Artifact{Key: key, Size: n, Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hx}), Token: token}, nil
}

// fullSHA256 decodes a full-object x-amz-checksum-sha256 (base64 of the
// raw digest; a composite one ends in "-PARTS" and is not the object's).
func fullSHA256(v string) (string, bool) {
	if v == "" || strings.Contains(v, "-") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

// hashObject downloads the object and returns its sha256 and size.
func (s *Store) hashObject(ctx context.Context, k string) (string, int64, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &k})
	if err != nil {
		return "", 0, classify(err)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		return "", 0, fmt.Errorf("reading the object: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Put uploads r to a.Key; see the Store comment. Without opts.Overwrite
// the write is create-only (If-None-Match: *, on the PutObject or the
// CompleteMultipartUpload): an existing object is left alone and the
// error wraps providers.ErrAlreadyExists.
func (s *Store) Put(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) error {
	_, err := s.PutToken(ctx, a, r, opts)
	return err
}

// PutToken is Put, returning the object's change token (see objectToken)
// from the HEAD that verified the upload: the ETag and Last-Modified in
// the same response as the checksum (or size) it proved.
func (s *Store) PutToken(ctx context.Context, a providers.Artifact, r io.Reader, opts providers.PutOptions) (string, error) {
	k, err := s.objectKey(a.Key)
	if err != nil {
		return "", s.opErr("put", a.Key, err)
	}
	// The engine's verifier, when r is one: each byte hashed once for the
	// check (the part checksums are other sums).
	vr := verify.Reuse(r, a.Size, a.Digests)
	declared, hasSHA256 := a.Digests.Get(providers.SHA256)
	if hasSHA256 && a.Size >= 0 && a.Size <= maxStreamedPut {
		return s.putStreamed(ctx, a, k, declared, vr, opts)
	}
	parts := &partHasher{size: s.partSize}
	in := &s3.PutObjectInput{
		Bucket:            &s.cfg.Bucket,
		Key:               &k,
		Body:              parts.reader(providers.ContextReader(ctx, vr)),
		ContentType:       aws.String("application/octet-stream"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if hasSHA256 {
		in.Metadata = map[string]string{metaSHA256: declared.Hex}
	}
	if !opts.Overwrite {
		in.IfNoneMatch = aws.String("*")
	}
	up := s.uploader
	_, err = up.Upload(context.WithValue(ctx, partSumsKey{}, parts), in) //lint:ignore SA1019 see above
	if err != nil {
		var mf manager.MultiUploadFailure
		if errors.As(err, &mf) && mf.UploadID() != "" {
			// The uploader aborts with ctx, which may be the cancelled one.
			_, _ = s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &k, UploadId: aws.String(mf.UploadID())})
		}
		return "", s.putFailed(ctx, a, k, endOf(vr), parts.composite(), opts, err)
	}
	return s.putDone(ctx, a, k, endOf(vr), parts.composite())
}

// streamEnd is how an upload's verified stream ended, read once the
// client no longer reads it.
type streamEnd struct {
	verified bool
	sha256   string // hex, when verified
	n        int64
	failed   error // what ended an unverified stream, if anything did
}

func endOf(vr *verify.Reader) streamEnd {
	sum, _ := vr.Digests().Get(providers.SHA256)
	return streamEnd{verified: vr.Verified(), sha256: sum.Hex, n: vr.N(), failed: vr.Failed()}
}

// putFailed is the error of an upload of a to k that failed with err;
// composite is the multipart checksum ferry computed ("" for one
// PutObject).
func (s *Store) putFailed(ctx context.Context, a providers.Artifact, k string, end streamEnd, composite string, opts providers.PutOptions, err error) error {
	var mm *providers.MismatchError
	if errors.As(err, &mm) {
		return s.opErr("put", a.Key, mm)
	}
	if statusOf(err) == http.StatusPreconditionFailed {
		return s.opErr("put", a.Key, providers.ErrAlreadyExists)
	}
	if ctx.Err() != nil && end.verified && !opts.Overwrite {
		// Cancelled after the whole body went out: the last request
		// may have been carried out. Remove what it may have created
		// rather than leave an object ferry never recorded, but only
		// if the key holds exactly these bytes: an object that was
		// there before (the create-only write would have been refused)
		// holds other bytes and stays.
		bg := context.WithoutCancel(ctx)
		if _, err := s.verifyStored(bg, k, end.sha256, end.n, composite); err == nil {
			_ = s.remove(bg, k)
		}
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return s.opErr("put", a.Key, classify(err))
}

// putDone checks an upload of a to k that the server accepted and returns
// the object's change token; an object that is not the verified bytes is
// removed.
func (s *Store) putDone(ctx context.Context, a providers.Artifact, k string, end streamEnd, composite string) (string, error) {
	if !end.verified {
		_ = s.remove(context.WithoutCancel(ctx), k)
		return "", s.opErr("put", a.Key, errors.New("the upload finished before the stream was verified; the object was removed"))
	}
	token, err := s.verifyStored(ctx, k, end.sha256, end.n, composite)
	if err != nil {
		if derr := s.remove(context.WithoutCancel(ctx), k); derr != nil {
			return "", s.opErr("put", a.Key, fmt.Errorf("%w; removing the object failed too: %v", err, derr))
		}
		return "", s.opErr("put", a.Key, fmt.Errorf("%w; the object was removed", err))
	}
	return token, nil
}

// maxStreamedPut is the largest object putStreamed sends: S3's limit for
// one PutObject.
const maxStreamedPut = 5 << 30

// putStreamed is PutToken for an artifact whose size and sha256 the source
// declared: one PutObject streamed from the verifier, with the declared
// size as Content-Length and the declared sha256 as the
// x-amz-checksum-sha256 the server checks the body against before the
// object exists. No part is buffered, no byte hashed again for the
// request signature (the payload is sent UNSIGNED-PAYLOAD: the signed
// checksum header stands for it, as it does over TLS), and the server
// writes the object once instead of assembling parts. A body that does
// not match is refused twice over: ferry's verifier fails the stream
// before its end, and the server refuses a body whose sha256 is not the
// declared one (BadDigest), so nothing becomes visible either way.
func (s *Store) putStreamed(ctx context.Context, a providers.Artifact, k string, declared providers.Digest, vr *verify.Reader, opts providers.PutOptions) (string, error) {
	raw, err := hex.DecodeString(declared.Hex)
	if err != nil {
		return "", s.opErr("put", a.Key, err)
	}
	body := &endReader{r: providers.ContextReader(ctx, vr), vr: vr, left: a.Size}
	var send io.Reader = body
	if a.Size == 0 {
		// An empty body is never read by the client: verify it here.
		var none [1]byte
		if _, err := body.Read(none[:]); err != io.EOF {
			return "", s.putFailed(ctx, a, k, body.end(), "", opts, err)
		}
		send = bytes.NewReader(nil)
	}
	in := &s3.PutObjectInput{
		Bucket:         &s.cfg.Bucket,
		Key:            &k,
		Body:           send,
		ContentLength:  aws.Int64(a.Size),
		ContentType:    aws.String("application/octet-stream"),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(raw)),
		Metadata:       map[string]string{metaSHA256: declared.Hex},
	}
	if !opts.Overwrite {
		in.IfNoneMatch = aws.String("*")
	}
	_, err = s.client.PutObject(ctx, in, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		o.RetryMaxAttempts = 1 // a stream cannot be sent twice
	})
	end := body.end()
	if err != nil {
		if end.failed != nil {
			err = end.failed // the bytes were wrong: the client only saw its body fail
		}
		return "", s.putFailed(ctx, a, k, end, "", opts, err)
	}
	return s.putDone(ctx, a, k, end, "")
}

// endReader hands an HTTP client the left bytes of a verified stream and
// reads to the verifier's end within the Read that returns the last of
// them: an HTTP client stops at Content-Length, and its server may answer
// before the client looks for more, so the verdict must be in before the
// last byte goes out. Bytes that fail it are withheld (the server then
// never has the whole body). The client may still be reading when the
// request returns (its writer runs apart): the verdict is kept under a
// lock, and the verifier is not touched afterwards.
type endReader struct {
	r    io.Reader
	vr   *verify.Reader
	left int64

	mu     sync.Mutex
	result streamEnd
	ended  bool
}

func (e *endReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, e.finish()
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err != nil && err != io.EOF {
		e.record(err)
		return 0, err
	}
	if e.left > 0 {
		if err == io.EOF {
			return n, e.finish() // short: the verifier reports the size
		}
		return n, nil
	}
	if ferr := e.finish(); ferr != io.EOF {
		return 0, ferr
	}
	return n, nil
}

// finish reads the verifier to its end and records how it ended: io.EOF
// when every byte matched.
func (e *endReader) finish() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ended {
		if e.result.verified {
			return io.EOF
		}
		return e.result.failed
	}
	var probe [1]byte
	_, err := e.r.Read(probe[:])
	e.ended = true
	e.result = endOf(e.vr)
	if err == nil || (err == io.EOF && !e.result.verified) {
		err = errors.New("the stream did not end where it was expected to")
	}
	if err != io.EOF && e.result.failed == nil {
		e.result.failed = err
	}
	return err
}

func (e *endReader) record(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ended {
		e.ended, e.result = true, streamEnd{failed: err}
	}
}

// end is the verdict, once the stream ended (unverified before).
func (e *endReader) end() streamEnd {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.result
}

// verifyStored checks that the object under k is the n bytes with sha256
// want that ferry sent: by the checksum the server computed and stored
// (the object's for one PutObject, the composite of the parts' for a
// multipart upload), else by reading it back. It returns the object's
// change token from the HEAD.
func (s *Store) verifyStored(ctx context.Context, k, want string, n int64, composite string) (string, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &k, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return "", fmt.Errorf("reading the upload back: %w", classify(err))
	}
	if got := aws.ToInt64(out.ContentLength); got != n {
		return "", &providers.MismatchError{What: "size", Want: strconv.FormatInt(n, 10), Got: strconv.FormatInt(got, 10)}
	}
	token := objectToken(out.ETag, out.LastModified)
	stored := aws.ToString(out.ChecksumSHA256)
	if hx, ok := fullSHA256(stored); ok {
		if hx != want {
			return "", &providers.MismatchError{What: "sha256", Want: want, Got: hx}
		}
		return token, nil
	}
	if stored != "" && stored == composite {
		return token, nil
	}
	// No checksum, or a composite over other part boundaries than ferry's:
	// hash what the server serves.
	hx, got, err := s.hashObject(ctx, k)
	if err != nil {
		return "", fmt.Errorf("reading the upload back: %w", err)
	}
	if got != n {
		return "", &providers.MismatchError{What: "size", Want: strconv.FormatInt(n, 10), Got: strconv.FormatInt(got, 10)}
	}
	if hx != want {
		return "", &providers.MismatchError{What: "sha256", Want: want, Got: hx}
	}
	// The GET read whatever the key held then; were it rewritten after the
	// HEAD with other bytes the hash would differ, with the same bytes the
	// token is merely stale (a later refresh Stat's the object).
	return token, nil
}

// objectToken is an object's change token: its ETag and Last-Modified in
// seconds (what both HEAD and ListObjectsV2 report). Every write of a key
// gives it a new Last-Modified, or, within the same second, a new ETag
// unless the bytes (their MD5, for a single-part upload) are the same.
// Empty without an ETag or a time.
func objectToken(etag *string, modified *time.Time) string {
	e := strings.Trim(aws.ToString(etag), `"`)
	if e == "" || modified == nil || modified.IsZero() {
		return ""
	}
	return e + "@" + strconv.FormatInt(modified.Unix(), 10)
}

// partHasher computes the sha256 of each part of an upload with parts of
// size bytes, from the verified stream as the uploader reads it, and the
// composite sha256 S3 reports for a multipart upload:
// base64(sha256(sha256(part1) ‖ …))-N. partSumClient sends each part's
// sum with the part, so the server checks the bytes it received against
// ferry's hash of the verified stream (and the SDK hashes nothing again).
type partHasher struct {
	size int64
	cur  hash.Hash
	n    int64 // bytes in cur

	mu   sync.Mutex // guards sums and num: UploadPart reads them
	sums bytes.Buffer
	num  int
}

func (p *partHasher) Write(b []byte) (int, error) {
	total := len(b)
	for len(b) > 0 {
		if p.cur == nil {
			p.cur = sha256.New()
		}
		take := min(int64(len(b)), p.size-p.n)
		p.cur.Write(b[:take])
		p.n += take
		b = b[take:]
		if p.n == p.size {
			p.finish()
		}
	}
	return total, nil
}

func (p *partHasher) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sums.Write(p.cur.Sum(nil))
	p.num++
	p.cur, p.n = nil, 0
}

// part is the base64 sha256 of part num (from 1), once all of it passed.
func (p *partHasher) part(num int) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if num < 1 || num > p.num {
		return "", false
	}
	return base64.StdEncoding.EncodeToString(p.sums.Bytes()[(num-1)*sha256.Size : num*sha256.Size]), true
}

// whole is the base64 sha256 of a stream that fit in one part, read to
// its end (the uploader sends it with one PutObject).
func (p *partHasher) whole() (string, bool) {
	p.mu.Lock()
	one := p.num == 1
	p.mu.Unlock()
	if !one {
		return "", false
	}
	return p.part(1)
}

// reader is r written to p as it is read; the last part is complete at
// r's io.EOF (which a verifier returns only once everything matched).
func (p *partHasher) reader(r io.Reader) io.Reader { return &partsReader{r: r, p: p} }

type partsReader struct {
	r io.Reader
	p *partHasher
}

func (t *partsReader) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	t.p.Write(b[:n])
	if err == io.EOF && t.p.cur != nil && t.p.n > 0 {
		t.p.finish()
	}
	return n, err
}

func (p *partHasher) composite() string {
	if p.cur != nil && p.n > 0 {
		p.finish()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.num == 0 {
		return ""
	}
	sum := sha256.Sum256(p.sums.Bytes())
	return base64.StdEncoding.EncodeToString(sum[:]) + "-" + strconv.Itoa(p.num)
}

// partSumsKey carries an upload's *partHasher in the context of
// Uploader.Upload, which passes it to every request of the upload.
type partSumsKey struct{}

// partSumClient is the uploader's S3 client: it sets each part's
// x-amz-checksum-sha256 to the sum the upload's partHasher computed from
// the verified stream (the SDK then computes none), so each byte is
// hashed once for the part checksums, and the server refuses a part whose
// bytes are not the ones ferry verified.
type partSumClient struct{ *s3.Client }

func (c partSumClient) UploadPart(ctx context.Context, in *s3.UploadPartInput, optFns ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	if p, ok := ctx.Value(partSumsKey{}).(*partHasher); ok && in.ChecksumSHA256 == nil && in.PartNumber != nil && in.ChecksumAlgorithm == types.ChecksumAlgorithmSha256 {
		if sum, ok := p.part(int(*in.PartNumber)); ok {
			cp := *in
			cp.ChecksumSHA256 = &sum
			in = &cp
		}
	}
	return c.Client.UploadPart(ctx, in, optFns...)
}

func (c partSumClient) PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if p, ok := ctx.Value(partSumsKey{}).(*partHasher); ok && in.ChecksumSHA256 == nil && in.ChecksumAlgorithm == types.ChecksumAlgorithmSha256 {
		if sum, ok := p.whole(); ok {
			cp := *in
			cp.ChecksumSHA256 = &sum
			in = &cp
		}
	}
	return c.Client.PutObject(ctx, in, optFns...)
}

// remove deletes the object under k (no existence check).
func (s *Store) remove(ctx context.Context, k string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &k})
	return classify(err)
}

// Delete removes the object; a missing one wraps providers.ErrNotFound.
// S3 answers a DELETE the same whether the key existed or not, so a HEAD
// asks first (another writer may remove it in between; then the delete
// still succeeds, which is what a delete wants).
func (s *Store) Delete(ctx context.Context, key string) error {
	k, err := s.objectKey(key)
	if err != nil {
		return s.opErr("delete", key, err)
	}
	if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &k}); err != nil {
		return s.opErr("delete", key, classify(err))
	}
	if err := s.remove(ctx, k); err != nil {
		return s.opErr("delete", key, err)
	}
	return nil
}

// ListStat reports every object under the prefix with its size and change
// token (objectToken), from ListObjectsV2 (up to 1,000 keys a request).
// The listing carries no sha256 (S3 lists neither checksums nor
// metadata), so the artifacts have no digests: the inventory compares the
// token with the one ferry recorded after its verified upload, and asks
// Stat for the objects whose token differs.
// Objects whose names are not keys ferry could have written (a "dir/"
// marker, a ".." segment) are skipped.
func (s *Store) ListStat(ctx context.Context, fn func(providers.Artifact) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:  &s.cfg.Bucket,
		Prefix:  aws.String(s.cfg.Prefix),
		MaxKeys: aws.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.opErr("list", "", classify(err))
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.cfg.Prefix)
			if !ok || providers.CheckKey(key) != nil {
				continue
			}
			if err := fn(providers.Artifact{Key: key, Size: aws.ToInt64(o.Size), Token: objectToken(o.ETag, o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// List is ListStat: what the destination holds.
func (s *Store) List(ctx context.Context, fn func(providers.Artifact) error) error {
	return s.ListStat(ctx, fn)
}

// URL is where consumers download a: public_url/PREFIX/KEY, each segment
// escaped (a "+" stays "%2B", which S3 would read as a space).
func (s *Store) URL(a providers.Artifact) (string, error) {
	k, err := s.objectKey(a.Key)
	if err != nil {
		return "", err
	}
	if s.cfg.PublicURL == "" {
		return "", fmt.Errorf("destination %s has no public_url: set it to the base URL consumers download the bucket's objects from", s.name)
	}
	segs := strings.Split(k, "/")
	for i, seg := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(seg), "+", "%2B")
	}
	return s.cfg.PublicURL + "/" + strings.Join(segs, "/"), nil
}

// Describe names the bucket, prefix and endpoint (no credentials).
func (s *Store) Describe() string {
	d := "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix
	if s.cfg.Endpoint != "" {
		d += " at " + httpx.RedactString(s.cfg.Endpoint)
	}
	return d
}

// Fetch opens the object at a.Key for reading (GetObject): what a provider
// that keeps an index at the destination (a conda channel's repodata.json)
// reads it back with. A missing object wraps providers.ErrNotFound.
func (s *Store) Fetch(ctx context.Context, a providers.Artifact) (io.ReadCloser, error) {
	k, err := s.objectKey(a.Key)
	if err != nil {
		return nil, s.opErr("fetch", a.Key, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &k})
	if err != nil {
		return nil, s.opErr("fetch", a.Key, classify(err))
	}
	return out.Body, nil
}
