package matchspec_test

import (
	"errors"
	"testing"

	"github.com/ferry-mirror/ferry/providers/conda"
	"github.com/ferry-mirror/ferry/providers/conda/matchspec"
)

func pkg(name, version, build string, bn int64) matchspec.Package {
	return matchspec.Package{Name: name, Version: version, Build: build, BuildNumber: bn, License: "BSD-3-Clause", Subdir: "linux-64"}
}

// Examples from conda's "Package search and install specifications" and
// package match specification docs, and match_spec.py's forms.
func TestMatch(t *testing.T) {
	numpy := func(v, b string) matchspec.Package { return pkg("numpy", v, b, 0) }
	tests := []struct {
		name string
		spec string
		pkg  matchspec.Package
		want bool
	}{
		{name: "name only", spec: "numpy", pkg: numpy("1.11.0", "py38_0"), want: true},
		{name: "name case-insensitive", spec: "NumPy", pkg: numpy("1.11.0", "py38_0"), want: true},
		{name: "other name", spec: "numpy", pkg: pkg("scipy", "1", "0", 0), want: false},
		{name: "name glob", spec: "*py*", pkg: pkg("pytorch", "1", "0", 0), want: true},
		{name: "name glob miss", spec: "py*", pkg: pkg("numpy", "1", "0", 0), want: false},
		{name: "fuzzy =1.11 matches 1.11.18", spec: "numpy=1.11", pkg: numpy("1.11.18", "x"), want: true},
		{name: "fuzzy =1.11 matches 1.11", spec: "numpy=1.11", pkg: numpy("1.11", "x"), want: true},
		{name: "fuzzy =1.11 not 1.110", spec: "numpy=1.11", pkg: numpy("1.110", "x"), want: false},
		{name: "fuzzy =1.11 not 1.12", spec: "numpy=1.11", pkg: numpy("1.12.0", "x"), want: false},
		{name: "exact ==1.11 matches 1.11.0", spec: "numpy==1.11", pkg: numpy("1.11.0", "x"), want: true},
		{name: "exact ==1.11 not 1.11.1", spec: "numpy==1.11", pkg: numpy("1.11.1", "x"), want: false},
		{name: "space form is exact", spec: "numpy 1.11", pkg: numpy("1.11.1", "x"), want: false},
		{name: ">=", spec: "numpy>=1.11", pkg: numpy("1.11.0", "x"), want: true},
		{name: ">= below", spec: "numpy>=1.11", pkg: numpy("1.10.9", "x"), want: false},
		{name: "or", spec: "numpy=1.11.1|1.11.3", pkg: numpy("1.11.3", "x"), want: true},
		{name: "or miss", spec: "numpy=1.11.1|1.11.3", pkg: numpy("1.11.2", "x"), want: false},
		{name: "and", spec: "numpy>=1.8,<2", pkg: numpy("1.9", "x"), want: true},
		{name: "and upper", spec: "numpy>=1.8,<2", pkg: numpy("2.0", "x"), want: false},
		{name: "and binds tighter than or", spec: "numpy >=1,<2|>=3", pkg: numpy("3.1", "x"), want: true},
		{name: "and binds tighter than or, gap", spec: "numpy >=1,<2|>=3", pkg: numpy("2.5", "x"), want: false},
		{name: "spaces around operators", spec: "python >= 3.8, < 3.13", pkg: pkg("python", "3.12.1", "h", 0), want: true},
		{name: "star version", spec: "numpy 1.17.*", pkg: numpy("1.17.3", "py38h1"), want: true},
		{name: "star version miss", spec: "numpy 1.17.*", pkg: numpy("1.18.0", "py38h1"), want: false},
		{name: "star without dot", spec: "numpy 1.17*", pkg: numpy("1.17.3", "x"), want: true},
		{name: "prerelease starts with", spec: "numpy 1.17.*", pkg: numpy("1.17rc1", "x"), want: true},
		{name: "not starts with", spec: "numpy !=1.17.*", pkg: numpy("1.17.3", "x"), want: false},
		{name: "!=", spec: "numpy !=1.17.3", pkg: numpy("1.17.4", "x"), want: true},
		{name: "build glob", spec: "numpy 1.17.3 py38*", pkg: numpy("1.17.3", "py38h6a8a49d_0"), want: true},
		{name: "build glob miss", spec: "numpy 1.17.3 py38*", pkg: numpy("1.17.3", "py37h6a8a49d_0"), want: false},
		{name: "name=version=build", spec: "numpy=1.17.3=py38_0", pkg: numpy("1.17.3", "py38_0"), want: true},
		{name: "name=version=build other build", spec: "numpy=1.17.3=py38_0", pkg: numpy("1.17.3", "py38_1"), want: false},
		{name: "any version, build", spec: "blas * mkl", pkg: pkg("blas", "1.0", "mkl", 0), want: true},
		{name: "any version, build miss", spec: "blas * mkl", pkg: pkg("blas", "1.0", "openblas", 0), want: false},
		{name: "conda order: epoch", spec: "numpy >1.20", pkg: numpy("1!0.1", "x"), want: true},
		{name: "conda order: dev before", spec: "numpy <1.0", pkg: numpy("1.0dev1", "x"), want: true},
		{name: "conda order: a0 upper bound", spec: "python >=3.6,<3.7.0a0", pkg: pkg("python", "3.7.0rc1", "h", 0), want: false},
		{name: "compatible release", spec: "numpy ~=1.17.2", pkg: numpy("1.17.9", "x"), want: true},
		{name: "compatible release upper", spec: "numpy ~=1.17.2", pkg: numpy("1.18.0", "x"), want: false},
		{name: "compatible release lower", spec: "numpy ~=1.17.2", pkg: numpy("1.17.1", "x"), want: false},
		{name: "bracket version", spec: `numpy[version=">=1.8, <2"]`, pkg: numpy("1.9", "x"), want: true},
		{name: "bracket build", spec: "pytorch[build=*cuda*]", pkg: pkg("pytorch", "2.0", "py3.10_cuda11.8_0", 0), want: true},
		{name: "bracket build miss", spec: "pytorch[build=*cuda*]", pkg: pkg("pytorch", "2.0", "py3.10_cpu_0", 0), want: false},
		{name: "bracket license", spec: "*[license=BSD*]", pkg: pkg("x", "1", "0", 0), want: true},
		{name: "bracket license case", spec: "*[license=bsd-3-clause]", pkg: pkg("x", "1", "0", 0), want: true},
		{name: "bracket license miss", spec: `*[license="GPL*"]`, pkg: pkg("x", "1", "0", 0), want: false},
		{name: "bracket build_number", spec: "numpy[build_number=>=2]", pkg: pkg("numpy", "1", "0", 3), want: true},
		{name: "bracket build_number miss", spec: "numpy[build_number=2]", pkg: pkg("numpy", "1", "0", 3), want: false},
		{name: "bracket subdir", spec: "numpy[subdir=linux-64]", pkg: numpy("1", "x"), want: true},
		{name: "bracket overrides version", spec: "numpy 1.0[version=2.0]", pkg: numpy("2.0", "x"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := matchspec.Parse(tt.spec)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.spec, err)
			}
			if got := s.Match(tt.pkg, conda.CompareVersions); got != tt.want {
				t.Errorf("%q matching %+v = %v, want %v", tt.spec, tt.pkg, got, tt.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, spec := range []string{
		"", "   ", "conda-forge::numpy", "numpy (>=1|<0)", "numpy >=", "numpy >=1,,<2", "numpy 1 2 3",
		"numpy[version=1", "numpy[foo=bar]", "numpy[version=1, version=2]", "numpy[build_number=x]",
		"numpy ~=1", "numpy ~=1.2.*", "num$py", "numpy 1.0 py>=3", "numpy @feature", "numpy 1..2",
		"[version=1]",
	} {
		if _, err := matchspec.Parse(spec); !errors.Is(err, matchspec.ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", spec, err)
		}
	}
}
