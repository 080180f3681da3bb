package s3_test

import (
	"context"
	"fmt"
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
