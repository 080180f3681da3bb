package oss

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/storagetest"
)

const (
	testAK     = "LTAItestkey"
	testSecret = "test-secret-value"
)

// testServer is an emulator OSS front end on loopback.
type testServer struct {
	backend *emulator.Backend
	fe      *emulator.OSSFrontEnd
	srv     *httptest.Server
	buckets atomic.Int64

	mu sync.Mutex
	// intercept, when set, may answer a request itself (return true) or
	// change the answer's headers through the returned writer.
	intercept func(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool)
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	b, err := emulator.NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{backend: b, fe: &emulator.OSSFrontEnd{Backend: b, Credentials: map[string]string{testAK: testSecret}}}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		icpt := ts.intercept
		ts.mu.Unlock()
		if icpt != nil {
			var done bool
			if w, done = icpt(w, r); done {
				return
			}
		}
		ts.fe.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *testServer) setIntercept(f func(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.intercept = f
}

func (ts *testServer) config(bucket string, authVersion int) Config {
	return Config{Endpoint: ts.srv.URL, Bucket: bucket, AccessKeyID: testAK, AccessKeySecret: testSecret,
		Region: "cn-hangzhou", AuthVersion: authVersion, ConnectTimeout: 5 * time.Second, ReadWriteTimeout: 20 * time.Second}
}

func (ts *testServer) freshBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("bucket-%d", ts.buckets.Add(1))
	if err := ts.backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	return name
}

func (ts *testServer) store(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, v := range []int{1, 4} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			ts := newTestServer(t)
			existing := ts.freshBucket(t)
			storagetest.Run(t, storagetest.Harness{
				New: func(t *testing.T) storage.Store { return ts.store(t, ts.config(ts.freshBucket(t), v)) },
				WrongCredentials: func(t *testing.T) storage.Store {
					cfg := ts.config(existing, v)
					cfg.AccessKeySecret = "not-the-secret"
					return ts.store(t, cfg)
				},
				MissingBucket: func(t *testing.T) storage.Store { return ts.store(t, ts.config("no-such-bucket", v)) },
			})
		})
	}
}

func TestConfigValidation(t *testing.T) {
	good := Config{Endpoint: "oss-cn-hangzhou.aliyuncs.com", Bucket: "my-bucket", AccessKeyID: "ak", AccessKeySecret: "sk"}
	if _, err := New(good); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		mutate func(*Config)
		field  string
	}{
		{func(c *Config) { c.Endpoint = "" }, "Endpoint"},
		{func(c *Config) { c.UseInternal = true }, "InternalEndpoint"},
		{func(c *Config) { c.Bucket = "" }, "Bucket"},
		{func(c *Config) { c.Bucket = "Bad_Bucket" }, "Bucket"},
		{func(c *Config) { c.AccessKeyID = "" }, "AccessKeyID"},
		{func(c *Config) { c.AccessKeySecret = "" }, "AccessKeySecret"},
		{func(c *Config) { c.AuthVersion = 2 }, "AuthVersion"},
		{func(c *Config) { c.AuthVersion = 4 }, "Region"},
		{func(c *Config) { c.ConnectTimeout = -time.Second }, "ConnectTimeout"},
		{func(c *Config) { c.ReadWriteTimeout = -time.Second }, "ReadWriteTimeout"},
		{func(c *Config) { c.MaxIdleConnsPerHost = -1 }, "MaxIdleConnsPerHost"},
	}
	for _, c := range cases {
		cfg := good
		c.mutate(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("config with bad %s: error %v does not name the field", c.field, err)
		}
	}
	internal := good
	internal.UseInternal, internal.InternalEndpoint = true, "https://oss-cn-hangzhou-internal.aliyuncs.com"
	if got := internal.endpoint(); got != "https://oss-cn-hangzhou-internal.aliyuncs.com" {
		t.Errorf("internal endpoint = %q", got)
	}
	if got := good.endpoint(); got != "https://oss-cn-hangzhou.aliyuncs.com" {
		t.Errorf("endpoint without a scheme = %q, want https", got)
	}
	s, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "oss://my-bucket" {
		t.Errorf("Name = %q", s.Name())
	}
	if l := s.Limits(); l.MinPartSize != 100<<10 || l.MaxPartSize != 5<<30 || l.MaxParts != 10000 ||
		l.MaxPutSize != 5<<30 || l.MaxUserMetadata != 8<<10 {
		t.Errorf("Limits = %+v", l)
	}
}

func requireKind(t *testing.T, what string, err error, want storage.Kind) *storage.Error {
	t.Helper()
	var se *storage.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: %v (%T) is not a *storage.Error", what, err, err)
	}
	if se.Kind != want {
		t.Fatalf("%s: kind %v (%v), want %v", what, se.Kind, err, want)
	}
	if se.Store == "" || se.Op == "" {
		t.Errorf("%s: error %+v lacks store or op", what, se)
	}
	return se
}

func TestGzipEncodedObjectIsNotDecompressed(t *testing.T) {
	ts := newTestServer(t)
	s := ts.store(t, ts.config(ts.freshBucket(t), 1))
	ctx := context.Background()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("compressible "), 1000))
	zw.Close()
	data := buf.Bytes()
	if _, err := s.Put(ctx, "page.html.gz", bytes.NewReader(data), int64(len(data)),
		storage.Metadata{ContentType: "text/html", ContentEncoding: "gzip"}); err != nil {
		t.Fatal(err)
	}
	rc, info, err := s.Get(ctx, "page.html.gz", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) || info.Meta.ContentEncoding != "gzip" || info.Size != int64(len(data)) {
		t.Fatalf("got %d bytes (want the %d stored), encoding %q", len(got), len(data), info.Meta.ContentEncoding)
	}
}

func TestCorruptDownloadIsDetected(t *testing.T) {
	ts := newTestServer(t)
	bucket := ts.freshBucket(t)
	s := ts.store(t, ts.config(bucket, 1))
	ctx := context.Background()
	data := []byte(strings.Repeat("payload ", 500))
	if _, err := s.Put(ctx, "k", bytes.NewReader(data), int64(len(data)), storage.Metadata{}); err != nil {
		t.Fatal(err)
	}
	// The stored checksum no longer matches the body, as after bit rot or a
	// damaged transfer.
	if err := ts.backend.UpdateObject(bucket, "k", func(o *emulator.Object) { o.CRC64 ^= 1 }); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Get(ctx, "k", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	requireKind(t, "reading a corrupt object", err, storage.KindCorrupt)

	// A ranged read cannot be checked and still works.
	rc, _, err = s.Get(ctx, "k", storage.Range{Offset: 8, Length: 8})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "payload " {
		t.Fatalf("ranged read %q, %v", got, err)
	}
}

// crcWriter replaces the CRC header of an answer.
type crcWriter struct {
	http.ResponseWriter
	wrote bool
}

func (c *crcWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		if c.Header().Get("X-Oss-Hash-Crc64ecma") != "" {
			c.Header().Set("X-Oss-Hash-Crc64ecma", "1")
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *crcWriter) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(p)
}

func TestUploadCRCMismatchIsCorrupt(t *testing.T) {
	ts := newTestServer(t)
	s := ts.store(t, ts.config(ts.freshBucket(t), 4))
	ctx := context.Background()
	id, err := s.InitMultipart(ctx, "mp", storage.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	ts.setIntercept(func(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
		return &crcWriter{ResponseWriter: w}, false
	})
	_, err = s.Put(ctx, "k", strings.NewReader("data"), 4, storage.Metadata{})
	requireKind(t, "Put answered with a wrong CRC", err, storage.KindCorrupt)
	_, err = s.UploadPart(ctx, "mp", id, 1, strings.NewReader("data"), 4)
	requireKind(t, "UploadPart answered with a wrong CRC", err, storage.KindCorrupt)
	ts.setIntercept(nil)

	// Complete checks the object CRC against the parts' combination.
	p1, err := s.UploadPart(ctx, "mp", id, 1, bytes.NewReader(make([]byte, 100<<10)), 100<<10)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.UploadPart(ctx, "mp", id, 2, strings.NewReader("tail"), 4)
	if err != nil {
		t.Fatal(err)
	}
	bad := p2
	bad.CRC64 ^= 1
	_, err = s.CompleteMultipart(ctx, "mp", id, []storage.Part{p1, bad})
	requireKind(t, "Complete whose CRC disagrees with the parts", err, storage.KindCorrupt)
}

func TestErrorKinds(t *testing.T) {
	ts := newTestServer(t)
	bucket := ts.freshBucket(t)
	s := ts.store(t, ts.config(bucket, 1))
	ctx := context.Background()

	big := storage.Metadata{User: map[string]string{"big": strings.Repeat("x", 8<<10)}}
	_, err := s.Put(ctx, "k", strings.NewReader("x"), 1, big)
	requireKind(t, "Put with 8 KiB+ of metadata", err, storage.KindInvalid)
	_, err = s.InitMultipart(ctx, "k", big)
	requireKind(t, "InitMultipart with 8 KiB+ of metadata", err, storage.KindInvalid)
	_, err = s.Put(ctx, strings.Repeat("k", 1024), strings.NewReader("x"), 1, storage.Metadata{})
	se := requireKind(t, "Put of a 1024-byte key", err, storage.KindInvalid)
	if se.Code != "InvalidObjectName" || se.Key == "" {
		t.Errorf("error %+v lacks the provider code or key", se)
	}
	_, err = s.UploadPart(ctx, "k", "id", 10001, strings.NewReader("x"), 1)
	requireKind(t, "UploadPart 10001", err, storage.KindInvalid)
	_, err = s.ListParts(ctx, "k", "no-such-upload")
	requireKind(t, "ListParts of an unknown upload", err, storage.KindNotFound)
	requireKind(t, "Abort of an unknown upload", s.AbortMultipart(ctx, "k", "no-such-upload"), storage.KindNotFound)

	// Archived objects: readable only after a restore.
	if _, err := s.Put(ctx, "cold", strings.NewReader("ice"), 3, storage.Metadata{StorageClass: storage.ClassColdArchive}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Head(ctx, "cold")
	if err != nil {
		t.Fatal(err)
	}
	if info.Meta.StorageClass != storage.ClassColdArchive || info.Restored {
		t.Fatalf("Head of an archived object: class %q restored %v", info.Meta.StorageClass, info.Restored)
	}
	page, err := s.List(ctx, storage.ListOptions{Prefix: "cold"})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Meta.StorageClass != storage.ClassColdArchive {
		t.Fatalf("List of an archived object: %+v, %v", page, err)
	}
	_, _, err = s.Get(ctx, "cold", storage.Range{})
	requireKind(t, "Get of an archived object", err, storage.KindArchived)
	client, err := alioss.New(ts.srv.URL, testAK, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := client.Bucket(bucket)
	if err := b.RestoreObject("cold"); err != nil {
		t.Fatal(err)
	}
	info, err = s.Head(ctx, "cold")
	if err != nil || !info.Restored {
		t.Fatalf("Head after the restore: restored %v, %v", info.Restored, err)
	}
	if page, _ := s.List(ctx, storage.ListOptions{Prefix: "cold"}); len(page.Objects) != 1 || !page.Objects[0].Restored {
		t.Fatalf("List after the restore: %+v", page.Objects)
	}
	rc, _, err := s.Get(ctx, "cold", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()

	// Throttling and server errors.
	ts.setIntercept(func(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
		ts.fe.WriteError(w, r, &emulator.APIError{Status: 503, Code: "SlowDown", Message: "slow down"})
		return w, true
	})
	_, err = s.Head(ctx, "k")
	requireKind(t, "throttled Head", err, storage.KindThrottled)
	_, err = s.List(ctx, storage.ListOptions{})
	requireKind(t, "throttled List", err, storage.KindThrottled)
	ts.setIntercept(func(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
		ts.fe.WriteError(w, r, &emulator.APIError{Status: 500, Code: "InternalError", Message: "oops"})
		return w, true
	})
	_, err = s.Put(ctx, "k", strings.NewReader("x"), 1, storage.Metadata{})
	requireKind(t, "Put answered 500", err, storage.KindTransient)
	ts.setIntercept(nil)

	// Network failures are transient.
	down := ts.config(bucket, 1)
	dead := httptest.NewServer(http.NotFoundHandler())
	down.Endpoint = dead.URL
	dead.Close()
	ds := ts.store(t, down)
	_, err = ds.Head(ctx, "k")
	requireKind(t, "Head with the server down", err, storage.KindTransient)

	// A canceled context is not retryable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Head(cctx, "k")
	if err == nil || storage.IsRetryable(err) {
		t.Fatalf("Head with a canceled context: %v, retryable %v", err, storage.IsRetryable(err))
	}
}

func TestRangeIgnoredByServer(t *testing.T) {
	ts := newTestServer(t)
	s := ts.store(t, ts.config(ts.freshBucket(t), 1))
	ctx := context.Background()
	data := []byte("0123456789abcdefghij")
	if _, err := s.Put(ctx, "k", bytes.NewReader(data), int64(len(data)), storage.Metadata{}); err != nil {
		t.Fatal(err)
	}
	// Old OSS behaviour: a range it does not accept returns the whole
	// object with 200. The store must still hand back just the range.
	ts.setIntercept(func(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
		r.Header.Del("Range")
		return w, false
	})
	for _, rng := range []storage.Range{{Offset: 5, Length: 4}, {Offset: 15}} {
		rc, info, err := s.Get(ctx, "k", rng)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		end := int64(len(data))
		if rng.Length > 0 {
			end = rng.Offset + rng.Length
		}
		if err != nil || string(got) != string(data[rng.Offset:end]) || info.Size != int64(len(data)) {
			t.Fatalf("range %+v: %q, %v, size %d", rng, got, err, info.Size)
		}
	}
}

func TestVirtualHostAndPathStyle(t *testing.T) {
	ts := newTestServer(t)
	bucket := ts.freshBucket(t)
	var mu sync.Mutex
	hosts := map[string]bool{}
	ts.setIntercept(func(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
		mu.Lock()
		hosts[r.Host+" "+strings.SplitN(r.URL.Path, "/", 3)[1]] = true
		mu.Unlock()
		return w, false
	})
	for _, pathStyle := range []bool{false, true} {
		for _, v := range []int{1, 4} {
			cfg := ts.config(bucket, v)
			// A real-looking endpoint reached through the test server as an
			// HTTP proxy, so the Host header is what OSS would see.
			cfg.Endpoint = "http://oss-cn-hangzhou.aliyuncs.com"
			cfg.PathStyle = pathStyle
			proxy, err := url.Parse(ts.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			cfg.proxy = http.ProxyURL(proxy)
			s := ts.store(t, cfg)
			ctx := context.Background()
			key := fmt.Sprintf("dir/style-%v-v%d", pathStyle, v)
			if _, err := s.Put(ctx, key, strings.NewReader("x"), 1, storage.Metadata{}); err != nil {
				t.Fatalf("path style %v, V%d: %v", pathStyle, v, err)
			}
			if _, err := s.Head(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !hosts[bucket+".oss-cn-hangzhou.aliyuncs.com dir"] || !hosts["oss-cn-hangzhou.aliyuncs.com "+bucket] {
		t.Fatalf("requests seen (host first-path-segment): %v", hosts)
	}
	if got := ts.backend.Keys(bucket); len(got) != 4 {
		t.Fatalf("keys %q", got)
	}
}

func TestLargeUploadRejectedCleanly(t *testing.T) {
	ts := newTestServer(t)
	bucket := ts.freshBucket(t)
	cfg := ts.config(bucket, 4)
	cfg.AccessKeySecret = "wrong"
	s := ts.store(t, cfg)
	missing := ts.store(t, ts.config("absent-bucket", 1))
	data := make([]byte, 8<<20)
	for range 3 {
		// The server answers before reading the body; the client must
		// still see the answer, not a reset connection.
		_, err := s.Put(context.Background(), "big", bytes.NewReader(data), int64(len(data)), storage.Metadata{})
		requireKind(t, "8 MiB Put with a wrong secret", err, storage.KindAccessDenied)
		_, err = missing.Put(context.Background(), "big", bytes.NewReader(data), int64(len(data)), storage.Metadata{})
		requireKind(t, "8 MiB Put to a missing bucket", err, storage.KindNoSuchBucket)
	}
}

// failingReader yields some bytes, then a classified error, as a source
// store's stream does when its connection drops or its CRC disagrees.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func TestSourceErrorSurvivesUpload(t *testing.T) {
	ts := newTestServer(t)
	bucket := ts.freshBucket(t)
	s := ts.store(t, ts.config(bucket, 1))
	ctx := context.Background()
	srcErr := storage.Errorf(storage.KindCorrupt, "cos://source", "get", "k", "CRC64 mismatch")
	_, err := s.Put(ctx, "k", &failingReader{n: 300 << 10, err: srcErr}, 1<<20, storage.Metadata{})
	var se *storage.Error
	if !errors.As(err, &se) || se != srcErr {
		t.Fatalf("Put with a failing source: %v, want the source's own error", err)
	}
	id, err := s.InitMultipart(ctx, "k", storage.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UploadPart(ctx, "k", id, 1, &failingReader{n: 10, err: srcErr}, 1<<20)
	if !errors.As(err, &se) || se != srcErr {
		t.Fatalf("UploadPart with a failing source: %v, want the source's own error", err)
	}
	// A source that just ends early is a transient failure of this upload.
	_, err = s.Put(ctx, "k", &failingReader{n: 10, err: io.EOF}, 100, storage.Metadata{})
	requireKind(t, "Put with a short source", err, storage.KindTransient)
	if keys := ts.backend.Keys(bucket); len(keys) != 0 {
		t.Fatalf("failed uploads left objects %q", keys)
	}
}
