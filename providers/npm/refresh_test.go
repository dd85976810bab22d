package npm_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/npm"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	provreg "github.com/ferry-mirror/ferry/providers/registry"
)

// A refresh of an npm destination reads each package's document once,
// however many of its versions are stat'ed at once (the document gives
// every version's dist.integrity and shasum): one request per package, not
// one per version. A version unpublished behind ferry's back is gone at the
// next command's Stat: still drift.
func TestStatReadsEachPackumentOnce(t *testing.T) {
	down := testenv.StartVerdaccio(t, testenv.VerdaccioOptions{})
	versions := []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0"}
	for _, v := range versions {
		down.Publish(t, testenv.NPMTarball(t, "left-pad", v, nil), "latest")
	}
	down.Publish(t, testenv.NPMTarball(t, "@demo/util", "3.0.0", nil), "latest")
	rt := newRecordingTransport()
	open := func() *npm.Store {
		s, err := npm.NewDestination("npm.down", &npm.DestinationConfig{Registry: npm.Registry{URL: down.URL, Token: down.Token}},
			provreg.Env{HTTP: httpx.New(httpx.Options{MaxRetries: 1, Transport: rt}), Getenv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	keys := map[string]bool{npm.Key("@demo/util", "3.0.0"): true, npm.Key("absent-pkg", "1.0.0"): false, npm.Key("left-pad", "9.9.9"): false}
	for _, v := range versions {
		keys[npm.Key("left-pad", v)] = true
	}
	var wg sync.WaitGroup
	for key, present := range keys {
		wg.Go(func() {
			a, err := s.Stat(t.Context(), key)
			switch {
			case present && err != nil:
				t.Errorf("Stat(%s): %v", key, err)
			case present:
				if _, ok := a.Digests.Get(providers.SHA512); !ok {
					t.Errorf("Stat(%s) = %+v, want the sha512 of dist.integrity", key, a)
				}
			case !errors.Is(err, providers.ErrNotFound):
				t.Errorf("Stat(%s): %v, want ErrNotFound", key, err)
			}
		})
	}
	wg.Wait()
	want := []docRequest{{Path: "/@demo/util", Status: 200}, {Path: "/absent-pkg", Status: 404}, {Path: "/left-pad", Status: 200}}
	if diff := cmp.Diff(want, rt.take()); diff != "" {
		t.Errorf("document requests of %d Stats (-want +got):\n%s", len(keys), diff)
	}

	// Another process unpublishes 1.1.0; the next command sees it gone.
	gone := npm.Key("left-pad", "1.1.0")
	if err := open().Delete(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	if _, err := open().Stat(t.Context(), gone); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Stat of a version unpublished behind ferry's back: %v, want ErrNotFound", err)
	}
}
