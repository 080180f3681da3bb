package urllist_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/urllist"
)

func TestKeyOf(t *testing.T) {
	cases := []struct {
		url, key, hostKey string
	}{
		{"https://cdn.example.com/img/a.jpg", "img/a.jpg", "cdn.example.com/img/a.jpg"},
		{"https://cdn.example.com/img/a%20b.jpg?x=1#frag", "img/a b.jpg", "cdn.example.com/img/a b.jpg"},
		{"http://Example.com:8080/", "index.html", "example.com:8080/index.html"},
		{"https://example.com:443", "index.html", "example.com/index.html"},
		{"https://example.com/docs/", "docs/index.html", "example.com/docs/index.html"},
		{"https://example.com/a/./b/../c", "a/c", "example.com/a/c"},
		{"https://example.com/../../etc/passwd", "etc/passwd", "example.com/etc/passwd"},
		{"https://example.com/a//b", "a//b", "example.com/a//b"},
		{"https://example.com/%E6%97%A5%E6%9C%AC.txt", "日本.txt", "example.com/日本.txt"},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := urllist.KeyOf(u, false); err != nil || got != c.key {
			t.Errorf("KeyOf(%s) = %q, %v; want %q", c.url, got, err, c.key)
		}
		if got, err := urllist.KeyOf(u, true); err != nil || got != c.hostKey {
			t.Errorf("KeyOf(%s, host) = %q, %v; want %q", c.url, got, err, c.hostKey)
		}
	}
	for _, bad := range []string{"ftp://example.com/a", "/just/a/path", "https:///nohost"} {
		u, _ := url.Parse(bad)
		if _, err := urllist.KeyOf(u, false); err == nil {
			t.Errorf("KeyOf(%s) accepted", bad)
		}
	}
}

func writeManifest(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t *testing.T, manifest string) *urllist.Store {
	t.Helper()
	s, err := urllist.New(urllist.Config{Manifest: manifest})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// files serves named bodies, a redirect, and counts requests.
func files(t *testing.T, bodies map[string][]byte) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/a.txt", http.StatusFound)
			return
		case "/denied":
			http.Error(w, "no", http.StatusForbidden)
			return
		case "/busy":
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodHead && r.URL.Query().Has("nohead") {
			http.Error(w, "no HEAD here", http.StatusMethodNotAllowed)
			return
		}
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		http.ServeContent(w, r, r.URL.Path, time.Unix(1700000000, 0), bytes.NewReader(b))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestManifestAndObjects(t *testing.T) {
	a := []byte("hello, world")
	big := bytes.Repeat([]byte("0123456789"), 10000)
	srv := files(t, map[string][]byte{"/a.txt": a, "/dir/big.bin": big})
	sum := md5.Sum(a)
	manifest := writeManifest(t, "list.csv", fmt.Sprintf("url,size,md5\n%s/a.txt,%d,%x\n%s/dir/big.bin,,\n%s/moved\n%s/missing\n%s/denied\n%s/busy,5,%s\n",
		srv.URL, len(a), sum, srv.URL, srv.URL, srv.URL, srv.URL, srv.URL, base64.StdEncoding.EncodeToString(sum[:])))
	s := open(t, manifest)
	ctx := ctxOf(t)

	page, err := s.List(ctx, storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	sizes := map[string]int64{}
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
		sizes[o.Key] = o.Size
	}
	if want := "a.txt busy denied dir/big.bin missing moved"; strings.Join(keys, " ") != want || !page.Done {
		t.Fatalf("List = %q (done %v), want %q", keys, page.Done, want)
	}
	// The size of a URL the manifest leaves out comes from a HEAD; the
	// redirect is followed.
	if sizes["dir/big.bin"] != int64(len(big)) || sizes["moved"] != int64(len(a)) || sizes["missing"] != 0 {
		t.Errorf("listed sizes %v", sizes)
	}
	page, err = s.List(ctx, storage.ListOptions{After: "a.txt", Before: "dir/big.bin", MaxKeys: 1})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != "busy" || page.Done {
		t.Errorf("List(after a.txt, before dir/big.bin, 1) = %+v, %v", page, err)
	}
	page, err = s.List(ctx, storage.ListOptions{Prefix: "dir/"})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != "dir/big.bin" {
		t.Errorf("List(prefix dir/) = %+v, %v", page, err)
	}

	// A whole GET reports the manifest's MD5; a ranged one reads the range.
	rc, info, err := s.Get(ctx, "a.txt", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, a) || info.Size != int64(len(a)) || info.Meta.ContentType != "text/plain" {
		t.Errorf("Get a.txt = %q, %+v", got, info)
	}
	if v, ok := info.Sum(storage.MD5); !ok || v != fmt.Sprintf("%x", sum) {
		t.Errorf("Get a.txt MD5 %q %v", v, ok)
	}
	rc, info, err = s.Get(ctx, "dir/big.bin", storage.Range{Offset: 5, Length: 10})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rc)
	rc.Close()
	if string(got) != "5678901234" || info.Size != int64(len(big)) {
		t.Errorf("ranged Get = %q, size %d", got, info.Size)
	}
	rc, _, err = s.Get(ctx, "moved", storage.Range{})
	if err != nil {
		t.Fatalf("Get through a redirect: %v", err)
	}
	got, _ = io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, a) {
		t.Errorf("redirected Get = %q", got)
	}

	// Failures carry the HTTP status and a kind by behaviour.
	for key, want := range map[string]storage.Kind{"missing": storage.KindNotFound, "denied": storage.KindForbidden,
		"busy": storage.KindThrottled, "nokey": storage.KindNotFound} {
		_, _, err := s.Get(ctx, key, storage.Range{})
		if storage.KindOf(err) != want {
			t.Errorf("Get %s: %v, want kind %v", key, err, want)
		}
		if key != "nokey" && !strings.Contains(err.Error(), "HTTP ") {
			t.Errorf("Get %s: %v does not say the HTTP status", key, err)
		}
	}
	if storage.IsFatal(func() error { _, _, err := s.Get(ctx, "denied", storage.Range{}); return err }()) {
		t.Error("a 403 of one URL is fatal for the whole list")
	}

	// Read-only.
	if _, err := s.Put(ctx, "x", bytes.NewReader(nil), 0, storage.Metadata{}); storage.KindOf(err) != storage.KindInvalid {
		t.Errorf("Put: %v", err)
	}
}

// A server that refuses HEAD is asked for one byte instead.
func TestNoHead(t *testing.T) {
	body := bytes.Repeat([]byte("z"), 5000)
	srv := files(t, map[string][]byte{"/z.bin": body})
	s := open(t, writeManifest(t, "m.txt", srv.URL+"/z.bin?nohead\n"))
	page, err := s.List(ctxOf(t), storage.ListOptions{})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Size != 5000 {
		t.Fatalf("List = %+v, %v", page, err)
	}
	h, err := s.Head(ctxOf(t), "z.bin")
	if err != nil || h.Size != 5000 {
		t.Errorf("Head = %+v, %v", h, err)
	}
}

func TestSizeMismatch(t *testing.T) {
	srv := files(t, map[string][]byte{"/a.txt": []byte("abc")})
	s := open(t, writeManifest(t, "m.csv", srv.URL+"/a.txt,4\n"))
	_, _, err := s.Get(ctxOf(t), "a.txt", storage.Range{})
	if storage.KindOf(err) != storage.KindInvalid || !strings.Contains(err.Error(), "manifest") {
		t.Errorf("Get of a URL whose size differs from the manifest's: %v", err)
	}
}

func TestBadManifests(t *testing.T) {
	cases := map[string]string{
		"dup.txt":      "https://a.example/x\nhttps://b.example/x\n",
		"scheme.txt":   "ftp://a.example/x\n",
		"size.csv":     "https://a.example/x,big\n",
		"md5.csv":      "https://a.example/x,1,nothex\n",
		"fields.csv":   "https://a.example/x,1,00112233445566778899aabbccddeeff,extra\n",
		"relative.txt": "just/a/path\n",
	}
	for name, text := range cases {
		s := open(t, writeManifest(t, name, text))
		_, err := s.List(ctxOf(t), storage.ListOptions{})
		if storage.KindOf(err) != storage.KindInvalid || !strings.Contains(err.Error(), "line") {
			t.Errorf("%s: List = %v, want an invalid error naming the line", name, err)
		}
	}
	// includeHost keeps the same path of two hosts apart.
	srv := files(t, map[string][]byte{"/x": []byte("x")})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	two := fmt.Sprintf("http://127.0.0.1:%d/x\nhttp://localhost:%d/x\n", port, port)
	s, err := urllist.New(urllist.Config{Manifest: writeManifest(t, "hosts.txt", two), IncludeHost: true})
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctxOf(t), storage.ListOptions{})
	if err != nil || len(page.Objects) != 2 || page.Objects[0].Key != fmt.Sprintf("127.0.0.1:%d/x", port) || page.Objects[1].Size != 1 {
		t.Errorf("List with includeHost = %+v, %v", page, err)
	}
}

func TestManifestMissing(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "none.txt"))
	if _, err := s.List(ctxOf(t), storage.ListOptions{}); storage.KindOf(err) != storage.KindInvalid {
		t.Errorf("List of a missing manifest: %v", err)
	}
	if _, err := urllist.New(urllist.Config{}); err == nil {
		t.Error("New without a manifest succeeded")
	}
}

func TestManifestOverHTTP(t *testing.T) {
	srv := files(t, map[string][]byte{"/a.txt": []byte("abc")})
	srv2 := files(t, map[string][]byte{"/list.txt": []byte("# a comment\n\n" + srv.URL + "/a.txt\n")})
	s := open(t, srv2.URL+"/list.txt")
	page, err := s.List(ctxOf(t), storage.ListOptions{})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Size != 3 {
		t.Errorf("List of a manifest over HTTP = %+v, %v", page, err)
	}
}
