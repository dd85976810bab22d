// Package dir is the "dir" destination: a local directory where every object
// is a file at its key, written to a temp file, verified, then renamed into
// place.
package dir

// DestinationConfig is the decoded destination "dir" block.
type DestinationConfig struct {
	// Path is the absolute directory (relative paths in the config resolve
	// against the config directory).
	Path string
	// BaseURL is where the directory is served (no trailing slash); empty
	// when not configured. Consumer URLs are BaseURL/KEY.
	BaseURL string
}
