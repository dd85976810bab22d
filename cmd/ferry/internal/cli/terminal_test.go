package cli

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/planner/apply"
	"github.com/ferry-mirror/ferry/planner/plan"
)

func TestEscapeTerminal(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain text and unicode pass", in: "mirror.tools[\"a/b\"]\tß €\n", want: "mirror.tools[\"a/b\"]\tß €\n"},
		{name: "OSC title", in: "evil\x1b]0;pwned\x07", want: `evil\x1b]0;pwned\x07`},
		{name: "CSI clear screen", in: "1.0.0\x1b[2J", want: `1.0.0\x1b[2J`},
		{name: "carriage return and DEL", in: "a\rb\x7f", want: `a\x0db\x7f`},
		{name: "C1 CSI as a rune", in: "a\u009b2Jb", want: `a\u009b2Jb`},
		{name: "lone 8-bit CSI byte", in: "a\x9b2J", want: `a\x9b2J`},
		{name: "truncated UTF-8", in: "a\xe2\x82", want: `a\xe2\x82`},
		{name: "bidi override", in: "abc\u202eevil\u2066x\u2069", want: `abc\u202eevil\u2066x\u2069`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := escapeWriter{&buf}.Write([]byte(tt.in))
			if err != nil || n != len(tt.in) {
				t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(tt.in))
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("escaped text (-want +got):\n%s", diff)
			}
		})
	}
}

// hostileChanges are plan changes whose mirror name, key, version and
// error carry terminal escape sequences, as a tampered state file or a
// hostile upstream can make them.
func hostileChanges() (plan.Change, plan.Change) {
	const mirror = "evil\x1b]0;pwned\x07"
	const key = "pkg/1.0.0\x1b[2J/pkg.tgz"
	del := plan.Change{
		Address: plan.Address(mirror, key), Mirror: mirror, Key: key,
		Action: plan.Delete, Reason: plan.MirrorRemovedFromConfig, Destination: "dir.local",
	}
	add := plan.Change{
		Address: plan.Address("npm", "pkg/-/pkg-1.0.0\x1b[2J.tgz") + "\x1b[2J", Mirror: "npm", Key: "pkg",
		Action: plan.Add, Reason: plan.NewInSource, Detail: "version 1.0.0\x1b[2J\u202e", Version: "1.0.0\x1b[2J",
		Destination: "dir.local", After: &plan.Object{Size: 1},
	}
	return del, add
}

// assertNoControls fails when out holds a byte or rune a terminal acts on.
func assertNoControls(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r == utf8.RuneError) || isTerminalControl(r) {
			t.Fatalf("%s holds the raw control %U at byte %d:\n%q", what, r, i, out)
		}
	}
}

// TestHumanOutputEscapesControls renders a plan and an apply error report
// with hostile names through the invocation's streams.
func TestHumanOutputEscapesControls(t *testing.T) {
	var out, errb bytes.Buffer
	a := newApp(context.Background(), Streams{Out: &out, Err: &errb}, nil)
	del, add := hostileChanges()
	p := &plan.Plan{Refreshed: true, Changes: []plan.Change{add, del}}
	p.Summary.Add, p.Summary.Delete = 1, 1
	if err := p.WriteText(a.streams.Out); err != nil {
		t.Fatal(err)
	}
	te := &textEvents{out: a.streams.Out, errw: a.streams.Err, now: time.Now}
	te.event(apply.Event{Type: apply.EventApplyStarted, Start: &apply.StartInfo{Changes: 2}})
	te.event(apply.Event{Type: apply.EventChangeFailed, Message: add.Address + ": add failed", Change: &apply.ChangeInfo{Address: add.Address},
		Error: errors.New("upstream said \x1b]0;pwned\x07 \x9b2J").Error()})
	te.event(apply.Event{Type: apply.EventDeleteSkipped, Change: &apply.ChangeInfo{Address: del.Address}})
	te.event(apply.Event{Type: apply.EventApplySummary, Message: "Apply failed", Summary: &apply.SummaryInfo{Status: apply.StatusFailed, Failed: 1, SkippedDeletes: 1}})
	assertNoControls(t, "stdout", out.String())
	assertNoControls(t, "stderr", errb.String())
	for _, want := range []string{`evil\x1b]0;pwned\x07`, `\x1b[2J`} {
		if !bytes.Contains(out.Bytes(), []byte(want)) || !bytes.Contains(errb.Bytes(), []byte(want)) {
			t.Errorf("the escaped form %s is missing:\nstdout:\n%s\nstderr:\n%s", want, out.String(), errb.String())
		}
	}
}
