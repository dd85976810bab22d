package config

import (
	"fmt"
	"strings"
)

// nameSuggestion returns the first of names within edit distance 2 of given,
// or "" when none is close. The threshold matches HCL's own "Did you mean"
// suggestions so all of them feel alike.
func nameSuggestion(given string, names []string) string {
	for _, n := range names {
		if editDistance(given, n) < 3 {
			return n
		}
	}
	return ""
}

// didYouMean formats a suggestion as a sentence to append to a Detail, or
// returns "" when there is none.
func didYouMean(given string, names []string) string {
	if s := nameSuggestion(given, names); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// quotedList renders names as `"a", "b" and "c"` for Details.
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "none"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
