package all_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEveryProviderRunsTheConformanceSuite: each package all.Types() names
// runs providertest.RunSource in its tests when it registers a source type
// and providertest.Run when it registers a destination type (rclone's
// rule: every backend passes the suite before it is merged).
func TestEveryProviderRunsTheConformanceSuite(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "all.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "github.com/ferry-mirror/ferry/providers/"
	dirs := map[string]string{} // import name → directory from here
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		rel, ok := strings.CutPrefix(path, prefix)
		if !ok {
			continue
		}
		name := filepath.Base(rel)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		dirs[name] = filepath.Join("..", filepath.FromSlash(rel))
	}
	want := map[string]string{"SourceType": "providertest.RunSource(", "DestinationType": "providertest.Run("}
	checked := 0
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, ok := sel.X.(*ast.Ident)
		// A package with several types of a kind names them by prefix
		// (proget.UpackSourceType, proget.AssetSourceType).
		suite := ""
		for suffix, c := range want {
			if strings.HasSuffix(sel.Sel.Name, suffix) {
				suite = c
			}
		}
		if !ok || suite == "" || dirs[pkg.Name] == "" {
			return true
		}
		checked++
		if !testsCall(t, dirs[pkg.Name], suite) {
			t.Errorf("%s.%s is registered, but no test in %s calls %s…)", pkg.Name, sel.Sel.Name, dirs[pkg.Name], suite)
		}
		return true
	})
	if checked == 0 {
		t.Fatal("found no SourceType or DestinationType call in all.go")
	}
}

// testsCall reports whether a _test.go file in dir contains call.
func testsCall(t *testing.T, dir, call string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), call) {
			return true
		}
	}
	return false
}
