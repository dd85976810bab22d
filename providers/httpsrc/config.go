// Package httpsrc is the "http" source: artifacts declared one by one in the
// config or listed in an artifacts_file (JSON Lines or CSV), fetched over
// HTTP(S) or from file:// URLs, verified against the declared sha256 and/or
// sha512.
package httpsrc

import (
	"time"

	"github.com/ferry-mirror/ferry/providers"
)

// SourceConfig is the decoded source "http" block.
type SourceConfig struct {
	Artifacts []ArtifactConfig
}

// ArtifactConfig is one artifact "NAME" block or artifacts_file row.
type ArtifactConfig struct {
	// Name is the block label (a row's name); it groups versions for retention.
	Name string
	// URL is where the bytes come from. It may carry credentials (user info or
	// a sensitive variable); it never leaves this package except as DisplayURL.
	URL string
	// DisplayURL is URL with user info redacted, or "(sensitive)" when the URL
	// was built from a sensitive value. Safe to print and store.
	DisplayURL string
	// Digests are the declared sha256 and/or sha512 (at least one).
	Digests providers.Digests
	// Version is optional; it orders artifacts of one Name for retention.
	Version string
	// Key is the artifact key: the explicit key attribute, else
	// NAME/VERSION/BASENAME (NAME/BASENAME without a version).
	Key string
	// Size is the declared size in bytes, -1 when not declared.
	Size int64
	// Published is the upstream release time (for retention max_age); zero
	// when not declared.
	Published time.Time
}
