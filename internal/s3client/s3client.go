// Package s3client is what the s3 destination and the s3 state backend
// share: the connection settings of their HCL blocks (region, endpoint,
// addressing, profile, explicit credentials), their decoding and
// validation, and the construction of the S3 client with the standard AWS
// credential chain. One decoder, one client: both blocks accept and check
// the same attributes the same way.
package s3client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// Config are the connection settings of an S3 block.
type Config struct {
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
	// files, profile, instance role). They never leave the client.
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Attributes are the connection attributes every S3 block accepts, for
// its hcl.BodySchema.
func Attributes() []hcl.AttributeSchema {
	return []hcl.AttributeSchema{
		{Name: "region"},
		{Name: "endpoint"},
		{Name: "force_path_style"},
		{Name: "profile"},
		{Name: "access_key_id"},
		{Name: "secret_access_key"},
		{Name: "session_token"},
	}
}

// Decode reads the connection attributes (see Attributes) of a block's
// content. Credentials may be sensitive values; the others must be plain.
func Decode(content *hcl.BodyContent, ectx *hcl.EvalContext) (Config, hcl.Diagnostics) {
	var cfg Config
	var diags hcl.Diagnostics
	plain := func(name string) (string, *hcl.Attribute) {
		attr := content.Attributes[name]
		if attr == nil {
			return "", nil
		}
		s, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			return "", nil
		}
		return s, attr
	}
	secret := func(name string) (string, *hcl.Attribute) {
		attr := content.Attributes[name]
		if attr == nil {
			return "", nil
		}
		s, _, moreDiags := schema.DecodeString(attr, ectx)
		diags = append(diags, moreDiags...)
		return s, attr
	}
	cfg.Region, _ = plain("region")
	cfg.Profile, _ = plain("profile")
	cfg.Endpoint = BaseURL(content, ectx, "endpoint", "http://127.0.0.1:9000", &diags)
	if attr := content.Attributes["force_path_style"]; attr != nil {
		v, moreDiags := schema.DecodeBool(attr, ectx)
		diags = append(diags, moreDiags...)
		cfg.ForcePathStyle = v
	}

	var keyAttr, secretAttr, tokenAttr *hcl.Attribute
	cfg.AccessKeyID, keyAttr = secret("access_key_id")
	cfg.SecretAccessKey, secretAttr = secret("secret_access_key")
	cfg.SessionToken, tokenAttr = secret("session_token")
	switch {
	case (keyAttr == nil) != (secretAttr == nil):
		missing, at := "secret_access_key", keyAttr
		if keyAttr == nil {
			missing, at = "access_key_id", secretAttr
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete credentials",
			Detail:  "Explicit S3 credentials need both access_key_id and secret_access_key; " + missing + " is missing. Leave both out to use the standard AWS chain (environment, shared files, profile).",
			Subject: at.NameRange.Ptr()})
	case tokenAttr != nil && keyAttr == nil:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete credentials",
			Detail:  "session_token goes with access_key_id and secret_access_key (temporary credentials); set those too, or leave all three out to use the standard AWS chain.",
			Subject: tokenAttr.NameRange.Ptr()})
	}
	if keyAttr != nil && cfg.Profile != "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting credentials",
			Detail:  "Set either profile (credentials from the shared AWS files) or access_key_id and secret_access_key, not both.",
			Subject: content.Attributes["profile"].NameRange.Ptr()})
	}
	return cfg, diags
}

// BaseURL decodes the attribute name as an http(s) base URL without
// query, fragment or credentials, and trims its trailing slash; "" when
// the attribute is absent or invalid (then diags says why).
func BaseURL(content *hcl.BodyContent, ectx *hcl.EvalContext, name, example string, diags *hcl.Diagnostics) string {
	attr := content.Attributes[name]
	if attr == nil {
		return ""
	}
	s, moreDiags := schema.DecodePlainString(attr, ectx)
	*diags = append(*diags, moreDiags...)
	if moreDiags.HasErrors() {
		return ""
	}
	if !schema.IsBaseURL(s) {
		*diags = append(*diags, schema.AttrError(attr, "Invalid "+name, name+" is an http(s) URL like \""+example+"\", "+
			"with no query, fragment or credentials (credentials go in access_key_id and secret_access_key, or the AWS configuration)."))
		return ""
	}
	return strings.TrimSuffix(s, "/")
}

// ValidBucket is S3's bucket naming rule (general purpose buckets).
func ValidBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") {
		return false
	}
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '-') && i > 0 && i < len(b)-1:
		default:
			return false
		}
	}
	return true
}

// New builds the client for cfg. Credentials and region come from cfg,
// else from the standard AWS chain (AWS_* environment variables, the
// shared config and credentials files, the profile, a role); they are
// resolved on the first request. what names the block in errors
// ("destination s3.x", "state backend").
func New(cfg Config, what, userAgent string) (*s3.Client, error) {
	opts := []func(*config.LoadOptions) error{
		// Only the checksums ferry asks for (sha256): the SDK's default
		// CRC32 trailers break many S3-compatible servers.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.Proxy = http.ProxyFromEnvironment
		})),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: loading the AWS configuration: %w", what, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
		if userAgent != "" {
			o.AppID = sanitizeAppID(userAgent)
		}
	}), nil
}

// sanitizeAppID keeps the characters the SDK's app id allows.
func sanitizeAppID(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < 0x80 && (c == '-' || c == '.' || c == '_' || c == '/' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteRune(c)
		}
		if b.Len() >= 50 {
			break
		}
	}
	return b.String()
}

// StatusOf is the HTTP status of a failed request, or 0.
func StatusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
