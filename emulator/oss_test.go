package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

	"github.com/bucketferry/bucketferry/storage"
)

const (
	ossTestAK     = "test-ak"
	ossTestSecret = "test-secret"
)

// ossEnv is an OSS front end on a loopback server.
type ossEnv struct {
	fe    *OSSFrontEnd
	srv   *httptest.Server
	mu    sync.Mutex
	hosts []string // Host headers seen
	// mutate, when set, may change an answer's headers (to prove that the SDK
	// checks them).
	mutate func(h http.Header)
}

func newOSSEnv(t *testing.T) *ossEnv {
	t.Helper()
	b, err := NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	env := &ossEnv{fe: &OSSFrontEnd{Backend: b, Credentials: map[string]string{ossTestAK: ossTestSecret}}}
	env.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.mu.Lock()
		env.hosts = append(env.hosts, r.Host)
		mutate := env.mutate
		env.mu.Unlock()
		if mutate != nil {
			w = &ossMutatingWriter{ResponseWriter: w, mutate: mutate}
		}
		env.fe.ServeHTTP(w, r)
	}))
	t.Cleanup(env.srv.Close)
	return env
}

type ossMutatingWriter struct {
	http.ResponseWriter
	mutate func(http.Header)
	done   bool
}

func (m *ossMutatingWriter) WriteHeader(code int) {
	if !m.done {
		m.done = true
		m.mutate(m.Header())
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *ossMutatingWriter) Write(p []byte) (int, error) {
	if !m.done {
		m.WriteHeader(http.StatusOK)
	}
	return m.ResponseWriter.Write(p)
}

// client returns an SDK client on the path-style loopback endpoint.
func (env *ossEnv) client(t *testing.T, secret string, opts ...oss.ClientOption) *oss.Client {
	t.Helper()
	c, err := oss.New(env.srv.URL, ossTestAK, secret, append([]oss.ClientOption{oss.Timeout(5, 10)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hostClient returns an SDK client on the real-looking endpoint
// oss-cn-hangzhou.aliyuncs.com whose connections all go to the loopback
// server, so virtual-host routing is exercised offline.
func (env *ossEnv) hostClient(t *testing.T, opts ...oss.ClientOption) *oss.Client {
	t.Helper()
	addr := env.srv.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := oss.New("http://oss-cn-hangzhou.aliyuncs.com", ossTestAK, ossTestSecret,
		append([]oss.ClientOption{oss.HTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (env *ossEnv) seenHosts() []string {
	env.mu.Lock()
	defer env.mu.Unlock()
	return slices.Clone(env.hosts)
}

func ossMustBucket(t *testing.T, c *oss.Client, name string) *oss.Bucket {
	t.Helper()
	if err := c.CreateBucket(name); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	b, err := c.Bucket(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ossServiceError(t *testing.T, err error) oss.ServiceError {
	t.Helper()
	var se oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want an oss.ServiceError, got %T: %v", err, err)
	}
	return se
}

func wantOSSError(t *testing.T, err error, status int, code string) {
	t.Helper()
	se := ossServiceError(t, err)
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, se.StatusCode, se.Code, se.Message)
	}
	if se.RequestID == "" {
		t.Errorf("error %s carries no request id", code)
	}
}

func ossGet(t *testing.T, b *oss.Bucket, key string, opts ...oss.Option) []byte {
	t.Helper()
	rc, err := b.GetObject(key, opts...)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func ossRandomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func ossAuthVersions() map[string][]oss.ClientOption {
	return map[string][]oss.ClientOption{
		"v1": nil,
		"v4": {oss.AuthVersion(oss.AuthV4), oss.Region("cn-hangzhou")},
	}
}

func TestOSSSignatures(t *testing.T) {
	for name, opts := range ossAuthVersions() {
		t.Run(name, func(t *testing.T) {
			env := newOSSEnv(t)
			c := env.client(t, ossTestSecret, opts...)
			b := ossMustBucket(t, c, "sig-"+name)
			body := []byte("hello, signatures")
			// Keys with characters that the two canonical forms treat
			// differently (raw in V1, escaped in V4).
			for _, key := range []string{"plain.txt", "dir/sub dir/a+b%c~&=?.txt", "中文/ключ"} {
				if err := b.PutObject(key, bytes.NewReader(body), oss.Meta("Color", "blue"), oss.ContentType("text/plain")); err != nil {
					t.Fatalf("put %q: %v", key, err)
				}
				got := ossGet(t, b, key, oss.ResponseContentType("application/x-test"))
				if !bytes.Equal(got, body) {
					t.Fatalf("get %q: got %q", key, got)
				}
				h, err := b.GetObjectDetailedMeta(key)
				if err != nil {
					t.Fatalf("head %q: %v", key, err)
				}
				if h.Get("X-Oss-Meta-Color") != "blue" {
					t.Errorf("head %q: meta %q", key, h.Get("X-Oss-Meta-Color"))
				}
			}
			// Signed sub-resources and unsigned parameters together.
			if _, err := b.ListObjects(oss.Prefix("dir/"), oss.Delimiter("/"), oss.MaxKeys(5), oss.Marker("a")); err != nil {
				t.Fatalf("list: %v", err)
			}
			if _, err := c.GetBucketInfo("sig-" + name); err != nil {
				t.Fatalf("bucket info: %v", err)
			}

			bad := env.client(t, "wrong-secret", opts...)
			bb, _ := bad.Bucket("sig-" + name)
			err := bb.PutObject("x", strings.NewReader("x"))
			wantOSSError(t, err, 403, "SignatureDoesNotMatch")
			_, err = bb.GetObject("plain.txt")
			wantOSSError(t, err, 403, "SignatureDoesNotMatch")
			_, err = bb.GetObjectDetailedMeta("plain.txt") // HEAD: the error comes in x-oss-err
			wantOSSError(t, err, 403, "SignatureDoesNotMatch")
			_, err = bb.ListObjects()
			wantOSSError(t, err, 403, "SignatureDoesNotMatch")

			unknown, err := oss.New(env.srv.URL, "nobody", ossTestSecret, opts...)
			if err != nil {
				t.Fatal(err)
			}
			ub, _ := unknown.Bucket("sig-" + name)
			_, err = ub.ListObjects()
			wantOSSError(t, err, 403, "InvalidAccessKeyId")
		})
	}
}

func TestOSSAuthRejections(t *testing.T) {
	env := newOSSEnv(t)
	c := env.client(t, ossTestSecret)
	ossMustBucket(t, c, "auth")

	resp, err := http.Get(env.srv.URL + "/auth/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") ||
		resp.Header.Get("X-Oss-Request-Id") == "" {
		t.Fatalf("anonymous request: %d %s", resp.StatusCode, body)
	}

	// V4 scoped to another region.
	other := env.client(t, ossTestSecret, oss.AuthVersion(oss.AuthV4), oss.Region("cn-beijing"))
	ob, _ := other.Bucket("auth")
	_, err = ob.ListObjects()
	wantOSSError(t, err, 403, "AccessDenied")

	// V4 signs x-oss-date instead of Date when the request carries it; the
	// server must use it for the string to sign and the skew check.
	v4 := env.client(t, ossTestSecret, oss.AuthVersion(oss.AuthV4), oss.Region("cn-hangzhou"))
	vb, _ := v4.Bucket("auth")
	if _, err := vb.ListObjects(oss.SetHeader("X-Oss-Date", time.Now().UTC().Format("20060102T150405Z"))); err != nil {
		t.Fatalf("V4 with x-oss-date: %v", err)
	}
	_, err = vb.ListObjects(oss.SetHeader("X-Oss-Date", time.Now().Add(-time.Hour).UTC().Format("20060102T150405Z")))
	wantOSSError(t, err, 403, "RequestTimeTooSkewed")

	// STS credentials carry x-oss-security-token, which both versions sign.
	for _, opts := range ossAuthVersions() {
		sts := env.client(t, ossTestSecret, append([]oss.ClientOption{oss.SecurityToken("sts-token")}, opts...)...)
		sb, _ := sts.Bucket("auth")
		if err := sb.PutObject("sts", strings.NewReader("x")); err != nil {
			t.Fatalf("with a security token: %v", err)
		}
	}

	// A stale Date is refused even with a valid signature.
	req, _ := http.NewRequest(http.MethodGet, env.srv.URL+"/auth/", nil)
	req.Header.Set("Date", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
	req.Header.Set("Authorization", "OSS "+ossTestAK+":whatever")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "RequestTimeTooSkewed") {
		t.Fatalf("stale date: %d %s", resp.StatusCode, body)
	}
}

func TestOSSVirtualHostRouting(t *testing.T) {
	for name, opts := range ossAuthVersions() {
		t.Run(name, func(t *testing.T) {
			env := newOSSEnv(t)
			c := env.hostClient(t, opts...)
			b := ossMustBucket(t, c, "vhost")
			if err := b.PutObject("a/b c.txt", strings.NewReader("virtual")); err != nil {
				t.Fatal(err)
			}
			if got := ossGet(t, b, "a/b c.txt"); string(got) != "virtual" {
				t.Fatalf("get: %q", got)
			}
			res, err := b.ListObjectsV2()
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Objects) != 1 || res.Objects[0].Key != "a/b c.txt" {
				t.Fatalf("list: %+v", res.Objects)
			}
			if !slices.Contains(env.seenHosts(), "vhost.oss-cn-hangzhou.aliyuncs.com") {
				t.Fatalf("no virtual-host request seen: %v", env.seenHosts())
			}
			if keys := env.fe.Backend.Keys("vhost"); !slices.Equal(keys, []string{"a/b c.txt"}) {
				t.Fatalf("backend keys %q", keys)
			}

			// The same endpoint forced to path style reaches the same bucket.
			pc := env.hostClient(t, append([]oss.ClientOption{oss.ForcePathStyle(true)}, opts...)...)
			pb, _ := pc.Bucket("vhost")
			if got := ossGet(t, pb, "a/b c.txt"); string(got) != "virtual" {
				t.Fatalf("path-style get: %q", got)
			}
		})
	}
}

// ossTestKeys are keys that break servers which do not URL-encode listings.
var ossTestKeys = []string{
	"100%", "100%25", "a+b", "a b", "a  b ", "tilde~x", "amp&x=y", "q?x", "hash#x", "semi;colon",
	"unicode/中文", "unicode/日本語 スペース", "emoji/😀", "dir/a", "dir/b/c", "dir/b/d", "dir/c%2Fd",
	"dir/e+f/g", "dir/sp ace/h", "lt<gt>", "quote\"x'", "back\\slash", "z",
}

func ossListAllV1(t *testing.T, b *oss.Bucket, opts ...oss.Option) (keys, prefixes []string, pages int) {
	t.Helper()
	marker := ""
	for {
		res, err := b.ListObjects(append([]oss.Option{oss.Marker(marker)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			return keys, prefixes, pages
		}
		if res.NextMarker == "" {
			t.Fatal("truncated v1 listing without NextMarker")
		}
		marker = res.NextMarker
		if pages > 100 {
			t.Fatal("listing does not end")
		}
	}
}

func ossListAllV2(t *testing.T, b *oss.Bucket, opts ...oss.Option) (keys, prefixes []string, pages int) {
	t.Helper()
	token := ""
	for {
		o := append([]oss.Option{}, opts...)
		if token != "" {
			o = append(o, oss.ContinuationToken(token))
		}
		res, err := b.ListObjectsV2(o...)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, obj := range res.Objects {
			keys = append(keys, obj.Key)
		}
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			return keys, prefixes, pages
		}
		if res.NextContinuationToken == "" {
			t.Fatal("truncated v2 listing without NextContinuationToken")
		}
		token = res.NextContinuationToken
		if pages > 100 {
			t.Fatal("listing does not end")
		}
	}
}

func TestOSSListingEncodingAndPaging(t *testing.T) {
	env := newOSSEnv(t)
	c := env.client(t, ossTestSecret)
	b := ossMustBucket(t, c, "list")
	for _, k := range ossTestKeys {
		if err := b.PutObject(k, strings.NewReader(k)); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	want := slices.Sorted(slices.Values(ossTestKeys))

	keys, _, pages := ossListAllV1(t, b, oss.MaxKeys(4))
	if !slices.Equal(keys, want) {
		t.Fatalf("v1 keys:\n got %q\nwant %q", keys, want)
	}
	if pages != (len(want)+3)/4 {
		t.Errorf("v1 pages = %d", pages)
	}
	keys, _, _ = ossListAllV2(t, b, oss.MaxKeys(3))
	if !slices.Equal(keys, want) {
		t.Fatalf("v2 keys:\n got %q\nwant %q", keys, want)
	}
	keys, _, _ = ossListAllV2(t, b, oss.MaxKeys(2), oss.StartAfter("a b"))
	if !slices.Equal(keys, want[slices.Index(want, "a b")+1:]) {
		t.Fatalf("v2 start-after keys: %q", keys)
	}

	// Delimiter, with a page size that splits the groups.
	keys, prefixes, _ := ossListAllV1(t, b, oss.Prefix("dir/"), oss.Delimiter("/"), oss.MaxKeys(1))
	if !slices.Equal(keys, []string{"dir/a", "dir/c%2Fd"}) ||
		!slices.Equal(prefixes, []string{"dir/b/", "dir/e+f/", "dir/sp ace/"}) {
		t.Fatalf("v1 delimiter: keys %q prefixes %q", keys, prefixes)
	}
	keys, prefixes, _ = ossListAllV2(t, b, oss.Prefix("dir/"), oss.Delimiter("/"), oss.MaxKeys(2))
	if !slices.Equal(keys, []string{"dir/a", "dir/c%2Fd"}) ||
		!slices.Equal(prefixes, []string{"dir/b/", "dir/e+f/", "dir/sp ace/"}) {
		t.Fatalf("v2 delimiter: keys %q prefixes %q", keys, prefixes)
	}
	res, err := b.ListObjects(oss.Prefix("unicode/"), oss.Delimiter("/"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Prefix != "unicode/" || res.Delimiter != "/" || len(res.Objects) != 2 {
		t.Fatalf("echoed prefix %q delimiter %q, %d objects", res.Prefix, res.Delimiter, len(res.Objects))
	}
	// The marker is echoed decoded too, and an odd marker works.
	res, err = b.ListObjects(oss.Marker("100%"), oss.MaxKeys(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Marker != "100%" || res.NextMarker != "100%25" || res.Objects[0].Key != "100%25" {
		t.Fatalf("marker %q next %q objects %v", res.Marker, res.NextMarker, res.Objects)
	}
	// Listing fields the SDK reads.
	o := res.Objects[0]
	if o.Size != int64(len("100%25")) || o.ETag == "" || o.Type != "Normal" || o.StorageClass != "Standard" || o.LastModified.IsZero() {
		t.Fatalf("object properties %+v", o)
	}

	_, err = b.ListObjects(oss.MaxKeys(1001))
	wantOSSError(t, err, 400, "InvalidArgument")
	missing, _ := c.Bucket("no-such-bucket")
	_, err = missing.ListObjects()
	wantOSSError(t, err, 404, "NoSuchBucket")
}

func TestOSSObjectBasics(t *testing.T) {
	env := newOSSEnv(t)
	c := env.client(t, ossTestSecret)
	b := ossMustBucket(t, c, "basics")
	body := ossRandomBytes(1, 4096)
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	err := b.PutObject("obj.bin", bytes.NewReader(body),
		oss.ContentType("application/x-custom"), oss.CacheControl("max-age=60"),
		oss.ContentDisposition(`attachment; filename="x.bin"`), oss.ContentLanguage("de-DE"),
		oss.Expires(expires), oss.Meta("Owner-Name", "Ada"),
		oss.ObjectStorageClass(oss.StorageIA))
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.GetObjectDetailedMeta("obj.bin")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/x-custom", "Cache-Control": "max-age=60",
		"Content-Disposition": `attachment; filename="x.bin"`, "Content-Language": "de-DE",
		"Expires": expires.Format(http.TimeFormat), "X-Oss-Meta-Owner-Name": "Ada",
		"X-Oss-Storage-Class": "IA", "Content-Length": "4096", "X-Oss-Object-Type": "Normal",
		"X-Oss-Hash-Crc64ecma": strconv.FormatUint(storage.CRC64(body), 10),
	} {
		if got := h.Get(k); got != want {
			t.Errorf("HEAD %s = %q, want %q", k, got, want)
		}
	}
	if obj, _ := env.fe.Backend.Object("basics", "obj.bin"); obj.Meta.StorageClass != storage.ClassIA || obj.Meta.User["owner-name"] != "Ada" {
		t.Errorf("backend meta %+v", obj.Meta)
	}

	// Ranged GETs carry the whole-object CRC.
	var rh http.Header
	got := ossGet(t, b, "obj.bin", oss.Range(100, 199), oss.GetResponseHeader(&rh))
	if !bytes.Equal(got, body[100:200]) {
		t.Fatal("ranged body differs")
	}
	if rh.Get("Content-Range") != "bytes 100-199/4096" || rh.Get("X-Oss-Hash-Crc64ecma") != strconv.FormatUint(storage.CRC64(body), 10) {
		t.Fatalf("ranged headers: %v", rh)
	}
	got = ossGet(t, b, "obj.bin", oss.NormalizedRange("4000-"))
	if !bytes.Equal(got, body[4000:]) {
		t.Fatal("open range differs")
	}
	got = ossGet(t, b, "obj.bin", oss.NormalizedRange("-10"))
	if !bytes.Equal(got, body[len(body)-10:]) {
		t.Fatal("suffix range differs")
	}
	_, err = b.GetObject("obj.bin", oss.Range(5000, 6000))
	wantOSSError(t, err, 416, "InvalidRange")

	// Whole GET: the SDK's own CRC check passes.
	dir := t.TempDir()
	if err := b.GetObjectToFile("obj.bin", dir+"/obj"); err != nil {
		t.Fatal(err)
	}

	meta, err := b.GetObjectMeta("obj.bin")
	if err != nil {
		t.Fatal(err)
	}
	if meta.Get("Content-Length") != "4096" || meta.Get("ETag") == "" || meta.Get("X-Oss-Hash-Crc64ecma") == "" {
		t.Fatalf("objectMeta headers %v", meta)
	}

	// Conditional GET.
	_, err = b.GetObject("obj.bin", oss.IfMatch(`"0000"`))
	wantOSSError(t, err, 412, "PreconditionFailed")
	if _, err := b.GetObject("obj.bin", oss.IfMatch(h.Get("ETag"))); err != nil {
		t.Fatal(err)
	}

	if err := b.DeleteObject("obj.bin"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteObject("obj.bin"); err != nil { // deleting twice is fine
		t.Fatal(err)
	}
	_, err = b.GetObject("obj.bin")
	wantOSSError(t, err, 404, "NoSuchKey")
	_, err = b.GetObjectDetailedMeta("obj.bin")
	wantOSSError(t, err, 404, "NoSuchKey")
	exists, err := b.IsObjectExist("obj.bin")
	if err != nil || exists {
		t.Fatalf("IsObjectExist = %v, %v", exists, err)
	}

	info, err := c.GetBucketInfo("basics")
	if err != nil {
		t.Fatal(err)
	}
	if info.BucketInfo.Name != "basics" || info.BucketInfo.Location != "oss-cn-hangzhou" || info.BucketInfo.CreationDate.IsZero() {
		t.Fatalf("bucket info %+v", info.BucketInfo)
	}
	_, err = c.GetBucketInfo("missing-bucket")
	wantOSSError(t, err, 404, "NoSuchBucket")
	wantOSSError(t, c.CreateBucket("basics"), 409, "BucketAlreadyExists")

	// Content-MD5 is checked.
	err = b.PutObject("md5", strings.NewReader("data"), oss.ContentMD5("AAAAAAAAAAAAAAAAAAAAAA=="))
	wantOSSError(t, err, 400, "InvalidDigest")
	md5c, err := oss.New(env.srv.URL, ossTestAK, ossTestSecret, oss.EnableMD5(true))
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := md5c.Bucket("basics")
	if err := mb.PutObject("md5", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
}

func TestOSSLimits(t *testing.T) {
	env := newOSSEnv(t)
	c := env.client(t, ossTestSecret)
	b := ossMustBucket(t, c, "limits")

	// 8 KiB of user metadata (names with their prefix) is the most allowed.
	fill := func(total int) []oss.Option {
		name := "big"
		n := total - len("x-oss-meta-") - len(name)
		return []oss.Option{oss.Meta(name, strings.Repeat("v", n))}
	}
	if err := b.PutObject("meta-ok", strings.NewReader("x"), fill(8192)...); err != nil {
		t.Fatalf("8 KiB of metadata: %v", err)
	}
	err := b.PutObject("meta-big", strings.NewReader("x"), fill(8193)...)
	wantOSSError(t, err, 400, "MetadataTooLarge")
	_, err = b.InitiateMultipartUpload("meta-big", fill(8193)...)
	wantOSSError(t, err, 400, "MetadataTooLarge")
	err = b.PutObject("bad-meta", strings.NewReader("x"), oss.Meta("under_score", "v"))
	wantOSSError(t, err, 400, "InvalidArgument")

	if err := b.PutObject(strings.Repeat("k", 1023), strings.NewReader("x")); err != nil {
		t.Fatalf("1023-byte key: %v", err)
	}
	err = b.PutObject(strings.Repeat("k", 1024), strings.NewReader("x"))
	wantOSSError(t, err, 400, "InvalidObjectName")

	err = b.PutObject("class", strings.NewReader("x"), oss.ObjectStorageClass("Glacier"))
	wantOSSError(t, err, 400, "InvalidArgument")

	imur, err := b.InitiateMultipartUpload("parts")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 10001} {
		_, err = b.UploadPart(imur, strings.NewReader("x"), 1, n)
		wantOSSError(t, err, 400, "InvalidArgument")
	}
	if _, err := b.UploadPart(imur, strings.NewReader("x"), 1, 10000); err != nil {
		t.Fatalf("part 10000: %v", err)
	}
}

func TestOSSMultipart(t *testing.T) {
	env := newOSSEnv(t)
	c := env.client(t, ossTestSecret)
	b := ossMustBucket(t, c, "multi")
	const key = "big/object with spaces+plus%.bin"
	imur, err := b.InitiateMultipartUpload(key, oss.Meta("Source", "test"), oss.ContentType("video/mp4"),
		oss.ObjectStorageClass(oss.StorageIA))
	if err != nil {
		t.Fatal(err)
	}
	if imur.Key != key || imur.UploadID == "" {
		t.Fatalf("initiate result %+v", imur)
	}
	// Parts 1, 3 and 5: gaps are allowed on OSS; every part but the last is
	// at least 100 KiB.
	sizes := map[int]int{1: 100 << 10, 3: 150 << 10, 5: 1000}
	var parts []oss.UploadPart
	var whole []byte
	for _, n := range []int{1, 3, 5} {
		data := ossRandomBytes(uint64(n), sizes[n])
		var h http.Header
		p, err := b.UploadPart(imur, bytes.NewReader(data), int64(len(data)), n, oss.GetResponseHeader(&h))
		if err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
		if h.Get("X-Oss-Hash-Crc64ecma") != strconv.FormatUint(storage.CRC64(data), 10) {
			t.Fatalf("part %d CRC header %q", n, h.Get("X-Oss-Hash-Crc64ecma"))
		}
		parts = append(parts, p)
		whole = append(whole, data...)
	}

	// ListParts, two per page.
	var listed []int
	marker := 0
	for page := 0; ; page++ {
		lp, err := b.ListUploadedParts(imur, oss.MaxParts(2), oss.PartNumberMarker(marker))
		if err != nil {
			t.Fatal(err)
		}
		if lp.Key != key {
			t.Fatalf("ListParts key %q", lp.Key)
		}
		for _, p := range lp.UploadedParts {
			listed = append(listed, p.PartNumber)
			if p.Size != sizes[p.PartNumber] || p.ETag == "" {
				t.Fatalf("part %+v", p)
			}
		}
		if !lp.IsTruncated {
			break
		}
		marker, _ = strconv.Atoi(lp.NextPartNumberMarker)
		if page > 5 {
			t.Fatal("ListParts does not end")
		}
	}
	if !slices.Equal(listed, []int{1, 3, 5}) {
		t.Fatalf("listed parts %v", listed)
	}

	ups, err := b.ListMultipartUploads(oss.Prefix("big/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 1 || ups.Uploads[0].Key != key || ups.Uploads[0].UploadID != imur.UploadID {
		t.Fatalf("uploads %+v", ups.Uploads)
	}

	var ch http.Header
	res, err := b.CompleteMultipartUpload(imur, parts, oss.GetResponseHeader(&ch))
	if err != nil {
		t.Fatal(err)
	}
	if res.Key != key || !strings.HasSuffix(strings.Trim(res.ETag, `"`), "-3") {
		t.Fatalf("complete result %+v", res)
	}
	wantCRC := strconv.FormatUint(storage.CRC64(whole), 10)
	if ch.Get("X-Oss-Hash-Crc64ecma") != wantCRC {
		t.Fatalf("complete CRC %q, want %s", ch.Get("X-Oss-Hash-Crc64ecma"), wantCRC)
	}
	var gh http.Header
	got := ossGet(t, b, key, oss.GetResponseHeader(&gh))
	if !bytes.Equal(got, whole) {
		t.Fatal("assembled object differs")
	}
	if gh.Get("X-Oss-Hash-Crc64ecma") != wantCRC || gh.Get("X-Oss-Object-Type") != "Multipart" ||
		gh.Get("X-Oss-Meta-Source") != "test" || gh.Get("Content-Type") != "video/mp4" || gh.Get("X-Oss-Storage-Class") != "IA" {
		t.Fatalf("GET headers %v", gh)
	}

	// A part below 100 KiB that is not the last fails.
	small, err := b.InitiateMultipartUpload("small")
	if err != nil {
		t.Fatal(err)
	}
	p1, err := b.UploadPart(small, bytes.NewReader(ossRandomBytes(7, 50<<10)), 50<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := b.UploadPart(small, strings.NewReader("tail"), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.CompleteMultipartUpload(small, []oss.UploadPart{p1, p2})
	wantOSSError(t, err, 400, "EntityTooSmall")
	// A wrong ETag fails too.
	_, err = b.CompleteMultipartUpload(small, []oss.UploadPart{{PartNumber: 2, ETag: `"00"`}})
	wantOSSError(t, err, 400, "InvalidPart")

	if err := b.AbortMultipartUpload(small); err != nil { // the SDK insists on 204
		t.Fatal(err)
	}
	_, err = b.ListUploadedParts(small)
	wantOSSError(t, err, 404, "NoSuchUpload")
	if n := env.fe.Backend.UploadCount("multi"); n != 0 {
		t.Fatalf("%d uploads left", n)
	}
}

func TestOSSListMultipartUploads(t *testing.T) {
	env := newOSSEnv(t)
	c := env.client(t, ossTestSecret)
	b := ossMustBucket(t, c, "uploads")
	keys := []string{"a%b", "a+b", "d/1", "d/2", "d/x/1", "d/x/2", "d/y/1", "sp ace", "中文"}
	ids := map[string][]string{}
	for _, k := range keys {
		for range 2 { // two uploads of the same key page by upload id
			imur, err := b.InitiateMultipartUpload(k)
			if err != nil {
				t.Fatal(err)
			}
			ids[k] = append(ids[k], imur.UploadID)
		}
	}
	type up struct{ key, id string }
	var got []up
	keyMarker, idMarker := "", ""
	for page := 0; ; page++ {
		res, err := b.ListMultipartUploads(oss.MaxUploads(3), oss.KeyMarker(keyMarker), oss.UploadIDMarker(idMarker))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Uploads {
			got = append(got, up{u.Key, u.UploadID})
		}
		if !res.IsTruncated {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
		if page > 20 {
			t.Fatal("ListMultipartUploads does not end")
		}
	}
	var want []up
	for _, k := range slices.Sorted(slices.Values(keys)) {
		for _, id := range slices.Sorted(slices.Values(ids[k])) {
			want = append(want, up{k, id})
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("uploads:\n got %v\nwant %v", got, want)
	}

	// Delimiter groups, paged one entry at a time.
	var uploads, prefixes []string
	keyMarker, idMarker = "", ""
	for page := 0; ; page++ {
		res, err := b.ListMultipartUploads(oss.Prefix("d/"), oss.Delimiter("/"), oss.MaxUploads(1),
			oss.KeyMarker(keyMarker), oss.UploadIDMarker(idMarker))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Uploads {
			uploads = append(uploads, u.Key)
		}
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
		if page > 20 {
			t.Fatal("ListMultipartUploads does not end")
		}
	}
	if !slices.Equal(uploads, []string{"d/1", "d/1", "d/2", "d/2"}) || !slices.Equal(prefixes, []string{"d/x/", "d/y/"}) {
		t.Fatalf("delimited uploads %q prefixes %q", uploads, prefixes)
	}
}

func TestOSSCRCHeaders(t *testing.T) {
	env := newOSSEnv(t)
	c := env.client(t, ossTestSecret)
	b := ossMustBucket(t, c, "crc")
	body := ossRandomBytes(3, 1000)
	if err := b.PutObject("good", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}

	// The SDK compares the answered CRC with its own: a wrong one fails the
	// PUT and the part upload, which proves the header is sent and checked.
	env.mu.Lock()
	env.mutate = func(h http.Header) {
		if v := h.Get("X-Oss-Hash-Crc64ecma"); v != "" {
			h.Set("X-Oss-Hash-Crc64ecma", "12345")
		}
	}
	env.mu.Unlock()
	err := b.PutObject("bad", bytes.NewReader(body))
	var crcErr oss.CRCCheckError
	if !errors.As(err, &crcErr) {
		t.Fatalf("PUT with a wrong CRC: %v", err)
	}
	imur, err := b.InitiateMultipartUpload("bad-part")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.UploadPart(imur, bytes.NewReader(body), int64(len(body)), 1)
	if !errors.As(err, &crcErr) {
		t.Fatalf("UploadPart with a wrong CRC: %v", err)
	}
	err = b.GetObjectToFile("good", t.TempDir()+"/x")
	if !errors.As(err, &crcErr) {
		t.Fatalf("GET with a wrong CRC: %v", err)
	}
	env.mu.Lock()
	env.mutate = nil
	env.mu.Unlock()

	// Objects without a CRC (old objects) answer without the header.
	if err := env.fe.Backend.UpdateObject("crc", "good", func(o *Object) { o.NoCRC = true }); err != nil {
		t.Fatal(err)
	}
	h, err := b.GetObjectDetailedMeta("good")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := h["X-Oss-Hash-Crc64ecma"]; ok {
		t.Fatalf("NoCRC object answered CRC %q", v)
	}
	if err := b.GetObjectToFile("good", t.TempDir()+"/y"); err != nil {
		t.Fatalf("GET without CRC: %v", err)
	}
}

func TestOSSRestore(t *testing.T) {
	env := newOSSEnv(t)
	env.fe.RestoreDelay = 100 * time.Millisecond
	c := env.client(t, ossTestSecret)
	b := ossMustBucket(t, c, "archive")
	for _, class := range []oss.StorageClassType{oss.StorageArchive, oss.StorageColdArchive, oss.StorageDeepColdArchive} {
		t.Run(string(class), func(t *testing.T) {
			key := "frozen-" + string(class)
			if err := b.PutObject(key, strings.NewReader("cold data"), oss.ObjectStorageClass(class)); err != nil {
				t.Fatal(err)
			}
			_, err := b.GetObject(key)
			wantOSSError(t, err, 403, "InvalidObjectState")
			h, err := b.GetObjectDetailedMeta(key)
			if err != nil {
				t.Fatalf("HEAD works without a restore: %v", err)
			}
			if h.Get("X-Oss-Storage-Class") != string(class) || h.Get("X-Oss-Restore") != "" {
				t.Fatalf("before restore: class %q restore %q", h.Get("X-Oss-Storage-Class"), h.Get("X-Oss-Restore"))
			}
			if err := b.RestoreObject(key); err != nil {
				t.Fatal(err)
			}
			h, err = b.GetObjectDetailedMeta(key)
			if err != nil {
				t.Fatal(err)
			}
			if h.Get("X-Oss-Restore") != `ongoing-request="true"` {
				t.Fatalf("during restore: %q", h.Get("X-Oss-Restore"))
			}
			wantOSSError(t, b.RestoreObject(key), 409, "RestoreAlreadyInProgress")
			_, err = b.GetObject(key)
			wantOSSError(t, err, 403, "InvalidObjectState")

			deadline := time.Now().Add(5 * time.Second)
			for {
				h, err = b.GetObjectDetailedMeta(key)
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(h.Get("X-Oss-Restore"), `ongoing-request="false", expiry-date="`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("restore never completes: %q", h.Get("X-Oss-Restore"))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := ossGet(t, b, key); string(got) != "cold data" {
				t.Fatalf("restored body %q", got)
			}
			if obj, _ := env.fe.Backend.Object("archive", key); !obj.Restored {
				t.Fatal("backend object not marked restored")
			}
			if err := b.RestoreObject(key); err != nil { // already restored: 200
				t.Fatal(err)
			}
		})
	}
	if err := b.PutObject("warm", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	wantOSSError(t, b.RestoreObject("warm"), 400, "OperationNotSupported")
	// Overwriting a restored object archives it again.
	if err := b.PutObject("frozen-Archive", strings.NewReader("new"), oss.ObjectStorageClass(oss.StorageArchive)); err != nil {
		t.Fatal(err)
	}
	_, err := b.GetObject("frozen-Archive")
	wantOSSError(t, err, 403, "InvalidObjectState")
}

func TestOSSErrorFormatForFaults(t *testing.T) {
	env := newOSSEnv(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/b/k", nil)
	env.fe.WriteError(rec, req, &APIError{Status: 503, Code: "SlowDown", Message: "slow down"})
	if rec.Code != 503 || rec.Header().Get("X-Oss-Request-Id") == "" {
		t.Fatalf("status %d headers %v", rec.Code, rec.Header())
	}
	for _, want := range []string{"<Error>", "<Code>SlowDown</Code>", "<Message>slow down</Message>", "<RequestId>", "<HostId>"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("error body %s lacks %s", rec.Body, want)
		}
	}
	// Through the SDK, an injected error is a ServiceError with the code.
	faults := NewFaults(FaultConfig{ErrorRate: 1})
	srv := httptest.NewServer(faults.Wrap(env.fe, env.fe.WriteError))
	defer srv.Close()
	c, err := oss.New(srv.URL, ossTestAK, ossTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("any")
	_, err = b.GetObjectDetailedMeta("k")
	se := ossServiceError(t, err)
	if se.Code != "SlowDown" && se.Code != "InternalError" {
		t.Fatalf("injected error code %q", se.Code)
	}
}

func ExampleOSSFrontEnd() {
	b, _ := NewBackend("")
	fe := &OSSFrontEnd{Backend: b, Credentials: map[string]string{"ak": "secret"}}
	srv := httptest.NewServer(fe)
	defer srv.Close()
	client, _ := oss.New(srv.URL, "ak", "secret")
	_ = client.CreateBucket("example")
	bucket, _ := client.Bucket("example")
	_ = bucket.PutObject("hello.txt", strings.NewReader("hello"))
	res, _ := bucket.ListObjects()
	fmt.Println(len(res.Objects), res.Objects[0].Key)
	// Output: 1 hello.txt
}
