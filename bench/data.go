package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// file is one generated upstream file.
type file struct {
	Name   string // base name, also the artifact key and the peers' tag
	SHA256 string
	Size   int64
}

// genFiles writes n files of about size bytes each into dir: gzip streams
// (stored blocks) of pseudo-random bytes, so they are incompressible like
// real .tar.gz artifacts, and crane can push them as layers unchanged.
// Existing files with a matching list are reused.
func genFiles(dir, prefix string, n int, size int64, seed uint64) ([]file, error) {
	listPath := dir + ".list"
	if fs, err := readList(listPath); err == nil && len(fs) == n {
		return fs, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'f', 'e', 'r', 'r', 'y'}))
	buf := make([]byte, 1<<20)
	var files []file
	for i := range n {
		name := fmt.Sprintf("%s-%05d.gz", prefix, i+1)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		cw := &countW{}
		bw := bufio.NewWriterSize(io.MultiWriter(f, h, cw), 1<<20)
		zw, _ := gzip.NewWriterLevel(bw, gzip.NoCompression)
		// Stored blocks cost 5 bytes per 64 KiB, plus 18 bytes of gzip
		// framing: aim the payload so the file is close to size.
		payload := size - 18 - 5*(size/65535+1)
		for left := payload; left > 0; {
			k := min(left, int64(len(buf)))
			for j := 0; j < len(buf); j += 8 {
				binary.LittleEndian.PutUint64(buf[j:], rng.Uint64())
			}
			if _, err := zw.Write(buf[:k]); err != nil {
				return nil, err
			}
			left -= k
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if err := bw.Flush(); err != nil {
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		files = append(files, file{Name: name, SHA256: hex.EncodeToString(h.Sum(nil)), Size: cw.n})
	}
	return files, writeList(listPath, files)
}

type countW struct{ n int64 }

func (c *countW) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func writeList(path string, files []file) error {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "%s %s %d\n", f.Name, f.SHA256, f.Size)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func readList(path string) ([]file, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var files []file
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var f file
		if _, err := fmt.Sscanf(l, "%s %s %d", &f.Name, &f.SHA256, &f.Size); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func totalSize(files []file) int64 {
	var n int64
	for _, f := range files {
		n += f.Size
	}
	return n
}

// warm reads every file once so all contenders start with a warm page cache.
func warm(dir string, files []file) error {
	for _, f := range files {
		r, err := os.Open(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, r)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ferryArtifact is one artifact block of a generated configuration.
type ferryArtifact struct {
	Name, Key, URL, SHA256 string
	Size                   int64
}

// writeFerryConfig writes DIR/main.ferry.hcl: one http source with the
// artifacts, one oci destination, one mirror.
func writeFerryConfig(dir, regHost, repo string, arts []ferryArtifact) (int64, error) {
	dest := fmt.Sprintf("destination \"oci\" \"reg\" {\n  registry      = %q\n  repository    = %q\n  plain_http    = true\n  docker_config = false\n}\n", regHost, repo)
	return writeFerryConfigTo(dir, arts, dest, "destination.oci.reg")
}

// writeFerryConfigTo writes DIR/main.ferry.hcl: one http source with the
// artifacts, the destination block dest (addressed as destAddr), one
// mirror.
func writeFerryConfigTo(dir string, arts []ferryArtifact, dest, destAddr string) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(filepath.Join(dir, "main.ferry.hcl"))
	if err != nil {
		return 0, err
	}
	cw := &countW{}
	w := bufio.NewWriterSize(io.MultiWriter(f, cw), 1<<20)
	fmt.Fprintf(w, "ferry {\n  state = \"ferry.state.json\"\n}\n\nsource \"http\" \"up\" {\n")
	for _, a := range arts {
		fmt.Fprintf(w, "  artifact %q {\n    url    = %q\n    sha256 = %q\n    size   = %d\n    key    = %q\n  }\n",
			a.Name, a.URL, a.SHA256, a.Size, a.Key)
	}
	fmt.Fprintf(w, "}\n\n%s\n", dest)
	fmt.Fprintf(w, "mirror \"m\" {\n  from = source.http.up\n  to   = %s\n}\n", destAddr)
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return cw.n, f.Close()
}

func artifactsFor(files []file, base string) []ferryArtifact {
	arts := make([]ferryArtifact, len(files))
	for i, f := range files {
		arts[i] = ferryArtifact{Name: strings.TrimSuffix(f.Name, ".gz"), Key: f.Name, URL: base + "/" + f.Name, SHA256: f.SHA256, Size: f.Size}
	}
	return arts
}
