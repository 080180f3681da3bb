package cos_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/cos"
	"github.com/bucketferry/bucketferry/storage/storagetest"
)

const (
	testID     = "AKIDtest"
	testSecret = "test-secret"
	testRegion = "ap-guangzhou"
	testBucket = "bucket-1250000000"
)

// server is a COS emulator over loopback.
type server struct {
	backend *emulator.Backend
	url     string
}

// newServer starts a COS front end; wrap, when set, wraps its handler.
func newServer(t *testing.T, wrap func(http.Handler) http.Handler) *server {
	t.Helper()
	b, err := emulator.NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = &emulator.COSFrontEnd{Backend: b, Credentials: map[string]string{testID: testSecret}}
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &server{backend: b, url: srv.URL}
}

func (s *server) store(t *testing.T, bucket, secret string) *cos.Store {
	t.Helper()
	st, err := cos.New(cos.Config{Bucket: bucket, Region: testRegion, Endpoint: s.url, SecretID: testID, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConformance(t *testing.T) {
	srv := newServer(t, nil)
	var n atomic.Int64
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) storage.Store {
			bucket := fmt.Sprintf("suite%d-1250000000", n.Add(1))
			if err := srv.backend.CreateBucket(bucket); err != nil {
				t.Fatal(err)
			}
			return srv.store(t, bucket, testSecret)
		},
		WrongCredentials: func(t *testing.T) storage.Store { return srv.store(t, testBucket, "wrong-secret") },
		MissingBucket:    func(t *testing.T) storage.Store { return srv.store(t, "missing-1250000000", testSecret) },
	})
}

func TestNewValidation(t *testing.T) {
	good := cos.Config{Bucket: testBucket, Region: testRegion, SecretID: testID, SecretKey: testSecret}
	cases := []struct {
		name  string
		edit  func(*cos.Config)
		field string
	}{
		{"no bucket", func(c *cos.Config) { c.Bucket = "" }, "Config.Bucket"},
		{"bucket without APPID", func(c *cos.Config) { c.Bucket = "examplebucket" }, "APPID"},
		{"upper-case bucket", func(c *cos.Config) { c.Bucket = "Example-1250000000" }, "Config.Bucket"},
		{"no region", func(c *cos.Config) { c.Region = "" }, "Config.Region"},
		{"bad region", func(c *cos.Config) { c.Region = "ap guangzhou" }, "Config.Region"},
		{"no secret id", func(c *cos.Config) { c.SecretID = "" }, "Config.SecretID"},
		{"no secret key", func(c *cos.Config) { c.SecretKey = "" }, "Config.SecretKey"},
		{"spaced key", func(c *cos.Config) { c.SecretKey = " k" }, "Config.SecretKey"},
		{"endpoint without scheme", func(c *cos.Config) { c.Endpoint = "127.0.0.1:9001" }, "Config.Endpoint"},
		{"endpoint with path", func(c *cos.Config) { c.Endpoint = "http://127.0.0.1:9001/cos" }, "Config.Endpoint"},
		{"negative timeout", func(c *cos.Config) { c.ReadWriteTimeout = -time.Second }, "Config.ReadWriteTimeout"},
		{"negative pool", func(c *cos.Config) { c.MaxIdleConnsPerHost = -1 }, "Config.MaxIdleConnsPerHost"},
	}
	for _, c := range cases {
		cfg := good
		c.edit(&cfg)
		_, err := cos.New(cfg)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.field)
		}
	}
	s, err := cos.New(good)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "cos://"+testBucket {
		t.Errorf("Name() = %q", s.Name())
	}
	l := s.Limits()
	if l.MinPartSize != 1<<20 || l.MaxPartSize != 5<<30 || l.MaxParts != 10000 || l.MaxPutSize != 5<<30 || l.MaxUserMetadata != 4<<10 {
		t.Errorf("Limits() = %+v", l)
	}
}

// recordHosts records the Host header of every request.
func recordHosts(hosts *[]string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*hosts = append(*hosts, r.Host)
			h.ServeHTTP(w, r)
		})
	}
}

func TestEndpointKeepsVirtualHost(t *testing.T) {
	var hosts []string
	srv := newServer(t, recordHosts(&hosts))
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	if _, err := s.Put(ctx, "k", strings.NewReader("v"), 1, storage.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0] != testBucket+".cos."+testRegion+".myqcloud.com" {
		t.Fatalf("Host headers %q, want the bucket's virtual host", hosts)
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
	if se.Store != "cos://"+testBucket || se.Op == "" {
		t.Fatalf("%s: Store %q Op %q not set", what, se.Store, se.Op)
	}
	return se
}

func TestMetadataLimits(t *testing.T) {
	srv := newServer(t, nil)
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	big := strings.Repeat("v", 2048-len("x-cos-meta-big")+1)
	_, err := s.Put(ctx, "m", strings.NewReader("x"), 1, storage.Metadata{User: map[string]string{"big": big}})
	se := requireKind(t, "Put with a 2 KB+1 header", err, storage.KindInvalid)
	if se.Key != "m" || !strings.Contains(err.Error(), "x-cos-meta-big") {
		t.Errorf("error %v does not name the key and header", err)
	}
	_, err = s.InitMultipart(ctx, "m", storage.Metadata{User: map[string]string{"big": big}})
	requireKind(t, "InitMultipart with a 2 KB+1 header", err, storage.KindInvalid)

	total := map[string]string{}
	for i := range 3 {
		total[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 1400)
	}
	_, err = s.Put(ctx, "m", strings.NewReader("x"), 1, storage.Metadata{User: total})
	requireKind(t, "Put with 4.2 KB of metadata", err, storage.KindInvalid)
	_, err = s.Put(ctx, "m", strings.NewReader("x"), 1, storage.Metadata{User: map[string]string{"bad name": "v"}})
	requireKind(t, "Put with a metadata name that is no header name", err, storage.KindInvalid)
	_, err = s.Put(ctx, "m", strings.NewReader("x"), 1, storage.Metadata{User: map[string]string{"v": "line\nbreak"}})
	requireKind(t, "Put with a newline in a value", err, storage.KindInvalid)
	if keys := srv.backend.Keys(testBucket); len(keys) != 0 {
		t.Fatalf("rejected Puts stored %q", keys)
	}

	// Exactly at the limits works, and round trips.
	atLimit := map[string]string{"big": big[1:], "k0": strings.Repeat("w", 4096-2048-len("x-cos-meta-k0"))}
	if _, err := s.Put(ctx, "m", strings.NewReader("x"), 1, storage.Metadata{User: atLimit}); err != nil {
		t.Fatalf("Put at the limits: %v", err)
	}
	info, err := s.Head(ctx, "m")
	if err != nil || info.Meta.User["big"] != atLimit["big"] || info.Meta.User["k0"] != atLimit["k0"] {
		t.Fatalf("Head = %+v, %v", info.Meta.User, err)
	}
}

func TestStorageClasses(t *testing.T) {
	srv := newServer(t, nil)
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	cases := []struct{ put, stored, read string }{
		{"", storage.ClassStandard, storage.ClassStandard},
		{storage.ClassStandard, storage.ClassStandard, storage.ClassStandard},
		{storage.ClassIA, storage.ClassIA, storage.ClassIA},
		{storage.ClassArchive, storage.ClassArchive, storage.ClassArchive},
		{storage.ClassColdArchive, storage.ClassDeepColdArchive, storage.ClassDeepColdArchive},
		{storage.ClassDeepColdArchive, storage.ClassDeepColdArchive, storage.ClassDeepColdArchive},
		{storage.ClassIntelligent, storage.ClassIntelligent, storage.ClassIntelligent},
		{"MAZ_STANDARD_IA", "MAZ_STANDARD_IA", "MAZ_STANDARD_IA"},
	}
	for i, c := range cases {
		key := fmt.Sprintf("class/%d", i)
		if _, err := s.Put(ctx, key, strings.NewReader("data"), 4, storage.Metadata{StorageClass: c.put}); err != nil {
			t.Fatalf("Put class %q: %v", c.put, err)
		}
		obj, err := srv.backend.Object(testBucket, key)
		if err != nil {
			t.Fatal(err)
		}
		want := c.stored
		if c.put == "" {
			want = "" // nothing was asked for
		}
		if obj.Meta.StorageClass != want {
			t.Errorf("class %q stored as %q, want %q", c.put, obj.Meta.StorageClass, want)
		}
		info, err := s.Head(ctx, key)
		if err != nil || info.Meta.StorageClass != c.read {
			t.Errorf("Head class %q = %q (%v), want %q", c.put, info.Meta.StorageClass, err, c.read)
		}
	}
	page, err := s.List(ctx, storage.ListOptions{Prefix: "class/"})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range page.Objects {
		if o.Meta.StorageClass != cases[i].read {
			t.Errorf("List %s class %q, want %q", o.Key, o.Meta.StorageClass, cases[i].read)
		}
	}
	_, err = s.Put(ctx, "class/bad", strings.NewReader("data"), 4, storage.Metadata{StorageClass: "GLACIER"})
	requireKind(t, "Put with a class COS does not know", err, storage.KindInvalid)

	// Archived objects: Head works, Get is KindArchived until restored.
	rc, _, err := s.Get(ctx, "class/3", storage.Range{})
	if rc != nil {
		rc.Close()
	}
	se := requireKind(t, "Get of an archived object", err, storage.KindArchived)
	if se.Code != "InvalidObjectState" || storage.IsRetryable(err) {
		t.Errorf("archived Get error %v: code %q, retryable %v", err, se.Code, storage.IsRetryable(err))
	}
	if info, err := s.Head(ctx, "class/3"); err != nil || info.Restored {
		t.Fatalf("Head of an archived object: %+v, %v", info, err)
	}
	if err := srv.backend.UpdateObject(testBucket, "class/3", func(o *emulator.Object) { o.Restored = true }); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Head(ctx, "class/3"); err != nil || !info.Restored {
		t.Fatalf("Head of a restored object: %+v, %v", info, err)
	}
	rc, _, err = s.Get(ctx, "class/3", storage.Range{})
	if err != nil {
		t.Fatalf("Get of a restored object: %v", err)
	}
	rc.Close()
}

// corruptCRC flips a bit of the CRC header of PUT answers.
func corruptCRC(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w = &crcFlipper{ResponseWriter: w}
		}
		h.ServeHTTP(w, r)
	})
}

type crcFlipper struct{ http.ResponseWriter }

func (c *crcFlipper) WriteHeader(status int) {
	if v := c.Header().Get("x-cos-hash-crc64ecma"); v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		c.Header().Set("x-cos-hash-crc64ecma", strconv.FormatUint(n^1, 10))
	}
	c.ResponseWriter.WriteHeader(status)
}

func TestCRCMismatchIsCorrupt(t *testing.T) {
	srv := newServer(t, corruptCRC)
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	_, err := s.Put(ctx, "k", strings.NewReader("payload"), 7, storage.Metadata{})
	se := requireKind(t, "Put answered with a wrong CRC", err, storage.KindCorrupt)
	if se.Key != "k" || !storage.IsRetryable(err) {
		t.Errorf("error %+v: key %q, retryable %v", se, se.Key, storage.IsRetryable(err))
	}
	id, err := s.InitMultipart(ctx, "mp", storage.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UploadPart(ctx, "mp", id, 1, strings.NewReader("part"), 4)
	requireKind(t, "UploadPart answered with a wrong CRC", err, storage.KindCorrupt)
}

// failingReader fails with a classified source error after some bytes.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

// lastReader returns data in one read and then fails: with the data when
// withData is set, or on the next read.
type lastReader struct {
	data     []byte
	err      error
	withData bool
	sent     bool
}

func (l *lastReader) Read(p []byte) (int, error) {
	if l.sent {
		return 0, l.err
	}
	l.sent = true
	n := copy(p, l.data)
	if l.withData {
		return n, l.err
	}
	return n, nil
}

func TestBodyErrors(t *testing.T) {
	srv := newServer(t, nil)
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	// A source failure keeps the source's classification.
	src := &storage.Error{Kind: storage.KindChanged, Store: "oss://src", Op: "get", Key: "k", Err: errors.New("etag changed")}
	_, err := s.Put(ctx, "k", &failingReader{n: 100, err: src}, 1000, storage.Metadata{})
	requireKind(t, "Put from a failing source", err, storage.KindChanged)
	if !errors.Is(err, src) {
		t.Errorf("Put error %v does not wrap the source error", err)
	}
	// A source shorter than announced is a retryable transfer failure.
	_, err = s.Put(ctx, "k", strings.NewReader("short"), 10, storage.Metadata{})
	requireKind(t, "Put from a short source", err, storage.KindTransient)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short Put error %v is not io.ErrUnexpectedEOF", err)
	}
	// A longer source means the size is wrong: nothing is stored.
	_, err = s.Put(ctx, "k", strings.NewReader("0123456789"), 4, storage.Metadata{})
	requireKind(t, "Put from a long source", err, storage.KindInvalid)
	// A source that fails together with its last bytes, or only after them
	// (a download verifying its CRC at the end), stores nothing either.
	for _, r := range []io.Reader{
		&lastReader{data: []byte("complete"), err: src, withData: true},
		&lastReader{data: []byte("complete"), err: src},
	} {
		_, err = s.Put(ctx, "k", r, 8, storage.Metadata{})
		requireKind(t, "Put from a source failing at its end", err, storage.KindChanged)
		id, err := s.InitMultipart(ctx, "mp", storage.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		r.(*lastReader).sent = false
		_, err = s.UploadPart(ctx, "mp", id, 1, r, 8)
		requireKind(t, "UploadPart from a source failing at its end", err, storage.KindChanged)
		if parts, err := s.ListParts(ctx, "mp", id); err != nil || len(parts) != 0 {
			t.Fatalf("the failed part was stored: %+v, %v", parts, err)
		}
	}
	if keys := srv.backend.Keys(testBucket); len(keys) != 0 {
		t.Fatalf("failed Puts stored %q", keys)
	}
	// Keys the SDK would resolve to the bucket itself.
	for _, k := range []string{"", ".", ".."} {
		_, err := s.Put(ctx, k, strings.NewReader("x"), 1, storage.Metadata{})
		requireKind(t, fmt.Sprintf("Put(%q)", k), err, storage.KindInvalid)
	}
	// Canceled requests are not retryable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Head(cctx, "k")
	if err == nil || storage.IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("Head with a canceled context: %v (retryable %v)", err, storage.IsRetryable(err))
	}
}

func TestDotKeys(t *testing.T) {
	srv := newServer(t, nil)
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	keys := []string{"a/..", "../x", "./x", "a/./b", "...", "/lead", "x/../../y"}
	for _, k := range keys {
		if _, err := s.Put(ctx, k, strings.NewReader(k), int64(len(k)), storage.Metadata{}); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
		rc, _, err := s.Get(ctx, k, storage.Range{})
		if err != nil {
			t.Fatalf("Get(%q): %v", k, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != k {
			t.Fatalf("Get(%q) = %q, %v", k, got, err)
		}
	}
	if n := len(srv.backend.Keys(testBucket)); n != len(keys) {
		t.Fatalf("%d objects stored, want %d: %q", n, len(keys), srv.backend.Keys(testBucket))
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
	}
	if keys := srv.backend.Keys(testBucket); len(keys) != 0 {
		t.Fatalf("left after deleting: %q", keys)
	}
}

func TestEmptyBodies(t *testing.T) {
	srv := newServer(t, nil)
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	id, err := s.InitMultipart(ctx, "mp", storage.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.UploadPart(ctx, "mp", id, 1, strings.NewReader(""), 0)
	if err != nil || p.Size != 0 || !p.HasCRC64 || p.CRC64 != 0 {
		t.Fatalf("empty part: %+v, %v", p, err)
	}
	res, err := s.CompleteMultipart(ctx, "mp", id, []storage.Part{p})
	if err != nil || !res.HasCRC64 || res.CRC64 != 0 {
		t.Fatalf("complete of one empty part: %+v, %v", res, err)
	}
	if info, err := s.Head(ctx, "mp"); err != nil || info.Size != 0 {
		t.Fatalf("Head: %+v, %v", info, err)
	}
	// A body announced empty that is not is refused.
	_, err = s.Put(ctx, "e", strings.NewReader("x"), 0, storage.Metadata{})
	requireKind(t, "Put of a non-empty body announced empty", err, storage.KindInvalid)
	if _, err := srv.backend.Object(testBucket, "e"); err == nil {
		t.Fatal("the refused Put stored an object")
	}
}

func TestHeadMissingBucket(t *testing.T) {
	srv := newServer(t, nil)
	s := srv.store(t, "gone-1250000000", testSecret)
	ctx := testContext(t)
	_, err := s.Head(ctx, "k")
	var se *storage.Error
	if !errors.As(err, &se) || se.Kind != storage.KindNoSuchBucket || !storage.IsFatal(err) {
		t.Fatalf("Head in a missing bucket: %v, want KindNoSuchBucket", err)
	}
	rc, _, err := s.Get(ctx, "k", storage.Range{Offset: 1})
	if rc != nil {
		rc.Close()
	}
	if storage.KindOf(err) != storage.KindNoSuchBucket {
		t.Fatalf("Get in a missing bucket: %v", err)
	}
	if err := s.Delete(ctx, "k"); storage.KindOf(err) != storage.KindNoSuchBucket {
		t.Fatalf("Delete in a missing bucket: %v", err)
	}
}

// TestPagingBeyondOnePage covers ListParts and ListUploads over more than
// the 1,000 entries COS returns in one answer.
func TestPagingBeyondOnePage(t *testing.T) {
	srv := newServer(t, nil)
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	id, err := s.InitMultipart(ctx, "many/parts", storage.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	const parts = 1005
	for n := 1; n <= parts; n++ {
		if _, err := s.UploadPart(ctx, "many/parts", id, n, strings.NewReader("p"), 1); err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
	}
	listed, err := s.ListParts(ctx, "many/parts", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != parts || listed[0].Number != 1 || listed[parts-1].Number != parts {
		t.Fatalf("ListParts = %d parts (first %+v)", len(listed), listed[0])
	}
	for n := range 1002 {
		if _, err := s.InitMultipart(ctx, fmt.Sprintf("ups/%04d+x y", n), storage.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	ups, err := s.ListUploads(ctx, "ups/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1002 || ups[0].Key != "ups/0000+x y" || ups[1001].Key != "ups/1001+x y" {
		t.Fatalf("ListUploads = %d uploads (first %+v)", len(ups), ups[0])
	}
	all, err := s.ListUploads(ctx, "")
	if err != nil || len(all) != 1003 {
		t.Fatalf("ListUploads(\"\") = %d, %v", len(all), err)
	}
}

func TestStallTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusOK)
				w.Write([]byte("first bytes"))
				w.(http.Flusher).Flush()
				<-release // then stall
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	s, err := cos.New(cos.Config{Bucket: testBucket, Region: testRegion, Endpoint: srv.url, SecretID: testID,
		SecretKey: testSecret, ReadWriteTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	rc, _, err := s.Get(ctx, "k", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if ctx.Err() != nil {
		t.Fatal("a stalled download ran into the test's deadline: the read timeout did not end it")
	}
	if err == nil || !storage.IsRetryable(err) {
		t.Fatalf("stalled download: %v, want a retryable error", err)
	}
	requireKind(t, "stalled download", err, storage.KindTransient)
}

func TestRangedGetInfo(t *testing.T) {
	srv := newServer(t, nil)
	s := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	data := bytes.Repeat([]byte("abcdefghij"), 100)
	res, err := s.Put(ctx, "r", bytes.NewReader(data), int64(len(data)), storage.Metadata{ContentType: "text/plain", User: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	rc, info, err := s.Get(ctx, "r", storage.Range{Offset: 995, Length: 10})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "fghij" {
		t.Fatalf("range past the end = %q, %v", got, err)
	}
	if info.Size != 1000 || !info.HasCRC64 || info.CRC64 != res.CRC64 || info.Meta.User["a"] != "b" || info.Meta.ContentType != "text/plain" {
		t.Fatalf("ranged Get info %+v", info)
	}
	rc, _, err = s.Get(ctx, "r", storage.Range{Offset: 1000})
	if rc != nil {
		rc.Close()
	}
	requireKind(t, "Get from past the end", err, storage.KindInvalid)
}
