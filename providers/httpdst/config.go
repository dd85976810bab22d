// Package httpdst is the "http" destination: a plain HTTP file store reached
// with PUT, HEAD, GET and DELETE under a base URL (Artifactory generic and
// Nexus raw repositories, ProGet asset directories, a WebDAV server).
package httpdst

// DestinationConfig is the decoded destination "http" block.
type DestinationConfig struct {
	// URL is the base URL objects are stored under; KEY goes to URL/KEY.
	URL string
	// PublicURL is the base URL consumers download from when it differs
	// from URL (a CDN, an anonymous read endpoint); empty means URL.
	PublicURL string
	// Username and Password are basic auth; Token is a bearer token. At most
	// one kind is set. They never leave this package.
	Username, Password, Token string
	// ChecksumHeaders sends X-Checksum-Sha256 with each PUT (Artifactory and
	// Nexus check it and refuse a mismatch) and reads it back on HEAD.
	ChecksumHeaders bool
	// VerifyUpload reads every uploaded object back (HEAD with the server's
	// X-Checksum-Sha256 when it sends one, else a GET that hashes it) and
	// removes it unless it is the bytes ferry sent: a plain PUT cannot prove
	// what the server stored.
	VerifyUpload bool
}
