package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Target
		wantErr bool
	}{
		{name: "mirror", in: "mirror.tools", want: Target{Mirror: "tools"}},
		{name: "artifact", in: `mirror.tools["jq/1.7.1/jq"]`, want: Target{Mirror: "tools", Key: "jq/1.7.1/jq"}},
		{name: "escaped key", in: `mirror.m["a\"b"]`, want: Target{Mirror: "m", Key: `a"b`}},
		{name: "consumer output", in: `mirror.bp.rewrite["out/buildpack.toml"]`, want: Target{Mirror: "bp", Key: "out/buildpack.toml"}},
		{name: "any provider's output block", in: `mirror.ch.repodata["linux-64"]`, want: Target{Mirror: "ch", Key: "linux-64"}},
		{name: "output block without a path", in: "mirror.bp.rewrite", wantErr: true},
		{name: "wrong root", in: "source.http.tools", wantErr: true},
		{name: "bare", in: "mirror", wantErr: true},
		{name: "numeric index", in: "mirror.m[0]", wantErr: true},
		{name: "empty key", in: `mirror.m[""]`, wantErr: true},
		{name: "too deep", in: `mirror.m["a"].b`, wantErr: true},
		{name: "garbage", in: "mirror.m[", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTarget(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseTarget(%q) error = %v; wantErr %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseTarget(%q) (-want +got):\n%s", tc.in, diff)
			}
			if again, err := ParseTarget(got.String()); err != nil || again != got {
				t.Errorf("String() %q does not parse back: %v %v", got.String(), again, err)
			}
		})
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	good := `{"format_version":"2","tool_version":"0.1.0","changes":[{"address":"mirror.m[\"k\"]","mirror":"m","key":"k","action":"add","reason":"new_in_source","source":"http.s","destination":"dir.d","after":{"size":-1,"digests":["sha256:` + strings.Repeat("a", 64) + `"]}}]}`
	if _, err := Unmarshal([]byte(good)); err != nil {
		t.Fatalf("good plan refused: %v", err)
	}
	tests := []struct {
		name, in, wantErr string
	}{
		{name: "not json", in: "hello", wantErr: "not a ferry plan file"},
		{name: "no version", in: `{"changes":[]}`, wantErr: "no format_version"},
		{name: "other version", in: `{"format_version":"3","tool_version":"9.0.0"}`, wantErr: `format version "3" (written by ferry 9.0.0) is not supported`},
		// Version 1 had rewrite and update changes; publish replaced them.
		{name: "version 1", in: `{"format_version":"1","tool_version":"0.9.0","changes":[{"action":"rewrite"}]}`, wantErr: `format version "1" (written by ferry 0.9.0) is not supported; this ferry reads version "2"`},
		{name: "publish without output", in: `{"format_version":"2","changes":[{"address":"mirror.m.rewrite[\"f\"]","mirror":"m","key":"f","action":"publish","reason":"output_out_of_date","destination":"dir.d"}]}`, wantErr: "publish change 0 is incomplete"},
		{name: "publish at another address", in: `{"format_version":"2","changes":[{"address":"mirror.m[\"f\"]","mirror":"m","key":"f","action":"publish","reason":"output_out_of_date","destination":"dir.d","output":{"side":"source","block":"rewrite","path":"f","verb":"rewrite"}}]}`, wantErr: "publish change 0 is incomplete"},
		{name: "publish by no side", in: `{"format_version":"2","changes":[{"address":"mirror.m[\"f\"]","mirror":"m","key":"f","action":"publish","reason":"output_out_of_date","destination":"dir.d","output":{"side":"elsewhere","path":"f","verb":"update"}}]}`, wantErr: "publish change 0 is incomplete"},
		{name: "output on a transfer", in: strings.Replace(good, `"destination":"dir.d",`, `"destination":"dir.d","output":{"side":"source","path":"k","verb":"rewrite"},`, 1), wantErr: "has an output"},
		{name: "unknown action", in: strings.Replace(good, `"add"`, `"teleport"`, 1), wantErr: `unknown action "teleport"`},
		{name: "unknown reason", in: strings.Replace(good, `"new_in_source"`, `"whim"`, 1), wantErr: `unknown reason "whim"`},
		{name: "address mismatch", in: strings.Replace(good, `mirror.m[\"k\"]`, `mirror.m[\"other\"]`, 1), wantErr: "does not match"},
		{name: "no digest", in: strings.Replace(good, `"digests":["sha256:`+strings.Repeat("a", 64)+`"]`, `"digests":[]`, 1), wantErr: "no expected digest"},
		{name: "bad digest", in: strings.Replace(good, strings.Repeat("a", 64), "zz", 1), wantErr: "sha256 digest must be 64 hex characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Unmarshal error = %v; want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestFormatBytesAndSummary(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {44145049, "42.1 MiB"}, {3 << 30, "3.0 GiB"}} {
		if got := FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q; want %q", tc.n, got, tc.want)
		}
	}
	p := &Plan{Changes: []Change{
		{Action: Add, After: &Object{Size: 100}},
		{Action: Add, After: &Object{Size: -1}},
		{Action: Add, Reason: AlreadyAtDestination, After: &Object{Size: 5000}},
		{Action: Delete, DryRun: true},
		{Action: Delete},
		{Action: Publish, Output: &OutputDetail{Output: providers.Output{Verb: "update"}}},
		{Action: Publish, Output: &OutputDetail{Output: providers.Output{Verb: "rewrite"}}},
		{Action: Publish, Output: &OutputDetail{Output: providers.Output{Verb: "update"}}},
	}}
	p.Summarize(7)
	want := Summary{Add: 3, Delete: 1, Publish: map[string]int{"rewrite": 1, "update": 2}, DryRunDelete: 1, NoOp: 7, TransferBytes: 100, UnknownSizes: 1}
	if diff := cmp.Diff(want, p.Summary); diff != "" {
		t.Errorf("Summary (-want +got):\n%s", diff)
	}
	if got, want := p.SummaryLine(), "Plan: 3 to add, 0 to replace, 1 to delete (+1 dry run, not executed), 1 to rewrite, 2 to update. 100 B to transfer (+1 of unknown size)."; got != want {
		t.Errorf("SummaryLine() = %q; want %q", got, want)
	}
}

// The text plan says what a destination's deletes do, under the changes.
func TestWriteTextDeleteNotes(t *testing.T) {
	p := &Plan{DeleteNotes: []DeleteNote{{Destination: "nuget.feed", Deletes: 2, Note: "hard deletes"}, {Destination: "gitea_conda.c", Deletes: 1, Note: "whole versions"}}}
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "What the deletes do:\n  destination.nuget.feed: 2 deletes: hard deletes\n  destination.gitea_conda.c: 1 delete: whole versions\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("text plan lacks\n%s\ngot:\n%s", want, b.String())
	}
}

// TestQuotePlainFastPath: a key hclQuote copies as it is (plain) quotes
// exactly as the rune-by-rune quoting does, and the characters quoting
// changes are never taken for plain.
func TestQuotePlainFastPath(t *testing.T) {
	for _, tc := range []struct {
		key   string
		plain bool
	}{
		{key: "greeting/1.2.0/greeting-1.2.0.txt", plain: true},
		{key: "@scope/pkg/-/pkg-1.0.0.tgz", plain: true},
		{key: "a b~!#&'()*+,;=?@[]^`|}", plain: true},
		{key: "", plain: true},
		{key: `a"b`},
		{key: `a\b`},
		{key: "a${b}"},
		{key: "a%{b}"},
		{key: "a$b%"}, // no template, but the fast path leaves '$' and '%' to quoteRunes
		{key: "tab\there"},
		{key: "del\x7f"},
		{key: "\u00e9"},
		{key: "bad\xff"},
	} {
		if got := plain(tc.key); got != tc.plain {
			t.Errorf("plain(%q) = %v, want %v", tc.key, got, tc.plain)
		}
		if got, want := hclQuote(tc.key), quoteRunes(tc.key); got != want {
			t.Errorf("hclQuote(%q) = %s, want %s", tc.key, got, want)
		}
		if got, want := Address("m", tc.key), "mirror.m["+quoteRunes(tc.key)+"]"; got != want {
			t.Errorf("Address(m, %q) = %s, want %s", tc.key, got, want)
		}
	}
}
