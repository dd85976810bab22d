package repodata_test

import (
	"os"
	"testing"

	"github.com/ferry-mirror/ferry/providers/conda/repodata"
)

// FuzzParse: any bytes parse or fail with an error, never panic; Check on
// every parsed record neither panics nor accepts a file name with a path.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"channel/noarch/repodata.json", "repodata/patch-linux-64/repodata_from_packages.json",
		"repodata/dummy-linux-64/repodata.json", "repodata/patch-linux-64/patch_instructions.json"} {
		if b, err := os.ReadFile(fixtures + p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"packages":{"../x.conda":{"name":"x","version":"1","sha256":"` + "00" + `"}},"removed":["a"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := repodata.Parse(data)
		if err != nil {
			return
		}
		for _, m := range []map[string]*repodata.Record{rd.Packages, rd.PackagesConda} {
			for fn, r := range m {
				if r.Check(fn) == nil && !repodata.ValidFileName(fn) {
					t.Fatalf("Check accepted %q", fn)
				}
			}
		}
	})
}
