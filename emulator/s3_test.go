package emulator

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

const (
	s3TestAK     = "s3-test-ak"
	s3TestSecret = "s3-test-secret"
	s3TestBucket = "s3-bucket"
)

// s3Env is an S3 front end (and an OSS one on the same backend) on loopback
// servers.
type s3Env struct {
	backend *Backend
	fe      *S3FrontEnd
	srv     *httptest.Server
	oss     *OSSFrontEnd
	ossSrv  *httptest.Server

	mu       sync.Mutex
	requests []*http.Request // headers of the S3 requests seen
}

func newS3Env(t *testing.T, tls bool) *s3Env {
	t.Helper()
	b, err := NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(s3TestBucket); err != nil {
		t.Fatal(err)
	}
	env := &s3Env{backend: b, fe: &S3FrontEnd{Backend: b, Credentials: map[string]string{s3TestAK: s3TestSecret}}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.mu.Lock()
		env.requests = append(env.requests, &http.Request{Method: r.Method, Host: r.Host, URL: r.URL, Header: r.Header.Clone()})
		env.mu.Unlock()
		env.fe.ServeHTTP(w, r)
	})
	if tls {
		env.srv = httptest.NewTLSServer(h)
	} else {
		env.srv = httptest.NewServer(h)
	}
	t.Cleanup(env.srv.Close)
	env.oss = &OSSFrontEnd{Backend: b, Credentials: map[string]string{ossTestAK: ossTestSecret}}
	env.ossSrv = httptest.NewServer(env.oss)
	t.Cleanup(env.ossSrv.Close)
	return env
}

// seen returns the requests of a method whose path ends in suffix.
func (e *s3Env) seen(method, suffix string) []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*http.Request
	for _, r := range e.requests {
		if r.Method == method && strings.HasSuffix(r.URL.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func s3Client(endpoint string, httpClient *http.Client, ak, secret string, pathStyle bool) *s3.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(ak, secret, ""),
		HTTPClient:  httpClient,
		// What config.LoadDefaultConfig sets: checksums on every upload.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = pathStyle
		o.RetryMaxAttempts = 1
	})
}

func (e *s3Env) client() *s3.Client {
	return s3Client(e.srv.URL, e.srv.Client(), s3TestAK, s3TestSecret, true)
}

func s3Ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func s3Code(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	return ae.ErrorCode()
}

func s3RandBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func s3MD5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func s3Put(t *testing.T, ctx context.Context, c *s3.Client, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String(key),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func s3Get(t *testing.T, ctx context.Context, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(ctx, in)
	if err != nil {
		t.Fatalf("get %s: %v", aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", aws.ToString(in.Key), err)
	}
	return data, out
}

func TestS3ObjectRoundTrip(t *testing.T) {
	env := newS3Env(t, false)
	ctx := s3Ctx(t)
	c := env.client()

	body := s3RandBytes(100_000, 1)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             aws.String(s3TestBucket),
		Key:                aws.String("dir/ünïcode key+plus.bin"),
		Body:               bytes.NewReader(body),
		ContentType:        aws.String("application/x-test"),
		ContentEncoding:    aws.String("identity"),
		ContentDisposition: aws.String(`attachment; filename="a.bin"`),
		CacheControl:       aws.String("max-age=60"),
		Metadata:           map[string]string{"mtime": "1700000000.5", "Owner-Name": "alice"},
		StorageClass:       types.StorageClassStandardIa,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"` + s3MD5Hex(body) + `"`; aws.ToString(put.ETag) != want {
		t.Errorf("put ETag %s, want %s", aws.ToString(put.ETag), want)
	}
	// Over plain HTTP the SDK signs the payload's SHA-256, which the front
	// end checks, and sends a CRC32 it checks too.
	puts := env.seen(http.MethodPut, "plus.bin")
	if len(puts) != 1 || len(puts[0].Header.Get("X-Amz-Content-Sha256")) != 64 || puts[0].Header.Get("X-Amz-Checksum-Crc32") == "" {
		t.Fatalf("PUT headers %v: want a payload SHA-256 and a CRC32", puts[0].Header)
	}

	key := aws.String("dir/ünïcode key+plus.bin")
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s3TestBucket), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToString(head.ContentType) != "application/x-test" ||
		aws.ToString(head.ContentEncoding) != "identity" || aws.ToString(head.ContentDisposition) != `attachment; filename="a.bin"` ||
		aws.ToString(head.CacheControl) != "max-age=60" || head.StorageClass != types.StorageClassStandardIa {
		t.Errorf("head: %+v", head)
	}
	if want := map[string]string{"mtime": "1700000000.5", "owner-name": "alice"}; fmt.Sprint(head.Metadata) != fmt.Sprint(want) {
		t.Errorf("metadata %v, want %v", head.Metadata, want)
	}
	obj, err := env.backend.Object(s3TestBucket, *key)
	if err != nil || obj.Meta.StorageClass != "IA" {
		t.Fatalf("backend object %+v, %v: want neutral class IA", obj, err)
	}

	got, _ := s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: key})
	if !bytes.Equal(got, body) {
		t.Fatal("GET returned different bytes")
	}
	got, out := s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: key, Range: aws.String("bytes=1000-1999")})
	if !bytes.Equal(got, body[1000:2000]) || aws.ToString(out.ContentRange) != "bytes 1000-1999/100000" {
		t.Errorf("range GET: %d bytes, Content-Range %q", len(got), aws.ToString(out.ContentRange))
	}
	got, _ = s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: key, Range: aws.String("bytes=-10")})
	if !bytes.Equal(got, body[len(body)-10:]) {
		t.Error("suffix range GET returned different bytes")
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: key, Range: aws.String("bytes=200000-")})
	if code := s3Code(t, err); code != "InvalidRange" {
		t.Errorf("unsatisfiable range: %s", code)
	}

	// Server-side copy keeps the metadata unless told to replace it.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("copy"),
		CopySource: aws.String(s3TestBucket + "/dir/%C3%BCn%C3%AFcode%20key%2Bplus.bin")}); err != nil {
		t.Fatal(err)
	}
	ch, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("copy")})
	if err != nil || ch.Metadata["owner-name"] != "alice" || aws.ToString(ch.ETag) != aws.ToString(put.ETag) {
		t.Errorf("copy: %+v, %v", ch, err)
	}

	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s3TestBucket), Key: key}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: key})
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Errorf("GET of a deleted key: %v, want NoSuchKey", err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s3TestBucket), Key: key})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HEAD of a deleted key: %v, want NotFound", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: key})
	if code := s3Code(t, err); code != "NoSuchBucket" {
		t.Errorf("GET in a missing bucket: %s", code)
	}
}

func TestS3BucketsAndListings(t *testing.T) {
	env := newS3Env(t, false)
	ctx := s3Ctx(t)
	c := env.client()

	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("made-by-s3")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("made-by-s3")})
	var owned *types.BucketAlreadyOwnedByYou
	if !errors.As(err, &owned) {
		t.Errorf("creating an existing bucket: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("made-by-s3")}); err != nil {
		t.Error(err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")}); err == nil {
		t.Error("HEAD of a missing bucket succeeded")
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if !slices.Equal(names, []string{"made-by-s3", s3TestBucket}) {
		t.Errorf("buckets %v", names)
	}

	keys := []string{"a/1", "a/2", "a/b/3", "c", "d/4", "d/5", "e", "f+g h"}
	for i, k := range keys {
		s3Put(t, ctx, c, k, []byte(strconv.Itoa(i)))
	}

	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(s3TestBucket)})
	if err != nil || loc.LocationConstraint != "" {
		t.Errorf("location %+v, %v", loc, err)
	}

	// V2 with a delimiter, two entries a page.
	var gotKeys, gotPrefixes []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(s3TestBucket), Delimiter: aws.String("/"),
		MaxKeys: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if n := aws.ToInt32(page.KeyCount); n != int32(len(page.Contents)+len(page.CommonPrefixes)) || n > 2 {
			t.Errorf("KeyCount %d for %d entries", n, len(page.Contents)+len(page.CommonPrefixes))
		}
		for _, o := range page.Contents {
			gotKeys = append(gotKeys, aws.ToString(o.Key))
		}
		for _, cp := range page.CommonPrefixes {
			gotPrefixes = append(gotPrefixes, aws.ToString(cp.Prefix))
		}
	}
	if !slices.Equal(gotKeys, []string{"c", "e", "f+g h"}) || !slices.Equal(gotPrefixes, []string{"a/", "d/"}) || pages != 3 {
		t.Errorf("V2 delimiter listing: keys %v prefixes %v in %d pages", gotKeys, gotPrefixes, pages)
	}

	// V2 with a prefix and start-after, URL-encoded as rclone asks.
	l2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s3TestBucket), Prefix: aws.String("a/"),
		StartAfter: aws.String("a/1"), EncodingType: types.EncodingTypeUrl})
	if err != nil {
		t.Fatal(err)
	}
	if len(l2.Contents) != 2 || aws.ToString(l2.Contents[0].Key) != "a/2" || aws.ToString(l2.Contents[1].Key) != "a/b/3" || aws.ToBool(l2.IsTruncated) {
		t.Errorf("V2 start-after listing: %+v", l2.Contents)
	}
	l2, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s3TestBucket), Prefix: aws.String("f"),
		EncodingType: types.EncodingTypeUrl})
	if err != nil || len(l2.Contents) != 1 || aws.ToString(l2.Contents[0].Key) != "f%2Bg%20h" {
		t.Errorf("V2 URL-encoded key: %+v, %v", l2.Contents, err)
	}

	// V1 with markers.
	var v1 []string
	marker := ""
	for {
		l1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(s3TestBucket), Marker: aws.String(marker), MaxKeys: aws.Int32(3)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range l1.Contents {
			v1 = append(v1, aws.ToString(o.Key))
			if aws.ToString(o.ETag) == "" || o.LastModified == nil {
				t.Errorf("listed %s without ETag or LastModified", aws.ToString(o.Key))
			}
		}
		if !aws.ToBool(l1.IsTruncated) {
			break
		}
		marker = aws.ToString(l1.NextMarker)
	}
	if !slices.Equal(v1, keys) {
		t.Errorf("V1 listing %v, want %v", v1, keys)
	}

	// V1 with a delimiter resumes after a common prefix.
	l1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(s3TestBucket), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	if err != nil || len(l1.CommonPrefixes) != 1 || aws.ToString(l1.NextMarker) != "a/" {
		t.Fatalf("V1 delimiter page: %+v, %v", l1, err)
	}
	l1, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(s3TestBucket), Delimiter: aws.String("/"), Marker: l1.NextMarker, MaxKeys: aws.Int32(1)})
	if err != nil || len(l1.Contents) != 1 || aws.ToString(l1.Contents[0].Key) != "c" {
		t.Fatalf("V1 delimiter page after a/: %+v, %v", l1, err)
	}

	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s3TestBucket), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a/1")}, {Key: aws.String("e")}, {Key: aws.String("never")}}}})
	if err != nil || len(del.Deleted) != 3 || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects: %+v, %v", del, err)
	}
	if got := env.backend.Keys(s3TestBucket); slices.Contains(got, "a/1") || slices.Contains(got, "e") || len(got) != len(keys)-2 {
		t.Errorf("keys after DeleteObjects: %v", got)
	}

	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("fat"), Body: strings.NewReader("x"),
		Metadata: map[string]string{"big": strings.Repeat("m", 2100)}})
	if code := s3Code(t, err); code != "MetadataTooLarge" {
		t.Errorf("2 KiB of metadata: %s", code)
	}
}

func TestS3Multipart(t *testing.T) {
	env := newS3Env(t, false)
	ctx := s3Ctx(t)
	c := env.client()
	bucket, key := aws.String(s3TestBucket), aws.String("big/object")

	create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: key,
		ContentType: aws.String("video/mp4"), Metadata: map[string]string{"mtime": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("big/aborted")})
	if err != nil {
		t.Fatal(err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket, Prefix: aws.String("big/")})
	if err != nil || len(ups.Uploads) != 2 {
		t.Fatalf("list uploads: %+v, %v", ups, err)
	}

	sizes := []int{5 << 20, 5 << 20, 123_457}
	var whole []byte
	var parts []types.CompletedPart
	md5s := md5.New()
	for i, n := range sizes {
		data := s3RandBytes(n, uint64(10+i))
		whole = append(whole, data...)
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: key, UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		sum := md5.Sum(data)
		md5s.Write(sum[:])
		if aws.ToString(up.ETag) != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Errorf("part %d ETag %s", i+1, aws.ToString(up.ETag))
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: bucket, Key: key, UploadId: create.UploadId})
	if err != nil || len(lp.Parts) != 3 || aws.ToInt64(lp.Parts[2].Size) != int64(sizes[2]) {
		t.Fatalf("list parts: %+v, %v", lp, err)
	}

	// A small part that is not the last is refused at completion.
	small, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("big/small")})
	if err != nil {
		t.Fatal(err)
	}
	var smallParts []types.CompletedPart
	for i := range 2 {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String("big/small"), UploadId: small.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader([]byte("tiny"))})
		if err != nil {
			t.Fatal(err)
		}
		smallParts = append(smallParts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("big/small"),
		UploadId: small.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: smallParts}})
	if code := s3Code(t, err); code != "EntityTooSmall" {
		t.Errorf("completing with a small part: %s", code)
	}

	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: key,
		UploadId: create.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
	wantETag := fmt.Sprintf(`"%s-3"`, hex.EncodeToString(md5s.Sum(nil)))
	if aws.ToString(done.ETag) != wantETag {
		t.Errorf("multipart ETag %s, want %s", aws.ToString(done.ETag), wantETag)
	}
	got, out := s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: bucket, Key: key})
	if !bytes.Equal(got, whole) || aws.ToString(out.ETag) != wantETag || aws.ToString(out.ContentType) != "video/mp4" || out.Metadata["mtime"] != "42" {
		t.Errorf("assembled object: %d bytes (want %d), ETag %s, type %s, meta %v", len(got), len(whole),
			aws.ToString(out.ETag), aws.ToString(out.ContentType), out.Metadata)
	}
	got, _ = s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: bucket, Key: key, Range: aws.String("bytes=5242870-5242889")})
	if !bytes.Equal(got, whole[5242870:5242890]) {
		t.Error("range across a part boundary returned different bytes")
	}

	// A part copied from a range of the assembled object.
	cp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("big/copied")})
	if err != nil {
		t.Fatal(err)
	}
	upc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: bucket, Key: aws.String("big/copied"), UploadId: cp.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String(s3TestBucket + "/big/object"), CopySourceRange: aws.String("bytes=10-1009")})
	if err != nil {
		t.Fatal(err)
	}
	if want := s3MD5Hex(whole[10:1010]); aws.ToString(upc.CopyPartResult.ETag) != `"`+want+`"` {
		t.Errorf("copied part ETag %s, want %s", aws.ToString(upc.CopyPartResult.ETag), want)
	}

	for _, u := range []struct{ key, id *string }{{aws.String("big/aborted"), other.UploadId},
		{aws.String("big/small"), small.UploadId}, {aws.String("big/copied"), cp.UploadId}} {
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: u.key, UploadId: u.id}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: aws.String("big/aborted"), UploadId: other.UploadId})
	var nsu *types.NoSuchUpload
	if !errors.As(err, &nsu) {
		t.Errorf("aborting twice: %v, want NoSuchUpload", err)
	}
	ups, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket})
	if err != nil || len(ups.Uploads) != 0 || env.backend.UploadCount(s3TestBucket) != 0 {
		t.Errorf("uploads left: %+v, %v", ups.Uploads, err)
	}
}

func TestS3Authentication(t *testing.T) {
	env := newS3Env(t, false)
	ctx := s3Ctx(t)
	s3Put(t, ctx, env.client(), "k", []byte("v"))

	bad := s3Client(env.srv.URL, env.srv.Client(), s3TestAK, "wrong-secret", true)
	_, err := bad.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("k")})
	if code := s3Code(t, err); code != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %s", code)
	}
	_, err = bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("k"), Body: strings.NewReader("x")})
	if code := s3Code(t, err); code != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret on PUT: %s", code)
	}
	unknown := s3Client(env.srv.URL, env.srv.Client(), "nobody", s3TestSecret, true)
	_, err = unknown.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s3TestBucket)})
	if code := s3Code(t, err); code != "InvalidAccessKeyId" {
		t.Errorf("unknown key: %s", code)
	}
	if got, _ := s3Get(t, ctx, env.client(), &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("k")}); string(got) != "v" {
		t.Errorf("object after refused writes: %q", got)
	}

	// An unsigned request is refused, in S3's XML.
	resp, err := env.srv.Client().Get(env.srv.URL + "/" + s3TestBucket + "/k")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(data, []byte("<Code>AccessDenied</Code>")) ||
		resp.Header.Get("x-amz-request-id") == "" {
		t.Errorf("anonymous GET: %d %s", resp.StatusCode, data)
	}

	// A clock far off is refused.
	env.fe.Now = func() time.Time { return time.Now().Add(time.Hour) }
	_, err = env.client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("k")})
	if code := s3Code(t, err); code != "RequestTimeTooSkewed" {
		t.Errorf("a request signed an hour ago: %s", code)
	}
	env.fe.Now = nil
}

func TestS3Presigned(t *testing.T) {
	env := newS3Env(t, false)
	ctx := s3Ctx(t)
	c := env.client()
	s3Put(t, ctx, c, "dir/presigned object", []byte("presigned body"))

	ps := s3.NewPresignClient(c, func(o *s3.PresignOptions) { o.Expires = time.Minute })
	req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("dir/presigned object")})
	if err != nil {
		t.Fatal(err)
	}
	get := func() (int, string) {
		resp, err := env.srv.Client().Get(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	if status, body := get(); status != http.StatusOK || body != "presigned body" {
		t.Errorf("presigned GET: %d %q", status, body)
	}
	env.fe.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if status, body := get(); status != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Errorf("expired presigned GET: %d %q", status, body)
	}
	env.fe.Now = nil

	// As rclone uploads single parts: a presigned PUT whose signature
	// covers the content type and metadata headers sent with it.
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("uploaded"),
		Metadata: map[string]string{"mtime": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	hreq, _ := http.NewRequestWithContext(ctx, http.MethodPut, put.URL, strings.NewReader("via presigned PUT"))
	for k, v := range put.SignedHeader {
		hreq.Header[k] = v
	}
	resp, err := env.srv.Client().Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, out := s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("uploaded")})
	if resp.StatusCode != 200 || string(got) != "via presigned PUT" || out.Metadata["mtime"] != "7" {
		t.Errorf("presigned PUT: %d, then %q %v", resp.StatusCode, got, out.Metadata)
	}
	if !strings.Contains(put.URL, "X-Amz-SignedHeaders=host%3Bx-amz-meta-mtime") {
		t.Errorf("the presigned PUT did not sign the metadata: %s", put.URL)
	}
	// Changing a signed header breaks the signature.
	hreq, _ = http.NewRequestWithContext(ctx, http.MethodPut, put.URL, strings.NewReader("tampered"))
	for k, v := range put.SignedHeader {
		hreq.Header[k] = v
	}
	hreq.Header.Set("X-Amz-Meta-Mtime", "8")
	if status, body := env.do(t, hreq); status != http.StatusForbidden || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Errorf("tampered presigned PUT: %d %s", status, body)
	}
}

// signedRequest builds a request signed by the SDK's own SigV4 signer.
func (e *s3Env) signedRequest(t *testing.T, method, path string, body []byte, payloadHash string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: s3TestAK, SecretAccessKey: s3TestSecret}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		creds, req, payloadHash, "s3", "eu-west-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func (e *s3Env) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestS3PayloadChecks(t *testing.T) {
	env := newS3Env(t, false)
	body := []byte("the real body")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	wrong := sha256.Sum256([]byte("another body"))
	path := "/" + s3TestBucket + "/checked"

	status, resp := env.do(t, env.signedRequest(t, http.MethodPut, path, body, hex.EncodeToString(wrong[:]), nil))
	if status != 400 || !strings.Contains(resp, "XAmzContentSHA256Mismatch") {
		t.Errorf("wrong payload hash: %d %s", status, resp)
	}
	crc := crc32.ChecksumIEEE([]byte("not it"))
	h := http.Header{"X-Amz-Checksum-Crc32": {base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})}}
	status, resp = env.do(t, env.signedRequest(t, http.MethodPut, path, body, good, h))
	if status != 400 || !strings.Contains(resp, "BadDigest") {
		t.Errorf("wrong CRC32: %d %s", status, resp)
	}
	h = http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(make([]byte, 16))}}
	status, resp = env.do(t, env.signedRequest(t, http.MethodPut, path, body, s3UnsignedPayload, h))
	if status != 400 || !strings.Contains(resp, "BadDigest") {
		t.Errorf("wrong Content-MD5: %d %s", status, resp)
	}
	if _, err := env.backend.Object(s3TestBucket, "checked"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("a refused body was stored: %v", err)
	}
	status, resp = env.do(t, env.signedRequest(t, http.MethodPut, path, body, good, nil))
	if status != 200 {
		t.Fatalf("good payload hash: %d %s", status, resp)
	}
	status, resp = env.do(t, env.signedRequest(t, http.MethodPut, path+"2", body, s3UnsignedPayload, nil))
	if status != 200 {
		t.Fatalf("unsigned payload: %d %s", status, resp)
	}
	// Documents are checked too: a delete list that is not the signed one.
	doc := []byte(`<Delete><Object><Key>checked</Key></Object></Delete>`)
	status, resp = env.do(t, env.signedRequest(t, http.MethodPost, "/"+s3TestBucket+"?delete", doc, good, nil))
	if status != 400 || !strings.Contains(resp, "XAmzContentSHA256Mismatch") {
		t.Errorf("delete list with a wrong hash: %d %s", status, resp)
	}
	for _, k := range []string{"checked", "checked2"} {
		obj, err := env.backend.Object(s3TestBucket, k)
		if err != nil || obj.Size != int64(len(body)) {
			t.Errorf("%s: %+v, %v", k, obj, err)
		}
	}
}

// awsChunkedExample is the documented AWS example of a signed streaming
// upload: 66560 bytes of "a" in chunks of 65536, 1024 and 0 bytes, with the
// signatures AWS publishes, so passing it means the chain matches S3's.
func awsChunkedExample(corrupt bool) *http.Request {
	var body bytes.Buffer
	for _, c := range []struct {
		size int
		sig  string
	}{
		{65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"},
		{1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"},
		{0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
	} {
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", c.size, c.sig)
		data := bytes.Repeat([]byte("a"), c.size)
		if corrupt && c.size == 1024 {
			data[100] = 'b'
		}
		body.Write(data)
		body.WriteString("\r\n")
	}
	r := httptest.NewRequest(http.MethodPut, "/examplebucket/chunkObject.txt", bytes.NewReader(body.Bytes()))
	r.Host = "s3.amazonaws.com"
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("Content-Length", strconv.Itoa(body.Len()))
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Content-Sha256", s3StreamingSigned)
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"+
		"Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	return r
}

func TestS3ChunkedSignedUpload(t *testing.T) {
	b, err := NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket("examplebucket"); err != nil {
		t.Fatal(err)
	}
	fe := &S3FrontEnd{Backend: b, Credentials: map[string]string{"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		Now: func() time.Time { return time.Date(2013, 5, 24, 0, 1, 0, 0, time.UTC) }}

	w := httptest.NewRecorder()
	fe.ServeHTTP(w, awsChunkedExample(true))
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "SignatureDoesNotMatch") {
		t.Errorf("corrupted chunk: %d %s", w.Code, w.Body)
	}
	if _, err := b.Object("examplebucket", "chunkObject.txt"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("a body with a bad chunk was stored: %v", err)
	}

	w = httptest.NewRecorder()
	fe.ServeHTTP(w, awsChunkedExample(false))
	if w.Code != http.StatusOK {
		t.Fatalf("AWS example upload: %d %s", w.Code, w.Body)
	}
	obj, err := b.Object("examplebucket", "chunkObject.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("a"), 66560)
	if obj.Size != 66560 || !strings.EqualFold(obj.ETag, s3MD5Hex(want)) || obj.Meta.ContentEncoding != "" || obj.Meta.StorageClass != "Standard" {
		t.Errorf("stored %+v", obj)
	}
	if got := w.Header().Get("ETag"); got != `"`+s3MD5Hex(want)+`"` {
		t.Errorf("ETag %s", got)
	}
}

// The trailer of a signed streaming upload is signed after the last chunk;
// the vector is the AWS CRT's for the same example request.
func TestS3TrailerSignatureVector(t *testing.T) {
	cred := s3Credential{accessKey: "AKIAIOSFODNN7EXAMPLE", date: "20130524", region: "us-east-1", service: "s3"}
	a := &s3Auth{key: s3SigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", cred), amzDate: "20130524T000000Z", scope: cred.scope()}
	got := s3TrailerSignature(a, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
		[]string{"first:1st", "second:2nd", "third:3rd"})
	if want := "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"; got != want {
		t.Errorf("trailer signature %s, want %s", got, want)
	}
}

// Over TLS the SDK streams uploads as aws-chunked with a trailing CRC32.
func TestS3TrailingChecksumOverTLS(t *testing.T) {
	env := newS3Env(t, true)
	ctx := s3Ctx(t)
	c := env.client()
	body := s3RandBytes(300_000, 3)
	// An io.Reader that is not seekable makes the SDK stream.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("streamed"),
		Body: io.MultiReader(bytes.NewReader(body)), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
		t.Fatal(err)
	}
	puts := env.seen(http.MethodPut, "/streamed")
	if len(puts) != 1 || puts[0].Header.Get("X-Amz-Content-Sha256") != s3StreamingUnsTrl || puts[0].Header.Get("X-Amz-Trailer") == "" {
		t.Fatalf("PUT headers %v: want %s with a trailer", puts[0].Header, s3StreamingUnsTrl)
	}
	got, _ := s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("streamed")})
	if !bytes.Equal(got, body) {
		t.Fatal("streamed object differs")
	}

	// A trailer naming the wrong checksum is refused.
	var framed bytes.Buffer
	fmt.Fprintf(&framed, "%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", 5, "hello")
	h := http.Header{"Content-Encoding": {"aws-chunked"}, "X-Amz-Decoded-Content-Length": {"5"}, "X-Amz-Trailer": {"x-amz-checksum-crc32"}}
	status, resp := env.do(t, env.signedRequest(t, http.MethodPut, "/"+s3TestBucket+"/trailer", framed.Bytes(), s3StreamingUnsTrl, h))
	if status != 400 || !strings.Contains(resp, "BadDigest") {
		t.Errorf("wrong trailing checksum: %d %s", status, resp)
	}
	crc := crc32.ChecksumIEEE([]byte("hello"))
	framed.Reset()
	fmt.Fprintf(&framed, "%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", 5, "hello",
		base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)}))
	status, resp = env.do(t, env.signedRequest(t, http.MethodPut, "/"+s3TestBucket+"/trailer", framed.Bytes(), s3StreamingUnsTrl, h))
	if obj, err := env.backend.Object(s3TestBucket, "trailer"); status != 200 || err != nil || obj.Size != 5 {
		t.Errorf("right trailing checksum: %d %s; %v", status, resp, err)
	}
}

func TestS3VirtualHostedStyle(t *testing.T) {
	env := newS3Env(t, false)
	ctx := s3Ctx(t)
	addr := env.srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	// Every host name dials the test server: the SDK puts the bucket in
	// the host, bucket.localhost.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
	c := s3Client("http://localhost:"+port, hc, s3TestAK, s3TestSecret, false)
	s3Put(t, ctx, c, "vhost/key", []byte("virtual"))
	got, _ := s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("vhost/key")})
	if string(got) != "virtual" {
		t.Errorf("GET %q", got)
	}
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s3TestBucket), Prefix: aws.String("vhost/")})
	if err != nil || len(l.Contents) != 1 {
		t.Errorf("list: %+v, %v", l, err)
	}
	puts := env.seen(http.MethodPut, "/vhost/key")
	if len(puts) != 1 || puts[0].Host != s3TestBucket+".localhost:"+port || puts[0].URL.Path != "/vhost/key" {
		t.Errorf("requests were not virtual-hosted: %+v", puts)
	}
}

// Objects are shared with the other front ends: what S3 writes, OSS reads
// byte for byte, and the other way round.
func TestS3SharedBackendWithOSS(t *testing.T) {
	env := newS3Env(t, false)
	ctx := s3Ctx(t)
	c := env.client()
	oc, err := oss.New(env.ossSrv.URL, ossTestAK, ossTestSecret, oss.Timeout(10, 30))
	if err != nil {
		t.Fatal(err)
	}
	ob, err := oc.Bucket(s3TestBucket)
	if err != nil {
		t.Fatal(err)
	}

	fromS3 := s3RandBytes(70_000, 5)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("shared/from-s3"),
		Body: bytes.NewReader(fromS3), Metadata: map[string]string{"origin": "s3"}}); err != nil {
		t.Fatal(err)
	}
	rc, err := ob.GetObject("shared/from-s3")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc) // the OSS SDK checks the CRC64 as it reads
	rc.Close()
	if err != nil || !bytes.Equal(got, fromS3) {
		t.Fatalf("OSS read of an S3 object: %d bytes, %v", len(got), err)
	}
	meta, err := ob.GetObjectDetailedMeta("shared/from-s3")
	if err != nil || meta.Get("X-Oss-Meta-Origin") != "s3" {
		t.Errorf("OSS sees metadata %v, %v", meta, err)
	}

	fromOSS := s3RandBytes(90_000, 6)
	if err := ob.PutObject("shared/from-oss", bytes.NewReader(fromOSS), oss.Meta("origin", "oss")); err != nil {
		t.Fatal(err)
	}
	got, out := s3Get(t, ctx, c, &s3.GetObjectInput{Bucket: aws.String(s3TestBucket), Key: aws.String("shared/from-oss")})
	if !bytes.Equal(got, fromOSS) || out.Metadata["origin"] != "oss" || aws.ToString(out.ETag) != `"`+s3MD5Hex(fromOSS)+`"` {
		t.Errorf("S3 read of an OSS object: %d bytes, meta %v, ETag %s", len(got), out.Metadata, aws.ToString(out.ETag))
	}
}

func TestS3ServerWithFaults(t *testing.T) {
	srv, err := Start(Config{S3Addr: "127.0.0.1:0", Buckets: []string{"faulty"},
		S3Faults: FaultConfig{Fail: func(r *http.Request) *APIError {
			if strings.HasSuffix(r.URL.Path, "/broken") {
				return &APIError{Status: 503, Code: "SlowDown", Message: "injected"}
			}
			return nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if srv.S3URL() == "" {
		t.Fatal("no S3 URL")
	}
	ctx := s3Ctx(t)
	c := s3Client(srv.S3URL(), http.DefaultClient, DefaultS3AccessKeyID, DefaultS3SecretAccessKey, true)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("faulty"), Key: aws.String("ok"), Body: strings.NewReader("fine")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("faulty"), Key: aws.String("broken"), Body: strings.NewReader("no")})
	if code := s3Code(t, err); code != "SlowDown" {
		t.Errorf("injected fault: %s", code)
	}
	if st := srv.S3Faults.Stats(); st.Requests < 2 || st.InjectedErrors != 1 {
		t.Errorf("fault stats %+v", st)
	}
	if keys := srv.Backend.Keys("faulty"); !slices.Equal(keys, []string{"ok"}) {
		t.Errorf("keys %v", keys)
	}

	// Without S3Addr there is no S3 listener, as before.
	plain, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.S3URL() != "" {
		t.Errorf("S3 front end started without S3Addr: %s", plain.S3URL())
	}
}
