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
