package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Address renders mirror.NAME["KEY"], with KEY quoted so that ParseTarget
// (HCL) reads it back: see hclQuote.
func Address(mirror, key string) string {
	if plain(key) {
		// Quoting changes nothing: one allocation (a plan of 100,000
		// adds renders 100,000 addresses).
		return "mirror." + mirror + `["` + key + `"]`
	}
	return "mirror." + mirror + "[" + quoteRunes(key) + "]"
}

// plain reports whether s is printable ASCII that hclQuote writes as it
// is: no quote, backslash, or '$' or '%' (which may start a template).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '$' || c == '%' {
			return false
		}
	}
	return true
}

// hclQuote quotes s as an HCL string literal. For printable text without
// "${" or "%{" it equals strconv.Quote. It differs where Go and HCL quoting
// do: "${" and "%{" (which HCL reads as a template) become "$${" and "%%{",
// and non-printable runes are written \uXXXX or \UXXXXXXXX (HCL knows
// neither \xNN nor \a, \b, \f, \v). Invalid UTF-8 bytes become U+FFFD.
func hclQuote(s string) string {
	if plain(s) {
		return `"` + s + `"`
	}
	return quoteRunes(s)
}

// quoteRunes is hclQuote rune by rune, for any s.
func quoteRunes(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(r)
			b.WriteRune(r)
		case !strconv.IsPrint(r):
			if r <= 0xFFFF {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Target is a parsed address: a whole mirror (Key empty) or one artifact.
type Target struct {
	Mirror string
	Key    string // empty: the whole mirror
}

func (t Target) String() string {
	if t.Key == "" {
		return "mirror." + t.Mirror
	}
	return Address(t.Mirror, t.Key)
}

// Matches reports whether the change at (mirror, key) is inside t.
func (t Target) Matches(mirror, key string) bool {
	return t.Mirror == mirror && (t.Key == "" || t.Key == key)
}

// ParseTarget parses "mirror.NAME", `mirror.NAME["KEY"]`, or a consumer
// output `mirror.NAME.BLOCK["PATH"]` (OutputAddress; its Key is the path,
// as a rewrite's `mirror.NAME.rewrite["PATH"]`).
func ParseTarget(s string) (Target, error) {
	tr, diags := hclsyntax.ParseTraversalAbs([]byte(s), "", hcl.InitialPos)
	if diags.HasErrors() {
		return Target{}, fmt.Errorf("invalid address %q: want mirror.NAME or mirror.NAME[\"KEY\"]", s)
	}
	bad := fmt.Errorf("invalid address %q: want mirror.NAME or mirror.NAME[\"KEY\"]", s)
	if len(tr) == 4 {
		if _, ok := tr[2].(hcl.TraverseAttr); ok {
			tr = hcl.Traversal{tr[0], tr[1], tr[3]}
		}
	}
	if len(tr) < 2 || len(tr) > 3 || tr.RootName() != "mirror" {
		return Target{}, bad
	}
	name, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return Target{}, bad
	}
	t := Target{Mirror: name.Name}
	if len(tr) == 3 {
		idx, ok := tr[2].(hcl.TraverseIndex)
		if !ok || idx.Key.Type() != cty.String || idx.Key.IsNull() || idx.Key.AsString() == "" {
			return Target{}, bad
		}
		t.Key = idx.Key.AsString()
	}
	return t, nil
}
