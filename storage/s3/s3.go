// Package s3 is the storage.Store of a bucket of Amazon S3 or of any
// S3-compatible service (Cloudflare R2, MinIO, Huawei OBS, Qiniu Kodo,
// Baidu BOS, Kingsoft KS3 and others), built on the official SDK
// (github.com/aws/aws-sdk-go-v2).
//
// S3 reports no CRC64: objects are verified by MD5 (a single PUT's ETag and
// each part's), by the MD5-of-MD5s ETag of a multipart object, and, as a
// source, by a full-object checksum (CRC32, CRC32C, CRC64NVME, SHA-1,
// SHA-256) when the object has one. Limits.Checksum says so to the copier.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/bucketferry/bucketferry/storage"
)

// S3 limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10000
	maxPutSize  = 5 << 30
	maxUserMeta = 2 << 10 // all x-amz-meta-* names and values
	maxListPage = 1000
)

// Config describes one bucket and how to reach it.
type Config struct {
	// Bucket is the bucket's name.
	Bucket string
	// Region is the bucket's region (us-east-1, auto for R2, the
	// provider's region name for others); required, as SigV4 signs it.
	Region string
	// Endpoint is the service's base URL (https://s3.us-west-2.amazonaws.com,
	// https://<account>.r2.cloudflarestorage.com, http://127.0.0.1:9000);
	// empty means AWS's endpoint for the region.
	Endpoint string
	// PathStyle addresses the bucket as https://endpoint/bucket/key instead
	// of https://bucket.endpoint/key (MinIO and most private deployments
	// need it).
	PathStyle bool
	// AccessKeyID and SecretAccessKey (and SessionToken for temporary
	// credentials) are static keys; with none, the SDK's default chain is
	// used: AWS_* environment variables, shared config and credentials
	// files, web identity, ECS and EC2 instance roles.
	AccessKeyID, SecretAccessKey, SessionToken string
	// ConnectTimeout, ReadWriteTimeout and MaxIdleConnsPerHost tune the
	// HTTP client as for the other stores (defaults 10s, 60s, 512).
	ConnectTimeout      time.Duration
	ReadWriteTimeout    time.Duration
	MaxIdleConnsPerHost int
	// HTTPClient, when set, replaces the store's own HTTP client (tests
	// reaching a TLS emulator with its certificate).
	HTTPClient *http.Client
}

// Store is an S3 bucket. It is safe for concurrent use.
type Store struct {
	name   string
	bucket string
	client *s3sdk.Client
	// bucketSeen records that the bucket answered once, so a HEAD 404
	// (which carries no error code) means a missing object, not bucket.
	bucketSeen atomic.Bool
}

var _ storage.Store = (*Store)(nil)

// New validates cfg and returns a store. It does not contact the service;
// with no static keys the default credential chain is resolved lazily, on
// the first request.
func New(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: storage.NewTransport(storage.TransportConfig{ConnectTimeout: cfg.ConnectTimeout,
			StallTimeout: cfg.ReadWriteTimeout, MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost})}
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.Region),
		// Retries belong to the caller, which knows whether the body can be
		// read again and how long to back off.
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		// Bodies are streamed from the source, so they can be neither
		// hashed before sending nor, over plain HTTP, given a trailing
		// checksum; the copier checks what the store answers instead (the
		// MD5 ETags), against the data it hashed while streaming.
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	// LoadDefaultConfig reads the environment and the shared files only;
	// nothing is asked of the network until a request needs credentials.
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load the SDK's configuration: %w", err)
	}
	client := s3sdk.NewFromConfig(awsCfg, func(o *s3sdk.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Set here rather than in LoadDefaultConfig, which refuses a client
		// it cannot add AWS_CA_BUNDLE to.
		o.HTTPClient = hc
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
	return &Store{name: "s3://" + cfg.Bucket, bucket: cfg.Bucket, client: client}, nil
}

func (cfg Config) validate() error {
	switch {
	case cfg.Bucket == "":
		return errors.New("s3: Config.Bucket is required")
	case strings.ContainsAny(cfg.Bucket, "/ "):
		return fmt.Errorf("s3: Config.Bucket %q must be a bucket name, without '/' or spaces", cfg.Bucket)
	case cfg.Region == "":
		return errors.New("s3: Config.Region is required (e.g. us-east-1; auto for Cloudflare R2)")
	case (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == ""):
		return errors.New("s3: Config.AccessKeyID and Config.SecretAccessKey go together (or neither, for the SDK's default credential chain)")
	case cfg.SessionToken != "" && cfg.AccessKeyID == "":
		return errors.New("s3: Config.SessionToken needs Config.AccessKeyID and Config.SecretAccessKey")
	case strings.TrimSpace(cfg.AccessKeyID) != cfg.AccessKeyID || strings.TrimSpace(cfg.SecretAccessKey) != cfg.SecretAccessKey:
		return errors.New("s3: Config.AccessKeyID and Config.SecretAccessKey must not start or end with spaces")
	case cfg.ConnectTimeout < 0:
		return fmt.Errorf("s3: Config.ConnectTimeout %v is negative", cfg.ConnectTimeout)
	case cfg.ReadWriteTimeout < 0:
		return fmt.Errorf("s3: Config.ReadWriteTimeout %v is negative", cfg.ReadWriteTimeout)
	case cfg.MaxIdleConnsPerHost < 0:
		return fmt.Errorf("s3: Config.MaxIdleConnsPerHost %d is negative", cfg.MaxIdleConnsPerHost)
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		switch {
		case err != nil:
			return errors.New("s3: Config.Endpoint is not a URL")
		case u.User != nil:
			return errors.New("s3: Config.Endpoint must not contain user:password@")
		case u.Scheme != "http" && u.Scheme != "https":
			return fmt.Errorf("s3: Config.Endpoint %q must be a base URL with http or https, e.g. https://s3.us-west-2.amazonaws.com", cfg.Endpoint)
		case u.Host == "":
			return fmt.Errorf("s3: Config.Endpoint %q has no host", cfg.Endpoint)
		case u.Path != "" && u.Path != "/", u.RawQuery != "":
			return fmt.Errorf("s3: Config.Endpoint %q must have no path or query (the bucket is Config.Bucket)", cfg.Endpoint)
		}
	}
	return nil
}

// Name is "s3://bucket".
func (s *Store) Name() string { return s.name }

// Limits are S3's; MD5 is the family the store reports for what it stores.
func (s *Store) Limits() storage.Limits {
	return storage.Limits{MinPartSize: minPartSize, MaxPartSize: maxPartSize, MaxParts: maxParts,
		MaxPutSize: maxPutSize, MaxUserMetadata: maxUserMeta, Checksum: storage.MD5}
}

// ---- errors

// fail classifies an SDK error by the HTTP status and S3 error code.
func (s *Store) fail(op, key string, err error) *storage.Error {
	e := &storage.Error{Store: s.name, Op: op, Key: key, Err: err}
	var inner *storage.Error
	var ae smithy.APIError
	var re *awshttp.ResponseError
	switch {
	case errors.As(err, &inner):
		// The body reader failed: the source's own classification holds.
		e.Kind, e.Code = inner.Kind, inner.Code
	case errors.As(err, &re) && re.HTTPStatusCode() > 0:
		if errors.As(err, &ae) {
			e.Code = ae.ErrorCode()
		}
		e.Kind = storage.KindForHTTP(re.HTTPStatusCode(), e.Code)
	case errors.As(err, &ae):
		e.Code = ae.ErrorCode()
		e.Kind = storage.KindForHTTP(0, e.Code)
	default:
		e.Kind = storage.KindOf(err)
	}
	if e.Kind == storage.KindUnknown && !errors.Is(err, context.Canceled) {
		e.Kind = storage.KindTransient
	}
	return e
}

// checkKey rejects keys S3 cannot store.
func (s *Store) checkKey(op, key string) error {
	if key == "" {
		return storage.Errorf(storage.KindInvalid, s.name, op, key, "empty key")
	}
	return nil
}

// ---- classes and metadata

// s3Class maps a neutral class to S3's name; native names pass unchanged.
func s3Class(class string) types.StorageClass {
	switch class {
	case "", storage.ClassStandard:
		return ""
	case storage.ClassIA:
		return types.StorageClassStandardIa
	case storage.ClassArchive:
		return types.StorageClassGlacier
	case storage.ClassColdArchive, storage.ClassDeepColdArchive:
		return types.StorageClassDeepArchive
	case storage.ClassIntelligent:
		return types.StorageClassIntelligentTiering
	}
	return types.StorageClass(class)
}

// classFromS3 maps S3's class names to the neutral ones; GLACIER_IR and
// others with no neutral counterpart pass unchanged (GLACIER_IR is
// readable at once, so it must not look archived).
func classFromS3(name string) string {
	switch strings.ToUpper(name) {
	case "", "STANDARD":
		return storage.ClassStandard
	case "STANDARD_IA":
		return storage.ClassIA
	case "GLACIER":
		return storage.ClassArchive
	case "DEEP_ARCHIVE":
		return storage.ClassDeepColdArchive
	case "INTELLIGENT_TIERING":
		return storage.ClassIntelligent
	}
	return name
}

// md5Of is the MD5 an ETag stands for, unless the object is encrypted
// with KMS or a customer key (whose ETags are not MD5s) or multipart.
func md5Of(etag string, sse types.ServerSideEncryption, customerKey *string) []storage.Checksum {
	if sse == types.ServerSideEncryptionAwsKms || sse == types.ServerSideEncryptionAwsKmsDsse || aws.ToString(customerKey) != "" {
		return nil
	}
	if c, ok := storage.MD5FromETag(etag); ok {
		return []storage.Checksum{c}
	}
	return nil
}

// fullObject lists the full-object checksums of a HEAD or GET answer; a
// composite checksum of parts ("...-N") is none.
func fullObject(typ types.ChecksumType, sums map[storage.Algorithm]*string) []storage.Checksum {
	if typ != "" && typ != types.ChecksumTypeFullObject {
		return nil
	}
	var out []storage.Checksum
	for _, alg := range storage.Algorithms() {
		v := aws.ToString(sums[alg])
		if v == "" || strings.Contains(v, "-") {
			continue
		}
		if c, ok := storage.ChecksumFromBase64(alg, v); ok {
			out = append(out, c)
		}
	}
	return out
}

// objectHeaders is what HEAD and GET answers share.
type objectHeaders struct {
	etag, contentType, contentEncoding, contentDisposition, contentLanguage, cacheControl, expires string
	lastModified                                                                                   *time.Time
	meta                                                                                           map[string]string
	class                                                                                          types.StorageClass
	restore                                                                                        *string
	sse                                                                                            types.ServerSideEncryption
	customerKey                                                                                    *string
	checksumType                                                                                   types.ChecksumType
	sums                                                                                           map[storage.Algorithm]*string
}

// sums names an answer's checksum fields by family.
func sums(crc32, crc32c, crc64nvme, sha1, sha256 *string) map[storage.Algorithm]*string {
	return map[storage.Algorithm]*string{storage.CRC32: crc32, storage.CRC32C: crc32c, storage.CRC64NVME: crc64nvme,
		storage.SHA1: sha1, storage.SHA256: sha256}
}

func (h objectHeaders) info(key string, size int64) storage.ObjectInfo {
	oi := storage.ObjectInfo{Key: key, Size: size, ETag: strings.Trim(h.etag, `"`), LastModified: aws.ToTime(h.lastModified)}
	oi.Checksums = append(fullObject(h.checksumType, h.sums), md5Of(h.etag, h.sse, h.customerKey)...)
	m := storage.Metadata{ContentType: h.contentType, ContentEncoding: h.contentEncoding,
		ContentDisposition: h.contentDisposition, ContentLanguage: h.contentLanguage, CacheControl: h.cacheControl,
		Expires: h.expires, StorageClass: classFromS3(string(h.class))}
	for k, v := range h.meta {
		if m.User == nil {
			m.User = map[string]string{}
		}
		m.User[strings.ToLower(k)] = v
	}
	oi.Meta = m
	oi.Restored = strings.Contains(aws.ToString(h.restore), `ongoing-request="false"`)
	return oi
}

// ---- objects

// List returns one page of objects in key order (ListObjectsV2 with
// URL-encoded keys, so that any key survives the XML).
func (s *Store) List(ctx context.Context, opts storage.ListOptions) (storage.Page, error) {
	limit := opts.MaxKeys
	if limit <= 0 || limit > maxListPage {
		limit = maxListPage
	}
	in := &s3sdk.ListObjectsV2Input{Bucket: aws.String(s.bucket), MaxKeys: aws.Int32(int32(limit)),
		EncodingType: types.EncodingTypeUrl}
	if opts.Prefix != "" {
		in.Prefix = aws.String(opts.Prefix)
	}
	if opts.After != "" {
		in.StartAfter = aws.String(opts.After)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return storage.Page{}, s.fail("list", opts.Prefix, err)
	}
	s.bucketSeen.Store(true)
	var page storage.Page
	for _, o := range out.Contents {
		key, err := decodeKey(out.EncodingType, aws.ToString(o.Key))
		if err != nil {
			return storage.Page{}, storage.Errorf(storage.KindTransient, s.name, "list", opts.Prefix, "undecodable key %q: %v", aws.ToString(o.Key), err)
		}
		if opts.Before != "" && key >= opts.Before {
			page.Done = true
			return page, nil
		}
		page.Objects = append(page.Objects, storage.ObjectInfo{Key: key, Size: aws.ToInt64(o.Size),
			ETag: strings.Trim(aws.ToString(o.ETag), `"`), LastModified: aws.ToTime(o.LastModified),
			Meta: storage.Metadata{StorageClass: classFromS3(string(o.StorageClass))}})
		page.Next = key
	}
	page.Done = !aws.ToBool(out.IsTruncated)
	if !page.Done && len(page.Objects) == 0 {
		// A truncated page with no keys: continue after the start.
		page.Next = opts.After
	}
	return page, nil
}

// Head returns an object's size, checksums and metadata.
func (s *Store) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := s.checkKey("head", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return storage.ObjectInfo{}, s.headFail(ctx, key, err)
	}
	s.bucketSeen.Store(true)
	h := objectHeaders{etag: aws.ToString(out.ETag), contentType: aws.ToString(out.ContentType),
		contentEncoding: aws.ToString(out.ContentEncoding), contentDisposition: aws.ToString(out.ContentDisposition),
		contentLanguage: aws.ToString(out.ContentLanguage), cacheControl: aws.ToString(out.CacheControl),
		expires: aws.ToString(out.ExpiresString), lastModified: out.LastModified, meta: out.Metadata,
		class: out.StorageClass, restore: out.Restore, sse: out.ServerSideEncryption, customerKey: out.SSECustomerAlgorithm,
		checksumType: out.ChecksumType,
		sums:         sums(out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256)}
	return h.info(key, aws.ToInt64(out.ContentLength)), nil
}

// headFail classifies a failed HEAD. A HEAD answer has no body, so a 404
// does not say whether the object or the bucket is missing; until the
// bucket has answered once, ask it.
func (s *Store) headFail(ctx context.Context, key string, err error) error {
	e := s.fail("head", key, err)
	if e.Kind != storage.KindNotFound || s.bucketSeen.Load() {
		return e
	}
	_, berr := s.client.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if berr == nil {
		s.bucketSeen.Store(true)
		return e
	}
	if be := s.fail("head bucket", "", berr); be.Kind == storage.KindNotFound {
		e.Kind, e.Code = storage.KindNoSuchBucket, "NoSuchBucket"
	}
	return e
}

// Get streams an object or a byte range of it. The info describes the
// whole object.
func (s *Store) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := s.checkKey("get", key); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	if rng.Offset < 0 {
		return nil, storage.ObjectInfo{}, storage.Errorf(storage.KindInvalid, s.name, "get", key, "negative range offset %d", rng.Offset)
	}
	in := &s3sdk.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if rng.IsWhole() {
		// Full-object checksums come only with whole reads.
		in.ChecksumMode = types.ChecksumModeEnabled
	} else {
		spec := storage.RangeHeader(rng)
		in.Range = aws.String(spec)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		e := s.fail("get", key, err)
		if e.Kind == storage.KindInvalid && e.Code == "InvalidRange" && rng.Length <= 0 {
			// A range starting at the end of the object: nothing to read.
			return s.emptyTail(ctx, key)
		}
		return nil, storage.ObjectInfo{}, e
	}
	size := aws.ToInt64(out.ContentLength)
	if cr := aws.ToString(out.ContentRange); cr != "" {
		total, ok := storage.TotalFromContentRange(cr)
		if !ok {
			out.Body.Close()
			return nil, storage.ObjectInfo{}, storage.Errorf(storage.KindTransient, s.name, "get", key,
				"S3 answered a range with an unusable Content-Range %q", cr)
		}
		size = total
	}
	h := objectHeaders{etag: aws.ToString(out.ETag), contentType: aws.ToString(out.ContentType),
		contentEncoding: aws.ToString(out.ContentEncoding), contentDisposition: aws.ToString(out.ContentDisposition),
		contentLanguage: aws.ToString(out.ContentLanguage), cacheControl: aws.ToString(out.CacheControl),
		expires: aws.ToString(out.ExpiresString), lastModified: out.LastModified, meta: out.Metadata,
		class: out.StorageClass, restore: out.Restore, sse: out.ServerSideEncryption, customerKey: out.SSECustomerAlgorithm,
		checksumType: out.ChecksumType,
		sums:         sums(out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256)}
	info := h.info(key, size)
	if !rng.IsWhole() {
		// A range's answer carries no whole-object checksum but the ETag;
		// keep it so that versions can be compared.
		info.Checksums = nil
	}
	return &getBody{s: s, key: key, rc: out.Body}, info, nil
}

// emptyTail answers a read from the end of an object: S3 refuses the
// range (416), the store interface wants an empty body.
func (s *Store) emptyTail(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	info, err := s.Head(ctx, key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	info.Checksums = nil
	return io.NopCloser(strings.NewReader("")), info, nil
}

// getBody classifies read errors of a download.
type getBody struct {
	s   *Store
	key string
	rc  io.ReadCloser
}

func (b *getBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = b.s.fail("get", b.key, err)
	}
	return n, err
}

func (b *getBody) Close() error { return b.rc.Close() }

// Put stores an object of exactly size bytes. The answer's ETag is the MD5
// of what S3 stored, which the copier checks against the data it sent.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, meta storage.Metadata) (storage.PutResult, error) {
	const op = "put"
	if err := s.checkKey(op, key); err != nil {
		return storage.PutResult{}, err
	}
	if size < 0 || size > maxPutSize {
		return storage.PutResult{}, storage.Errorf(storage.KindInvalid, s.name, op, key, "size %d is outside 0..%d", size, int64(maxPutSize))
	}
	if err := s.checkMeta(op, key, meta); err != nil {
		return storage.PutResult{}, err
	}
	in := &s3sdk.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		Body: storage.ExactBody(r, size), ContentLength: aws.Int64(size)}
	putMeta(meta, &in.ContentType, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage, &in.CacheControl,
		&in.Expires, &in.Metadata, &in.StorageClass)
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return storage.PutResult{}, s.fail(op, key, err)
	}
	etag := aws.ToString(out.ETag)
	return storage.PutResult{ETag: strings.Trim(etag, `"`), Checksums: md5Of(etag, out.ServerSideEncryption, out.SSECustomerAlgorithm)}, nil
}

// checkMeta refuses metadata S3 would refuse, before any byte is sent.
func (s *Store) checkMeta(op, key string, meta storage.Metadata) error {
	if n := meta.UserMetadataSize("x-amz-meta-"); n > maxUserMeta {
		return storage.Errorf(storage.KindInvalid, s.name, op, key, "user metadata of %d bytes is over S3's limit of %d", n, maxUserMeta)
	}
	return nil
}

// putMeta sets the request fields of metadata; PutObject and
// CreateMultipartUpload have the same ones.
func putMeta(m storage.Metadata, ct, ce, cd, cl, cc **string, expires **time.Time, user *map[string]string, class *types.StorageClass) {
	set := func(dst **string, v string) {
		if v != "" {
			*dst = aws.String(v)
		}
	}
	set(ct, m.ContentType)
	set(ce, m.ContentEncoding)
	set(cd, m.ContentDisposition)
	set(cl, m.ContentLanguage)
	set(cc, m.CacheControl)
	if t, err := http.ParseTime(m.Expires); err == nil {
		// S3 takes a date only; anything else is not sent.
		*expires = aws.Time(t)
	}
	if len(m.User) > 0 {
		*user = m.User
	}
	*class = s3Class(m.StorageClass)
}

// Delete removes an object; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey("delete", key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		if e := s.fail("delete", key, err); e.Kind != storage.KindNotFound || e.Code == "NoSuchBucket" {
			return e
		}
	}
	return nil
}

// ---- multipart

// InitMultipart starts an upload.
func (s *Store) InitMultipart(ctx context.Context, key string, meta storage.Metadata) (string, error) {
	const op = "init multipart"
	if err := s.checkKey(op, key); err != nil {
		return "", err
	}
	if err := s.checkMeta(op, key, meta); err != nil {
		return "", err
	}
	in := &s3sdk.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	putMeta(meta, &in.ContentType, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage, &in.CacheControl,
		&in.Expires, &in.Metadata, &in.StorageClass)
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", s.fail(op, key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart stores part n; its ETag is the part's MD5.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (storage.Part, error) {
	const op = "upload part"
	if err := s.checkKey(op, key); err != nil {
		return storage.Part{}, err
	}
	if n < 1 || n > maxParts || size < 0 || size > maxPartSize {
		return storage.Part{}, storage.Errorf(storage.KindInvalid, s.name, op, key, "part %d of %d bytes is outside S3's limits", n, size)
	}
	out, err := s.client.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		UploadId: aws.String(uploadID), PartNumber: aws.Int32(int32(n)), Body: storage.ExactBody(r, size), ContentLength: aws.Int64(size)})
	if err != nil {
		return storage.Part{}, s.fail(op, key, err)
	}
	etag := aws.ToString(out.ETag)
	return storage.Part{Number: n, Size: size, ETag: strings.Trim(etag, `"`),
		Checksums: md5Of(etag, out.ServerSideEncryption, out.SSECustomerAlgorithm)}, nil
}

// ListParts returns the parts uploaded so far, in part-number order.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	const op = "list parts"
	var out []storage.Part
	in := &s3sdk.ListPartsInput{Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID)}
	for {
		page, err := s.client.ListParts(ctx, in)
		if err != nil {
			return nil, s.fail(op, key, err)
		}
		for _, p := range page.Parts {
			etag := aws.ToString(p.ETag)
			out = append(out, storage.Part{Number: int(aws.ToInt32(p.PartNumber)), Size: aws.ToInt64(p.Size),
				ETag: strings.Trim(etag, `"`), Checksums: md5Of(etag, "", nil)})
		}
		if !aws.ToBool(page.IsTruncated) || page.NextPartNumberMarker == nil {
			return out, nil
		}
		in.PartNumberMarker = page.NextPartNumberMarker
	}
}

// CompleteMultipart assembles the parts. The answer's ETag is the MD5 of
// the parts' MD5s and their number, which the copier checks.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) (storage.PutResult, error) {
	const op = "complete multipart"
	if len(parts) == 0 {
		return storage.PutResult{}, storage.Errorf(storage.KindInvalid, s.name, op, key, "no parts")
	}
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(`"` + strings.Trim(p.ETag, `"`) + `"`)}
	}
	out, err := s.client.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: aws.String(s.bucket),
		Key: aws.String(key), UploadId: aws.String(uploadID), MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		return storage.PutResult{}, s.fail(op, key, err)
	}
	return storage.PutResult{ETag: strings.Trim(aws.ToString(out.ETag), `"`)}, nil
}

// AbortMultipart discards an upload.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3sdk.AbortMultipartUploadInput{Bucket: aws.String(s.bucket),
		Key: aws.String(key), UploadId: aws.String(uploadID)})
	if err != nil {
		return s.fail("abort multipart", key, err)
	}
	return nil
}

// decodeKey undoes the URL encoding of a listed key, when the answer says
// it applied it: some S3-compatible services ignore encoding-type and send
// keys as they are, which must not be decoded.
func decodeKey(enc types.EncodingType, key string) (string, error) {
	if enc != types.EncodingTypeUrl {
		return key, nil
	}
	return url.QueryUnescape(key)
}

// ListUploads returns the uploads in progress under prefix.
func (s *Store) ListUploads(ctx context.Context, prefix string) ([]storage.Upload, error) {
	const op = "list uploads"
	var out []storage.Upload
	in := &s3sdk.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), EncodingType: types.EncodingTypeUrl}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, s.fail(op, prefix, err)
		}
		for _, u := range page.Uploads {
			key, err := decodeKey(page.EncodingType, aws.ToString(u.Key))
			if err != nil {
				return nil, storage.Errorf(storage.KindTransient, s.name, op, prefix, "undecodable key %q: %v", aws.ToString(u.Key), err)
			}
			out = append(out, storage.Upload{Key: key, UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
		if k := aws.ToString(in.KeyMarker); k != "" {
			if dec, err := decodeKey(page.EncodingType, k); err == nil {
				in.KeyMarker = aws.String(dec)
			}
		}
	}
}
