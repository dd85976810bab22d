package nuget

// SourceConfig is the decoded source "nuget" block.
type SourceConfig struct {
	Feed
	// Packages are package ids ("Newtonsoft.Json") and id globs
	// ("Microsoft.Extensions.*", with * and ?), matched case-insensitively,
	// deduplicated, in order. Globs are resolved by the feed's search.
	Packages []string
	// Versions, when set, keeps only versions in this NuGet range.
	Versions *Range
	// Latest keeps the newest Latest of the selected versions of each
	// package, in NuGet's version order (0: all).
	Latest int
	// IncludePrerelease selects versions with release labels ("2.0.0-rc.1").
	IncludePrerelease bool
	// IncludeUnlisted selects versions the feed lists as unlisted.
	IncludeUnlisted bool
	// IncludeDeprecated selects versions the feed declares deprecated
	// (the default: they still install).
	IncludeDeprecated bool
	// RequirePackageHash refuses a version whose registration declares no
	// packageHash (the default); off, such versions are checked only by
	// their .nuspec id and version.
	RequirePackageHash bool
}

// DestinationConfig is the decoded destination "nuget" block.
type DestinationConfig struct {
	Feed
	// APIKey is sent as X-NuGet-ApiKey with pushes and deletes, only to
	// the feed's own PackagePublish URL.
	APIKey string
}
