// Package cos is the storage.Store of a Tencent Cloud COS bucket, built on the
// official SDK (github.com/tencentyun/cos-go-sdk-v5).
package cos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	cossdk "github.com/tencentyun/cos-go-sdk-v5"

	"github.com/bucketferry/bucketferry/storage"
)

// COS limits (https://cloud.tencent.com/document/product/436/14518).
const (
	minPartSize   = 1 << 20
	maxPartSize   = 5 << 30
	maxParts      = 10000
	maxPutSize    = 5 << 30
	maxUserMeta   = 4 << 10 // all x-cos-meta-* headers, names and values
	maxMetaHeader = 2 << 10 // one x-cos-meta-* header, name and value
	maxListPage   = 1000
	metaPrefix    = "x-cos-meta-"
	crcHeader     = "x-cos-hash-crc64ecma"
	classHeader   = "x-cos-storage-class"
)

var (
	bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*-[0-9]+$`)
	regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// Config describes one COS bucket and how to reach it.
type Config struct {
	// Bucket is the full bucket name with its APPID suffix, e.g.
	// examplebucket-1250000000.
	Bucket string
	// Region is the bucket's region, e.g. ap-guangzhou.
	Region string
	// Endpoint, when set, is the base URL requests are sent to instead of
	// https://<bucket>.cos.<region>.myqcloud.com: a local emulator
	// (http://127.0.0.1:9001), a proxy or a private domain. The Host header
	// stays the bucket's standard virtual host, unless the endpoint's host is
	// itself a virtual host of this bucket (it starts with "<bucket>.", as
	// accelerate and internal domains do), which is then used as it is.
	Endpoint string
	// SecretID and SecretKey are the API key; SessionToken is set for
	// temporary credentials.
	SecretID, SecretKey, SessionToken string
	// ConnectTimeout bounds dialing and TLS handshakes (default 10s).
	ConnectTimeout time.Duration
	// ReadWriteTimeout is how long a connection may make no progress
	// reading or writing before the request fails (default 60s).
	ReadWriteTimeout time.Duration
	// MaxIdleConnsPerHost sizes the connection pool; it should be at least
	// the number of parallel requests (default 512).
	MaxIdleConnsPerHost int
}

// Store is a COS bucket. It is safe for concurrent use.
type Store struct {
	name   string
	client *cossdk.Client
	// bucketSeen records that the bucket answered once, so a HEAD 404
	// (which carries no error code) means a missing object, not bucket.
	bucketSeen atomic.Bool
}

var _ storage.Store = (*Store)(nil)

// New validates cfg and returns a store with its own pooled HTTP client.
func New(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	virtualHost := cfg.Bucket + ".cos." + cfg.Region + ".myqcloud.com"
	base := &url.URL{Scheme: "https", Host: virtualHost}
	host := ""
	if cfg.Endpoint != "" {
		u, _ := url.Parse(cfg.Endpoint) // checked by validate
		base = &url.URL{Scheme: u.Scheme, Host: u.Host}
		if !strings.HasPrefix(u.Hostname(), cfg.Bucket+".") {
			host = virtualHost
		}
	}
	hc := &http.Client{Transport: &signer{
		id:     cfg.SecretID,
		secret: cfg.SecretKey,
		token:  cfg.SessionToken,
		next: storage.NewTransport(storage.TransportConfig{ConnectTimeout: cfg.ConnectTimeout,
			StallTimeout: cfg.ReadWriteTimeout, MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost}),
	}}
	c := cossdk.NewClient(&cossdk.BaseURL{BucketURL: base}, hc)
	c.Host = host
	// Retries belong to the caller, which knows whether the body can be
	// read again and how long to back off.
	c.Conf.RetryOpt.Count = 1
	// Uploads are checked against the answer's CRC64 header by the store
	// itself (checkCRC), with the caller's running CRC64 when it has one,
	// so that the bytes are hashed once per copy and not again by the SDK.
	c.Conf.EnableCRC = false
	// The SDK refuses to GET or DELETE keys such as "a/..", fearing they
	// resolve to the bucket; but it escapes every "/" of a key, so only the
	// keys "." and ".." can, and checkKey rejects those for every operation.
	c.Conf.ObjectKeySimplifyCheck = false
	return &Store{name: "cos://" + cfg.Bucket, client: c}, nil
}

func (cfg Config) validate() error {
	switch {
	case cfg.Bucket == "":
		return errors.New("cos: Config.Bucket is required (name-APPID, e.g. examplebucket-1250000000)")
	case !bucketPattern.MatchString(cfg.Bucket):
		return fmt.Errorf("cos: Config.Bucket %q must be the full bucket name with its APPID suffix, e.g. examplebucket-1250000000", cfg.Bucket)
	case cfg.Region == "":
		return errors.New("cos: Config.Region is required (e.g. ap-guangzhou)")
	case !regionPattern.MatchString(cfg.Region):
		return fmt.Errorf("cos: Config.Region %q is not a COS region such as ap-guangzhou", cfg.Region)
	case cfg.SecretID == "" || cfg.SecretKey == "":
		return errors.New("cos: Config.SecretID and Config.SecretKey are required")
	case strings.TrimSpace(cfg.SecretID) != cfg.SecretID || strings.TrimSpace(cfg.SecretKey) != cfg.SecretKey:
		return errors.New("cos: Config.SecretID and Config.SecretKey must not start or end with spaces")
	case cfg.ConnectTimeout < 0:
		return fmt.Errorf("cos: Config.ConnectTimeout %v is negative", cfg.ConnectTimeout)
	case cfg.ReadWriteTimeout < 0:
		return fmt.Errorf("cos: Config.ReadWriteTimeout %v is negative", cfg.ReadWriteTimeout)
	case cfg.MaxIdleConnsPerHost < 0:
		return fmt.Errorf("cos: Config.MaxIdleConnsPerHost %d is negative", cfg.MaxIdleConnsPerHost)
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return fmt.Errorf("cos: Config.Endpoint %q: %w", cfg.Endpoint, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("cos: Config.Endpoint %q must be a base URL such as http://127.0.0.1:9001", cfg.Endpoint)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("cos: Config.Endpoint %q must have no path or query", cfg.Endpoint)
		}
	}
	return nil
}

// Name returns "cos://<bucket>".
func (s *Store) Name() string { return s.name }

// Limits returns the COS multipart and metadata rules.
func (s *Store) Limits() storage.Limits {
	return storage.Limits{MinPartSize: minPartSize, MaxPartSize: maxPartSize, MaxParts: maxParts,
		MaxPutSize: maxPutSize, MaxUserMetadata: maxUserMeta}
}

// ---- errors

// fail classifies an SDK error. resp is the SDK's response, when there is one.
func (s *Store) fail(op, key string, resp *cossdk.Response, err error) *storage.Error {
	// The SDK wraps everything but COS error answers in a RetryError that
	// cannot be unwrapped; its last entry is the failure of the last try.
	var re *cossdk.RetryError
	if errors.As(err, &re) && len(re.Errs) > 0 {
		err = re.Errs[len(re.Errs)-1]
	}
	e := &storage.Error{Store: s.name, Op: op, Key: key, Err: err}
	var cerr *cossdk.ErrorResponse
	var inner *storage.Error
	var berr *bodyError
	switch {
	case errors.As(err, &cerr):
		status := 0
		if cerr.Response != nil {
			status = cerr.Response.StatusCode
		}
		e.Code = cerr.Code
		e.Kind = storage.KindForHTTP(status, cerr.Code)
	case errors.As(err, &inner):
		// The body reader failed: the source's own classification holds.
		e.Kind, e.Code = inner.Kind, inner.Code
	case errors.As(err, &berr):
		e.Kind = berr.kind
	case resp != nil && resp.StatusCode/100 == 2 && (op == "put" || op == "upload part"):
		// COS accepted the body, but the SDK found its x-cos-hash-crc64ecma
		// (missing or different) disagreeing with the CRC of what was sent.
		e.Kind = storage.KindCorrupt
		e.Err = fmt.Errorf("COS answered %s %q, which does not confirm the CRC64 of the data sent: %w",
			crcHeader, resp.Header.Get(crcHeader), err)
	default:
		e.Kind = storage.KindOf(err)
		if e.Kind == storage.KindUnknown && !errors.Is(err, context.Canceled) {
			e.Kind = storage.KindTransient
		}
	}
	return e
}

// checkKey rejects keys the SDK cannot address: "." and ".." collapse into
// the bucket path when the URL is resolved, so a PUT would hit the bucket.
func (s *Store) checkKey(op, key string) error {
	if key == "" || key == "." || key == ".." {
		return storage.Errorf(storage.KindInvalid, s.name, op, key, "COS cannot address an object named %q", key)
	}
	return nil
}

// ---- storage classes and metadata

// validToken reports whether s is a valid HTTP header name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validValue reports whether an HTTP header carries v unchanged: no control
// characters, no surrounding white space (which would also break the
// signature, computed over the untrimmed value).
func validValue(v string) bool {
	if strings.TrimSpace(v) != v {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// putHeaders builds the headers of a PUT or initiate request, rejecting
// metadata COS would refuse or HTTP could not carry.
func (s *Store) putHeaders(op, key string, meta storage.Metadata) (*cossdk.ObjectPutHeaderOptions, error) {
	invalid := func(format string, args ...any) error {
		return storage.Errorf(storage.KindInvalid, s.name, op, key, format, args...)
	}
	h := &cossdk.ObjectPutHeaderOptions{
		ContentType:        meta.ContentType,
		ContentEncoding:    meta.ContentEncoding,
		ContentDisposition: meta.ContentDisposition,
		ContentLanguage:    meta.ContentLanguage,
		CacheControl:       meta.CacheControl,
		Expires:            meta.Expires,
	}
	for name, v := range map[string]string{"Content-Type": h.ContentType, "Content-Encoding": h.ContentEncoding,
		"Content-Disposition": h.ContentDisposition, "Content-Language": h.ContentLanguage,
		"Cache-Control": h.CacheControl, "Expires": h.Expires} {
		if !validValue(v) {
			return nil, invalid("the %s value %q cannot be sent in an HTTP header unchanged", name, v)
		}
	}
	if meta.StorageClass != "" {
		h.XCosStorageClass = className(meta.StorageClass)
	}
	if len(meta.User) > 0 {
		user := make(http.Header, len(meta.User))
		total := 0
		for _, k := range slices.Sorted(maps.Keys(meta.User)) {
			v := meta.User[k]
			name := metaPrefix + strings.ToLower(k)
			if !validToken(k) {
				return nil, invalid("user metadata name %q is not a valid HTTP header name", k)
			}
			if !validValue(v) {
				return nil, invalid("the value of %s (%q) cannot be sent in an HTTP header unchanged", name, v)
			}
			n := len(name) + len(v)
			if n > maxMetaHeader {
				return nil, invalid("user metadata header %s is %d bytes; COS allows at most %d bytes per header", name, n, maxMetaHeader)
			}
			total += n
			user.Add(name, v)
		}
		if total > maxUserMeta {
			return nil, invalid("user metadata is %d bytes in total; COS allows at most %d", total, maxUserMeta)
		}
		h.XCosMetaXXX = &user
	}
	return h, nil
}

// info reads an object's description from HEAD or GET answer headers.
func info(key string, h http.Header, size int64) storage.ObjectInfo {
	oi := storage.ObjectInfo{Key: key, Size: size, ETag: strings.Trim(h.Get("ETag"), `"`)}
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		oi.LastModified = t
	}
	if v := h.Get(crcHeader); v != "" {
		if crc, err := strconv.ParseUint(v, 10, 64); err == nil {
			oi.CRC64, oi.HasCRC64 = crc, true
		}
	}
	m := storage.MetadataFromHeader(h, metaPrefix)
	m.StorageClass = neutralClass(h.Get(classHeader))
	oi.Meta = m
	oi.Restored = strings.Contains(h.Get("x-cos-restore"), `ongoing-request="false"`)
	return oi
}

// errCRC is what an upload whose answer does not confirm the CRC64 of the
// data sent fails with (classified corrupt by fail).
var errCRC = errors.New("CRC64 verification failed")

// checkCRC compares an upload's x-cos-hash-crc64ecma with the CRC64 of the
// data sent; a missing header fails too, as the SDK's own check did.
func checkCRC(resp *cossdk.Response, cr storage.CRC64Reader) error {
	sent, _ := cr.CRC64()
	if got, ok := crcOf(resp.Header); !ok || got != sent {
		return fmt.Errorf("%w: sent %d, COS answered %q", errCRC, sent, resp.Header.Get(crcHeader))
	}
	return nil
}

// crcOf reads the CRC64 header of a write answer.
func crcOf(h http.Header) (uint64, bool) {
	crc, err := strconv.ParseUint(h.Get(crcHeader), 10, 64)
	return crc, err == nil
}

// unescape decodes a field of a listing made with encoding-type=url.
func (s *Store) unescape(op, field string) (string, error) {
	v, err := url.QueryUnescape(field)
	if err != nil {
		return "", &storage.Error{Kind: storage.KindTransient, Store: s.name, Op: op,
			Err: fmt.Errorf("COS listed a malformed URL-encoded name %q: %w", field, err)}
	}
	return v, nil
}

// ---- objects

// List returns one page of objects.
func (s *Store) List(ctx context.Context, opts storage.ListOptions) (storage.Page, error) {
	if opts.Before != "" && (opts.Before <= opts.After || opts.Before <= opts.Prefix) {
		return storage.Page{Done: true}, nil
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 || maxKeys > maxListPage {
		maxKeys = maxListPage
	}
	res, resp, err := s.client.Bucket.Get(ctx, &cossdk.BucketGetOptions{
		Prefix: opts.Prefix, Marker: opts.After, MaxKeys: maxKeys, EncodingType: "url",
	})
	if err != nil {
		return storage.Page{}, s.fail("list", "", resp, err)
	}
	s.bucketSeen.Store(true)
	var page storage.Page
	for _, o := range res.Contents {
		key, err := s.unescape("list", o.Key)
		if err != nil {
			return storage.Page{}, err
		}
		if opts.Before != "" && key >= opts.Before {
			page.Done = true
			break
		}
		oi := storage.ObjectInfo{Key: key, Size: o.Size, ETag: strings.Trim(o.ETag, `"`),
			Meta: storage.Metadata{StorageClass: neutralClass(o.StorageClass)}}
		if t, err := time.Parse(time.RFC3339, o.LastModified); err == nil {
			oi.LastModified = t
		}
		page.Objects = append(page.Objects, oi)
		page.Next = key
	}
	if page.Done || !res.IsTruncated {
		page.Done = true
		return page, nil
	}
	if res.NextMarker != "" {
		next, err := s.unescape("list", res.NextMarker)
		if err != nil {
			return storage.Page{}, err
		}
		page.Next = next
	}
	if page.Next == "" || page.Next <= opts.After {
		return storage.Page{}, &storage.Error{Kind: storage.KindTransient, Store: s.name, Op: "list",
			Err: errors.New("COS answered a truncated listing with no way to continue after it")}
	}
	if opts.Before != "" && page.Next >= opts.Before {
		page.Done = true
	}
	return page, nil
}

// Head returns an object's size, CRC64 and metadata.
func (s *Store) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := s.checkKey("head", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	resp, err := s.client.Object.Head(ctx, key, nil)
	if err != nil {
		return storage.ObjectInfo{}, s.headFail(ctx, key, resp, err)
	}
	s.bucketSeen.Store(true)
	return info(key, resp.Header, resp.ContentLength), nil
}

// headFail classifies a failed HEAD. A HEAD answer has no body, so a 404
// does not say whether the object or the bucket is missing; until the bucket
// has answered once, ask it.
func (s *Store) headFail(ctx context.Context, key string, resp *cossdk.Response, err error) error {
	e := s.fail("head", key, resp, err)
	if e.Kind != storage.KindNotFound || e.Code != "" || s.bucketSeen.Load() {
		return e
	}
	bresp, berr := s.client.Bucket.Head(ctx)
	if berr == nil {
		s.bucketSeen.Store(true)
		return e
	}
	if be := s.fail("head bucket", "", bresp, berr); be.Kind == storage.KindNotFound {
		e.Kind, e.Code = storage.KindNoSuchBucket, "NoSuchBucket"
	}
	return e
}

// Get streams an object or a byte range of it. The info describes the whole
// object.
func (s *Store) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := s.checkKey("get", key); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	if rng.Offset < 0 {
		return nil, storage.ObjectInfo{}, storage.Errorf(storage.KindInvalid, s.name, "get", key, "negative range offset %d", rng.Offset)
	}
	var opt *cossdk.ObjectGetOptions
	if !rng.IsWhole() {
		spec := storage.RangeHeader(rng)
		opt = &cossdk.ObjectGetOptions{Range: spec}
	}
	resp, err := s.client.Object.Get(ctx, key, opt)
	if err != nil {
		return nil, storage.ObjectInfo{}, s.fail("get", key, resp, err)
	}
	size := resp.ContentLength
	var body io.Reader = resp.Body
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		total, ok := storage.TotalFromContentRange(resp.Header.Get("Content-Range"))
		if !ok {
			resp.Body.Close()
			return nil, storage.ObjectInfo{}, storage.Errorf(storage.KindTransient, s.name, "get", key,
				"COS answered 206 with an unusable Content-Range %q", resp.Header.Get("Content-Range"))
		}
		size = total
	case !rng.IsWhole():
		// The whole object came back: cut the range out of it.
		if _, err := io.CopyN(io.Discard, resp.Body, rng.Offset); err != nil {
			resp.Body.Close()
			return nil, storage.ObjectInfo{}, s.fail("get", key, nil, err)
		}
		if rng.Length > 0 {
			body = io.LimitReader(resp.Body, rng.Length)
		}
	}
	return &getBody{s: s, key: key, r: body, c: resp.Body}, info(key, resp.Header, size), nil
}

// getBody classifies read errors of a download.
type getBody struct {
	s   *Store
	key string
	r   io.Reader
	c   io.Closer
}

func (b *getBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = b.s.fail("get", b.key, nil, err)
	}
	return n, err
}

func (b *getBody) Close() error { return b.c.Close() }

// exactReader yields exactly size bytes of r. It never lets the last byte
// go out before r has ended cleanly: a source that verifies its data (a
// download checking its CRC) reports a mismatch only with or after its last
// bytes, and a body sent complete would be stored. Withholding them makes the
// upload fail short instead, so nothing is committed.
type exactReader struct {
	r    io.Reader
	left int64
	size int64
}

func newExactReader(r io.Reader, size int64) *exactReader {
	return &exactReader{r: r, left: size, size: size}
}

// Size lets the SDK know the length without guessing.
func (e *exactReader) Size() int64 { return e.size }

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		return 0, &bodyError{kind: storage.KindTransient,
			err: fmt.Errorf("body ended %d bytes short of %d: %w", e.left, e.size, io.ErrUnexpectedEOF)}
	case err != nil && err != io.EOF:
		return 0, err // withheld with the failure: the body stays short
	case e.left == 0 && err == nil:
		if err := e.checkEnd(); err != nil {
			return 0, err
		}
	}
	if e.left == 0 {
		return n, io.EOF
	}
	return n, nil
}

// checkEnd reads past the announced size to see how the source ends.
func (e *exactReader) checkEnd() error {
	var one [1]byte
	for range 100 { // readers may return 0, nil a few times
		k, err := e.r.Read(one[:])
		switch {
		case k > 0:
			return &bodyError{kind: storage.KindInvalid,
				err: fmt.Errorf("body holds more than the %d bytes announced", e.size)}
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return nil
}

// bodyError is a failure of the caller's body found by exactReader.
type bodyError struct {
	kind storage.Kind
	err  error
}

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// body returns what to hand the SDK for a body of size bytes. An empty body
// is a reader the SDK recognises as empty (so it sends Content-Length: 0
// rather than a chunked body), once r has been seen to end cleanly.
func (s *Store) body(op, key string, r io.Reader, size int64) (io.Reader, error) {
	if size > 0 {
		return newExactReader(r, size), nil
	}
	if err := (&exactReader{r: r}).checkEnd(); err != nil {
		return nil, s.fail(op, key, nil, err)
	}
	return strings.NewReader(""), nil
}

// Put stores an object of exactly size bytes.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, meta storage.Metadata) (storage.PutResult, error) {
	if err := s.checkKey("put", key); err != nil {
		return storage.PutResult{}, err
	}
	if size < 0 || size > maxPutSize {
		return storage.PutResult{}, storage.Errorf(storage.KindInvalid, s.name, "put", key,
			"size %d is outside what one COS PUT accepts (0 to %d bytes)", size, int64(maxPutSize))
	}
	h, err := s.putHeaders("put", key, meta)
	if err != nil {
		return storage.PutResult{}, err
	}
	h.ContentLength = size
	cr := storage.HashingCRC64(r)
	b, err := s.body("put", key, cr, size)
	if err != nil {
		return storage.PutResult{}, err
	}
	resp, err := s.client.Object.Put(ctx, key, b, &cossdk.ObjectPutOptions{ObjectPutHeaderOptions: h})
	if err == nil {
		err = checkCRC(resp, cr)
	}
	if err != nil {
		return storage.PutResult{}, s.fail("put", key, resp, err)
	}
	s.bucketSeen.Store(true)
	res := storage.PutResult{ETag: strings.Trim(resp.Header.Get("ETag"), `"`)}
	res.CRC64, res.HasCRC64 = crcOf(resp.Header)
	return res, nil
}

// Delete removes an object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey("delete", key); err != nil {
		return err
	}
	resp, err := s.client.Object.Delete(ctx, key)
	if err != nil {
		if e := s.fail("delete", key, resp, err); e.Kind != storage.KindNotFound {
			return e
		}
	}
	return nil
}

// ---- multipart uploads

// InitMultipart starts a multipart upload.
func (s *Store) InitMultipart(ctx context.Context, key string, meta storage.Metadata) (string, error) {
	if err := s.checkKey("init multipart", key); err != nil {
		return "", err
	}
	h, err := s.putHeaders("init multipart", key, meta)
	if err != nil {
		return "", err
	}
	res, resp, err := s.client.Object.InitiateMultipartUpload(ctx, key, &cossdk.InitiateMultipartUploadOptions{ObjectPutHeaderOptions: h})
	if err != nil {
		return "", s.fail("init multipart", key, resp, err)
	}
	if res.UploadID == "" {
		return "", storage.Errorf(storage.KindTransient, s.name, "init multipart", key, "COS answered no UploadId")
	}
	return res.UploadID, nil
}

// UploadPart stores part n of an upload.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (storage.Part, error) {
	const op = "upload part"
	if err := s.checkKey(op, key); err != nil {
		return storage.Part{}, err
	}
	switch {
	case uploadID == "":
		return storage.Part{}, storage.Errorf(storage.KindInvalid, s.name, op, key, "empty upload id")
	case n < 1 || n > maxParts:
		return storage.Part{}, storage.Errorf(storage.KindInvalid, s.name, op, key, "part number %d is outside 1..%d", n, maxParts)
	case size < 0 || size > maxPartSize:
		return storage.Part{}, storage.Errorf(storage.KindInvalid, s.name, op, key, "part size %d is outside 0..%d", size, int64(maxPartSize))
	}
	cr := storage.HashingCRC64(r)
	b, err := s.body(op, key, cr, size)
	if err != nil {
		return storage.Part{}, err
	}
	resp, err := s.client.Object.UploadPart(ctx, key, uploadID, n, b, &cossdk.ObjectUploadPartOptions{ContentLength: size})
	if err == nil {
		err = checkCRC(resp, cr)
	}
	if err != nil {
		return storage.Part{}, s.fail(op, key, resp, err)
	}
	p := storage.Part{Number: n, Size: size, ETag: strings.Trim(resp.Header.Get("ETag"), `"`)}
	p.CRC64, p.HasCRC64 = crcOf(resp.Header)
	return p, nil
}

// ListParts returns every part uploaded so far, in part-number order. COS
// lists no part CRCs.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	const op = "list parts"
	if err := s.checkKey(op, key); err != nil {
		return nil, err
	}
	var parts []storage.Part
	marker := ""
	for {
		res, resp, err := s.client.Object.ListParts(ctx, key, uploadID, &cossdk.ObjectListPartsOptions{
			MaxParts: "1000", PartNumberMarker: marker, EncodingType: "url",
		})
		if err != nil {
			return nil, s.fail(op, key, resp, err)
		}
		for _, p := range res.Parts {
			parts = append(parts, storage.Part{Number: p.PartNumber, Size: p.Size, ETag: strings.Trim(p.ETag, `"`)})
		}
		if !res.IsTruncated {
			break
		}
		if res.NextPartNumberMarker == "" || res.NextPartNumberMarker == marker {
			return nil, storage.Errorf(storage.KindTransient, s.name, op, key, "COS answered a truncated part list with no way to continue after it")
		}
		marker = res.NextPartNumberMarker
	}
	slices.SortFunc(parts, func(a, b storage.Part) int { return a.Number - b.Number })
	return parts, nil
}

// CompleteMultipart assembles the parts (sorted by number, as COS requires)
// into the object.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) (storage.PutResult, error) {
	const op = "complete multipart"
	if err := s.checkKey(op, key); err != nil {
		return storage.PutResult{}, err
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b storage.Part) int { return a.Number - b.Number })
	opt := &cossdk.CompleteMultipartUploadOptions{Parts: make([]cossdk.Object, len(sorted))}
	for i, p := range sorted {
		opt.Parts[i] = cossdk.Object{PartNumber: p.Number, ETag: `"` + strings.Trim(p.ETag, `"`) + `"`}
	}
	res, resp, err := s.client.Object.CompleteMultipartUpload(ctx, key, uploadID, opt)
	if err != nil {
		return storage.PutResult{}, s.fail(op, key, resp, err)
	}
	out := storage.PutResult{ETag: strings.Trim(res.ETag, `"`)}
	out.CRC64, out.HasCRC64 = crcOf(resp.Header)
	return out, nil
}

// AbortMultipart discards an upload and its parts.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	const op = "abort multipart"
	if err := s.checkKey(op, key); err != nil {
		return err
	}
	resp, err := s.client.Object.AbortMultipartUpload(ctx, key, uploadID)
	if err != nil {
		return s.fail(op, key, resp, err)
	}
	return nil
}

// ListUploads returns every multipart upload in progress whose key starts
// with prefix.
func (s *Store) ListUploads(ctx context.Context, prefix string) ([]storage.Upload, error) {
	const op = "list uploads"
	var out []storage.Upload
	keyMarker, idMarker := "", ""
	for {
		res, resp, err := s.client.Bucket.ListMultipartUploads(ctx, &cossdk.ListMultipartUploadsOptions{
			Prefix: prefix, KeyMarker: keyMarker, UploadIDMarker: idMarker, MaxUploads: 1000, EncodingType: "url",
		})
		if err != nil {
			return nil, s.fail(op, "", resp, err)
		}
		for _, u := range res.Uploads {
			key, err := s.unescape(op, u.Key)
			if err != nil {
				return nil, err
			}
			up := storage.Upload{Key: key, UploadID: u.UploadID}
			if t, err := time.Parse(time.RFC3339, u.Initiated); err == nil {
				up.Initiated = t
			}
			out = append(out, up)
		}
		if !res.IsTruncated {
			return out, nil
		}
		nextKey, nextID := res.NextKeyMarker, res.NextUploadIDMarker
		if nextKey != "" {
			if nextKey, err = s.unescape(op, nextKey); err != nil {
				return nil, err
			}
		} else if len(out) > 0 {
			nextKey, nextID = out[len(out)-1].Key, out[len(out)-1].UploadID
		}
		if nextKey == "" || (nextKey == keyMarker && nextID == idMarker) {
			return nil, storage.Errorf(storage.KindTransient, s.name, op, "", "COS answered a truncated upload list with no way to continue after it")
		}
		keyMarker, idMarker = nextKey, nextID
	}
}
