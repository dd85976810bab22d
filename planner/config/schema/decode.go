package schema

import (
	"fmt"
	"math/big"
	"net/url"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// SensitiveMark is the cty mark carried by the values of sensitive variables
// and by everything computed from them: HCL propagates marks through
// templates, operators and function calls, so a URL built from a sensitive
// password is itself marked.
const SensitiveMark = "sensitive"

// The helpers below are how every decoder (the loader and the provider
// decoders) reads attribute values, so that all of them resolve references,
// report type errors and treat sensitive values the same way. Each returns
// diagnostics whose Subject is the attribute's expression.
//
// When a value depends on a variable whose own value was rejected (the
// variable's error has already been reported), the helpers return an error
// diagnostic that the loader drops again (DropConsequences) before returning. Callers therefore only
// need "if diags.HasErrors() { skip this attribute }" and never report a
// second, confusing error for the same mistake.

// EvalExpr evaluates expr in ectx and returns the value with its marks.
// References to undeclared variables (var.NAME) are reported as "Reference
// to undeclared input variable" with a suggestion instead of HCL's generic
// "Unsupported attribute". A nil ectx allows only constant expressions.
func EvalExpr(expr hcl.Expression, ectx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if diags := checkVarReferences(expr, ectx); diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	val, diags := expr.Value(ectx)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	if !val.IsWhollyKnown() {
		diags = append(diags, dependsOnInvalid(expr.Range()))
		return cty.DynamicVal, diags
	}
	return val, diags
}

// DecodeString evaluates attr as a string. sensitive reports whether the
// value was marked sensitive (directly or through anything it was built
// from); the returned string itself is unmarked, so the caller decides how
// to keep it out of plans, state and output.
func DecodeString(attr *hcl.Attribute, ectx *hcl.EvalContext) (value string, sensitive bool, diags hcl.Diagnostics) {
	val, sensitive, diags := decodeAs(attr, ectx, cty.String)
	if diags.HasErrors() {
		return "", sensitive, diags
	}
	return val.AsString(), sensitive, diags
}

// DecodePlainString is DecodeString for arguments that end up in plans,
// state or output (paths, keys, versions, digests): a sensitive value is an
// error at the attribute.
func DecodePlainString(attr *hcl.Attribute, ectx *hcl.EvalContext) (string, hcl.Diagnostics) {
	s, sensitive, diags := DecodeString(attr, ectx)
	if sensitive {
		diags = append(diags, SensitiveNotAllowed(attr))
		return "", diags
	}
	return s, diags
}

// DecodeInt evaluates attr as a whole number that fits in an int64. A
// sensitive value is an error: numbers in the config are limits and sizes
// that the plan shows.
func DecodeInt(attr *hcl.Attribute, ectx *hcl.EvalContext) (int64, hcl.Diagnostics) {
	val, sensitive, diags := decodeAs(attr, ectx, cty.Number)
	if diags.HasErrors() {
		return 0, diags
	}
	if sensitive {
		return 0, append(diags, SensitiveNotAllowed(attr))
	}
	bf := val.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact {
		detail := fmt.Sprintf("The argument %q must be a whole number.", attr.Name)
		if bf.IsInt() {
			detail = fmt.Sprintf("The argument %q is too large.", attr.Name)
		}
		return 0, append(diags, AttrError(attr, "Invalid argument value", detail))
	}
	return n, diags
}

// DecodeBool evaluates attr as a bool. A sensitive value is an error.
func DecodeBool(attr *hcl.Attribute, ectx *hcl.EvalContext) (bool, hcl.Diagnostics) {
	val, sensitive, diags := decodeAs(attr, ectx, cty.Bool)
	if diags.HasErrors() {
		return false, diags
	}
	if sensitive {
		return false, append(diags, SensitiveNotAllowed(attr))
	}
	return val.True(), diags
}

// DecodeStringList evaluates attr as a list of strings (a tuple of strings
// converts too). Null elements and sensitive values are errors.
func DecodeStringList(attr *hcl.Attribute, ectx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	val, sensitive, diags := decodeAs(attr, ectx, cty.List(cty.String))
	if diags.HasErrors() {
		return nil, diags
	}
	if sensitive {
		return nil, append(diags, SensitiveNotAllowed(attr))
	}
	out := make([]string, 0, val.LengthInt())
	for it := val.ElementIterator(); it.Next(); {
		_, elem := it.Element()
		if elem.IsNull() {
			return nil, append(diags, AttrError(attr, "Invalid argument value", fmt.Sprintf("The argument %q must be a list of strings; null elements are not allowed.", attr.Name)))
		}
		out = append(out, elem.AsString())
	}
	return out, diags
}

// SensitiveNotAllowed is the diagnostic for a sensitive value in an argument
// that is shown in plans or stored in state.
func SensitiveNotAllowed(attr *hcl.Attribute) *hcl.Diagnostic {
	return AttrError(attr, "Sensitive value not allowed", fmt.Sprintf("The argument %q is shown in plans and stored in state, so it must not be "+
		"derived from a sensitive variable or the sensitive() function.", attr.Name))
}

// decodeAs evaluates attr, strips its marks and converts it to ty. The
// result is known and not null unless diags has errors.
func decodeAs(attr *hcl.Attribute, ectx *hcl.EvalContext, ty cty.Type) (cty.Value, bool, hcl.Diagnostics) {
	val, diags := EvalExpr(attr.Expr, ectx)
	if diags.HasErrors() {
		return cty.DynamicVal, false, diags
	}
	val, marks := val.UnmarkDeep()
	sensitive := marks.Has(SensitiveMark)
	if val.IsNull() {
		return cty.DynamicVal, sensitive, append(diags, AttrError(attr, "Invalid argument value", fmt.Sprintf("The argument %q must not be null; remove it to use the default.", attr.Name)))
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		// cty conversion errors name the expected type, never the value,
		// so they are safe to show for sensitive values too.
		return cty.DynamicVal, sensitive, append(diags, AttrError(attr, "Incorrect attribute value type", fmt.Sprintf("Inappropriate value for argument %q: %s.", attr.Name, err)))
	}
	return conv, sensitive, diags
}

// checkVarReferences reports var.NAME references to undeclared variables.
func checkVarReferences(expr hcl.Expression, ectx *hcl.EvalContext) hcl.Diagnostics {
	vars, ok := lookupVariable(ectx, "var")
	if !ok || !vars.Type().IsObjectType() {
		return nil // no var object: HCL itself reports the reference
	}
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		if tr.RootName() != "var" || len(tr) < 2 {
			continue
		}
		step, ok := tr[1].(hcl.TraverseAttr)
		if !ok || vars.Type().HasAttribute(step.Name) {
			continue
		}
		names := make([]string, 0, len(vars.Type().AttributeTypes()))
		for n := range vars.Type().AttributeTypes() {
			names = append(names, n)
		}
		slices.Sort(names)
		detail := fmt.Sprintf("An input variable named %q has not been declared.", step.Name)
		if s := NameSuggestion(step.Name, names); s != "" {
			detail += fmt.Sprintf(" Did you mean var.%s?", s)
		} else {
			detail += fmt.Sprintf(" Declare it with a variable %q {} block.", step.Name)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reference to undeclared input variable",
			Detail:   detail,
			Subject:  tr.SourceRange().Ptr(),
		})
	}
	return diags
}

func lookupVariable(ectx *hcl.EvalContext, name string) (cty.Value, bool) {
	for c := ectx; c != nil; c = c.Parent() {
		if v, ok := c.Variables[name]; ok {
			return v, true
		}
	}
	return cty.NilVal, false
}

// causedByInvalidValue tags diagnostics that only repeat an error reported
// elsewhere (a variable whose value was rejected); Load removes them.
type causedByInvalidValue struct{}

func dependsOnInvalid(rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Value depends on an invalid variable",
		Detail:   "This value refers to a variable whose value was rejected; fix that error first.",
		Subject:  rng.Ptr(),
		Extra:    causedByInvalidValue{},
	}
}

// DropConsequences removes the diagnostics that only repeat an error
// reported elsewhere (a value depending on a rejected variable), as long as
// another error remains to explain them. The loader calls it once on all of
// its diagnostics.
func DropConsequences(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	explained := false
	for _, d := range diags {
		if _, ok := d.Extra.(causedByInvalidValue); ok {
			continue
		}
		if d.Severity == hcl.DiagError {
			explained = true
		}
		out = append(out, d)
	}
	if !explained {
		return diags
	}
	return out
}

// DecodeCount evaluates attr as a whole number from min to max (a count or
// limit). Out of range, the diagnostic's summary is "Invalid NAME" and its
// detail starts with meaning ("latest is how many of the newest versions to
// mirror") and says the bounds. ok is false when any diagnostic is an error.
func DecodeCount(attr *hcl.Attribute, ectx *hcl.EvalContext, min, max int64, meaning string) (n int64, ok bool, diags hcl.Diagnostics) {
	n, diags = DecodeInt(attr, ectx)
	if diags.HasErrors() {
		return 0, false, diags
	}
	if n >= min && n <= max {
		return n, true, diags
	}
	bound := fmt.Sprintf("at least %d", min)
	if n > max {
		bound = fmt.Sprintf("at most %d", max)
	}
	return 0, false, append(diags, AttrError(attr, "Invalid "+attr.Name, fmt.Sprintf("%s; it must be %s, not %d.", meaning, bound, n)))
}

// Credentials are what a block's username, password and token arguments
// say: basic auth or a bearer token.
type Credentials struct {
	Username, Password, Token string
	// Set reports whether the block gave any of the three.
	Set bool
}

// DecodeCredentials reads username, password and token from content (the
// caller's schema declares them). They may come from sensitive values: they
// only ever go into Authorization headers. Setting a token with basic auth,
// or half of basic auth, is an error at the offending argument.
func DecodeCredentials(content *hcl.BodyContent, ectx *hcl.EvalContext) (Credentials, hcl.Diagnostics) {
	var c Credentials
	var diags hcl.Diagnostics
	secret := func(name string) (string, *hcl.Attribute) {
		attr := content.Attributes[name]
		if attr == nil {
			return "", nil
		}
		s, _, moreDiags := DecodeString(attr, ectx)
		diags = append(diags, moreDiags...)
		return s, attr
	}
	var userAttr, passAttr, tokenAttr *hcl.Attribute
	c.Username, userAttr = secret("username")
	c.Password, passAttr = secret("password")
	c.Token, tokenAttr = secret("token")
	c.Set = userAttr != nil || passAttr != nil || tokenAttr != nil
	switch {
	case tokenAttr != nil && (userAttr != nil || passAttr != nil):
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting credentials",
			Detail:   "Set either username and password (basic auth) or token (bearer), not both.",
			Subject:  tokenAttr.NameRange.Ptr(),
		})
	case (userAttr == nil) != (passAttr == nil):
		missing, at := "password", userAttr
		if userAttr == nil {
			missing, at = "username", passAttr
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incomplete credentials",
			Detail:   fmt.Sprintf("Basic auth needs both username and password; %s is missing.", missing),
			Subject:  at.NameRange.Ptr(),
		})
	}
	return c, diags
}

// IsBaseURL reports whether s is what a base URL argument must be: http or
// https, with a host, and no credentials, query or fragment (credentials
// have their own, sensitive, arguments; a base URL ends up in plans).
func IsBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}
