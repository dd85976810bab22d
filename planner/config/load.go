package config

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// FileSuffix is the suffix of configuration files.
const FileSuffix = ".ferry.hcl"

func rootSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "ferry"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: string(schema.KindSource), LabelNames: []string{"type", "name"}},
		{Type: string(schema.KindDestination), LabelNames: []string{"type", "name"}},
		{Type: "mirror", LabelNames: []string{"name"}},
	}}
}

// Load reads every *.ferry.hcl file in opts.Dir (in name order, ignoring
// names that start with "." or "#", which editors use for lock and backup
// files), resolves variables and decodes and validates every block. All
// problems are reported at once, except that syntax errors stop the load
// before decoding, because a partially parsed file yields misleading
// follow-up errors.
//
// Files are named in diagnostics as filepath.Join(opts.Dir, NAME), so pass
// the directory as the user gave it. The returned Config is never nil: on
// error, Files still holds everything parsed (configuration files, var
// files, and the text of unparsable non-sensitive command-line values) so
// diagnostics render with source snippets; its other fields are partial.
func Load(opts LoadOptions) (*Config, hcl.Diagnostics) {
	cfg := &Config{
		Files:        map[string]*hcl.File{},
		Settings:     Settings{StatePath: DefaultStatePath},
		Variables:    map[string]*Variable{},
		Sources:      map[string]*Source{},
		Destinations: map[string]*Destination{},
		Mirrors:      map[string]*Mirror{},
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		dir = opts.Dir
	}
	cfg.Dir = dir

	entries, err := os.ReadDir(opts.Dir)
	if err != nil {
		return cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read configuration directory",
			Detail:   fmt.Sprintf("The configuration directory %s cannot be read: %s.", opts.Dir, err),
		}}
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, FileSuffix) || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "#") {
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		// No file exists to point at, so this diagnostic has no Subject.
		return cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail: fmt.Sprintf("There are no *%s files in %s. Run `ferry init` to create one, "+
				"or use -chdir to select the directory that holds the configuration.", FileSuffix, opts.Dir),
		}}
	}

	var diags hcl.Diagnostics
	digest := sha256.New()
	files := make([]*hcl.File, 0, len(names))
	for _, n := range names {
		filename := filepath.Join(opts.Dir, n)
		src, err := os.ReadFile(filename)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Failed to read configuration file",
				Detail:   fmt.Sprintf("The file %s cannot be read: %s.", filename, err),
				Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
			})
			continue
		}
		// The digest uses base names so it does not depend on how the
		// directory was spelled on the command line.
		digest.Write([]byte(n))
		digest.Write([]byte{0})
		digest.Write(src)
		digest.Write([]byte{0})
		f, moreDiags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
		diags = append(diags, moreDiags...)
		cfg.Files[filename] = f
		files = append(files, f)
	}
	if diags.HasErrors() {
		return cfg, diags
	}

	var contents []*hcl.BodyContent
	for _, f := range files {
		c, moreDiags := f.Body.Content(rootSchema())
		diags = append(diags, moreDiags...)
		contents = append(contents, c)
	}
	blocks := func(typ string) []*hcl.Block {
		var out []*hcl.Block
		for _, c := range contents {
			out = append(out, c.Blocks.OfType(typ)...)
		}
		return out
	}

	// Variables first: every other block may refer to them.
	for _, b := range blocks("variable") {
		v, moreDiags := decodeVariable(b)
		diags = append(diags, moreDiags...)
		if prev, ok := cfg.Variables[v.Name]; ok {
			diags = append(diags, duplicate("variable", fmt.Sprintf("A variable named %q", v.Name), prev.DeclRange, b, uniqueNames))
			continue
		}
		cfg.Variables[v.Name] = v
	}
	diags = append(diags, resolveVariables(cfg.Variables, opts, cfg.Files)...)

	varVals := make(map[string]cty.Value, len(cfg.Variables))
	for n, v := range cfg.Variables {
		varVals[n] = v.Value
	}
	ectx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(varVals)},
		Functions: functions(dir, envMap(opts.Env)),
	}

	var settingsRange *hcl.Range
	for _, b := range blocks("ferry") {
		if settingsRange != nil {
			diags = append(diags, duplicate("ferry", "A ferry block", *settingsRange, b,
				"A configuration has at most one ferry block; merge the two."))
			continue
		}
		settingsRange = b.DefRange.Ptr()
		diags = append(diags, decodeSettings(b, ectx, &cfg.Settings, opts.Backends)...)
	}
	if opts.SettingsDecoded != nil && !diags.HasErrors() {
		opts.SettingsDecoded(cfg.Settings, dir)
	}

	// Declared addresses, including blocks with an unsupported type or
	// invalid body, so that mirrors referring to them get no second error.
	declared := map[schema.Kind]map[string]hcl.Range{schema.KindSource: {}, schema.KindDestination: {}}
	inputs := &schema.Inputs{}
	for _, kind := range []schema.Kind{schema.KindSource, schema.KindDestination} {
		for _, b := range blocks(string(kind)) {
			settings, moreDiags := decodeProviderBlock(b, kind, ectx, dir, opts.Types, declared[kind], inputs)
			diags = append(diags, moreDiags...)
			if settings == nil {
				continue
			}
			switch kind {
			case schema.KindSource:
				cfg.Sources[settings.addr] = &Source{Type: b.Labels[0], Name: b.Labels[1], Settings: settings.value, VersionOrder: settings.order, DeclRange: b.DefRange}
			case schema.KindDestination:
				cfg.Destinations[settings.addr] = &Destination{Type: b.Labels[0], Name: b.Labels[1], Settings: settings.value, DeletesPerHour: settings.deletesPerHour, DeleteNote: settings.deleteNote, DeclRange: b.DefRange}
			}
		}
	}
	cfg.Digest = configDigest(digest.Sum(nil), cfg.Variables, inputs.Files())

	for _, b := range blocks("mirror") {
		m, moreDiags := decodeMirror(b, ectx, declared, opts.Types, cfg.Dir)
		diags = append(diags, moreDiags...)
		if prev, ok := cfg.Mirrors[m.Name]; ok {
			diags = append(diags, duplicate("mirror", fmt.Sprintf("A mirror named %q", m.Name), prev.DeclRange, b, uniqueNames))
			continue
		}
		cfg.Mirrors[m.Name] = m
	}

	diags = append(diags, checkOverlaps(cfg.Destinations)...)
	diags = schema.DropConsequences(diags)
	sortDiagnostics(diags)
	return cfg, diags
}

// SourceFor returns the source m copies from, or nil if it is not declared
// (Load reports that as an error).
func (c *Config) SourceFor(m *Mirror) *Source { return c.Sources[m.From] }

// DestinationFor returns the destination m copies to, or nil if it is not
// declared (Load reports that as an error).
func (c *Config) DestinationFor(m *Mirror) *Destination { return c.Destinations[m.To] }

// FormatFile returns src in canonical HCL layout, for `ferry fmt`.
func FormatFile(src []byte) []byte { return hclwrite.Format(src) }

// configDigest finishes the digest over the files (already in h) with the
// values of the non-sensitive variables, as NAME=JSON NUL, sorted by name,
// then the data files the provider decoders read (artifact lists), as
// "input:" NAME NUL SHA256 NUL, sorted by name.
//
// Sensitive variables are left out entirely: they are credentials, which
// change how ferry authenticates but not what it plans, and hashing them
// would let a saved plan (which records the digest) be used to confirm a
// guessed secret. Rotating a password therefore does not invalidate a plan.
func configDigest(files []byte, vars map[string]*Variable, inputs []schema.InputFile) string {
	h := sha256.New()
	h.Write(files)
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := vars[n]
		if v.Sensitive {
			continue
		}
		val, _ := v.Value.UnmarkDeep()
		var j []byte
		switch {
		case !val.IsWhollyKnown():
			j = []byte("(invalid)") // only on error, when the digest is not used
		case val.IsNull():
			j = []byte("null")
		default:
			var err error
			if j, err = ctyjson.Marshal(val, val.Type()); err != nil {
				j = []byte("(unserialisable)")
			}
		}
		h.Write([]byte(n + "="))
		h.Write(j)
		h.Write([]byte{0})
	}
	for _, in := range inputs {
		h.Write([]byte("input:" + in.Name))
		h.Write([]byte{0})
		h.Write(in.SHA256[:])
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// envMap turns os.Environ-style entries into a map; later entries win.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// uniqueNames is the advice of duplicate for named blocks.
const uniqueNames = "Remove or rename one of them; the names must be unique across all configuration files in the directory."

// duplicate reports block as a second declaration of something first
// declared at prev. what reads like "A mirror named \"x\"", advice is a
// sentence on how to fix it.
func duplicate(blockType, what string, prev hcl.Range, block *hcl.Block, advice string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", blockType),
		Detail:   fmt.Sprintf("%s was already declared at %s. %s", what, prev, advice),
		Subject:  block.DefRange.Ptr(),
	}
}

// sortDiagnostics orders diagnostics by file and position (those without a
// Subject first), keeping the order of diagnostics at the same place, so
// the user reads them top to bottom.
func sortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil || b.Subject == nil:
			return cmp.Compare(boolInt(a.Subject != nil), boolInt(b.Subject != nil))
		case a.Subject.Filename != b.Subject.Filename:
			return strings.Compare(a.Subject.Filename, b.Subject.Filename)
		}
		return cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func settingsSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "state"},
		{Name: "parallelism"},
		{Name: "max_deletes"},
		{Name: "max_artifact_size"},
		{Name: "http_idle_timeout"},
	}, Blocks: []hcl.BlockHeaderSchema{{Type: "backend", LabelNames: []string{"type"}}}}
}

func decodeSettings(block *hcl.Block, ectx *hcl.EvalContext, s *Settings, backends map[string]BackendDecoder) hcl.Diagnostics {
	s.DeclRange = block.DefRange
	content, diags := block.Body.Content(settingsSchema())
	diags = append(diags, decodeBackend(content, ectx, s, backends)...)
	if attr := content.Attributes["state"]; attr != nil {
		p, moreDiags := schema.DecodePlainString(attr, ectx)
		diags = append(diags, moreDiags...)
		switch {
		case moreDiags.HasErrors():
		case p == "":
			diags = append(diags, schema.AttrError(attr, "Invalid state path", fmt.Sprintf("The state path must not be empty; remove the argument to use %q.", DefaultStatePath)))
		default:
			s.StatePath = p
		}
	}
	if attr := content.Attributes["parallelism"]; attr != nil {
		n, moreDiags := schema.DecodeInt(attr, ectx)
		diags = append(diags, moreDiags...)
		switch {
		case moreDiags.HasErrors():
		case n < 1:
			diags = append(diags, schema.AttrError(attr, "Invalid parallelism", fmt.Sprintf("parallelism is the number of concurrent transfers and must be at least 1; got %d.", n)))
		default:
			s.Parallelism = int(n)
		}
	}
	if attr := content.Attributes["max_deletes"]; attr != nil {
		n, ok, moreDiags := decodeMaxDeletes(attr, ectx)
		diags = append(diags, moreDiags...)
		if ok {
			s.MaxDeletes, s.MaxDeletesRange = &n, attr.Range
		}
	}
	diags = append(diags, decodeTransferLimits(content, ectx, s)...)
	return diags
}

// decodeBackend reads the ferry block's backend "TYPE" block, if any.
func decodeBackend(content *hcl.BodyContent, ectx *hcl.EvalContext, s *Settings, backends map[string]BackendDecoder) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range content.Blocks.OfType("backend") {
		if s.Backend != nil {
			diags = append(diags, duplicate("backend", "A backend block", s.Backend.DeclRange, b,
				"The state lives in one place; remove one of them."))
			continue
		}
		decode, ok := backends[b.Labels[0]]
		if !ok {
			names := slices.Sorted(maps.Keys(backends))
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported backend type",
				Detail:  fmt.Sprintf("There is no backend type %q; the supported types are: %s.", b.Labels[0], strings.Join(names, ", ")),
				Subject: b.LabelRanges[0].Ptr()})
			s.Backend = &Backend{Type: b.Labels[0], DeclRange: b.DefRange}
			continue
		}
		settings, moreDiags := decode(b.Body, ectx)
		diags = append(diags, moreDiags...)
		s.Backend = &Backend{Type: b.Labels[0], Settings: settings, DeclRange: b.DefRange}
		if attr := content.Attributes["state"]; attr != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting state settings",
				Detail:  "The state is kept either in a local file (state) or in a backend, not both: remove the state argument, or the backend block to keep the state in that file.",
				Subject: attr.NameRange.Ptr()})
		}
	}
	return diags
}

// decodeMaxDeletes reads a max_deletes argument (ferry or retention block).
func decodeMaxDeletes(attr *hcl.Attribute, ectx *hcl.EvalContext) (int, bool, hcl.Diagnostics) {
	n, diags := schema.DecodeInt(attr, ectx)
	if diags.HasErrors() {
		return 0, false, diags
	}
	if n < 0 {
		return 0, false, append(diags, schema.AttrError(attr, "Invalid max_deletes", fmt.Sprintf("max_deletes is the most objects a plan may delete and must be 0 or more; got %d.", n)))
	}
	return int(n), true, diags
}

type providerSettings struct {
	addr  string
	value any
	order func(a, b string) int // the type's VersionOrder
	// deletesPerHour is a destination's delete quota: its block's
	// deletes_per_hour, else its type's.
	deletesPerHour int
	// deleteNote is a destination type's DeleteNote.
	deleteNote string
}

// destinationSchema holds the arguments the core reads in every
// destination block, whatever its type; the type's decoder sees the rest.
var destinationSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "deletes_per_hour"}}}

// decodeDeletesPerHour reads a destination's deletes_per_hour (0 lifts
// the type's quota, e.g. on a licensed server).
func decodeDeletesPerHour(attr *hcl.Attribute, ectx *hcl.EvalContext) (int, bool, hcl.Diagnostics) {
	n, diags := schema.DecodeInt(attr, ectx)
	if diags.HasErrors() {
		return 0, false, diags
	}
	if n < 0 {
		return 0, false, append(diags, schema.AttrError(attr, "Invalid deletes_per_hour",
			fmt.Sprintf("deletes_per_hour is the most deletes ferry sends the destination in any hour, 0 for no limit; got %d.", n)))
	}
	return int(n), true, diags
}

// decodeProviderBlock decodes a source or destination block with the
// matching schema.Type. It records the address in declared and returns nil
// for a duplicate or an unsupported type.
func decodeProviderBlock(b *hcl.Block, kind schema.Kind, ectx *hcl.EvalContext, dir string, types []schema.Type, declared map[string]hcl.Range, inputs *schema.Inputs) (*providerSettings, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	typeName, name := b.Labels[0], b.Labels[1]
	addr := typeName + "." + name
	if prev, ok := declared[addr]; ok {
		return nil, append(diags, duplicate(string(kind), fmt.Sprintf("A %s %q %q", kind, typeName, name), prev, b, uniqueNames))
	}
	declared[addr] = b.DefRange
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s name", kind),
			Detail: fmt.Sprintf("%q is not a valid %s name: a name must start with a letter or underscore and "+
				"may contain only letters, digits, underscores and dashes, so that %s.%s.NAME can refer to it.",
				name, kind, kind, typeName),
			Subject: b.LabelRanges[1].Ptr(),
		})
	}
	var pt *schema.Type
	var supported []string
	for i := range types {
		if types[i].Kind != kind {
			continue
		}
		supported = append(supported, types[i].Name)
		if types[i].Name == typeName && pt == nil {
			pt = &types[i]
		}
	}
	slices.Sort(supported)
	if pt == nil || pt.Decode == nil {
		hint := didYouMean(typeName, supported)
		for _, t := range types {
			if t.Kind != kind && t.Name == typeName {
				hint = fmt.Sprintf(" %q is a %s type.", typeName, t.Kind)
			}
		}
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Unsupported %s type", kind),
			Detail: fmt.Sprintf("There is no %s type %q.%s The supported %s types are %s.",
				kind, typeName, hint, kind, quotedList(supported)),
			Subject: b.LabelRanges[0].Ptr(),
		})
	}
	body, perHour := b.Body, pt.Limits.DeletesPerHour
	if kind == schema.KindDestination {
		content, rest, moreDiags := b.Body.PartialContent(destinationSchema)
		diags = append(diags, moreDiags...)
		body = rest
		if attr := content.Attributes["deletes_per_hour"]; attr != nil {
			n, ok, moreDiags := decodeDeletesPerHour(attr, ectx)
			diags = append(diags, moreDiags...)
			if ok {
				perHour = n
			}
		}
	}
	value, moreDiags := pt.Decode(body, ectx, schema.DecodeEnv{
		Dir:       dir,
		Address:   string(kind) + "." + addr,
		DeclRange: b.DefRange,
		Inputs:    inputs,
	})
	diags = append(diags, moreDiags...)
	return &providerSettings{addr: addr, value: value, order: pt.VersionOrder, deletesPerHour: perHour, deleteNote: pt.DeleteNote}, diags
}
