// Package oss is the storage.Store backend for Alibaba Cloud OSS, built on
// the official aliyun-oss-go-sdk.
//
// Choices that matter to callers:
//   - One SDK client and bucket handle are made by New and shared by every
//     call; the HTTP transport keeps MaxIdleConnsPerHost (default 512) idle
//     connections so many parallel transfers reuse connections.
//   - The SDK performs no retries of its own on single requests (its
//     RetryTimes setting is not used by the request path) and redirects are
//     disabled: every failure comes back at once, classified, so the copy
//     engine and Temporal decide about retrying.
//   - The SDK hashes nothing (its table is seven times slower than
//     storage's CRC64): this package checks uploads against the
//     x-oss-hash-crc64ecma of their answers, and whole-object reads when
//     the stream ends. A mismatch is a *storage.Error of KindCorrupt.
//   - Reads ask for Accept-Encoding: identity, so objects stored with
//     Content-Encoding: gzip come back byte for byte instead of being
//     decompressed by net/http.
package oss

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/bucketferry/bucketferry/storage"
)

// OSS service limits (Alibaba Cloud documentation).
const (
	minPartSize     = 100 << 10
	maxPartSize     = 5 << 30
	maxParts        = 10000
	maxPutSize      = 5 << 30
	maxUserMetadata = 8 << 10
	maxListKeys     = 1000
	metaPrefix      = "x-oss-meta-"

	headerCRC     = "X-Oss-Hash-Crc64ecma"
	headerClass   = "X-Oss-Storage-Class"
	headerRestore = "X-Oss-Restore"
)

// Config describes one OSS bucket and how to reach it.
type Config struct {
	// Endpoint is the public endpoint, e.g. "https://oss-cn-hangzhou.aliyuncs.com"
	// (https is assumed when the scheme is missing).
	Endpoint string
	// InternalEndpoint is the VPC endpoint, e.g.
	// "https://oss-cn-hangzhou-internal.aliyuncs.com", used when UseInternal
	// is set (no traffic charges inside the region).
	InternalEndpoint string
	UseInternal      bool

	Bucket          string
	AccessKeyID     string
	AccessKeySecret string
	// SecurityToken is the STS token for temporary credentials.
	SecurityToken string
	// Region is the region ID, e.g. "cn-hangzhou"; required for V4 signing.
	Region string
	// AuthVersion is 1 (the default when 0) or 4.
	AuthVersion int
	// PathStyle sends /bucket/key requests to a host-name endpoint; an IP
	// endpoint always uses path style.
	PathStyle bool

	// ConnectTimeout bounds dialing (default 10 s); ReadWriteTimeout bounds
	// each read or write on a connection and the wait for response headers
	// (default 60 s).
	ConnectTimeout   time.Duration
	ReadWriteTimeout time.Duration
	// MaxIdleConnsPerHost is how many idle connections are kept for reuse
	// (default 512); size it to the number of parallel transfers.
	MaxIdleConnsPerHost int

	// proxy, for tests: an HTTP proxy that reaches a local server under
	// a real-looking host name (default: the environment's proxy).
	proxy func(*http.Request) (*url.URL, error)
}

// Store is one OSS bucket. It is safe for concurrent use.
type Store struct {
	name   string
	bucket *alioss.Bucket
}

var _ storage.Store = (*Store)(nil)

// endpoint returns the endpoint to use, with a scheme.
func (c Config) endpoint() string {
	ep := c.Endpoint
	if c.UseInternal {
		ep = c.InternalEndpoint
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	return ep
}

func (c Config) validate() error {
	var errs []error
	switch {
	case c.UseInternal && c.InternalEndpoint == "":
		errs = append(errs, errors.New("InternalEndpoint is required when UseInternal is set"))
	case !c.UseInternal && c.Endpoint == "":
		errs = append(errs, errors.New("Endpoint is required"))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("Bucket is required"))
	} else if err := alioss.CheckBucketName(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("Bucket: %w", err))
	}
	if c.AccessKeyID == "" {
		errs = append(errs, errors.New("AccessKeyID is required"))
	}
	if c.AccessKeySecret == "" {
		errs = append(errs, errors.New("AccessKeySecret is required"))
	}
	switch c.AuthVersion {
	case 0, 1:
	case 4:
		if c.Region == "" {
			errs = append(errs, errors.New("Region is required with AuthVersion 4"))
		}
	default:
		errs = append(errs, fmt.Errorf("AuthVersion must be 1 or 4, not %d", c.AuthVersion))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, errors.New("ConnectTimeout must not be negative"))
	}
	if c.ReadWriteTimeout < 0 {
		errs = append(errs, errors.New("ReadWriteTimeout must not be negative"))
	}
	if c.MaxIdleConnsPerHost < 0 {
		errs = append(errs, errors.New("MaxIdleConnsPerHost must not be negative"))
	}
	return errors.Join(errs...)
}

// New validates cfg and makes the SDK client and bucket handle once. It does
// not contact the service: a missing bucket or bad credentials show up as
// fatal errors on the first call.
func New(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("oss config: %w", err)
	}
	opts := []alioss.ClientOption{
		func(c *alioss.Client) { c.Config.RetryTimes = 0 },
		// The stores' shared transport instead of the SDK's (whose timeout,
		// pool and redirect settings then go unused): larger connection
		// buffers (a small object's answer comes in with one read), small
		// bodies sent in one write, no transparent decompression.
		// Redirects are answers to classify, not follow.
		alioss.HTTPClient(&http.Client{
			Transport: storage.NewTransport(storage.TransportConfig{ConnectTimeout: cfg.ConnectTimeout,
				StallTimeout: cfg.ReadWriteTimeout, MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost, Proxy: cfg.proxy}),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}),
		alioss.UserAgent("bucketferry"),
		// The store hashes bodies itself with storage's CRC64 (carry-less
		// multiplication, about seven times faster than the SDK's table):
		// a GET's reader checks the object's CRC64 at its end, an upload
		// the CRC64 its answer reports (checkCRC), with the caller's
		// running CRC64 when it has one. The SDK's hashing reader also raced
		// with the transport on an upload answered before its body was read.
		alioss.EnableCRC(false),
		alioss.ForcePathStyle(cfg.PathStyle),
	}
	if cfg.Region != "" {
		opts = append(opts, alioss.Region(cfg.Region))
	}
	if cfg.AuthVersion == 4 {
		opts = append(opts, alioss.AuthVersion(alioss.AuthV4))
	}
	if cfg.SecurityToken != "" {
		opts = append(opts, alioss.SecurityToken(cfg.SecurityToken))
	}
	client, err := alioss.New(cfg.endpoint(), cfg.AccessKeyID, cfg.AccessKeySecret, opts...)
	if err != nil {
		return nil, fmt.Errorf("oss config: Endpoint %q: %w", cfg.endpoint(), err)
	}
	bucket, err := client.Bucket(cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("oss config: Bucket: %w", err)
	}
	return &Store{name: "oss://" + cfg.Bucket, bucket: bucket}, nil
}

// Name returns "oss://<bucket>".
func (s *Store) Name() string { return s.name }

// Limits returns OSS's multipart and metadata rules.
func (s *Store) Limits() storage.Limits {
	return storage.Limits{MinPartSize: minPartSize, MaxPartSize: maxPartSize, MaxParts: maxParts,
		MaxPutSize: maxPutSize, MaxUserMetadata: maxUserMetadata}
}

// wrap classifies an error as a *storage.Error naming the store, operation
// and key.
func (s *Store) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	e := &storage.Error{Kind: storage.KindOf(err), Store: s.name, Op: op, Key: key, Err: err}
	var svc alioss.ServiceError
	switch {
	case errors.As(err, &svc):
		e.Kind, e.Code = storage.KindForHTTP(svc.StatusCode, svc.Code), svc.Code
	case e.Kind == storage.KindUnknown && !errors.Is(err, context.Canceled):
		// The SDK reports 3xx answers and unreadable error bodies as plain
		// errors; they are worth another try.
		e.Kind = storage.KindTransient
	}
	return e
}

func (s *Store) invalid(op, key, format string, args ...any) error {
	return storage.Errorf(storage.KindInvalid, s.name, op, key, format, args...)
}

// List returns one page of objects after opts.After, before opts.Before.
func (s *Store) List(ctx context.Context, opts storage.ListOptions) (storage.Page, error) {
	const op = "list"
	if opts.Before != "" && opts.Before <= opts.After {
		return storage.Page{Done: true}, nil
	}
	if opts.Before != "" && opts.Prefix != "" && opts.Before <= opts.Prefix {
		return storage.Page{Done: true}, nil
	}
	n := opts.MaxKeys
	if n <= 0 || n > maxListKeys {
		n = maxListKeys
	}
	res, err := s.listObjects(ctx, opts.Prefix, opts.After, n)
	if err != nil {
		return storage.Page{}, s.wrap(op, "", err)
	}
	page := storage.Page{Objects: make([]storage.ObjectInfo, 0, len(res.Objects)), Done: !res.IsTruncated}
	for _, o := range res.Objects {
		if opts.Before != "" && o.Key >= opts.Before {
			page.Done = true
			break
		}
		page.Objects = append(page.Objects, storage.ObjectInfo{
			Key:          o.Key,
			Size:         o.Size,
			ETag:         trimETag(o.ETag),
			LastModified: o.LastModified,
			Meta:         storage.Metadata{StorageClass: neutralClass(o.StorageClass)},
			Restored:     restoredFrom(o.RestoreInfo),
		})
	}
	if len(page.Objects) == 0 && !page.Done {
		// A truncated page without objects cannot happen without a
		// delimiter; never hand back a cursor that does not advance.
		return storage.Page{}, storage.Errorf(storage.KindTransient, s.name, op, "",
			"truncated listing after %q returned no objects", opts.After)
	}
	if n := len(page.Objects); n > 0 {
		page.Next = page.Objects[n-1].Key
	}
	return page, nil
}

// Head returns an object's size, checksum and metadata.
func (s *Store) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	const op = "head"
	if key == "" {
		return storage.ObjectInfo{}, s.invalid(op, key, "empty key")
	}
	h, err := s.bucket.GetObjectDetailedMeta(key, alioss.WithContext(ctx))
	if err != nil {
		return storage.ObjectInfo{}, s.wrap(op, key, err)
	}
	info, err := infoFromHeaders(key, h)
	if err != nil {
		return storage.ObjectInfo{}, s.wrap(op, key, err)
	}
	return info, nil
}

// Get streams an object or a range of it. A whole-object read is checked
// against the object's CRC64 when the stream ends.
func (s *Store) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	const op = "get"
	if key == "" {
		return nil, storage.ObjectInfo{}, s.invalid(op, key, "empty key")
	}
	if rng.Offset < 0 {
		return nil, storage.ObjectInfo{}, s.invalid(op, key, "negative range offset %d", rng.Offset)
	}
	opts := []alioss.Option{alioss.WithContext(ctx), alioss.AcceptEncoding("identity")}
	if !rng.IsWhole() {
		spec := strconv.FormatInt(rng.Offset, 10) + "-"
		if rng.Length > 0 {
			spec += strconv.FormatInt(rng.Offset+rng.Length-1, 10)
		}
		// "standard" makes OSS answer 416 for a range past the end instead
		// of silently sending the whole object.
		opts = append(opts, alioss.NormalizedRange(spec), alioss.RangeBehavior("standard"))
	}
	res, err := s.bucket.DoGetObject(&alioss.GetObjectRequest{ObjectKey: key}, opts)
	if err != nil {
		return nil, storage.ObjectInfo{}, s.wrap(op, key, err)
	}
	resp := res.Response
	info, err := infoFromHeaders(key, resp.Headers)
	if err != nil {
		resp.Close()
		return nil, storage.ObjectInfo{}, s.wrap(op, key, err)
	}
	r := &reader{s: s, key: key, body: resp}
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		start, total, err := parseContentRange(resp.Headers.Get("Content-Range"))
		if err == nil && start != rng.Offset {
			err = fmt.Errorf("asked for bytes from %d, got from %d", rng.Offset, start)
		}
		if err != nil {
			resp.Close()
			return nil, storage.ObjectInfo{}, storage.Errorf(storage.KindCorrupt, s.name, op, key, "bad ranged answer: %v", err)
		}
		info.Size = total
		r.remaining = info.Size - rng.Offset
		if rng.Length > 0 {
			r.remaining = min(r.remaining, rng.Length)
		}
	case !rng.IsWhole():
		// The range was ignored and the whole object is coming: skip to
		// the range ourselves.
		if _, err := io.CopyN(io.Discard, resp, rng.Offset); err != nil {
			resp.Close()
			return nil, storage.ObjectInfo{}, s.wrap(op, key, err)
		}
		r.remaining = info.Size - rng.Offset
		if rng.Length > 0 {
			r.remaining = min(r.remaining, rng.Length)
		}
		r.limit = true
	default:
		r.remaining = info.Size
		if info.HasCRC64 {
			r.crc, r.want = storage.NewCRC64(), info.CRC64
		}
	}
	return r, info, nil
}

// reader streams a GET body, turning a short body or a CRC mismatch into a
// classified error.
type reader struct {
	s         *Store
	key       string
	body      io.ReadCloser
	remaining int64       // bytes still expected
	limit     bool        // stop after remaining bytes (range done client-side)
	crc       hash.Hash64 // the running CRC of the body; nil: no check
	want      uint64
}

func (r *reader) Read(p []byte) (int, error) {
	if r.limit {
		if r.remaining <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > r.remaining {
			p = p[:r.remaining]
		}
	}
	n, err := r.body.Read(p)
	r.remaining -= int64(n)
	if r.crc != nil {
		r.crc.Write(p[:n])
	}
	switch {
	case err == io.EOF && r.remaining > 0:
		return n, storage.Errorf(storage.KindTransient, r.s.name, "get", r.key,
			"body ended %d bytes early: %w", r.remaining, io.ErrUnexpectedEOF)
	case err == io.EOF && r.crc != nil && r.crc.Sum64() != r.want:
		return n, storage.Errorf(storage.KindCorrupt, r.s.name, "get", r.key,
			"CRC64 of the body is %d, the object's is %d", r.crc.Sum64(), r.want)
	case err != nil && err != io.EOF:
		return n, r.s.wrap("get", r.key, err)
	}
	return n, err
}

func (r *reader) Close() error { return r.body.Close() }

// CRC64 is the running CRC64 of a whole-object read
// (storage.CRC64Reader), so that the copier does not hash the body again.
func (r *reader) CRC64() (uint64, bool) {
	if r.crc == nil {
		return 0, false
	}
	return r.crc.Sum64(), true
}

// exactReader yields exactly size bytes or fails: a source that ends early
// must abort the upload instead of storing a short object.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			return n, fmt.Errorf("body ended %d bytes short of its size: %w", e.left, io.ErrUnexpectedEOF)
		}
		return n, io.EOF
	}
	return n, err
}

// body wraps r so that the SDK sends Content-Length: size (it reads the
// length of an io.LimitedReader) and fails on a short source.
func body(r io.Reader, size int64) io.Reader {
	if size == 0 {
		return nil
	}
	return &io.LimitedReader{R: &exactReader{r: storage.ExactBody(r, size), left: size}, N: size}
}

// metaOptions turns neutral metadata into SDK options.
func metaOptions(meta storage.Metadata) []alioss.Option {
	var opts []alioss.Option
	for h, v := range map[string]string{
		alioss.HTTPHeaderContentType:        meta.ContentType,
		alioss.HTTPHeaderContentEncoding:    meta.ContentEncoding,
		alioss.HTTPHeaderContentDisposition: meta.ContentDisposition,
		alioss.HTTPHeaderContentLanguage:    meta.ContentLanguage,
		alioss.HTTPHeaderCacheControl:       meta.CacheControl,
		alioss.HTTPHeaderExpires:            meta.Expires,
	} {
		if v != "" {
			opts = append(opts, alioss.SetHeader(h, v))
		}
	}
	for k, v := range meta.User {
		opts = append(opts, alioss.Meta(strings.ToLower(k), v))
	}
	if meta.StorageClass != "" {
		opts = append(opts, alioss.ObjectStorageClass(alioss.StorageClassType(meta.StorageClass)))
	}
	return opts
}

func (s *Store) checkMeta(op, key string, meta storage.Metadata) error {
	if n := meta.UserMetadataSize(metaPrefix); n > maxUserMetadata {
		return s.invalid(op, key, "user metadata is %d bytes, more than the %d OSS allows", n, maxUserMetadata)
	}
	return nil
}

// Put stores an object of exactly size bytes.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, meta storage.Metadata) (storage.PutResult, error) {
	const op = "put"
	switch {
	case key == "":
		return storage.PutResult{}, s.invalid(op, key, "empty key")
	case size < 0 || size > maxPutSize:
		return storage.PutResult{}, s.invalid(op, key, "size %d is outside 0..%d", size, int64(maxPutSize))
	}
	if err := s.checkMeta(op, key, meta); err != nil {
		return storage.PutResult{}, err
	}
	opts := append(metaOptions(meta), alioss.WithContext(ctx))
	cr := storage.HashingCRC64(r)
	resp, err := s.bucket.DoPutObject(&alioss.PutObjectRequest{ObjectKey: key, Reader: body(cr, size)}, opts)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		return storage.PutResult{}, s.wrap(op, key, err)
	}
	res := storage.PutResult{ETag: trimETag(resp.Headers.Get("ETag"))}
	res.CRC64, res.HasCRC64, err = crcHeader(resp.Headers)
	if err == nil {
		err = s.checkCRC(op, key, res.CRC64, res.HasCRC64, cr)
	}
	if err != nil {
		return storage.PutResult{}, s.wrap(op, key, err)
	}
	return res, nil
}

// Delete removes an object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return s.invalid("delete", key, "empty key")
	}
	err := s.bucket.DeleteObject(key, alioss.WithContext(ctx))
	var svc alioss.ServiceError
	if errors.As(err, &svc) && svc.Code == "NoSuchKey" {
		// OSS answers 204 for a missing key; accept the S3 habit too.
		return nil
	}
	return s.wrap("delete", key, err)
}

// InitMultipart starts a multipart upload.
func (s *Store) InitMultipart(ctx context.Context, key string, meta storage.Metadata) (string, error) {
	const op = "init multipart"
	if key == "" {
		return "", s.invalid(op, key, "empty key")
	}
	if err := s.checkMeta(op, key, meta); err != nil {
		return "", err
	}
	res, err := s.bucket.InitiateMultipartUpload(key, append(metaOptions(meta), alioss.WithContext(ctx))...)
	if err != nil {
		return "", s.wrap(op, key, err)
	}
	if res.UploadID == "" {
		return "", storage.Errorf(storage.KindTransient, s.name, op, key, "the answer carries no upload id")
	}
	return res.UploadID, nil
}

func imur(bucket, key, uploadID string) alioss.InitiateMultipartUploadResult {
	return alioss.InitiateMultipartUploadResult{Bucket: bucket, Key: key, UploadID: uploadID}
}

// UploadPart stores part n (1..10000) of an upload.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (storage.Part, error) {
	const op = "upload part"
	switch {
	case key == "":
		return storage.Part{}, s.invalid(op, key, "empty key")
	case n < 1 || n > maxParts:
		return storage.Part{}, s.invalid(op, key, "part number %d is outside 1..%d", n, maxParts)
	case size < 0 || size > maxPartSize:
		return storage.Part{}, s.invalid(op, key, "part size %d is outside 0..%d", size, int64(maxPartSize))
	}
	var h http.Header
	init := imur(s.bucket.BucketName, key, uploadID)
	cr := storage.HashingCRC64(r)
	// DoUploadPart sends Content-Length: size and reads through its own
	// LimitedReader; exactReader makes a short source fail.
	res, err := s.bucket.DoUploadPart(&alioss.UploadPartRequest{
		InitResult: &init,
		Reader:     &exactReader{r: storage.ExactBody(cr, size), left: size},
		PartSize:   size,
		PartNumber: n,
	}, []alioss.Option{alioss.WithContext(ctx), alioss.GetResponseHeader(&h)})
	if err != nil {
		return storage.Part{}, s.wrap(op, key, err)
	}
	p := storage.Part{Number: n, Size: size, ETag: trimETag(res.Part.ETag)}
	p.CRC64, p.HasCRC64, err = crcHeader(h)
	if err == nil {
		err = s.checkCRC(op, key, p.CRC64, p.HasCRC64, cr)
	}
	if err != nil {
		return storage.Part{}, s.wrap(op, key, err)
	}
	return p, nil
}

// checkCRC compares the CRC64 an upload's answer reports with that of the
// bytes sent, as the SDK's own check did: an answer without one passes.
func (s *Store) checkCRC(op, key string, got uint64, reported bool, sent storage.CRC64Reader) error {
	want, _ := sent.CRC64()
	if reported && got != want {
		return storage.Errorf(storage.KindCorrupt, s.name, op, key,
			"OSS reports CRC64 %d for what it stored, the data sent has %d", got, want)
	}
	return nil
}

// ListParts returns every uploaded part, following all pages.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	const op = "list parts"
	var parts []storage.Part
	marker := 0
	for {
		res, err := s.bucket.ListUploadedParts(imur(s.bucket.BucketName, key, uploadID),
			alioss.WithContext(ctx), alioss.MaxParts(1000), alioss.PartNumberMarker(marker))
		if err != nil {
			return nil, s.wrap(op, key, err)
		}
		for _, p := range res.UploadedParts {
			parts = append(parts, storage.Part{Number: p.PartNumber, Size: int64(p.Size), ETag: trimETag(p.ETag)})
		}
		if !res.IsTruncated {
			return parts, nil
		}
		next, err := strconv.Atoi(res.NextPartNumberMarker)
		if err != nil || next <= marker {
			return nil, storage.Errorf(storage.KindTransient, s.name, op, key,
				"truncated part list with next marker %q after %d", res.NextPartNumberMarker, marker)
		}
		marker = next
	}
}

// CompleteMultipart assembles the listed parts. When every part carries its
// CRC64, the answered whole-object CRC64 must equal their combination.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) (storage.PutResult, error) {
	const op = "complete multipart"
	if len(parts) == 0 {
		return storage.PutResult{}, s.invalid(op, key, "no parts")
	}
	list := make([]alioss.UploadPart, len(parts))
	var combined uint64
	allCRC := true
	for i, p := range parts {
		list[i] = alioss.UploadPart{PartNumber: p.Number, ETag: `"` + trimETag(p.ETag) + `"`}
		allCRC = allCRC && p.HasCRC64
		combined = storage.CombineCRC64(combined, p.CRC64, p.Size)
	}
	var h http.Header
	out, err := s.bucket.CompleteMultipartUpload(imur(s.bucket.BucketName, key, uploadID), list,
		alioss.WithContext(ctx), alioss.GetResponseHeader(&h))
	if err != nil {
		return storage.PutResult{}, s.wrap(op, key, err)
	}
	res := storage.PutResult{ETag: trimETag(out.ETag)}
	if res.ETag == "" {
		res.ETag = trimETag(h.Get("ETag"))
	}
	if res.CRC64, res.HasCRC64, err = crcHeader(h); err != nil {
		return storage.PutResult{}, s.wrap(op, key, err)
	}
	if res.HasCRC64 && allCRC && res.CRC64 != combined {
		return storage.PutResult{}, storage.Errorf(storage.KindCorrupt, s.name, op, key,
			"object CRC64 is %d, its parts combine to %d", res.CRC64, combined)
	}
	return res, nil
}

// AbortMultipart discards an upload and its parts.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	err := s.bucket.AbortMultipartUpload(imur(s.bucket.BucketName, key, uploadID), alioss.WithContext(ctx))
	return s.wrap("abort multipart", key, err)
}

// ListUploads returns the uploads in progress under prefix, following all
// pages.
func (s *Store) ListUploads(ctx context.Context, prefix string) ([]storage.Upload, error) {
	const op = "list uploads"
	var ups []storage.Upload
	keyMarker, idMarker := "", ""
	for {
		res, err := s.bucket.ListMultipartUploads(alioss.WithContext(ctx), alioss.Prefix(prefix),
			alioss.KeyMarker(keyMarker), alioss.UploadIDMarker(idMarker), alioss.MaxUploads(1000))
		if err != nil {
			return nil, s.wrap(op, prefix, err)
		}
		for _, u := range res.Uploads {
			ups = append(ups, storage.Upload{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated})
		}
		if !res.IsTruncated {
			return ups, nil
		}
		if res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker {
			return nil, storage.Errorf(storage.KindTransient, s.name, op, prefix,
				"truncated upload list does not advance past %q %q", keyMarker, idMarker)
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// infoFromHeaders reads an object's description from HEAD or GET headers.
func infoFromHeaders(key string, h http.Header) (storage.ObjectInfo, error) {
	info := storage.ObjectInfo{Key: key, ETag: trimETag(h.Get("ETag"))}
	if v := h.Get("Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return info, fmt.Errorf("bad Content-Length %q: %w", v, err)
		}
		info.Size = n
	}
	if v := h.Get("Last-Modified"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return info, fmt.Errorf("bad Last-Modified %q: %w", v, err)
		}
		info.LastModified = t
	}
	var err error
	if info.CRC64, info.HasCRC64, err = crcHeader(h); err != nil {
		return info, err
	}
	info.Meta = storage.MetadataFromHeader(h, metaPrefix)
	info.Meta.StorageClass = neutralClass(h.Get(headerClass))
	info.Restored = restoredFrom(h.Get(headerRestore))
	return info, nil
}

// crcHeader reads x-oss-hash-crc64ecma; ok is false when it is absent.
func crcHeader(h http.Header) (uint64, bool, error) {
	v := h.Get(headerCRC)
	if v == "" {
		return 0, false, nil
	}
	crc, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("bad %s %q: %w", headerCRC, v, err)
	}
	return crc, true, nil
}

// parseContentRange reads "bytes start-end/total".
func parseContentRange(v string) (start, total int64, err error) {
	spec, ok := strings.CutPrefix(v, "bytes ")
	rng, size, ok2 := strings.Cut(spec, "/")
	first, _, ok3 := strings.Cut(rng, "-")
	if !ok || !ok2 || !ok3 {
		return 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	if start, err = strconv.ParseInt(first, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("bad Content-Range %q: %w", v, err)
	}
	if total, err = strconv.ParseInt(size, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("bad Content-Range %q: %w", v, err)
	}
	return start, total, nil
}

// neutralClass maps an OSS storage class to the neutral name: the five OSS
// classes are spelled like the neutral constants; anything else passes
// through. Objects without a class are Standard.
func neutralClass(c string) string {
	for _, n := range []string{storage.ClassStandard, storage.ClassIA, storage.ClassArchive,
		storage.ClassColdArchive, storage.ClassDeepColdArchive} {
		if strings.EqualFold(c, n) {
			return n
		}
	}
	if c == "" {
		return storage.ClassStandard
	}
	return c
}

// restoredFrom reads x-oss-restore (or a listing's RestoreInfo): a finished
// restore says ongoing-request="false".
func restoredFrom(v string) bool {
	return strings.Contains(strings.ReplaceAll(v, " ", ""), `ongoing-request="false"`)
}

func trimETag(e string) string { return strings.Trim(e, `"`) }
