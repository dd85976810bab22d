package main_test

// Shared fixtures of the reliability suites (crash_test.go, fault_test.go,
// lock_test.go; docs/reliability.md): a set of random blobs served by a
// counting upstream, a config mirroring them into one of three real
// destinations, and an inspector that says exactly what a destination shows.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-mirror/ferry/providers/oci"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/state"
)

// blobSet is a set of upstream files with random content, keyed by name
// (which is also the artifact key).
type blobSet struct {
	names []string
	data  map[string][]byte
}

// makeBlobs writes n files of random sizes between minSize and maxSize
// into dir.
func makeBlobs(t *testing.T, dir string, rng *rand.Rand, n, minSize, maxSize int) blobSet {
	t.Helper()
	b := blobSet{data: map[string][]byte{}}
	for i := range n {
		name := fmt.Sprintf("blob-%d.bin", i)
		data := make([]byte, minSize+rng.IntN(maxSize-minSize+1))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		b.names = append(b.names, name)
		b.data[name] = data
	}
	return b
}

// sourceHCL declares source "http" "up" with one artifact per blob, its URL
// under var.upstream.
func (b blobSet) sourceHCL() string {
	var s strings.Builder
	s.WriteString("variable \"upstream\" {}\nsource \"http\" \"up\" {\n")
	for i, name := range b.names {
		fmt.Fprintf(&s, "  artifact \"blob%d\" {\n    url     = \"${var.upstream}/%s\"\n    sha256  = \"%x\"\n    version = \"1.0.0\"\n    key     = %q\n  }\n",
			i, name, sha256.Sum256(b.data[name]), name)
	}
	s.WriteString("}\n")
	return s.String()
}

// dest is a destination under test: how to declare it, and how to read back
// what it shows.
type dest struct {
	kind string // dir, oci, http
	hcl  string // the destination "KIND" "d" block
	// inspect returns every object visible at the destination (key →
	// bytes), and problems: anything there that is not an object ferry
	// could have written, or that is not readable.
	inspect func(t *testing.T) (map[string][]byte, []string)
}

// writeConfig writes the mirror config into dir.
func writeConfig(t *testing.T, dir string, b blobSet, d dest) {
	t.Helper()
	cfg := b.sourceHCL() + d.hcl + "mirror \"m\" {\n  from = source.http.up\n  to   = destination." + d.kind + ".d\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.ferry.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dirTempRE is the name of the dir destination's own temp files
// (.ferry-tmp/PID-RANDOM), the only thing allowed besides objects.
var dirTempRE = regexp.MustCompile(`^\.ferry-tmp/[0-9]+-[0-9a-f]{16}$`)

func dirDest(workdir string) dest {
	root := filepath.Join(workdir, "mirror")
	return dest{
		kind: "dir",
		hcl:  "destination \"dir\" \"d\" {\n  path = \"mirror\"\n}\n",
		inspect: func(t *testing.T) (map[string][]byte, []string) {
			return walkObjects(t, root, func(rel string) bool { return dirTempRE.MatchString(rel) })
		},
	}
}

// webdavDest stores under prefix (a fresh directory per trial) on dav.
// extra is added to the block (e.g. credentials).
func webdavDest(dav *testenv.WebDAV, baseURL, prefix, extra string) dest {
	return dest{
		kind: "http",
		hcl:  fmt.Sprintf("destination \"http\" \"d\" {\n  url = %q\n%s}\n", strings.TrimSuffix(baseURL, "/")+"/"+prefix, extra),
		inspect: func(t *testing.T) (map[string][]byte, []string) {
			// nginx keeps request bodies in its own temp directory, outside
			// Root: nothing but complete objects may appear here.
			return walkObjects(t, filepath.Join(dav.Root, prefix), func(string) bool { return false })
		},
	}
}

func walkObjects(t *testing.T, root string, allowed func(rel string) bool) (map[string][]byte, []string) {
	t.Helper()
	objs := map[string][]byte{}
	var problems []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if allowed(rel) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", rel, err))
			return nil
		}
		objs[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs, problems
}

// ociDest stores in repository repo of reg; registry is where ferry is
// pointed (the registry itself or a proxy in front of it). inspect reads
// the registry directly.
func ociDest(reg *testenv.Registry, registry, repo string, keys []string) dest {
	return dest{
		kind: "oci",
		hcl:  fmt.Sprintf("destination \"oci\" \"d\" {\n  registry   = %q\n  repository = %q\n  plain_http = true\n}\n", registry, repo),
		inspect: func(t *testing.T) (map[string][]byte, []string) {
			t.Helper()
			byTag := map[string]string{}
			for _, k := range keys {
				byTag[oci.Tag(k)] = k
			}
			objs := map[string][]byte{}
			var problems []string
			var list struct{ Tags []string }
			if code := getJSON(t, reg.URL+"/v2/"+repo+"/tags/list", "", &list); code == http.StatusNotFound {
				return objs, nil // the repository does not exist yet
			} else if code != http.StatusOK {
				t.Fatalf("tags/list: status %d", code)
			}
			for _, tag := range list.Tags {
				key, ok := byTag[tag]
				if !ok {
					problems = append(problems, "unexpected tag "+tag)
					continue
				}
				var m struct {
					Layers []struct{ Digest string }
				}
				if code := getJSON(t, reg.URL+"/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", &m); code != http.StatusOK || len(m.Layers) != 1 {
					problems = append(problems, fmt.Sprintf("tag %s: manifest status %d, %d layers", tag, code, len(m.Layers)))
					continue
				}
				b, code := getBytes(t, reg.URL+"/v2/"+repo+"/blobs/"+m.Layers[0].Digest)
				if code != http.StatusOK {
					problems = append(problems, fmt.Sprintf("tag %s points at blob %s, which answers %d", tag, m.Layers[0].Digest, code))
					continue
				}
				objs[key] = b
			}
			return objs, problems
		},
	}
}

func getJSON(t *testing.T, url, accept string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

func getBytes(t *testing.T, url string) ([]byte, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return b, resp.StatusCode
}

// checkVisible fails the test for every visible object that is not exactly
// an expected blob, and for every problem; it returns the keys visible.
func checkVisible(t *testing.T, d dest, b blobSet) []string {
	t.Helper()
	objs, problems := d.inspect(t)
	for _, p := range problems {
		t.Errorf("%s destination: %s", d.kind, p)
	}
	var keys []string
	for k, got := range objs {
		want, ok := b.data[k]
		switch {
		case !ok:
			t.Errorf("%s destination: unexpected object %s (%d bytes)", d.kind, k, len(got))
		case len(got) != len(want):
			t.Errorf("%s destination: partial object %s visible: %d of %d bytes", d.kind, k, len(got), len(want))
		case string(got) != string(want):
			t.Errorf("%s destination: corrupt object %s visible", d.kind, k)
		default:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// readStateFile parses the state with the state package; it returns nil
// when there is no state file.
func readStateFile(t *testing.T, path string) *state.State {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	st, err := state.Read(path)
	if err != nil {
		t.Fatalf("state does not parse: %v", err)
	}
	return st
}

// stateArtifacts are the keys mirror m records, sorted.
func stateArtifacts(st *state.State) []string {
	if st == nil || st.Mirrors["m"] == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(st.Mirrors["m"].Artifacts))
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

func envUint64(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an unsigned integer", name, v)
	}
	return n
}
