package nuget

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// maxNuspec bounds the .nuspec read from a package.
const maxNuspec = 4 << 20

// Identity is a package's id and version as its own .nuspec declares them.
type Identity struct {
	ID      string
	Version string
}

// ReadIdentity reads the id and version from the .nuspec at the root of
// the .nupkg in r (size bytes). A package without exactly one root .nuspec,
// or one that is not a zip, is an error.
func ReadIdentity(r io.ReaderAt, size int64) (Identity, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return Identity{}, fmt.Errorf("not a .nupkg (a zip archive): %w", err)
	}
	var spec *zip.File
	for _, f := range zr.File {
		if strings.Contains(f.Name, "/") || !strings.HasSuffix(strings.ToLower(f.Name), ".nuspec") {
			continue
		}
		if spec != nil {
			return Identity{}, fmt.Errorf("the package holds two .nuspec files at its root (%s, %s)", spec.Name, f.Name)
		}
		spec = f
	}
	if spec == nil {
		return Identity{}, fmt.Errorf("the package holds no .nuspec at its root")
	}
	rc, err := spec.Open()
	if err != nil {
		return Identity{}, fmt.Errorf("reading %s: %w", spec.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxNuspec+1))
	if err != nil {
		return Identity{}, fmt.Errorf("reading %s: %w", spec.Name, err)
	}
	if len(data) > maxNuspec {
		return Identity{}, fmt.Errorf("%s is larger than %d bytes", spec.Name, maxNuspec)
	}
	var doc struct {
		Metadata struct {
			ID      string `xml:"id"`
			Version string `xml:"version"`
		} `xml:"metadata"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return Identity{}, fmt.Errorf("reading %s: %w", spec.Name, err)
	}
	id := Identity{ID: strings.TrimSpace(doc.Metadata.ID), Version: strings.TrimSpace(doc.Metadata.Version)}
	if id.ID == "" || id.Version == "" {
		return Identity{}, fmt.Errorf("%s declares no id or no version", spec.Name)
	}
	return id, nil
}

// Check fails unless the identity is lowerID's lowerVersion (ids compare
// case-insensitively, versions by their normalized form).
func (id Identity) Check(lowerID, lowerVersion string) error {
	nv, ok := NormalizeVersion(id.Version)
	if !ok {
		return fmt.Errorf("the package's .nuspec declares version %q, which is not a NuGet version", id.Version)
	}
	if strings.ToLower(id.ID) != lowerID || nv != lowerVersion {
		return fmt.Errorf("the package's .nuspec declares %s %s, not %s %s", id.ID, id.Version, lowerID, lowerVersion)
	}
	return nil
}
