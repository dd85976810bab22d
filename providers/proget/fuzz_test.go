package proget_test

import (
	"bytes"
	"testing"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/proget"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/progettest"
)

// FuzzParseKey: a key ParseKey accepts is a valid artifact key that Key
// gives back unchanged, so no package lands where another's key points.
func FuzzParseKey(f *testing.F) {
	for _, k := range []string{
		"a/b/app/1.0.0/app-1.0.0.upack", "app/1.0.0-rc.1+b.2/app-1.0.0-rc.1+b.2.upack",
		"../app/1.0.0/app-1.0.0.upack", "a//b/app/1.0.0/app-1.0.0.upack", "app/1.0/app-1.0.upack",
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		p, err := proget.ParseKey(key)
		if err != nil {
			return
		}
		if err := providers.CheckKey(key); err != nil {
			t.Fatalf("ParseKey accepted %q, which is no valid key: %v", key, err)
		}
		if p.Key() != key {
			t.Fatalf("ParseKey(%q).Key() = %q", key, p.Key())
		}
	})
}

// FuzzUpackManifest: whatever bytes a feed serves, a destination's Put
// never panics, and stores them only when their upack.json names the
// key's package.
func FuzzUpackManifest(f *testing.F) {
	f.Add(progettest.BuildPackage(f, progettest.Manifest{Group: "g", Name: "app", Version: "1.0.0"}, map[string][]byte{"a": []byte("x")}))
	f.Add(progettest.BuildPackage(f, progettest.Manifest{Group: "g", Name: "app", Version: "1.0.1"}, nil))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	srv := progettest.Start(f, progettest.Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		dst := upackDest(t, srv.URL, "")
		const key = "g/app/1.0.0/app-1.0.0.upack"
		a := providers.Artifact{Key: key, Size: int64(len(body)), Digests: providers.NewDigests(providertest.SHA256(body))}
		err := dst.Put(t.Context(), a, bytes.NewReader(body), providers.PutOptions{Overwrite: true})
		if err != nil {
			return
		}
		stored, ok := srv.Package("mirror", "g", "app", "1.0.0")
		if !ok || !bytes.Equal(stored, body) {
			t.Fatalf("Put succeeded but the feed holds other bytes")
		}
	})
}
