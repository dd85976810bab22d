// Package s3backend keeps ferry's state in an S3 bucket (the backend "s3"
// block of the ferry block): the state object and its lock object, written
// with conditional requests (If-None-Match: * to create the lock, If-Match
// on the ETag read for every state write and for releasing the lock). The
// connection settings, their decoding and the client are the s3
// destination's (internal/s3client).
package s3backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/internal/s3client"
	"github.com/ferry-mirror/ferry/planner/config/schema"
	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/state"
)

// maxStateSize bounds what Get reads: a state object larger than this is
// refused rather than read into memory without end.
const maxStateSize = 1 << 30

// Config is the decoded backend "s3" block.
type Config struct {
	// Bucket holds the state object.
	Bucket string
	// Key is the state object's key; its lock is KEY.lock.
	Key string
	// Config is the connection, as for the s3 destination.
	s3client.Config
}

// Decode decodes a backend "s3" block:
//
//	backend "s3" {
//	  bucket           = "ferry-state"
//	  key              = "mirrors/prod.ferry.state.json"
//	  region           = "eu-west-1"             # optional, and every other
//	  endpoint         = "http://127.0.0.1:9000" # connection attribute of
//	  force_path_style = true                    # the s3 destination
//	}
func Decode(body hcl.Body, ectx *hcl.EvalContext) (any, hcl.Diagnostics) {
	cfg := &Config{}
	content, diags := body.Content(&hcl.BodySchema{Attributes: append([]hcl.AttributeSchema{
		{Name: "bucket", Required: true},
		{Name: "key", Required: true},
	}, s3client.Attributes()...)})
	if attr := content.Attributes["bucket"]; attr != nil {
		b, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		switch {
		case moreDiags.HasErrors():
		case !s3client.ValidBucket(b):
			diags = append(diags, schema.AttrError(attr, "Invalid bucket",
				"bucket is an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit, like \"ferry-state\"."))
		default:
			cfg.Bucket = b
		}
	}
	if attr := content.Attributes["key"]; attr != nil {
		k, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			if err := providers.CheckKey(k); err != nil || strings.HasSuffix(k, "/") || !utf8.ValidString(k) || len(k) > 1000 {
				diags = append(diags, schema.AttrError(attr, "Invalid key",
					"key is the state object's key, a relative slash-separated path like \"ferry/prod.ferry.state.json\" "+
						"(no leading or trailing \"/\", no empty, \".\" or \"..\" segments, no backslash, at most 1000 bytes of UTF-8)."))
			} else {
				cfg.Key = k
			}
		}
	}
	more, moreDiags := s3client.Decode(content, ectx)
	cfg.Config = more
	return cfg, append(diags, moreDiags...)
}

// Store is the bucket as a state.ObjectStore.
type Store struct {
	cfg    *Config
	client *s3.Client
}

var _ state.ObjectStore = (*Store)(nil)

// New returns the store of cfg.
func New(cfg *Config, userAgent string) (*Store, error) {
	client, err := s3client.New(cfg.Config, "state backend \"s3\"", userAgent)
	if err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, client: client}, nil
}

// Remote is the state cfg describes.
func (s *Store) Remote() state.Remote { return state.Remote{Store: s, Key: s.cfg.Key} }

// URL is s3://BUCKET/KEY, or s3+ENDPOINT/BUCKET/KEY for a server other
// than AWS (the endpoint carries no credentials: the decoder refuses them).
func (s *Store) URL(key string) string {
	if s.cfg.Endpoint != "" {
		return "s3+" + s.cfg.Endpoint + "/" + s.cfg.Bucket + "/" + key
	}
	return "s3://" + s.cfg.Bucket + "/" + key
}

func (s *Store) opErr(op, key string, err error) error {
	switch s3client.StatusOf(err) {
	case http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", op, s.URL(key), fs.ErrNotExist)
	case http.StatusPreconditionFailed:
		return fmt.Errorf("%s %s: %w", op, s.URL(key), state.ErrPrecondition)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%s %s: authentication or authorization failed (check the backend's credentials and the bucket policy): %w", op, s.URL(key), err)
	}
	return fmt.Errorf("%s %s: %w", op, s.URL(key), err)
}

// Get reads key and its ETag.
func (s *Store) Get(ctx context.Context, key string) ([]byte, string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil {
		return nil, "", s.opErr("reading", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxStateSize+1))
	if err != nil {
		return nil, "", s.opErr("reading", key, err)
	}
	if len(data) > maxStateSize {
		return nil, "", fmt.Errorf("reading %s: larger than %d bytes", s.URL(key), maxStateSize)
	}
	if out.ETag == nil || *out.ETag == "" {
		// Without an ETag no write could be made conditional on this read.
		return nil, "", fmt.Errorf("reading %s: the server sent no ETag, which conditional writes need", s.URL(key))
	}
	return data, *out.ETag, nil
}

// Put writes key only if absent (ifMatch "") or still at ETag ifMatch.
func (s *Store) Put(ctx context.Context, key string, data []byte, ifMatch string) (string, error) {
	in := &s3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json")}
	if ifMatch == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		err = s.opErr("writing", key, err)
		if ifMatch != "" && errors.Is(err, fs.ErrNotExist) {
			// If-Match on an object deleted meanwhile: the object is not
			// the one the condition names.
			err = fmt.Errorf("writing %s: it was deleted: %w", s.URL(key), state.ErrPrecondition)
		}
		return "", err
	}
	if out.ETag == nil || *out.ETag == "" {
		return "", fmt.Errorf("writing %s: the server sent no ETag, which conditional writes need", s.URL(key))
	}
	return *out.ETag, nil
}

// Delete removes key only if its ETag is ifMatch.
func (s *Store) Delete(ctx context.Context, key, ifMatch string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key, IfMatch: aws.String(ifMatch)})
	if err != nil {
		return s.opErr("deleting", key, err)
	}
	return nil
}
