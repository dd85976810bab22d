package schema

// NameSuggestion returns the first of names within edit distance 2 of given,
// or "" when none is close. The threshold matches HCL's own "Did you mean"
// suggestions so all of them feel alike.
func NameSuggestion(given string, names []string) string {
	for _, n := range names {
		if editDistance(given, n) < 3 {
			return n
		}
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
