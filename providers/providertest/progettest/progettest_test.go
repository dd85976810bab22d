package progettest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDocumentedReplies: the server answers as the Inedo pages it follows
// say (each case names its page under Content/proget/api/).
func TestDocumentedReplies(t *testing.T) {
	const key, readKey = "full-key", "read-key"
	s := Start(t, Options{APIKey: key, ReadKey: readKey, DeletesPerHour: 1})
	s.AddPackage(t, "u", BuildPackage(t, Manifest{Group: "g/h", Name: "app", Version: "1.0.0"}, nil))
	s.AddPackage(t, "u", BuildPackage(t, Manifest{Name: "app", Version: "2.0.0-rc.1"}, nil))
	s.PutAsset("d", "a/b/c.txt", []byte("c"))
	s.PutAsset("d", "top.txt", []byte("t"))
	tests := []struct {
		name, method, path, key, body string
		status                        int
		contains                      string
	}{
		{name: "packages/#.md: no key is 403", method: "GET", path: "/api/packages/u/latest", status: 403},
		{name: "packages/#.md: a read key may list", method: "GET", path: "/api/packages/u/latest", key: readKey, status: 200, contains: `"group":"g/h"`},
		{name: "packages/#.md: the key as a query parameter", method: "GET", path: "/api/packages/u/latest?key=" + key, status: 200},
		{name: "list-versions.md: hashes", method: "GET", path: "/api/packages/u/versions?group=g/h&name=app", key: key, status: 200, contains: `"sha256":"`},
		{name: "list-versions.md: an unknown package is an empty object", method: "GET", path: "/api/packages/u/versions?name=nope", key: key, status: 200, contains: "{}"},
		{name: "download.md: unknown is 404", method: "GET", path: "/api/packages/u/download?name=app&version=9.9.9", key: key, status: 404},
		{name: "upload.md: not a zip is refused", method: "PUT", path: "/api/packages/u/upload", key: key, body: "nope", status: 400, contains: "Central Directory"},
		{name: "upload.md: a read key may not upload", method: "PUT", path: "/api/packages/u/upload", key: readKey, body: "x", status: 403},
		{name: "assets/#.md: no key is 401", method: "GET", path: "/endpoints/d/dir/", status: 401},
		{name: "folders/list.md: not recursive lists the folder only", method: "GET", path: "/endpoints/d/dir/", key: key, status: 200, contains: `[{"name":"a","type":"dir"},{"content":`},
		{name: "folders/list.md: recursive reaches every file", method: "GET", path: "/endpoints/d/dir/?recursive=true", key: key, status: 200, contains: `"name":"c.txt","parent":"a/b"`},
		{name: "folders/list.md: a missing folder is an empty array", method: "GET", path: "/endpoints/d/dir/nope?recursive=true", key: key, status: 200, contains: "[]"},
		{name: "metadata/get.md: hashes", method: "GET", path: "/endpoints/d/metadata/a/b/c.txt", key: key, status: 200, contains: `"sha1":"84a516841ba77a5b4648de2cd0dfcb30ea46dbb4"`},
		{name: "upload/#.md: PUT over a file is refused (409: our reading)", method: "PUT", path: "/endpoints/d/content/top.txt", key: key, body: "x", status: 409},
		{name: "upload/#.md: PATCH of a missing file is refused", method: "PATCH", path: "/endpoints/d/content/new.txt", key: key, body: "x", status: 404},
		{name: "upload/#.md: POST creates, folders too", method: "POST", path: "/endpoints/d/content/x/y/new.txt", key: key, body: "x", status: 201},
		{name: "upload/#.md: a read key may not write", method: "POST", path: "/endpoints/d/content/z.txt", key: readKey, body: "x", status: 403},
		{name: "multipart.md: complete without the parts", method: "POST", path: "/endpoints/d/content/m.bin?multipart=complete&id=1", key: key, status: 400},
		{name: "files/delete.md: a missing file is not an error", method: "DELETE", path: "/endpoints/d/content/nope.txt", key: key, status: 200},
		{name: "license.md: the first delete of the hour", method: "POST", path: "/api/packages/u/delete?name=app&version=2.0.0-rc.1", key: key, status: 200},
		{name: "license.md: the quota is used up", method: "DELETE", path: "/endpoints/d/content/top.txt", key: key, status: 429, contains: "deletes per hour"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.key != "" {
				req.Header.Set("X-ApiKey", tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.contains) {
				t.Errorf("%s %s: %d %s; want %d containing %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.contains)
			}
		})
	}
}

// TestMultipart: parts stay invisible until complete, then the file is
// their concatenation.
func TestMultipart(t *testing.T) {
	s := Start(t, Options{Now: func() time.Time { return time.Unix(0, 0) }})
	post := func(q, body string) int {
		resp, err := http.Post(s.URL+"/endpoints/d/content/big.bin?"+q, "application/octet-stream", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("multipart=upload&id=x&index=1&offset=3&totalSize=5&partSize=2&totalParts=2", "de"); c != 200 {
		t.Fatalf("part 1: %d", c)
	}
	if _, ok := s.Asset("d", "big.bin"); ok || s.PendingUploads() != 1 {
		t.Fatal("a part is visible before complete")
	}
	if c := post("multipart=complete&id=x", ""); c != 400 {
		t.Fatalf("complete without part 0: %d, want 400", c)
	}
	if c := post("multipart=upload&id=x&index=0&offset=0&totalSize=5&partSize=3&totalParts=2", "abc"); c != 200 {
		t.Fatalf("part 0: %d", c)
	}
	if c := post("multipart=complete&id=x", ""); c != 200 {
		t.Fatalf("complete: %d", c)
	}
	if got, _ := s.Asset("d", "big.bin"); string(got) != "abcde" {
		t.Fatalf("assembled %q", got)
	}
}
