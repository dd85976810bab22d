package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// EnvVarPrefix is the prefix of environment variables that set input
// variables: FERRY_VAR_registry_password sets var.registry_password.
const EnvVarPrefix = "FERRY_VAR_"

func variableSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "sensitive"},
		{Name: "description"},
	}}
}

// decodeVariable decodes one variable block. Default is cty.NilVal when the
// block has none (the variable is required), and an unknown value when the
// default was rejected (its error is reported here).
func decodeVariable(block *hcl.Block) (*Variable, hcl.Diagnostics) {
	v := &Variable{
		Name:      block.Labels[0],
		Type:      cty.DynamicPseudoType,
		Default:   cty.NilVal,
		DeclRange: block.DefRange,
	}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(v.Name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail: fmt.Sprintf("%q is not a valid variable name: a name must start with a letter or underscore "+
				"and may contain only letters, digits, underscores and dashes.", v.Name),
			Subject: block.LabelRanges[0].Ptr(),
		})
	}
	content, moreDiags := block.Body.Content(variableSchema())
	diags = append(diags, moreDiags...)

	if attr := content.Attributes["type"]; attr != nil {
		ty, moreDiags := typeexpr.TypeConstraint(attr.Expr)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			v.Type = ty
		}
	}
	if attr := content.Attributes["description"]; attr != nil {
		s, moreDiags := schema.DecodePlainString(attr, nil)
		diags = append(diags, moreDiags...)
		v.Description = s
	}
	if attr := content.Attributes["sensitive"]; attr != nil {
		b, moreDiags := schema.DecodeBool(attr, nil)
		diags = append(diags, moreDiags...)
		v.Sensitive = b
	}
	if attr := content.Attributes["default"]; attr != nil {
		// Defaults are constants: no variables, no functions.
		val, moreDiags := attr.Expr.Value(nil)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			v.Default = cty.DynamicVal
		} else if conv, err := convert.Convert(val, v.Type); err != nil {
			diags = append(diags, schema.AttrError(attr, "Invalid default value for variable", fmt.Sprintf("The default value of variable %q does not match its type %s: %s.",
				v.Name, typeexpr.TypeString(v.Type), err)))
			v.Default = cty.DynamicVal
		} else {
			v.Default = conv
		}
	}
	return v, diags
}

// variableResolver applies the value sources of input variables in
// precedence order: default < FERRY_VAR_name < -var-file and -var in
// command-line order. A rejected value becomes unknown (cty.DynamicVal) so
// that expressions using it do not report a second error.
type variableResolver struct {
	vars  map[string]*Variable
	names []string // declared names, sorted, for suggestions
	// sensitive lists the declared sensitive variables, sorted. When there
	// is any, var files are never shown (see loadVarFile).
	sensitive []string
	// files receives var files (unless a sensitive variable is declared)
	// and, for non-sensitive variables, the text of command-line values
	// whose HCL syntax failed to parse, so that diagnostics render with
	// snippets.
	files  map[string]*hcl.File
	values map[string]cty.Value
}

func resolveVariables(vars map[string]*Variable, opts LoadOptions, files map[string]*hcl.File) hcl.Diagnostics {
	r := &variableResolver{vars: vars, files: files, values: map[string]cty.Value{}}
	for name, v := range vars {
		r.names = append(r.names, name)
		if v.Sensitive {
			r.sensitive = append(r.sensitive, name)
		}
		if v.Default != cty.NilVal {
			r.values[name] = v.Default
		}
	}
	slices.Sort(r.names)
	slices.Sort(r.sensitive)

	var diags hcl.Diagnostics
	for _, kv := range opts.Env {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvVarPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvVarPrefix)
		v := vars[name]
		if v == nil {
			// The environment is shared with other tools and other
			// configurations; an unknown FERRY_VAR_ is not our error.
			continue
		}
		envName := EnvVarPrefix + name
		diags = append(diags, r.setRaw(v, raw, "<"+envName+">", "the environment variable "+envName)...)
	}

	varOption := 0
	for _, arg := range opts.Vars {
		if arg.File {
			diags = append(diags, r.loadVarFile(arg.Value)...)
			continue
		}
		varOption++
		diags = append(diags, r.setOption(arg.Value, varOption)...)
	}

	for _, name := range r.names {
		v := vars[name]
		val, ok := r.values[name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("The variable %q has no default, so it needs a value: set the environment "+
					"variable %s%s, pass -var '%s=VALUE', or assign %s = VALUE in a file given with -var-file.",
					name, EnvVarPrefix, name, name, name),
				Subject: v.DeclRange.Ptr(),
			})
			val = cty.DynamicVal
		}
		if v.Sensitive {
			val = val.Mark(schema.SensitiveMark)
		}
		v.Value = val
	}
	return diags
}

// setOption handles one -var NAME=VALUE; n is its 1-based position among
// the -var options. Diagnostics about the option itself point into a pseudo
// file "<-var option N>" (a range with no source text), because the option
// has no location in any file; the argument text is never repeated, as it
// may be a secret given under a mistyped name.
func (r *variableResolver) setOption(arg string, n int) hcl.Diagnostics {
	pseudo := fmt.Sprintf("<-var option %d>", n)
	at := &hcl.Range{Filename: pseudo, Start: hcl.InitialPos, End: hcl.InitialPos}
	name, raw, ok := strings.Cut(arg, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid -var option",
			Detail:   fmt.Sprintf("The -var option number %d must have the form NAME=VALUE, as in -var 'region=eu-west-1'.", n),
			Subject:  at,
		}}
	}
	v := r.vars[name]
	if v == nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Value for undeclared variable",
			Detail: fmt.Sprintf("A -var option sets the variable %q, but no variable block declares it.%s "+
				"To use this value, add a variable %q {} block to the configuration.",
				name, didYouMean(name, r.names), name),
			Subject: at,
		}}
	}
	return r.setRaw(v, raw, pseudo, "a -var option on the command line")
}

// setRaw assigns a value given as text (environment or -var). For primitive
// types and "any" the text itself is the string value, converted to the
// declared type; for collection and structural types it is parsed as an HCL
// expression, so -var 'tags=["a","b"]' works.
func (r *variableResolver) setRaw(v *Variable, raw, pseudo, whence string) hcl.Diagnostics {
	if v.Type == cty.DynamicPseudoType || v.Type.IsPrimitiveType() {
		return r.set(v, cty.StringVal(raw), whence, v.DeclRange)
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), pseudo, hcl.InitialPos)
	var val cty.Value
	if !diags.HasErrors() {
		var moreDiags hcl.Diagnostics
		val, moreDiags = expr.Value(nil)
		diags = append(diags, moreDiags...)
	}
	if diags.HasErrors() {
		r.values[v.Name] = cty.DynamicVal
		if v.Sensitive {
			// HCL's parse diagnostics quote the source text; replace them.
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail: fmt.Sprintf("The value of variable %q from %s is not a valid expression of type %s. "+
					"The value is sensitive, so it is not shown.", v.Name, whence, typeexpr.TypeString(v.Type)),
				Subject: v.DeclRange.Ptr(),
			}}
		}
		r.files[pseudo] = &hcl.File{Body: hcl.EmptyBody(), Bytes: []byte(raw)}
		return diags
	}
	return r.set(v, val, whence, v.DeclRange)
}

// loadVarFile applies a -var-file: a file of NAME = VALUE attributes whose
// values are constants.
//
// When the configuration declares a sensitive variable, no line of a var
// file is ever shown: the file is not added to r.files, so diagnostics
// carry only file:line:col. Attributing a line to a variable is not
// possible in general (an unterminated string or heredoc runs on into the
// following lines, and a mistyped name still carries the secret), so the
// rule covers the whole file. For the same reason the explanations of HCL's
// syntax errors are replaced (some quote the text, e.g. "%{hunter2}"), and
// so is every error of an expression that sets a sensitive variable.
func (r *variableResolver) loadVarFile(path string) hcl.Diagnostics {
	src, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read variables file",
			Detail:   fmt.Sprintf("The file %q given with -var-file cannot be read: %s.", path, err),
			Subject:  &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	hide := len(r.sensitive) > 0
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if !hide {
		r.files[path] = file
	}
	if diags.HasErrors() {
		if hide {
			return r.hiddenSyntaxErrors(path, diags)
		}
		return diags
	}
	attrs, moreDiags := file.Body.JustAttributes()
	diags = append(diags, moreDiags...)
	sorted := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		sorted = append(sorted, a)
	}
	slices.SortFunc(sorted, func(a, b *hcl.Attribute) int { return cmp.Compare(a.Range.Start.Byte, b.Range.Start.Byte) })
	for _, attr := range sorted {
		v := r.vars[attr.Name]
		if v == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("The file %s sets the variable %q, but no variable block declares it.%s",
					path, attr.Name, didYouMean(attr.Name, r.names)),
				Subject: attr.NameRange.Ptr(),
			})
			continue
		}
		val, moreDiags := attr.Expr.Value(nil)
		if moreDiags.HasErrors() {
			r.values[v.Name] = cty.DynamicVal
			if v.Sensitive {
				// HCL's explanation may quote the expression; its summary
				// is a fixed phrase ("Variables not allowed" for a value
				// without quotes).
				moreDiags = hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Invalid value for variable",
					Detail: fmt.Sprintf("The value of variable %q in the file %s (line %d) is not a valid constant (%s): "+
						"write it as a quoted string or another literal value. The value is sensitive, so it is not shown.",
						v.Name, path, attr.Range.Start.Line, firstError(moreDiags).Summary),
					Subject: attr.NameRange.Ptr(),
				}}
			}
			diags = append(diags, moreDiags...)
			continue
		}
		diags = append(diags, moreDiags...)
		subject := attr.Expr.Range()
		if v.Sensitive {
			subject = attr.NameRange
		}
		diags = append(diags, r.set(v, val, fmt.Sprintf("the file %s (line %d)", path, attr.Range.Start.Line), subject)...)
	}
	return diags
}

// firstError is the first error of diags, which has one.
func firstError(diags hcl.Diagnostics) *hcl.Diagnostic {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			return d
		}
	}
	return diags[0]
}

// hiddenSyntaxErrors replaces the syntax errors of a var file that must not
// be shown by diagnostics that keep only HCL's summary (a fixed phrase) and
// the position.
func (r *variableResolver) hiddenSyntaxErrors(path string, diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		h := &hcl.Diagnostic{
			Severity: d.Severity,
			Summary:  d.Summary,
			Detail: fmt.Sprintf("The file %s given with -var-file has a syntax error here. Its lines are not shown, "+
				"because the configuration declares sensitive variables (%s) and the line may set one of them.",
				path, strings.Join(r.sensitive, ", ")),
		}
		if d.Subject != nil {
			h.Subject = &hcl.Range{Filename: d.Subject.Filename, Start: d.Subject.Start, End: d.Subject.Start}
		}
		out = append(out, h)
	}
	return out
}

// set converts val to the variable's type and records it. Conversion
// errors name the variable and where the value came from; for sensitive
// variables they name only the expected type.
func (r *variableResolver) set(v *Variable, val cty.Value, whence string, subject hcl.Range) hcl.Diagnostics {
	conv, err := convert.Convert(val, v.Type)
	if err != nil {
		r.values[v.Name] = cty.DynamicVal
		reason := err.Error()
		if v.Sensitive {
			reason = fmt.Sprintf("a value of type %s is required (the value is sensitive, so it is not shown)",
				typeexpr.TypeString(v.Type))
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value of variable %q from %s is not suitable: %s.", v.Name, whence, reason),
			Subject:  subject.Ptr(),
		}}
	}
	r.values[v.Name] = conv
	return nil
}
