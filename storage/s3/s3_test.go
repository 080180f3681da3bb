package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/s3"
	"github.com/bucketferry/bucketferry/storage/storagetest"
)

const (
	testID     = "AKIAEMULATOR"
	testSecret = "emulator-secret"
	testBucket = "test-bucket"
	testRegion = "us-east-1"
)

// server is the emulator's S3 front end over loopback.
type server struct {
	backend *emulator.Backend
	url     string
	client  *http.Client
}

func newServer(t *testing.T, tls bool, wrap func(http.Handler) http.Handler) *server {
	t.Helper()
	b, err := emulator.NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = &emulator.S3FrontEnd{Backend: b, Credentials: map[string]string{testID: testSecret}}
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	s := &server{backend: b, url: srv.URL}
	if tls {
		s.client = srv.Client()
	}
	return s
}

func (s *server) store(t *testing.T, bucket, secret string) *s3.Store {
	t.Helper()
	st, err := s3.New(s3.Config{Bucket: bucket, Region: testRegion, Endpoint: s.url, PathStyle: true,
		AccessKeyID: testID, SecretAccessKey: secret, HTTPClient: s.client})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func conformance(t *testing.T, tls bool) {
	srv := newServer(t, tls, nil)
	var n atomic.Int64
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) storage.Store {
			bucket := fmt.Sprintf("suite-%d", n.Add(1))
			if err := srv.backend.CreateBucket(bucket); err != nil {
				t.Fatal(err)
			}
			return srv.store(t, bucket, testSecret)
		},
		WrongCredentials: func(t *testing.T) storage.Store { return srv.store(t, testBucket, "wrong-secret") },
		MissingBucket:    func(t *testing.T) storage.Store { return srv.store(t, "missing-bucket", testSecret) },
	})
}

func TestConformance(t *testing.T) { conformance(t, false) }

// Over TLS the SDK behaves differently with streamed bodies (it could use
// trailing checksums); the store must pass the same suite there.
func TestConformanceTLS(t *testing.T) { conformance(t, true) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// answer replies to every request with status and an S3 error code.
func answer(status int, code string) func(http.Handler) http.Handler {
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			if r.Method != http.MethodHead {
				fmt.Fprintf(w, "<Error><Code>%s</Code><Message>test</Message></Error>", code)
			}
		})
	}
}

// The outage package waits out throttled and transient kinds; a wrong
// classification would either abort jobs on a blip or retry the hopeless.
func TestErrorKinds(t *testing.T) {
	cases := []struct {
		status int
		code   string
		want   storage.Kind
	}{
		{503, "SlowDown", storage.KindThrottled},
		{429, "TooManyRequests", storage.KindThrottled},
		{500, "InternalError", storage.KindTransient},
		{502, "BadGateway", storage.KindTransient},
		{404, "NoSuchKey", storage.KindNotFound},
		{404, "NoSuchBucket", storage.KindNoSuchBucket},
		{403, "AccessDenied", storage.KindForbidden},
		{403, "SignatureDoesNotMatch", storage.KindAccessDenied},
		{403, "InvalidObjectState", storage.KindArchived},
		{400, "InvalidArgument", storage.KindInvalid},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d %s", c.status, c.code), func(t *testing.T) {
			srv := newServer(t, false, answer(c.status, c.code))
			st := srv.store(t, testBucket, testSecret)
			ctx := testContext(t)
			rc, _, err := st.Get(ctx, "k", storage.Range{})
			if rc != nil {
				rc.Close()
			}
			if got := storage.KindOf(err); got != c.want {
				t.Errorf("Get: kind %v (%v), want %v", got, err, c.want)
			}
			_, err = st.Put(ctx, "k", bytes.NewReader([]byte("data")), 4, storage.Metadata{})
			if got := storage.KindOf(err); got != c.want {
				t.Errorf("Put: kind %v (%v), want %v", got, err, c.want)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		st, err := s3.New(s3.Config{Bucket: testBucket, Region: testRegion, Endpoint: url, PathStyle: true,
			AccessKeyID: testID, SecretAccessKey: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.Head(testContext(t), "k")
		if got := storage.KindOf(err); got != storage.KindTransient || !storage.IsOutage(err) {
			t.Errorf("Head of a closed port: kind %v (%v), want transient", got, err)
		}
	})
}

// Virtual-hosted style: the bucket is in the host name, and the front end
// routes by it.
func TestVirtualHost(t *testing.T) {
	b, err := emulator.NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	var hosts []string
	fe := &emulator.S3FrontEnd{Backend: b, Credentials: map[string]string{testID: testSecret}, Domain: "s3.test"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		fe.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	// Every name resolves to the emulator, as DNS would for *.s3.test.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	_, port, _ := net.SplitHostPort(addr)
	st, err := s3.New(s3.Config{Bucket: testBucket, Region: testRegion, Endpoint: "http://s3.test:" + port,
		AccessKeyID: testID, SecretAccessKey: testSecret, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	res, err := st.Put(ctx, "dir/a b.txt", bytes.NewReader([]byte("hello")), 5, storage.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if md5, ok := res.Sum(storage.MD5); !ok || md5 != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("Put MD5 %q %v", md5, ok)
	}
	if _, err := b.Object(testBucket, "dir/a b.txt"); err != nil {
		t.Errorf("object not in the bucket: %v", err)
	}
	for _, h := range hosts {
		if h != testBucket+".s3.test:"+port {
			t.Errorf("request to host %q, want the bucket's virtual host", h)
		}
	}
}

func TestNewValidation(t *testing.T) {
	good := s3.Config{Bucket: testBucket, Region: testRegion, AccessKeyID: testID, SecretAccessKey: testSecret}
	if _, err := s3.New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	chain := good
	chain.AccessKeyID, chain.SecretAccessKey = "", ""
	if _, err := s3.New(chain); err != nil {
		t.Fatalf("default credential chain: %v", err)
	}
	for name, edit := range map[string]func(*s3.Config){
		"no bucket":       func(c *s3.Config) { c.Bucket = "" },
		"no region":       func(c *s3.Config) { c.Region = "" },
		"half keys":       func(c *s3.Config) { c.SecretAccessKey = "" },
		"endpoint path":   func(c *s3.Config) { c.Endpoint = "https://s3.example.com/bucket" },
		"endpoint scheme": func(c *s3.Config) { c.Endpoint = "s3.example.com" },
		"endpoint user":   func(c *s3.Config) { c.Endpoint = "https://u:p@s3.example.com" },
		"token alone":     func(c *s3.Config) { c.AccessKeyID, c.SecretAccessKey, c.SessionToken = "", "", "t" },
	} {
		c := good
		edit(&c)
		if _, err := s3.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		} else if bytes.Contains([]byte(err.Error()), []byte("u:p")) {
			t.Errorf("%s: the error echoes credentials: %v", name, err)
		}
	}
}

// A source's checksums: the MD5 of a single-part object, none for a
// multipart one (its ETag is not an MD5).
func TestSourceChecksums(t *testing.T) {
	srv := newServer(t, false, nil)
	st := srv.store(t, testBucket, testSecret)
	ctx := testContext(t)
	data := bytes.Repeat([]byte("x"), 6<<20)
	if _, err := st.Put(ctx, "single", bytes.NewReader(data), int64(len(data)), storage.Metadata{}); err != nil {
		t.Fatal(err)
	}
	h, err := st.Head(ctx, "single")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := h.Sum(storage.MD5); !ok || v != fmt.Sprintf("%x", md5.Sum(data)) {
		t.Errorf("Head of a single-part object: MD5 %q %v", v, ok)
	}
	id, err := st.InitMultipart(ctx, "multi", storage.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := st.UploadPart(ctx, "multi", id, 1, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CompleteMultipart(ctx, "multi", id, []storage.Part{p1}); err != nil {
		t.Fatal(err)
	}
	h, err = st.Head(ctx, "multi")
	if err != nil {
		t.Fatal(err)
	}
	// No MD5 (the ETag is not one), but the full-object CRC64NVME S3 gives
	// every object.
	nvme, _ := storage.NewHash(storage.CRC64NVME)
	nvme.Write(data)
	if sums := h.Sums(); len(sums) != 1 || sums[0] != (storage.Checksum{Alg: storage.CRC64NVME, Value: storage.HashValue(nvme)}) {
		t.Errorf("Head of a multipart object reports %v", sums)
	}
	// A whole GET reports it too (and the SDK checks the body against it);
	// a ranged one does not.
	rc, info, err := st.Get(ctx, "multi", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatalf("read: %v", err)
	}
	rc.Close()
	if v, ok := info.Sum(storage.CRC64NVME); !ok || v != storage.HashValue(nvme) {
		t.Errorf("Get CRC64NVME %q %v", v, ok)
	}
	rc, info, err = st.Get(ctx, "multi", storage.Range{Offset: 1, Length: 10})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if sums := info.Sums(); len(sums) != 0 {
		t.Errorf("ranged Get reports %v", sums)
	}
}
