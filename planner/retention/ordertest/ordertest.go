// Package ordertest checks that a version order (retention.Policy.Order) is
// one: fuzz targets of each ecosystem's comparator call Fuzz.
package ordertest

import (
	"testing"
)

// Fuzz runs f over triples of strings and fails unless cmp is a total
// preorder on them: reflexive (cmp(a, a) == 0), antisymmetric
// (sign(cmp(a, b)) == -sign(cmp(b, a))) and transitive (a ≤ b and b ≤ c
// imply a ≤ c, for every ordering of the triple). seeds are versions of the
// ecosystem; every pair and triple of them is added to the corpus.
func Fuzz(f *testing.F, cmp func(a, b string) int, seeds []string) {
	for i, a := range seeds {
		b := seeds[(i+1)%len(seeds)]
		c := seeds[(i+2)%len(seeds)]
		f.Add(a, b, c)
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		Check(t, cmp, a, b, c)
	})
}

// Check fails t unless cmp is reflexive, antisymmetric and transitive on a,
// b and c.
func Check(t testing.TB, cmp func(a, b string) int, a, b, c string) {
	t.Helper()
	vs := []string{a, b, c}
	for _, x := range vs {
		if got := cmp(x, x); got != 0 {
			t.Fatalf("cmp(%q, %q) = %d; want 0 (reflexive)", x, x, got)
		}
		for _, y := range vs {
			if sxy, syx := sign(cmp(x, y)), sign(cmp(y, x)); sxy != -syx {
				t.Fatalf("cmp(%q, %q) = %d but cmp(%q, %q) = %d (antisymmetry)", x, y, sxy, y, x, syx)
			}
			for _, z := range vs {
				if cmp(x, y) <= 0 && cmp(y, z) <= 0 && cmp(x, z) > 0 {
					t.Fatalf("%q ≤ %q ≤ %q but cmp(%q, %q) > 0 (transitivity)", x, y, z, x, z)
				}
			}
		}
	}
}

// Case is one expected comparison: cmp(A, B) has the sign of Want (-1, 0
// or +1), and cmp(B, A) the opposite.
type Case struct {
	Name string
	A, B string
	Want int
}

// Ordered fails t unless cmp orders groups as listed: every version of a
// group equal to the others of it, and before every version of the groups
// after it.
func Ordered(t *testing.T, cmp func(a, b string) int, groups [][]string) {
	t.Helper()
	for i, gi := range groups {
		for j, gj := range groups {
			want := sign(i - j)
			for _, a := range gi {
				for _, b := range gj {
					if got := sign(cmp(a, b)); got != want {
						t.Errorf("cmp(%q, %q) = %d; want %d", a, b, got, want)
					}
				}
			}
		}
	}
}

// Cases runs each case as a subtest of t.
func Cases(t *testing.T, cmp func(a, b string) int, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			if got := sign(cmp(tc.A, tc.B)); got != tc.Want {
				t.Errorf("cmp(%q, %q) = %d; want %d", tc.A, tc.B, got, tc.Want)
			}
			if got := sign(cmp(tc.B, tc.A)); got != -tc.Want {
				t.Errorf("cmp(%q, %q) = %d; want %d (antisymmetry)", tc.B, tc.A, got, -tc.Want)
			}
		})
	}
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}
