package nuget

import (
	"fmt"
	"strings"

	"github.com/ferry-mirror/ferry/providers"
)

// Key is the artifact key of a package version, the flat container's own
// path: "LOWER_ID/LOWER_VERSION/LOWER_ID.LOWER_VERSION.nupkg" with the
// version normalized.
func Key(lowerID, lowerVersion string) string {
	return lowerID + "/" + lowerVersion + "/" + lowerID + "." + lowerVersion + ".nupkg"
}

// ParseKey splits a key made by Key and refuses any other.
func ParseKey(key string) (lowerID, lowerVersion string, err error) {
	if err := providers.CheckKey(key); err != nil {
		return "", "", err
	}
	parts := strings.Split(key, "/")
	if len(parts) == 3 && ValidID(parts[0]) && parts[0] == strings.ToLower(parts[0]) {
		if nv, ok := NormalizeVersion(parts[1]); ok && nv == parts[1] && parts[2] == parts[0]+"."+parts[1]+".nupkg" {
			return parts[0], parts[1], nil
		}
	}
	return "", "", fmt.Errorf("%q is not ID/VERSION/ID.VERSION.nupkg (lower-case id, normalized version): %w", key, providers.ErrInvalidKey)
}

// ValidID reports whether s is a NuGet package id: at most 100
// characters matching ^\w+([.-]\w+)*$ (NuGet's PackageIdValidator, ASCII).
func ValidID(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	prevSep := true // no separator first
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_':
			prevSep = false
		case c == '.' || c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}
