package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// functions is the function table of the configuration language. It is
// built per Load because env and file close over the load's environment and
// directory. Errors come back from HCL as diagnostics at the call site.
func functions(dir string, env map[string]string) map[string]function.Function {
	return map[string]function.Function{
		"env":       envFunc(env),
		"file":      fileFunc(dir),
		"sensitive": sensitiveFunc(),
		"format":    stdlib.FormatFunc,
		"join":      stdlib.JoinFunc,
		"lower":     stdlib.LowerFunc,
		"replace":   stdlib.ReplaceFunc,
		"trimspace": stdlib.TrimSpaceFunc,
		"upper":     stdlib.UpperFunc,
	}
}

// envFunc is env(name) and env(name, default). It reads LoadOptions.Env,
// never the process environment, so a load is a function of its options.
// A set but empty variable counts as set.
//
// The parameters accept marked values so that an error can tell a
// sensitive name from a plain one and leave it out; the marks of the
// arguments are carried to the result.
func envFunc(env map[string]string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or the default when it is unset.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String, AllowMarked: true}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String, AllowMarked: true},
		Type: func(args []cty.Value) (cty.Type, error) {
			if len(args) > 2 {
				return cty.NilType, function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			return cty.String, nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			nameVal, marks := args[0].Unmark()
			name := nameVal.AsString()
			if v, ok := env[name]; ok {
				return cty.StringVal(v).WithMarks(marks), nil
			}
			if len(args) == 2 {
				return args[1].WithMarks(marks), nil
			}
			if marks.Has(schema.SensitiveMark) {
				return cty.NilVal, function.NewArgErrorf(0,
					"the environment variable named by this sensitive value is not set (the name is not shown); "+
						"set it, or give a default as in env(NAME, \"\")")
			}
			return cty.NilVal, function.NewArgErrorf(0,
				"the environment variable %q is not set; set it, or give a default as in env(%q, \"\")", name, name)
		},
	})
}

// fileFunc is file(path): the contents of a UTF-8 text file, with relative
// paths resolved against the configuration directory. A sensitive path is
// never repeated in an error; the marks of the path are carried to the
// contents.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a UTF-8 text file; relative paths are relative to the configuration directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String, AllowMarked: true}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			pathVal, marks := args[0].Unmark()
			p := pathVal.AsString()
			shown := fmt.Sprintf("%q", p)
			if marks.Has(schema.SensitiveMark) {
				shown = "(sensitive path)"
			}
			full := p
			if !filepath.IsAbs(full) {
				full = filepath.Join(dir, full)
			}
			b, err := os.ReadFile(full)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return cty.NilVal, function.NewArgErrorf(0, "no file %s in %s", shown, dir)
			case err != nil:
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return cty.NilVal, function.NewArgErrorf(0, "cannot read %s: %v", shown, err)
			case !utf8.Valid(b):
				return cty.NilVal, function.NewArgErrorf(0, "the contents of %s are not valid UTF-8 text", shown)
			}
			return cty.StringVal(string(b)).WithMarks(marks), nil
		},
	})
}

// sensitiveFunc is sensitive(value): value with the sensitive mark.
func sensitiveFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Marks a value as sensitive, so it and anything built from it is never shown.",
		Params: []function.Parameter{{
			Name:             "value",
			Type:             cty.DynamicPseudoType,
			AllowMarked:      true,
			AllowNull:        true,
			AllowUnknown:     true,
			AllowDynamicType: true,
		}},
		Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return args[0].Mark(schema.SensitiveMark), nil
		},
	})
}
