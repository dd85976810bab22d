// Package s3 is the "s3" destination: objects in an S3 bucket (AWS or an
// S3-compatible server such as versitygw or MinIO) under a key prefix,
// written with aws-sdk-go-v2.
package s3

// DestinationConfig is the decoded destination "s3" block.
type DestinationConfig struct {
	// Bucket is the bucket objects are stored in.
	Bucket string
	// Prefix is put before every key: KEY is stored as Prefix+KEY. Empty or
	// a clean relative path ending in "/".
	Prefix string
	// Region is the bucket's region; empty: the AWS configuration's
	// (AWS_REGION, the profile), else us-east-1.
	Region string
	// Endpoint is the base URL of an S3-compatible server; empty: AWS.
	Endpoint string
	// ForcePathStyle addresses the bucket in the path
	// (ENDPOINT/BUCKET/KEY) instead of the host name (BUCKET.ENDPOINT/KEY),
	// as most S3-compatible servers need.
	ForcePathStyle bool
	// Profile is the shared configuration profile to take credentials and
	// region from; empty: AWS_PROFILE, else "default".
	Profile string
	// AccessKeyID, SecretAccessKey and SessionToken are explicit
	// credentials; empty: the standard AWS chain (environment, shared
	// files, profile, instance role). They never leave this package.
	AccessKeyID, SecretAccessKey, SessionToken string
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
