// Package doccache keeps index documents (npm packuments) on disk between
// commands, with the validator (ETag) the server sent, so the next read can
// be a conditional request, or, when a changes feed vouches for it, no
// request at all.
//
// The cache is an optimisation only. Every entry carries the SHA-256 of its
// body; an entry that does not match, cannot be read or has the wrong URL is
// a miss, never an error. Writes are atomic (temporary file, rename), so
// concurrent commands sharing a cache see whole entries or none.
package doccache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Entry is one cached document.
type Entry struct {
	// URL identifies the document (the request URL, credentials never in it).
	URL string `json:"url"`
	// ETag is the validator the server sent with Body, verbatim ("" if none).
	ETag string `json:"etag,omitempty"`
	// SHA256 is the hex digest of Body; Get checks it.
	SHA256 string `json:"sha256"`
	// Body is the document as the server sent it.
	Body []byte `json:"-"`
}

// Store is a directory of entries, one file per URL. A nil *Store is a
// cache that never hits and never stores.
type Store struct {
	dir string
}

// Open returns the store in dir, creating it if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("document cache: %w", err)
	}
	return &Store{dir: dir}, nil
}

// path is the file of url: its SHA-256, so names are safe and fixed-length.
func (s *Store) path(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:])+".doc")
}

// Get returns the entry for url; ok is false on a miss (absent, unreadable,
// another URL's, or a body that does not match its digest).
func (s *Store) Get(url string) (e Entry, ok bool) {
	if s == nil {
		return Entry{}, false
	}
	data, err := os.ReadFile(s.path(url))
	if err != nil {
		return Entry{}, false
	}
	// A file is one JSON header line, then the body bytes.
	header, body, found := bytes.Cut(data, []byte("\n"))
	if !found || json.Unmarshal(header, &e) != nil || e.URL != url {
		return Entry{}, false
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != e.SHA256 {
		return Entry{}, false
	}
	e.Body = body
	return e, true
}

// Put stores body under url with its validator. It returns the stored
// entry (its SHA256 filled in).
func (s *Store) Put(url, etag string, body []byte) (Entry, error) {
	sum := sha256.Sum256(body)
	e := Entry{URL: url, ETag: etag, SHA256: hex.EncodeToString(sum[:]), Body: body}
	if s == nil {
		return e, nil
	}
	header, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	err = writeAtomic(s.path(url), func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.Write(header)
		bw.WriteByte('\n')
		bw.Write(body)
		return bw.Flush()
	})
	if err != nil {
		return e, fmt.Errorf("document cache: %w", err)
	}
	return e, nil
}

// ReadJSON decodes the JSON file name (a bare file name) in the store's
// directory into v. A missing file is reported with fs.ErrNotExist.
func (s *Store) ReadJSON(name string, v any) error {
	if s == nil {
		return os.ErrNotExist
	}
	data, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// WriteJSON writes v as the JSON file name in the store's directory,
// atomically.
func (s *Store) WriteJSON(name string, v any) error {
	if s == nil {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.dir, name), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic writes path through a temporary file renamed into place. It
// does not fsync: a cache entry lost to a power cut is a miss.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
