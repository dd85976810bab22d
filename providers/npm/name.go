// Package npm is the "npm" source and destination: package versions of an
// npm registry (npmjs, Verdaccio, cnpmcore, Gitea, Artifactory's npm API).
//
// Each selected version of a package is one artifact, keyed like the
// registry's own tarball path, NAME/-/BASENAME-VERSION.tgz
// ("lodash/-/lodash-4.17.21.tgz", "@types/node/-/node-20.1.0.tgz"), with the
// digests its packument declares (dist.integrity, dist.shasum). The source
// also hands the version's document to an npm destination, which publishes
// the tarball with it, keeps dist-tags in step and unpublishes for
// retention. See protocols.md §2 for the wire details.
package npm

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrInvalidKey is wrapped when a key is not NAME/-/BASENAME-VERSION.tgz.
var ErrInvalidKey = errors.New("not an npm tarball key")

// nameRE is what registries accept as a package name today: lowercase,
// URL-safe, optionally scoped (validate-npm-package-name's rules for new
// packages, plus the legacy uppercase letters old packages have).
var nameRE = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-zA-Z0-9][a-zA-Z0-9._~-]*$`)

// ValidName reports whether name is a package name ferry can address.
func ValidName(name string) bool {
	return len(name) <= 214 && nameRE.MatchString(name)
}

// scopeOf is the scope of a name ("@types" for "@types/node"), or "".
func scopeOf(name string) string {
	if !strings.HasPrefix(name, "@") {
		return ""
	}
	scope, _, _ := strings.Cut(name, "/")
	return scope
}

// baseName is the name without its scope ("node" for "@types/node").
func baseName(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// escapeName is the name as one URL path segment: "@scope%2fname", as npm
// sends it (npm-package-arg's escapedName). Valid names hold only unreserved
// characters besides "@" and the scope's "/".
func escapeName(name string) string {
	return strings.Replace(name, "/", "%2f", 1)
}

// Key is the artifact key of a version: the registry tarball path without
// the leading slash.
func Key(name, version string) string {
	return name + "/-/" + baseName(name) + "-" + version + ".tgz"
}

// ParseKey splits a key made by Key.
func ParseKey(key string) (name, version string, err error) {
	name, file, ok := strings.Cut(key, "/-/")
	if !ok || !ValidName(name) {
		return "", "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	rest, ok := strings.CutPrefix(file, baseName(name)+"-")
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	version, ok = strings.CutSuffix(rest, ".tgz")
	if !ok || !validVersion(version) {
		return "", "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return name, version, nil
}

// validVersion reports whether v is a strict semantic version, which is
// what the npm registry requires of published versions.
func validVersion(v string) bool {
	sv, err := semver.StrictNewVersion(v)
	return err == nil && sv.Original() == v
}
