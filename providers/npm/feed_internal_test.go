package npm

import (
	"encoding/json"
	"testing"
)

func TestParseSeq(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    uint64
		wantErr bool
	}{
		{name: "number", raw: `2495018`, want: 2495018},
		{name: "string of a number (cnpmcore ids)", raw: `"2495018"`, want: 2495018},
		{name: "zero", raw: `0`, want: 0},
		{name: "CouchDB 2 opaque position", raw: `"123-g1AAAAFTeJzLYWBg4MhgTmHgz8tPSTV0MDQy1zMAQsMcoEQiQ1L9____"`, wantErr: true},
		{name: "negative", raw: `-1`, wantErr: true},
		{name: "fraction", raw: `1.5`, wantErr: true},
		{name: "null", raw: `null`, wantErr: true},
		{name: "object", raw: `{"seq":1}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSeq(json.RawMessage(tc.raw))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseSeq(%s) = %d, %v; want %d, error %v", tc.raw, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseFeedURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://replicate.npmjs.com/registry/_changes": true,
		"https://registry.npmmirror.com/_changes":       true,
		"https://replicate.npmjs.com/registry":          false, // the database, not the feed
		"https://r.example/_changes?since=0":            false,
		"https://user:pw@r.example/_changes":            false,
		"ftp://r.example/_changes":                      false,
	} {
		if _, err := parseFeedURL(raw); (err == nil) != ok {
			t.Errorf("parseFeedURL(%q) error = %v, want ok %v", raw, err, ok)
		}
	}
}
