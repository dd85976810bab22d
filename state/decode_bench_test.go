package state

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
)

// benchState builds a state like the one a plan of n artifacts from an
// http source into a dir destination leaves (the 100,000-artifact plan
// fixture of issue #16): every field an artifact has, as ferry writes it.
func benchState(tb testing.TB, n int) []byte {
	tb.Helper()
	s := New("0.1.0")
	s.Lineage = "7b0c6a57-6f0e-4a43-9d8e-0d1c2b3a4f5e"
	s.EnsureMirror("m", "http.up", "dir.local")
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	added := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		name := fmt.Sprintf("pkg-%06d", i/4)
		version := fmt.Sprintf("1.%d.0", i%4)
		file := name + "-" + version + ".tar.gz"
		sum := sha256.Sum256([]byte(file))
		d := providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])})
		s.SetArtifact("m", &Artifact{
			Key: name + "/" + version + "/" + file, Name: name, Version: version, Size: int64(1000 + i),
			Digests: d, SourceDigests: d, Created: created.Add(time.Duration(i) * time.Minute), AddedAt: added,
			Origin: "https://files.example.org/" + name + "/" + file, VerifiedAt: added,
		})
	}
	b, err := Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkDecode100k reads a 100,000-artifact state (about 65 MiB) as
// Open does once the file is in memory.
func BenchmarkDecode100k(b *testing.B) {
	data := benchState(b, 100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := decode("bench.state.json", data)
		if err != nil || len(s.Mirrors["m"].Artifacts) != 100_000 {
			b.Fatal(err)
		}
	}
}

// The scanner reads a digest exactly when Digest.UnmarshalText does, and
// then it is valid: checkArtifact does not validate it again.
func TestScannerDigestsAgreeWithParseDigest(t *testing.T) {
	hex64 := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []string{
		"",
		"sha256:" + hex64,
		"sha512:" + hex64 + hex64,
		"sha1:" + hex64[:40],
		"md5:" + hex64[:32],
		"sha256:" + hex64[:63],
		"sha256:" + hex64 + "0",
		"sha256:" + hex64[:63] + "A",
		"sha256:" + hex64[:63] + "g",
		"sha256:" + hex64[:63] + "/",
		"sha256:" + hex64[:63] + ":",
		"sha256:" + hex64[:62] + "é",
		"SHA256:" + hex64,
		"sha384:" + hex64 + hex64[:32],
		"sha256" + hex64,
		":" + hex64,
		"sha256:",
		"md5:sha1:" + hex64[:27],
	}
	for _, s := range tests {
		sc := &scanner{data: []byte(`["` + s + `"]`)}
		ok := sc.digests(false)
		var d providers.Digest
		err := d.UnmarshalText([]byte(s))
		if ok != (err == nil) {
			t.Errorf("%q: scanner reads it %v, UnmarshalText error %v", s, ok, err)
		}
		if ok && s != "" {
			p := sc.pending[0]
			got := providers.Digest{Algorithm: p.alg, Hex: string(sc.buf[p.hex.off : p.hex.off+p.hex.n])}
			if got != d || got.Validate() != nil {
				t.Errorf("%q: scanner reads %v, UnmarshalText %v", s, got, d)
			}
		}
	}
}

// Artifacts checked as they are read report the same first problem as the
// checked decoder, in a mirror among valid ones.
func TestDecodeStreamReportsFirstProblem(t *testing.T) {
	const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	art := func(key, digests string) string {
		return `"` + key + `":{"key":"` + key + `","digests":[` + digests + `],"added_at":"2026-01-02T03:04:05Z"}`
	}
	ok := `"sha256:` + hex64 + `"`
	tests := []struct {
		name, mirrorB string
	}{
		{name: "all valid", mirrorB: art("b", ok) + "," + art("a", ok)},
		{name: "key mismatch", mirrorB: art("b", ok) + `,"a":{"key":"x"}`},
		{name: "two problems", mirrorB: art("z", `""`) + "," + art("b", ok+","+ok) + "," + art("a", ok)},
		{name: "two of one algorithm", mirrorB: art("b", `"md5:`+hex64[:32]+`",`+ok+`,"md5:`+hex64[:32]+`"`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(`{"version":5,"lineage":"x","mirrors":{"a":{"artifacts":{` + art("k", ok) + `}},"b":{"artifacts":{` + tc.mirrorB + `}}}}`)
			if _, ok := decodeStream(data); !ok {
				t.Fatal("the fast path gives up")
			}
			s, err := decode("x.json", data)
			sameAsChecked(t, "x.json", data, s, err)
		})
	}
}

// Artifacts and digests read from one slab are independent: appending to
// one artifact's digests leaves the next one's alone.
func TestDecodeSlabsIndependent(t *testing.T) {
	s, err := decode("x.json", benchState(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	arts := s.Mirrors["m"].Artifacts
	var keys []string
	for k := range arts {
		keys = append(keys, k)
	}
	before := arts[keys[1]].deepCopy()
	a := arts[keys[0]]
	a.Digests = append(a.Digests, providers.Digest{Algorithm: providers.MD5, Hex: "x"})
	a.SourceDigests = append(a.SourceDigests, providers.Digest{Algorithm: providers.MD5, Hex: "y"})
	if diff := cmp.Diff(before, arts[keys[1]]); diff != "" {
		t.Errorf("appending to one artifact's digests changed another (-before +after):\n%s", diff)
	}
}
