package config

import (
	"fmt"
	"strings"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// didYouMean formats a suggestion as a sentence to append to a Detail, or
// returns "" when there is none.
func didYouMean(given string, names []string) string {
	if s := schema.NameSuggestion(given, names); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
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
