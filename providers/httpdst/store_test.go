package httpdst_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-mirror/ferry/providers"
	"github.com/ferry-mirror/ferry/providers/httpdst"
	"github.com/ferry-mirror/ferry/providers/httpx"
	"github.com/ferry-mirror/ferry/providers/providertest"
	"github.com/ferry-mirror/ferry/providers/providertest/testenv"
	"github.com/ferry-mirror/ferry/providers/registry"
)

func newStore(t *testing.T, dav *testenv.WebDAV, cfg httpdst.DestinationConfig) *httpdst.Store {
	t.Helper()
	cfg.URL = strings.TrimSuffix(dav.URL, "/") + "/repo"
	client := httpx.New(httpx.Options{MaxRetries: 1})
	s, err := httpdst.NewDestination("http.test", &cfg, registry.Env{HTTP: client, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The conformance suite against a real nginx WebDAV server, without and with
// basic auth, built from an HCL block through the registry.
func TestConformanceWebDAV(t *testing.T) {
	for _, auth := range []bool{false, true} {
		name := "anonymous"
		if auth {
			name = "basic auth"
		}
		t.Run(name, func(t *testing.T) {
			providertest.Run(t, providertest.Harness{
				New: func(t *testing.T) providers.Destination {
					dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{Auth: auth})
					src := fmt.Sprintf("destination \"http\" \"test\" {\n  url = %q\n  checksum_headers = true\n", strings.TrimSuffix(dav.URL, "/")+"/repo")
					if auth {
						src += fmt.Sprintf("  username = %q\n  password = %q\n", dav.Username, dav.Password)
					}
					return providertest.NewDestination(t, src+"}", t.TempDir(), registry.Env{HTTP: httpx.New(httpx.Options{MaxRetries: 1}), Logger: hclog.NewNullLogger()})
				},
			})
		})
	}
}

func TestAuthFailureIsClearAndSecretFree(t *testing.T) {
	dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{Auth: true})
	const wrong = "n0t-the-passw0rd"
	s := newStore(t, dav, httpdst.DestinationConfig{Username: dav.Username, Password: wrong})
	body := []byte("payload")
	sum := sha256.Sum256(body)
	a := providers.Artifact{Key: "x/y.bin", Size: int64(len(body)), Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])})}
	err := s.Put(context.Background(), a, strings.NewReader(string(body)), providers.PutOptions{})
	if err == nil {
		t.Fatal("Put with a wrong password succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "authentication or authorization failed") || !strings.Contains(msg, strings.TrimPrefix(strings.TrimSuffix(dav.URL, "/"), "http://")) {
		t.Errorf("error does not say auth failed for the server: %s", msg)
	}
	if strings.Contains(msg, wrong) || strings.Contains(msg, dav.Password) {
		t.Errorf("error contains a password: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(dav.Root, "repo/x/y.bin")); !os.IsNotExist(err) {
		t.Errorf("an unauthenticated put landed (err=%v)", err)
	}
}

// A body whose length matches but whose digest does not must never be stored:
// the chunked upload is aborted before its last chunk.
func TestSameSizeWrongBytesNeverLand(t *testing.T) {
	dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{})
	s := newStore(t, dav, httpdst.DestinationConfig{})
	good, evil := []byte("the expected bytes"), []byte("the attacker bytes")
	sum := sha256.Sum256(good)
	a := providers.Artifact{Key: "k/file.bin", Size: int64(len(good)), Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])})}
	err := s.Put(context.Background(), a, strings.NewReader(string(evil)), providers.PutOptions{})
	if !errors.Is(err, providers.ErrDigestMismatch) {
		t.Fatalf("Put error = %v; want ErrDigestMismatch", err)
	}
	if _, err := os.Stat(filepath.Join(dav.Root, "repo/k/file.bin")); !os.IsNotExist(err) {
		t.Fatalf("wrong bytes landed on the server (err=%v)", err)
	}
	// And the consumer URL serves exactly what was put.
	if err := s.Put(context.Background(), a, strings.NewReader(string(good)), providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := s.URL(a)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != string(good) {
		t.Fatalf("GET %s = %q; want %q", u, got, good)
	}
}

// Fetch reads an object back with the destination's credentials (what a
// conda channel index is read with); a missing one is ErrNotFound.
func TestFetchReadsBack(t *testing.T) {
	dav := testenv.StartWebDAV(t, testenv.WebDAVOptions{Auth: true})
	s := newStore(t, dav, httpdst.DestinationConfig{Username: dav.Username, Password: dav.Password})
	body := []byte(`{"packages": {}}`)
	sum := sha256.Sum256(body)
	a := providers.Artifact{Key: "noarch/repodata.json", Size: int64(len(body)), Digests: providers.NewDigests(providers.Digest{Algorithm: providers.SHA256, Hex: hex.EncodeToString(sum[:])})}
	if err := s.Put(context.Background(), a, strings.NewReader(string(body)), providers.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Fetch(context.Background(), providers.Artifact{Key: a.Key, Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != string(body) {
		t.Fatalf("Fetch = %q, %v", got, err)
	}
	if _, err := s.Fetch(context.Background(), providers.Artifact{Key: "noarch/absent.json"}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("Fetch of a missing object: %v", err)
	}
}
