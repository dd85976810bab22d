// Package oci is the "oci" destination: every artifact is stored in one
// repository of an OCI registry (distribution, Harbor, Zot, GHCR, …) as a
// single-file ORAS-style artifact, one tag per key. Consumers download the
// file from the registry's plain blob URL, which is content-addressed by the
// file's sha256 (see Store.URL and protocols.md §1.13).
//
// It is also the "oci" source (Source, SourceType): the selected tags of a
// repository, each an image or index graph that Source.CopyTo copies byte
// for byte to an oci destination under the same tag.
package oci

// DestinationConfig is the decoded destination "oci" block.
type DestinationConfig struct {
	// Registry is host[:port], without scheme or path ("registry.internal:5000").
	Registry string
	// Repository is the repository every artifact goes to ("buildpack-deps"),
	// or, for a destination, a template naming one per artifact
	// ("buildpack-deps/{key.0}": segments of the key).
	Repository string
	// PlainHTTP talks http instead of https.
	PlainHTTP bool
	// Insecure skips TLS certificate verification.
	Insecure bool
	// Username and Password are basic-auth credentials (also used to get a
	// bearer token from the registry's token service); Token is a registry
	// access token sent as "Authorization: Bearer" after a bearer challenge.
	// At most one kind is set. They never leave this package.
	Username, Password, Token string
	// DockerConfig looks credentials up in the Docker CLI configuration
	// ($DOCKER_CONFIG/config.json or ~/.docker/config.json, and the credential
	// helpers it names) when the registry asks for them. The decoder turns it
	// on by default when neither username nor token is set.
	DockerConfig bool
}
