package emulator

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cos "github.com/tencentyun/cos-go-sdk-v5"

	"github.com/bucketferry/bucketferry/storage"
)

const (
	cosTestBucket = "examplebucket-1250000000"
	cosTestID     = "AKIDexample"
	cosTestKey    = "secret-key"
	cosTestHost   = cosTestBucket + ".cos.ap-guangzhou.myqcloud.com"
)

type cosEnv struct {
	backend *Backend
	fe      *COSFrontEnd
	srv     *httptest.Server
}

// newCOSEnv starts a COS front end with one bucket; wrap, when set, wraps
// the handler (to tamper with answers).
func newCOSEnv(t *testing.T, wrap func(http.Handler) http.Handler) *cosEnv {
	t.Helper()
	b, err := NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(cosTestBucket); err != nil {
		t.Fatal(err)
	}
	fe := &COSFrontEnd{Backend: b, Credentials: map[string]string{cosTestID: cosTestKey}}
	var h http.Handler = fe
	if wrap != nil {
		h = wrap(fe)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &cosEnv{backend: b, fe: fe, srv: srv}
}

// client returns an official SDK client for bucket, sending to the test
// server with the bucket's virtual host in the Host header.
func (e *cosEnv) client(t *testing.T, bucket, id, key string) *cos.Client {
	t.Helper()
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := cos.NewClient(&cos.BaseURL{BucketURL: u}, &http.Client{
		Timeout:   20 * time.Second,
		Transport: &cos.AuthorizationTransport{SecretID: id, SecretKey: key},
	})
	c.Host = bucket + ".cos.ap-guangzhou.myqcloud.com"
	c.Conf.RetryOpt.Count = 1
	return c
}

func (e *cosEnv) sdk(t *testing.T) *cos.Client {
	return e.client(t, cosTestBucket, cosTestID, cosTestKey)
}

// cosCode returns the COS error code and status of an SDK error.
func cosCode(t *testing.T, err error) (string, int) {
	t.Helper()
	var er *cos.ErrorResponse
	if !errors.As(err, &er) {
		t.Fatalf("error %v (%T) is not a *cos.ErrorResponse", err, err)
	}
	return er.Code, er.Response.StatusCode
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %d %s", status, code)
	}
	gotCode, gotStatus := cosCode(t, err)
	if gotCode != code || gotStatus != status {
		t.Fatalf("error %v: got %d %s, want %d %s", err, gotStatus, gotCode, status, code)
	}
}

func cosPut(t *testing.T, c *cos.Client, key string, data []byte, opt *cos.ObjectPutOptions) *cos.Response {
	t.Helper()
	resp, err := c.Object.Put(context.Background(), key, bytes.NewReader(data), opt)
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return resp
}

func cosGet(t *testing.T, c *cos.Client, key string, opt *cos.ObjectGetOptions) ([]byte, *cos.Response) {
	t.Helper()
	resp, err := c.Object.Get(context.Background(), key, opt)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data, resp
}

func TestCOSSignature(t *testing.T) {
	e := newCOSEnv(t, nil)
	ctx := context.Background()
	hc := &http.Client{Timeout: 10 * time.Second}
	data := []byte("signed content")
	resp := cosPut(t, e.sdk(t), "dir/signed object.txt", data, nil)
	if resp.Header.Get("x-cos-request-id") == "" {
		t.Error("PUT answer has no x-cos-request-id")
	}
	if got, _ := cosGet(t, e.sdk(t), "dir/signed object.txt", nil); !bytes.Equal(got, data) {
		t.Fatalf("GET = %q, want %q", got, data)
	}

	wrong := e.client(t, cosTestBucket, cosTestID, "not-the-secret")
	_, err := wrong.Object.Put(ctx, "x", strings.NewReader("abc"), nil)
	wantCode(t, err, "SignatureDoesNotMatch", 403)
	_, err = wrong.Object.Head(ctx, "dir/signed object.txt", nil)
	if _, status := cosCode(t, err); status != 403 {
		t.Fatalf("HEAD with a wrong secret: status %d, want 403", status)
	}
	_, _, err = wrong.Bucket.Get(ctx, &cos.BucketGetOptions{Prefix: "dir/"})
	wantCode(t, err, "SignatureDoesNotMatch", 403)

	unknown := e.client(t, cosTestBucket, "AKIDunknown", cosTestKey)
	_, _, err = unknown.Bucket.Get(ctx, nil)
	wantCode(t, err, "InvalidAccessKeyId", 403)

	// No signature at all.
	raw, err := hc.Get(e.srv.URL + "/" + cosTestBucket + "/dir/signed%20object.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	var doc cosErrorXML
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("unsigned GET answered %q: %v", body, err)
	}
	if raw.StatusCode != 403 || doc.Code != "AccessDenied" || doc.RequestID == "" || raw.Header.Get("x-cos-request-id") != doc.RequestID {
		t.Fatalf("unsigned GET: %d %+v, request id header %q", raw.StatusCode, doc, raw.Header.Get("x-cos-request-id"))
	}

	// An expired signature, made with the SDK's own signer.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/"+cosTestBucket+"/dir/signed%20object.txt", nil)
	past := time.Now().Add(-2 * time.Hour)
	cos.AddAuthorizationHeader(cosTestID, cosTestKey, "", req, &cos.AuthTime{
		SignStartTime: past, SignEndTime: past.Add(time.Hour), KeyStartTime: past, KeyEndTime: past.Add(time.Hour)})
	raw, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(raw.Body)
	raw.Body.Close()
	if raw.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") || !strings.Contains(string(body), "expired") {
		t.Fatalf("expired signature: %d %s", raw.StatusCode, body)
	}

	// Path style (IP host), signed by the SDK's signer over /bucket/key,
	// with a signed URL parameter: the way a curl user would call it.
	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+"/"+cosTestBucket+"/dir/signed%20object.txt?response-content-type=text%2Fplain", nil)
	cos.AddAuthorizationHeader(cosTestID, cosTestKey, "", req, cos.NewAuthTime(time.Minute))
	raw, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(raw.Body)
	raw.Body.Close()
	if raw.StatusCode != 200 || !bytes.Equal(body, data) || raw.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("path-style GET: %d %q (Content-Type %q)", raw.StatusCode, body, raw.Header.Get("Content-Type"))
	}

	// A pre-signed URL carries the signature in the query. It is made for
	// the real virtual host and sent to the test server by a dialer.
	vhost, _ := url.Parse("http://" + cosTestHost)
	presigner := cos.NewClient(&cos.BaseURL{BucketURL: vhost}, nil)
	u, err := presigner.Object.GetPresignedURL(ctx, http.MethodGet, "dir/signed object.txt", cosTestID, cosTestKey, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := e.srv.Listener.Addr().String()
	dialer := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	raw, err = dialer.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(raw.Body)
	raw.Body.Close()
	if raw.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("pre-signed GET: %d %q", raw.StatusCode, body)
	}
}

func TestCOSBuckets(t *testing.T) {
	e := newCOSEnv(t, nil)
	ctx := context.Background()
	if _, err := e.sdk(t).Bucket.Head(ctx); err != nil {
		t.Fatalf("HEAD bucket: %v", err)
	}
	other := e.client(t, "newbucket-1250000000", cosTestID, cosTestKey)
	if ok, err := other.Bucket.IsExist(ctx); err != nil || ok {
		t.Fatalf("IsExist of a missing bucket = %v, %v", ok, err)
	}
	_, _, err := other.Bucket.Get(ctx, nil)
	wantCode(t, err, "NoSuchBucket", 404)
	_, err = other.Object.Put(ctx, "k", strings.NewReader("v"), nil)
	wantCode(t, err, "NoSuchBucket", 404)
	if _, err := other.Bucket.Put(ctx, nil); err != nil {
		t.Fatalf("PUT bucket: %v", err)
	}
	if !e.backend.BucketExists("newbucket-1250000000") {
		t.Fatal("PUT bucket did not create it")
	}
	_, err = other.Bucket.Put(ctx, nil)
	wantCode(t, err, "BucketAlreadyOwnedByYou", 409)
	bad := e.client(t, "no_appid", cosTestID, cosTestKey)
	_, err = bad.Bucket.Put(ctx, nil)
	wantCode(t, err, "InvalidBucketName", 400)
}

// cosOddKeys are keys that break naive encoding.
var cosOddKeys = []string{
	"100% sure", "a+b", "a b", "dir/sub dir/file+1.txt", "dir/x&y=z", "dir/~tilde", "dir/用户/照片.jpg",
	"percent%2Fslash", "plus+%41", "q?mark#hash", "über/ñ", "z&",
}

func TestCOSListEncoding(t *testing.T) {
	e := newCOSEnv(t, nil)
	ctx := context.Background()
	c := e.sdk(t)
	for _, k := range cosOddKeys {
		cosPut(t, c, k, []byte(k), nil)
	}
	want := slices.Clone(cosOddKeys)
	slices.Sort(want)

	dec := func(s string) string {
		t.Helper()
		v, err := cos.DecodeURIComponent(s)
		if err != nil {
			t.Fatalf("decode %q: %v", s, err)
		}
		return v
	}
	// Pages of 3 with NextMarker, encoding-type=url.
	var got []string
	marker := ""
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatal("listing does not end")
		}
		res, _, err := c.Bucket.Get(ctx, &cos.BucketGetOptions{Marker: marker, MaxKeys: 3, EncodingType: "url"})
		if err != nil {
			t.Fatal(err)
		}
		if res.EncodingType != "url" || res.MaxKeys != 3 {
			t.Fatalf("EncodingType %q MaxKeys %d", res.EncodingType, res.MaxKeys)
		}
		for _, o := range res.Contents {
			got = append(got, dec(o.Key))
			if o.StorageClass != "STANDARD" || o.Size != int64(len(dec(o.Key))) || !strings.HasPrefix(o.ETag, `"`) {
				t.Errorf("object %+v", o)
			}
		}
		if !res.IsTruncated {
			if res.NextMarker != "" {
				t.Errorf("last page has NextMarker %q", res.NextMarker)
			}
			break
		}
		if res.NextMarker == "" {
			t.Fatal("truncated page without NextMarker")
		}
		marker = dec(res.NextMarker)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed\n%q\nwant\n%q", got, want)
	}

	// Delimiter: common prefixes are encoded too, and paging resumes after
	// a common prefix.
	var prefixes, keys []string
	marker = ""
	for {
		res, _, err := c.Bucket.Get(ctx, &cos.BucketGetOptions{Prefix: "dir/", Delimiter: "/", Marker: marker, MaxKeys: 2, EncodingType: "url"})
		if err != nil {
			t.Fatal(err)
		}
		if dec(res.Prefix) != "dir/" || dec(res.Delimiter) != "/" {
			t.Fatalf("Prefix %q Delimiter %q", res.Prefix, res.Delimiter)
		}
		for _, p := range res.CommonPrefixes {
			prefixes = append(prefixes, dec(p))
		}
		for _, o := range res.Contents {
			keys = append(keys, dec(o.Key))
		}
		if !res.IsTruncated {
			break
		}
		marker = dec(res.NextMarker)
	}
	if want := []string{"dir/sub dir/", "dir/用户/"}; !slices.Equal(prefixes, want) {
		t.Errorf("common prefixes %q, want %q", prefixes, want)
	}
	if want := []string{"dir/x&y=z", "dir/~tilde"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}

	// Without encoding-type the XML itself carries the raw keys.
	res, _, err := c.Bucket.Get(ctx, &cos.BucketGetOptions{Prefix: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Contents) != 2 || res.Contents[0].Key != "a b" || res.Contents[1].Key != "a+b" {
		t.Fatalf("raw listing %+v", res.Contents)
	}
	_, _, err = c.Bucket.Get(ctx, &cos.BucketGetOptions{EncodingType: "base64"})
	wantCode(t, err, "InvalidArgument", 400)

	// Every odd key reads back through the SDK's path encoding.
	for _, k := range cosOddKeys {
		if got, _ := cosGet(t, c, k, nil); string(got) != k {
			t.Errorf("GET %q = %q", k, got)
		}
	}
}

func TestCOSObjectHeadersAndRange(t *testing.T) {
	e := newCOSEnv(t, nil)
	c := e.sdk(t)
	ctx := context.Background()
	data := []byte("0123456789abcdefghij")
	meta := http.Header{}
	meta.Set("x-cos-meta-origin", "oss://source")
	meta.Set("x-cos-meta-Mixed-Case", "Value With Spaces")
	resp := cosPut(t, c, "meta/obj", data, &cos.ObjectPutOptions{ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{
		ContentType: "text/plain; charset=utf-8", CacheControl: "max-age=60", ContentDisposition: `attachment; filename="a.txt"`,
		ContentEncoding: "identity", ContentLanguage: "zh-CN", Expires: "Wed, 21 Oct 2037 07:28:00 GMT",
		XCosMetaXXX: &meta, XCosStorageClass: "STANDARD_IA",
	}})
	wantCRC := strconv.FormatUint(storage.CRC64(data), 10)
	if got := resp.Header.Get("x-cos-hash-crc64ecma"); got != wantCRC {
		t.Fatalf("PUT CRC %q, want %q", got, wantCRC)
	}
	obj, err := e.backend.Object(cosTestBucket, "meta/obj")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Meta.StorageClass != storage.ClassIA || obj.Meta.User["mixed-case"] != "Value With Spaces" || obj.Meta.User["origin"] != "oss://source" {
		t.Fatalf("stored meta %+v", obj.Meta)
	}

	head, err := c.Object.Head(ctx, "meta/obj", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "max-age=60", "Content-Disposition": `attachment; filename="a.txt"`,
		"Content-Encoding": "identity", "Content-Language": "zh-CN", "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
		"x-cos-meta-origin": "oss://source", "x-cos-meta-mixed-case": "Value With Spaces", "x-cos-storage-class": "STANDARD_IA",
		"x-cos-hash-crc64ecma": wantCRC, "Content-Length": strconv.Itoa(len(data)), "ETag": strings.ToLower(`"` + obj.ETag + `"`),
	} {
		if got := head.Header.Get(k); got != v {
			t.Errorf("HEAD %s = %q, want %q", k, got, v)
		}
	}

	got, resp := cosGet(t, c, "meta/obj", &cos.ObjectGetOptions{Range: "bytes=5-9"})
	if string(got) != "56789" || resp.StatusCode != 206 || resp.Header.Get("Content-Range") != "bytes 5-9/20" {
		t.Fatalf("ranged GET: %d %q %q", resp.StatusCode, got, resp.Header.Get("Content-Range"))
	}
	if resp.Header.Get("x-cos-hash-crc64ecma") != wantCRC {
		t.Errorf("ranged GET CRC %q, want the whole object's %q", resp.Header.Get("x-cos-hash-crc64ecma"), wantCRC)
	}
	if got, _ := cosGet(t, c, "meta/obj", &cos.ObjectGetOptions{Range: "bytes=-3"}); string(got) != "hij" {
		t.Errorf("suffix range = %q", got)
	}
	_, err = c.Object.Get(ctx, "meta/obj", &cos.ObjectGetOptions{Range: "bytes=100-"})
	wantCode(t, err, "InvalidRange", 416)
	_, err = c.Object.Get(ctx, "missing", nil)
	wantCode(t, err, "NoSuchKey", 404)
	if _, err := c.Object.Head(ctx, "missing", nil); !cos.IsNotFoundError(err) {
		t.Errorf("HEAD missing: %v", err)
	}

	// Objects without a CRC (old objects) answer none.
	if err := e.backend.UpdateObject(cosTestBucket, "meta/obj", func(o *Object) { o.NoCRC = true }); err != nil {
		t.Fatal(err)
	}
	if head, err := c.Object.Head(ctx, "meta/obj", nil); err != nil || head.Header.Get("x-cos-hash-crc64ecma") != "" {
		t.Errorf("HEAD of an object without CRC: %v, header %q", err, head.Header.Get("x-cos-hash-crc64ecma"))
	}

	if resp, err := c.Object.Delete(ctx, "meta/obj"); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE: %v", err)
	}
	if resp, err := c.Object.Delete(ctx, "meta/obj"); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE of a missing object: %v", err)
	}
	if _, err := e.backend.Object(cosTestBucket, "meta/obj"); err != ErrNoSuchKey {
		t.Fatalf("object still there: %v", err)
	}
}

func TestCOSMetadataLimits(t *testing.T) {
	e := newCOSEnv(t, nil)
	c := e.sdk(t)
	ctx := context.Background()
	put := func(meta http.Header) error {
		_, err := c.Object.Put(ctx, "m", strings.NewReader("x"), &cos.ObjectPutOptions{
			ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{XCosMetaXXX: &meta}})
		return err
	}
	// One header of 2 KB (name and value) passes; one byte more fails.
	ok := http.Header{}
	ok.Set("x-cos-meta-big", strings.Repeat("v", cosMaxMetaHeader-len("x-cos-meta-big")))
	if err := put(ok); err != nil {
		t.Fatalf("2 KB header: %v", err)
	}
	tooBig := http.Header{}
	tooBig.Set("x-cos-meta-big", strings.Repeat("v", cosMaxMetaHeader-len("x-cos-meta-big")+1))
	err := put(tooBig)
	wantCode(t, err, "MetadataTooLarge", 400)
	if er := err.(*cos.ErrorResponse); !strings.Contains(er.Message, "x-cos-meta-big") {
		t.Errorf("message %q does not name the header", er.Message)
	}
	// Three headers of 1.5 KB are 4.5 KB in total.
	total := http.Header{}
	for i := range 3 {
		total.Set(fmt.Sprintf("x-cos-meta-k%d", i), strings.Repeat("v", 1500))
	}
	err = put(total)
	wantCode(t, err, "MetadataTooLarge", 400)
	_, _, err = c.Object.InitiateMultipartUpload(ctx, "m", &cos.InitiateMultipartUploadOptions{
		ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{XCosMetaXXX: &total}})
	wantCode(t, err, "MetadataTooLarge", 400)
	if obj, err := e.backend.Object(cosTestBucket, "m"); err != nil || len(obj.Meta.User["big"]) != cosMaxMetaHeader-len("x-cos-meta-big") {
		t.Fatalf("the rejected PUTs changed the object: %v", err)
	}
	_, err = c.Object.Put(ctx, "m", strings.NewReader("x"), &cos.ObjectPutOptions{
		ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{XCosStorageClass: "COLD"}})
	wantCode(t, err, "InvalidArgument", 400)
}

func TestCOSStorageClasses(t *testing.T) {
	e := newCOSEnv(t, nil)
	c := e.sdk(t)
	ctx := context.Background()
	for class, neutral := range map[string]string{
		"STANDARD": storage.ClassStandard, "STANDARD_IA": storage.ClassIA, "ARCHIVE": storage.ClassArchive,
		"DEEP_ARCHIVE": storage.ClassDeepColdArchive, "INTELLIGENT_TIERING": storage.ClassIntelligent, "MAZ_STANDARD": "MAZ_STANDARD",
	} {
		cosPut(t, c, "class/"+class, []byte(class), &cos.ObjectPutOptions{ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{XCosStorageClass: class}})
		obj, err := e.backend.Object(cosTestBucket, "class/"+class)
		if err != nil || obj.Meta.StorageClass != neutral {
			t.Errorf("%s stored as %q (%v), want %q", class, obj.Meta.StorageClass, err, neutral)
		}
		head, err := c.Object.Head(ctx, "class/"+class, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := class
		if class == "STANDARD" {
			want = "" // COS names the class only when it is not STANDARD
		}
		if got := head.Header.Get("x-cos-storage-class"); got != want {
			t.Errorf("HEAD %s: class header %q, want %q", class, got, want)
		}
	}
	// ColdArchive (from OSS) shows as DEEP_ARCHIVE.
	if _, err := e.backend.AddObject(cosTestBucket, "class/cold", GeneratedBlob(1, 10), Meta{StorageClass: storage.ClassColdArchive}); err != nil {
		t.Fatal(err)
	}
	res, _, err := c.Bucket.Get(ctx, &cos.BucketGetOptions{Prefix: "class/"})
	if err != nil {
		t.Fatal(err)
	}
	classes := map[string]string{}
	for _, o := range res.Contents {
		classes[o.Key] = o.StorageClass
	}
	if classes["class/cold"] != "DEEP_ARCHIVE" || classes["class/ARCHIVE"] != "ARCHIVE" || classes["class/STANDARD"] != "STANDARD" {
		t.Errorf("listed classes %v", classes)
	}

	// Archived objects can be HEADed but not read until restored.
	_, err = c.Object.Get(ctx, "class/ARCHIVE", nil)
	wantCode(t, err, "InvalidObjectState", 403)
	_, err = c.Object.Get(ctx, "class/cold", nil)
	wantCode(t, err, "InvalidObjectState", 403)
	if err := e.backend.UpdateObject(cosTestBucket, "class/ARCHIVE", func(o *Object) { o.Restored = true }); err != nil {
		t.Fatal(err)
	}
	got, resp := cosGet(t, c, "class/ARCHIVE", nil)
	if string(got) != "ARCHIVE" || !strings.Contains(resp.Header.Get("x-cos-restore"), `ongoing-request="false"`) {
		t.Errorf("restored GET %q, x-cos-restore %q", got, resp.Header.Get("x-cos-restore"))
	}
}

// cosCorruptCRC rewrites the CRC header of PUT answers.
func cosCorruptCRC(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w = &crcRewriter{ResponseWriter: w}
		}
		h.ServeHTTP(w, r)
	})
}

type crcRewriter struct{ http.ResponseWriter }

func (c *crcRewriter) WriteHeader(status int) {
	if v := c.Header().Get("x-cos-hash-crc64ecma"); v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		c.Header().Set("x-cos-hash-crc64ecma", strconv.FormatUint(n^1, 10))
	}
	c.ResponseWriter.WriteHeader(status)
}

func TestCOSCRCCheckedBySDK(t *testing.T) {
	// The SDK compares the CRC header with the CRC of what it sent, so the
	// front end's header must be the right one: PUT and UploadPart pass
	// against the plain front end and fail when the header is off by a bit.
	e := newCOSEnv(t, nil)
	ctx := context.Background()
	c := e.sdk(t)
	cosPut(t, c, "crc", bytes.Repeat([]byte("crc"), 1000), nil)
	init, _, err := c.Object.InitiateMultipartUpload(ctx, "crc-mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Object.UploadPart(ctx, "crc-mp", init.UploadID, 1, bytes.NewReader([]byte("part")), nil); err != nil {
		t.Fatalf("UploadPart: %v", err)
	}

	bad := newCOSEnv(t, cosCorruptCRC)
	bc := bad.sdk(t)
	_, err = bc.Object.Put(ctx, "crc", bytes.NewReader([]byte("data")), nil)
	if err == nil || !strings.Contains(err.Error(), "verification failed") {
		t.Fatalf("PUT with a wrong CRC header: %v, want the SDK's verification failure", err)
	}
	init, _, err = bc.Object.InitiateMultipartUpload(ctx, "crc-mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Object.UploadPart(ctx, "crc-mp", init.UploadID, 1, bytes.NewReader([]byte("part")), nil); err == nil {
		t.Fatal("UploadPart with a wrong CRC header succeeded")
	}
}

func TestCOSMultipart(t *testing.T) {
	e := newCOSEnv(t, nil)
	c := e.sdk(t)
	ctx := context.Background()
	part1 := bytes.Repeat([]byte{'a'}, cosMinPartSize)
	part2 := bytes.Repeat([]byte{'b'}, cosMinPartSize)
	part3 := []byte("tail")

	meta := http.Header{}
	meta.Set("x-cos-meta-kind", "multipart")
	init, _, err := c.Object.InitiateMultipartUpload(ctx, "mp/object 1", &cos.InitiateMultipartUploadOptions{
		ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{ContentType: "application/x-test", XCosMetaXXX: &meta, XCosStorageClass: "STANDARD_IA"}})
	if err != nil {
		t.Fatal(err)
	}
	if init.Key != "mp/object 1" || init.Bucket != cosTestBucket || init.UploadID == "" {
		t.Fatalf("initiate result %+v", init)
	}
	var etags []string
	for i, p := range [][]byte{part1, part2, part3} {
		resp, err := c.Object.UploadPart(ctx, "mp/object 1", init.UploadID, i+1, bytes.NewReader(p), nil)
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		if got, want := resp.Header.Get("x-cos-hash-crc64ecma"), strconv.FormatUint(storage.CRC64(p), 10); got != want {
			t.Errorf("part %d CRC %q, want %q", i+1, got, want)
		}
		etags = append(etags, resp.Header.Get("ETag"))
	}

	// List parts one at a time.
	var listed []cos.Object
	marker := ""
	for range 5 {
		res, _, err := c.Object.ListParts(ctx, "mp/object 1", init.UploadID, &cos.ObjectListPartsOptions{MaxParts: "1", PartNumberMarker: marker})
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, res.Parts...)
		if !res.IsTruncated {
			break
		}
		marker = res.NextPartNumberMarker
	}
	if len(listed) != 3 || listed[0].PartNumber != 1 || listed[2].PartNumber != 3 || listed[1].Size != cosMinPartSize || listed[2].ETag != etags[2] {
		t.Fatalf("listed parts %+v", listed)
	}

	// Uploads in progress, paged one at a time, keys URL-encoded.
	second, _, err := c.Object.InitiateMultipartUpload(ctx, "mp/object+2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Object.InitiateMultipartUpload(ctx, "other", nil); err != nil {
		t.Fatal(err)
	}
	var ups []string
	opt := &cos.ListMultipartUploadsOptions{Prefix: "mp/", MaxUploads: 1, EncodingType: "url"}
	for range 5 {
		res, _, err := c.Bucket.ListMultipartUploads(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Uploads {
			k, _ := cos.DecodeURIComponent(u.Key)
			ups = append(ups, k+"="+u.UploadID)
		}
		if !res.IsTruncated {
			break
		}
		opt.KeyMarker, _ = cos.DecodeURIComponent(res.NextKeyMarker)
		opt.UploadIDMarker = res.NextUploadIDMarker
	}
	if want := []string{"mp/object 1=" + init.UploadID, "mp/object+2=" + second.UploadID}; !slices.Equal(ups, want) {
		t.Fatalf("uploads %q, want %q", ups, want)
	}
	if resp, err := c.Object.AbortMultipartUpload(ctx, "mp/object+2", second.UploadID); err != nil || resp.StatusCode != 204 {
		t.Fatalf("abort: %v", err)
	}
	_, err = c.Object.AbortMultipartUpload(ctx, "mp/object+2", second.UploadID)
	wantCode(t, err, "NoSuchUpload", 404)

	complete := func(nums ...int) (*cos.CompleteMultipartUploadResult, *cos.Response, error) {
		opt := &cos.CompleteMultipartUploadOptions{}
		for _, n := range nums {
			opt.Parts = append(opt.Parts, cos.Object{PartNumber: n, ETag: etags[n-1]})
		}
		return c.Object.CompleteMultipartUpload(ctx, "mp/object 1", init.UploadID, opt)
	}
	// Non-consecutive part numbers.
	_, _, err = complete(1, 3)
	wantCode(t, err, "InvalidPart", 400)
	// A part under 1 MiB that is not the last.
	small, _, err := c.Object.InitiateMultipartUpload(ctx, "mp/small", nil)
	if err != nil {
		t.Fatal(err)
	}
	var smallParts []cos.Object
	for i, p := range [][]byte{part3, part3} {
		resp, err := c.Object.UploadPart(ctx, "mp/small", small.UploadID, i+1, bytes.NewReader(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		smallParts = append(smallParts, cos.Object{PartNumber: i + 1, ETag: resp.Header.Get("ETag")})
	}
	_, _, err = c.Object.CompleteMultipartUpload(ctx, "mp/small", small.UploadID, &cos.CompleteMultipartUploadOptions{Parts: smallParts})
	wantCode(t, err, "EntityTooSmall", 400)
	_, err = c.Object.UploadPart(ctx, "mp/small", small.UploadID, 10001, bytes.NewReader(part3), nil)
	wantCode(t, err, "InvalidArgument", 400)

	res, resp, err := complete(1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	whole := slices.Concat(part1, part2, part3)
	wantCRC := strconv.FormatUint(storage.CRC64(whole), 10)
	if resp.Header.Get("x-cos-hash-crc64ecma") != wantCRC || !strings.HasSuffix(res.ETag, `-3"`) {
		t.Fatalf("complete: CRC %q (want %q), ETag %q", resp.Header.Get("x-cos-hash-crc64ecma"), wantCRC, res.ETag)
	}
	got, getResp := cosGet(t, c, "mp/object 1", nil)
	if !bytes.Equal(got, whole) || getResp.Header.Get("x-cos-hash-crc64ecma") != wantCRC ||
		getResp.Header.Get("x-cos-meta-kind") != "multipart" || getResp.Header.Get("Content-Type") != "application/x-test" ||
		getResp.Header.Get("x-cos-storage-class") != "STANDARD_IA" {
		t.Fatalf("completed object: %d bytes, headers %v", len(got), getResp.Header)
	}
	_, _, err = c.Object.ListParts(ctx, "mp/object 1", init.UploadID, nil)
	wantCode(t, err, "NoSuchUpload", 404)
	if n := e.backend.UploadCount(cosTestBucket); n != 2 {
		t.Errorf("%d uploads left, want 2 (mp/small and other)", n)
	}
}

// The SDK's own high-level multipart uploader (Object.Upload) drives the
// whole protocol, with parallel parts and its CRC checks.
func TestCOSSDKUploader(t *testing.T) {
	e := newCOSEnv(t, nil)
	c := e.sdk(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<16+5) // 3 MiB + 80 bytes
	path := t.TempDir() + "/big"
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Object.Upload(ctx, "big/file", path, &cos.MultiUploadOptions{PartSize: 1, ThreadPoolSize: 3}); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	obj, err := e.backend.Object(cosTestBucket, "big/file")
	if err != nil || obj.Size != int64(len(data)) || obj.CRC64 != storage.CRC64(data) {
		t.Fatalf("uploaded object %+v, %v", obj, err)
	}
}

// Injected faults are answered in COS's own error format, so the SDK sees
// them as *cos.ErrorResponse with a request id.
func TestCOSFaultErrors(t *testing.T) {
	faults := NewFaults(FaultConfig{ErrorRate: 1})
	e := newCOSEnv(t, func(h http.Handler) http.Handler { return faults.Wrap(h, h.(*COSFrontEnd).WriteError) })
	c := e.sdk(t)
	for range 4 {
		_, err := c.Object.Put(context.Background(), "k", bytes.NewReader(make([]byte, 100<<10)), nil)
		code, status := cosCode(t, err)
		if !(code == "SlowDown" && status == 503) && !(code == "InternalError" && status == 500) {
			t.Fatalf("injected error answered %d %s", status, code)
		}
		if er := err.(*cos.ErrorResponse); er.RequestID == "" || er.Response.Header.Get("x-cos-request-id") != er.RequestID {
			t.Fatalf("injected error without a request id: %+v", er)
		}
	}
	if keys := e.backend.Keys(cosTestBucket); len(keys) != 0 {
		t.Fatalf("failed PUTs stored %q", keys)
	}
}
