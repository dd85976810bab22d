package providers

import (
	"strings"
	"testing"
)

// md5 is accepted for verifying (a conda record's md5) but never the
// primary digest while a stronger one is present.
func TestMD5VerifyOnly(t *testing.T) {
	m, err := ParseDigest("md5:" + strings.Repeat("a", 32))
	if err != nil {
		t.Fatal(err)
	}
	if m.Algorithm.New() == nil || m.Algorithm.HexLen() != 32 {
		t.Fatalf("md5 not supported: %+v", m)
	}
	if _, err := ParseDigest("md5:" + strings.Repeat("a", 31)); err == nil {
		t.Error("short md5 accepted")
	}
	s := Digest{Algorithm: SHA256, Hex: strings.Repeat("b", 64)}
	if got := NewDigests(m, s).Primary(); got != s {
		t.Errorf("Primary = %v, want the sha256", got)
	}
	if got := NewDigests(m, Digest{Algorithm: SHA1, Hex: strings.Repeat("c", 40)}).Primary(); got.Algorithm != SHA1 {
		t.Errorf("Primary = %v, want the sha1 over md5", got)
	}
}

// Validate accepts exactly lowercase hex of the algorithm's length.
func TestDigestValidate(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name    string
		d       Digest
		wantErr string
	}{
		{name: "ok", d: Digest{Algorithm: SHA256, Hex: hex64}},
		{name: "upper case", d: Digest{Algorithm: SHA256, Hex: strings.ToUpper(hex64)}, wantErr: "sha256 digest must be lowercase hexadecimal"},
		{name: "not hex", d: Digest{Algorithm: SHA256, Hex: hex64[:63] + "g"}, wantErr: "sha256 digest must be lowercase hexadecimal"},
		{name: "multibyte", d: Digest{Algorithm: SHA256, Hex: hex64[:62] + "é"}, wantErr: "sha256 digest must be lowercase hexadecimal"},
		{name: "short", d: Digest{Algorithm: SHA256, Hex: hex64[:62]}, wantErr: "sha256 digest must be 64 hex characters, got 62"},
		{name: "unknown algorithm", d: Digest{Algorithm: "crc", Hex: "00"}, wantErr: `digest algorithm "crc" is not supported`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.wantErr == "" && got != "" || !strings.Contains(got, tc.wantErr) {
				t.Errorf("Validate() = %q, want %q", got, tc.wantErr)
			}
		})
	}
}
