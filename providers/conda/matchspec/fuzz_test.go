package matchspec_test

import (
	"testing"

	"github.com/ferry-mirror/ferry/providers/conda"
	"github.com/ferry-mirror/ferry/providers/conda/matchspec"
)

// FuzzParse: any string either parses or is refused with ErrSyntax, never
// panics, and a parsed spec matches without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"numpy", "numpy >=1.8,<2 py3*", "numpy=1.8=py27_0", "python 3.12.*", "*[license=BSD*]",
		`pytorch[build="*cuda*", build_number=">=2"]`, "numpy ~=1.17.2", "blas * mkl", "x !=1.2.*|>=3",
	} {
		f.Add(s, "1.2.3", "py38_0")
	}
	f.Fuzz(func(t *testing.T, spec, version, build string) {
		s, err := matchspec.Parse(spec)
		if err != nil {
			return
		}
		_ = s.Match(matchspec.Package{Name: "numpy", Version: version, Build: build}, conda.CompareVersions)
		_ = s.MatchesName(version)
	})
}
