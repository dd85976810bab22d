// Package s3 is the "s3" destination: objects in an S3 bucket (AWS or an
// S3-compatible server such as versitygw or MinIO) under a key prefix,
// written with aws-sdk-go-v2.
package s3

import "github.com/ferry-mirror/ferry/internal/s3client"

// DestinationConfig is the decoded destination "s3" block.
type DestinationConfig struct {
	// Bucket is the bucket objects are stored in.
	Bucket string
	// Prefix is put before every key: KEY is stored as Prefix+KEY. Empty or
	// a clean relative path ending in "/".
	Prefix string
	// Config is the connection: region, endpoint, addressing, profile
	// and explicit credentials (which never leave the client).
	s3client.Config
	// PublicURL is the base URL consumers download PREFIX+KEY from
	// anonymously (PublicURL/PREFIX/KEY); empty: the destination has no
	// consumer URLs.
	PublicURL string
	// PartSize is the multipart part size in bytes (and the size above
	// which an upload is multipart); 0: DefaultPartSize.
	PartSize int64
}

// DefaultPartSize is the multipart part size when the block sets none.
const DefaultPartSize = 8 << 20
