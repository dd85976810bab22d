package httpsrc

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/ferry-mirror/ferry/planner/config/schema"
)

// maxListErrors bounds the diagnostics one artifacts_file yields: a file in
// the wrong shape would otherwise report every one of its lines.
const maxListErrors = 50

// listFields are the names a list file row may use: the artifact block's
// arguments plus the name (the block's label).
func listFields() []string {
	return []string{"name", "url", "sha256", "sha512", "version", "key", "size", "published"}
}

// listField returns r's field for a list file column, nil for an unknown
// name.
func listField(r *rawArtifact, name string) *field {
	switch name {
	case "name":
		return &r.Name
	case "url":
		return &r.URL
	case "sha256":
		return &r.SHA256
	case "sha512":
		return &r.SHA512
	case "version":
		return &r.Version
	case "key":
		return &r.Key
	case "size":
		return &r.Size
	case "published":
		return &r.Published
	}
	return nil
}

// rowParser calls row for each artifact row of src in order, until row
// returns false, and reports the rows (or the file) it cannot read.
type rowParser func(filename string, src []byte, row func(rawArtifact) bool) hcl.Diagnostics

// decodeArtifactsFile reads the artifacts_file attr names (relative to the
// config directory) and hands each valid artifact to add, with the row it
// came from, after telling reserve how many rows there are at most. Rows
// are validated exactly like artifact blocks.
func decodeArtifactsFile(attr *hcl.Attribute, ectx *hcl.EvalContext, env schema.DecodeEnv, reserve func(rows int), add func(ArtifactConfig, hcl.Range)) hcl.Diagnostics {
	name, diags := schema.DecodePlainString(attr, ectx)
	if diags.HasErrors() {
		return diags
	}
	var parse rowParser
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl":
		parse = parseJSONL
	case ".csv":
		parse = parseCSV
	default:
		return append(diags, schema.AttrError(attr, "Unsupported artifacts_file format",
			fmt.Sprintf("The artifacts_file %q must end in .jsonl (JSON Lines, one object per line) or .csv "+
				"(a header row naming the fields, then one artifact per row).", name)))
	}
	src, err := env.ReadInput(name)
	if err != nil {
		return append(diags, schema.AttrError(attr, "Failed to read artifacts_file",
			fmt.Sprintf("The artifacts_file cannot be read: %s.", err)))
	}
	// Name the file as the configuration files are named: under the
	// directory as the user spelled it.
	filename := name
	if !filepath.IsAbs(name) {
		filename = filepath.Join(filepath.Dir(attr.NameRange.Filename), name)
	}
	// A valid row is at least a line and holds a digest of 64 or more
	// characters: a file of blank lines reserves nothing much.
	reserve(min(bytes.Count(src, []byte("\n"))+1, len(src)/64+1))
	errs := 0
	diags = append(diags, parse(filename, src, func(r rawArtifact) bool {
		a, ok, moreDiags := validateArtifact(r)
		diags = append(diags, moreDiags...)
		if ok {
			add(a, r.Where)
		} else {
			errs++
		}
		return errs < maxListErrors
	})...)
	if len(diags) >= maxListErrors {
		diags = append(diags[:maxListErrors:maxListErrors], &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Too many errors in artifacts_file",
			Detail:   fmt.Sprintf("Reading %s stopped after %d errors; fix those and load again.", filename, maxListErrors),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return diags
}

// listError is a diagnostic about a list file as a whole or one of its rows.
func listError(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// unknownField is the diagnostic for a column or JSON member that is not an
// artifact field.
func unknownField(rng hcl.Range, name string) *hcl.Diagnostic {
	detail := fmt.Sprintf("%q is not an artifact field. The fields are %s.", name, strings.Join(listFields(), ", "))
	if s := schema.NameSuggestion(name, listFields()); s != "" {
		detail = fmt.Sprintf("%q is not an artifact field. Did you mean %q?", name, s)
	}
	return listError(rng, "Unsupported artifact field", detail)
}

// parseJSONL reads JSON Lines: one object per line, blank lines ignored.
// Each line is its own document, so one bad line is reported and the next
// is read.
func parseJSONL(filename string, src []byte, row func(rawArtifact) bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	// The rows' fields are substrings of one copy of the file: one
	// allocation for the whole file instead of one per row.
	text := string(src)
	lineNo := 0
	for off := 0; off < len(src); {
		lineNo++
		line, next := src[off:], len(src)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i], off+i+1
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) > 0 {
			r, ok := scanJSONText(filename, lineNo, off, text[off:off+len(line)])
			var d *hcl.Diagnostic
			if !ok {
				r, d = parseJSONLine(filename, lineNo, off, line)
			}
			if d != nil {
				diags = append(diags, d)
				if len(diags) >= maxListErrors {
					break
				}
			} else if !row(r) {
				break
			}
		}
		off = next
	}
	return diags
}

// scanJSONLine is the fast path of parseJSONLine for the plain line a
// generator writes: one flat object of known, distinct fields, strings
// without escapes and a whole-number size. It reads the line in place with
// one allocation and gives up (ok false) on anything else, for
// parseJSONLine to read or explain. Both give the same row for a line
// scanJSONLine accepts (TestScanJSONLineAgrees, FuzzParseRows).
func scanJSONLine(filename string, lineNo, base int, line []byte) (r rawArtifact, ok bool) {
	return scanJSONText(filename, lineNo, base, string(line))
}

// scanJSONText is scanJSONLine on the line as a string, which the fields
// share.
func scanJSONText(filename string, lineNo, base int, text string) (r rawArtifact, ok bool) {
	// One branch-free pass classes the line: a generated line is ASCII
	// and holds no backslash or control character, so its strings end at
	// the next quote.
	var class byte
	for i := 0; i < len(text); i++ {
		class |= jsonByte[text[i]]
	}
	ascii, plain := class&jsonNonASCII == 0, class&jsonEscape == 0
	if !ascii && !utf8.ValidString(text) {
		return rawArtifact{}, false
	}
	pos := func(o int) hcl.Pos {
		col := o + 1
		if !ascii {
			col = utf8.RuneCountInString(text[:o]) + 1
		}
		return hcl.Pos{Line: lineNo, Column: col, Byte: base + o}
	}
	span := func(from, to int) hcl.Range { return hcl.Range{Filename: filename, Start: pos(from), End: pos(to)} }
	i := 0
	ws := func() {
		for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n') {
			i++
		}
	}
	// str reads a string without escapes or control characters at i,
	// returning its quotes' offsets.
	str := func() (open, end int, ok bool) {
		if i >= len(text) || text[i] != '"' {
			return 0, 0, false
		}
		open = i
		if plain {
			end := strings.IndexByte(text[i+1:], '"')
			if end < 0 {
				return 0, 0, false
			}
			i += end + 2
			return open, i, true
		}
		for i++; i < len(text); i++ {
			switch c := text[i]; {
			case c == '"':
				i++
				return open, i, true
			case c == '\\' || c < 0x20:
				return 0, 0, false
			}
		}
		return 0, 0, false
	}
	ws()
	if i >= len(text) || text[i] != '{' {
		return rawArtifact{}, false
	}
	i++
	ws()
	if i < len(text) && text[i] == '}' {
		i++
	} else {
		for {
			kOpen, kEnd, ok := str()
			if !ok {
				return rawArtifact{}, false
			}
			key := text[kOpen+1 : kEnd-1]
			f := listField(&r, key)
			if f == nil || f.Set {
				return rawArtifact{}, false
			}
			ws()
			if i >= len(text) || text[i] != ':' {
				return rawArtifact{}, false
			}
			i++
			ws()
			var vStart, vEnd int
			var value string
			if key == "size" {
				// A whole number, as JSON writes it: -?(0|[1-9][0-9]*).
				vStart = i
				if i < len(text) && text[i] == '-' {
					i++
				}
				digits := i
				for i < len(text) && text[i] >= '0' && text[i] <= '9' {
					i++
				}
				if i == digits || text[digits] == '0' && i-digits > 1 ||
					i < len(text) && (text[i] == '.' || text[i] == 'e' || text[i] == 'E') {
					return rawArtifact{}, false
				}
				vEnd = i
				value = text[vStart:vEnd]
			} else {
				if vStart, vEnd, ok = str(); !ok {
					return rawArtifact{}, false
				}
				value = text[vStart+1 : vEnd-1]
			}
			*f = field{Value: value, Set: true, Range: span(vStart, vEnd)}
			ws()
			if i >= len(text) {
				return rawArtifact{}, false
			}
			if text[i] == '}' {
				i++
				break
			}
			if text[i] != ',' {
				return rawArtifact{}, false
			}
			i++
			ws()
		}
	}
	ws()
	if i != len(text) {
		return rawArtifact{}, false
	}
	r.Where = span(0, len(text))
	return r, true
}

// jsonByte classes bytes for scanJSONText.
var jsonByte = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = jsonNonASCII
		case c < 0x20 || c == '\\':
			t[c] = jsonEscape
		}
	}
	return t
}()

const (
	jsonNonASCII = 1 << iota // not ASCII
	jsonEscape               // a backslash or a control character
)

// parseJSONLine reads the object on line lineNo, which starts at byte base
// of the file.
func parseJSONLine(filename string, lineNo, base int, line []byte) (rawArtifact, *hcl.Diagnostic) {
	pos := func(o int64) hcl.Pos {
		o = min(max(o, 0), int64(len(line)))
		return hcl.Pos{Line: lineNo, Column: utf8.RuneCount(line[:o]) + 1, Byte: base + int(o)}
	}
	span := func(from, to int64) hcl.Range { return hcl.Range{Filename: filename, Start: pos(from), End: pos(to)} }
	r := rawArtifact{Where: span(0, int64(len(line)))}
	bad := func(from, to int64, summary, detail string) (rawArtifact, *hcl.Diagnostic) {
		return rawArtifact{}, listError(span(from, to), summary, detail)
	}
	syntax := func(dec *json.Decoder, err error) (rawArtifact, *hcl.Diagnostic) {
		at := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			at = se.Offset
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err, at = errors.New("the object is not closed on its line"), int64(len(line))
		}
		return bad(at, at, "Invalid JSON in artifacts_file", fmt.Sprintf("The line is not a JSON object: %s.", err))
	}

	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil {
		return syntax(dec, err)
	} else if tok != json.Delim('{') {
		return bad(0, dec.InputOffset(), "Invalid JSON in artifacts_file", "Each line of a .jsonl artifacts_file is one JSON object, as in {\"name\": \"jq\", \"url\": \"…\", \"sha256\": \"…\"}.")
	}
	for dec.More() {
		keyStart := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return syntax(dec, err)
		}
		key, _ := tok.(string) // More and Token guarantee a string key
		keyRange := span(keyStart+int64(bytes.IndexByte(line[keyStart:], '"')), dec.InputOffset())
		f := listField(&r, key)
		if f == nil {
			return rawArtifact{}, unknownField(keyRange, key)
		}
		if f.Set {
			return rawArtifact{}, listError(keyRange, "Duplicate artifact field", fmt.Sprintf("The field %q appears twice on this line.", key))
		}
		valStart := dec.InputOffset()
		if i := bytes.IndexAny(line[valStart:], "\"-0123456789tfn{["); i >= 0 {
			valStart += int64(i)
		}
		val, err := dec.Token()
		if err != nil {
			return syntax(dec, err)
		}
		rng := span(valStart, dec.InputOffset())
		switch v := val.(type) {
		case nil:
			// null: as if absent, as generators write unknown fields.
			continue
		case string:
			if key == "size" {
				return rawArtifact{}, listError(rng, "Invalid artifact size", "The size is a JSON number of bytes, as in \"size\": 1234.")
			}
			*f = field{Value: v, Set: true, Range: rng}
		case json.Number:
			if key != "size" {
				return rawArtifact{}, listError(rng, "Invalid artifact field", fmt.Sprintf("The field %q is a string; write it in quotes.", key))
			}
			*f = field{Value: v.String(), Set: true, Range: rng}
		default:
			want := "a string"
			if key == "size" {
				want = "a number"
			}
			return rawArtifact{}, listError(rng, "Invalid artifact field", fmt.Sprintf("The field %q must be %s.", key, want))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return syntax(dec, err)
	}
	if end := dec.InputOffset(); len(bytes.TrimSpace(line[end:])) > 0 {
		return bad(end, int64(len(line)), "Invalid JSON in artifacts_file", "A line of a .jsonl artifacts_file holds exactly one JSON object; there is more after it.")
	}
	return r, nil
}

// parseCSV reads CSV whose first row names the fields (in any order, each
// at most once); an empty cell is an absent field. A syntax error stops the
// read: after one, the reader cannot tell rows apart reliably.
func parseCSV(filename string, src []byte, row func(rawArtifact) bool) hcl.Diagnostics {
	cr := csv.NewReader(bytes.NewReader(src))
	cr.ReuseRecord = true
	at := func(line, col, width int) hcl.Range {
		return hcl.Range{Filename: filename, Start: hcl.Pos{Line: line, Column: col}, End: hcl.Pos{Line: line, Column: col + width}}
	}
	readErr := func(err error) *hcl.Diagnostic {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return listError(at(pe.Line, max(pe.Column, 1), 0), "Invalid CSV in artifacts_file", fmt.Sprintf("The file is not valid CSV: %s.", pe.Err))
		}
		return listError(at(1, 1, 0), "Invalid CSV in artifacts_file", fmt.Sprintf("The file is not valid CSV: %s.", err))
	}

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return hcl.Diagnostics{listError(at(1, 1, 0), "Missing CSV header", "A .csv artifacts_file starts with a header row naming its fields, as in name,url,sha256,version.")}
	}
	if err != nil {
		return hcl.Diagnostics{readErr(err)}
	}
	var diags hcl.Diagnostics
	columns := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // a byte order mark, as spreadsheets write
		}
		h = strings.TrimSpace(h)
		line, col := cr.FieldPos(i)
		rng := at(line, col, len(header[i]))
		switch {
		case listField(&rawArtifact{}, h) == nil:
			diags = append(diags, unknownField(rng, h))
		case seen[h]:
			diags = append(diags, listError(rng, "Duplicate artifact field", fmt.Sprintf("The header names the field %q twice.", h)))
		}
		seen[h] = true
		columns[i] = h
	}
	if diags.HasErrors() {
		return diags
	}

	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return diags
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				diags = append(diags, listError(at(pe.Line, 1, 0), "Invalid CSV in artifacts_file",
					fmt.Sprintf("The row has %d fields where the header has %d.", len(rec), len(header))))
				if len(diags) >= maxListErrors {
					return diags
				}
				continue
			}
			return append(diags, readErr(err))
		}
		var r rawArtifact
		for i, cell := range rec {
			if cell == "" {
				continue
			}
			line, col := cr.FieldPos(i)
			*listField(&r, columns[i]) = field{Value: cell, Set: true, Range: at(line, col, len(cell))}
		}
		line, col := cr.FieldPos(0)
		endLine, endCol := cr.FieldPos(len(rec) - 1)
		r.Where = hcl.Range{Filename: filename, Start: hcl.Pos{Line: line, Column: col}, End: hcl.Pos{Line: endLine, Column: endCol + len(rec[len(rec)-1])}}
		if !row(r) {
			return diags
		}
	}
}
