package emulator

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bucketferry/bucketferry/storage"
)

// S3 protocol limits the front end enforces, as the real service does.
const (
	s3XMLNS           = "http://s3.amazonaws.com/doc/2006-03-01/"
	s3MetaPrefix      = "x-amz-meta-"
	s3ClassHeader     = "x-amz-storage-class"
	s3CRCHeader       = "x-emulator-crc64ecma" // set by setObjectHeaders, removed: S3 has no CRC64 header
	s3MaxMeta         = 2 << 10                // all x-amz-meta-* names and values
	s3MinPartSize     = 5 << 20
	s3MaxPartNumber   = 10000
	s3MaxObjectSize   = 5 << 30 // single PUT, one part, one copy
	s3MaxListKeys     = 1000
	s3MaxCompleteXML  = 8 << 20
	s3MaxDeleteXML    = 2 << 20
	s3MaxDeleteKeys   = 1000
	s3DrainOnError    = 32 << 20
	s3DefaultRegion   = "us-east-1"
	s3DefaultDomain   = "localhost"
	s3OwnerID         = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
	s3OwnerName       = "emulator"
	s3CreateBucketXML = 64 << 10
)

// s3BucketName is S3's rule for bucket names (3 to 63 characters).
var s3BucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// S3FrontEnd serves the Amazon S3 REST API over a Backend, enough for the
// AWS SDKs and rclone: buckets by path (/bucket/key) or by virtual host
// (bucket.Domain), AWS Signature Version 4 (header or presigned query, hashed,
// unsigned or aws-chunked payloads), x-amz-meta-* metadata, listings V1 and
// V2, server-side copy and the S3 multipart rules (parts of at least 5 MiB,
// any ascending part numbers).
type S3FrontEnd struct {
	Backend *Backend
	// Credentials maps access key id to secret access key. Every request
	// must be signed by one of them.
	Credentials map[string]string
	// Region is what GetBucketLocation and HeadBucket answer; any region
	// in a signature's scope is accepted. Empty means us-east-1.
	Region string
	// Domain selects virtual-hosted-style routing: a Host of bucket.Domain
	// names the bucket; any other host is path-style. Empty means
	// "localhost" (bucket.localhost resolves to loopback).
	Domain string
	// Now is the clock signatures are checked against; nil is time.Now.
	Now func() time.Time

	seq atomic.Uint64 // request ids
}

// s3Request is one routed, authenticated request.
type s3Request struct {
	w      http.ResponseWriter
	r      *http.Request
	auth   *s3Auth
	bucket string
	key    string
	q      url.Values
}

// s3Writer remembers whether the answer has started.
type s3Writer struct {
	http.ResponseWriter
	started bool
}

func (w *s3Writer) WriteHeader(status int) {
	w.started = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *s3Writer) Write(p []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(p)
}

// Flush lets a streamed answer through.
func (w *s3Writer) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ServeHTTP answers one S3 request.
func (f *S3FrontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.setCommonHeaders(w)
	sw := &s3Writer{ResponseWriter: w}
	bucket, key := f.route(r)
	var err error
	if auth, aerr := f.authenticate(r); aerr != nil {
		err = aerr
	} else {
		err = f.dispatch(&s3Request{w: sw, r: r, auth: auth, bucket: bucket, key: key, q: r.URL.Query()})
	}
	if err == nil || sw.started {
		// Once the status is sent, a failure can only cut the body short.
		return
	}
	var aerr *APIError
	switch {
	case errors.As(err, &aerr):
	case errors.Is(err, io.ErrUnexpectedEOF):
		aerr = apiErr(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header: %v", err)
	default:
		aerr = apiErr(500, "InternalError", "We encountered an internal error. Please try again. (%v)", err)
	}
	f.WriteError(w, r, aerr)
}

func (f *S3FrontEnd) region() string {
	if f.Region == "" {
		return s3DefaultRegion
	}
	return f.Region
}

func (f *S3FrontEnd) setCommonHeaders(w http.ResponseWriter) {
	h := w.Header()
	if h.Get("x-amz-request-id") != "" {
		return
	}
	id := fmt.Sprintf("%016X", uint64(time.Now().UnixNano())^f.seq.Add(1))
	h.Set("x-amz-request-id", id)
	h.Set("x-amz-id-2", base64.StdEncoding.EncodeToString([]byte("emulator/"+id)))
	h.Set("Server", "AmazonS3")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
}

// route finds the bucket and key: virtual-hosted style for a Host under the
// domain, path style otherwise.
func (f *S3FrontEnd) route(r *http.Request) (bucket, key string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	domain := f.Domain
	if domain == "" {
		domain = s3DefaultDomain
	}
	host := strings.ToLower(hostWithoutPort(r.Host))
	if b, ok := strings.CutSuffix(host, "."+domain); ok && b != "" && !isIPHost(r.Host) {
		return b, path
	}
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

// s3ErrorXML is the S3 error document.
type s3ErrorXML struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string `xml:",omitempty"`
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId"`
}

// WriteError answers a request with an S3 error document.
func (f *S3FrontEnd) WriteError(w http.ResponseWriter, r *http.Request, e *APIError) {
	f.setCommonHeaders(w)
	// A client still sending its body would see a reset instead of the
	// error, so read (a bounded amount of) what it sends first.
	if r.Body != nil && r.ContentLength != 0 {
		_, _ = io.CopyN(io.Discard, r.Body, s3DrainOnError)
	}
	h := w.Header()
	for _, k := range []string{"ETag", "Last-Modified", "Content-Range", "Accept-Ranges", s3ClassHeader} {
		h.Del(k)
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), s3MetaPrefix) {
			h.Del(k)
		}
	}
	writeXML(w, e.Status, s3ErrorXML{Code: e.Code, Message: e.Message, Resource: r.URL.Path,
		RequestID: h.Get("x-amz-request-id"), HostID: h.Get("x-amz-id-2")})
}

func s3NotImplemented(what string) *APIError {
	return apiErr(501, "NotImplemented", "%s is not implemented by this emulator.", what)
}

// s3Unsupported lists sub-resources this emulator does not serve, so such a
// request fails clearly instead of being taken for a plain object request.
var s3Unsupported = []string{"acl", "cors", "lifecycle", "policy", "tagging", "versions", "website", "logging",
	"replication", "inventory", "encryption", "notification", "object-lock", "accelerate", "restore", "select",
	"retention", "legal-hold", "attributes", "analytics", "metrics", "ownershipControls", "publicAccessBlock",
	"requestPayment", "torrent", "intelligent-tiering", "policyStatus"}

func (f *S3FrontEnd) dispatch(req *s3Request) error {
	r := req.r
	if req.bucket == "" {
		if r.Method == http.MethodGet {
			return f.listBuckets(req)
		}
		return s3NotImplemented(r.Method + " on the service")
	}
	for _, sub := range s3Unsupported {
		if req.q.Has(sub) {
			return s3NotImplemented(fmt.Sprintf("%s ?%s", r.Method, sub))
		}
	}
	if req.key == "" {
		return f.dispatchBucket(req)
	}
	if !f.Backend.BucketExists(req.bucket) {
		return ErrNoSuchBucket
	}
	uploadID := req.q.Get("uploadId")
	switch r.Method {
	case http.MethodPut:
		switch {
		case req.q.Has("partNumber") || req.q.Has("uploadId"):
			return f.uploadPart(req, uploadID)
		case r.Header.Get("x-amz-copy-source") != "":
			return f.copyObject(req)
		}
		return f.putObject(req)
	case http.MethodGet, http.MethodHead:
		if req.q.Has("uploadId") {
			if r.Method == http.MethodHead {
				return s3NotImplemented("HEAD ?uploadId")
			}
			return f.listParts(req, uploadID)
		}
		if req.q.Has("partNumber") {
			return s3NotImplemented(r.Method + " ?partNumber")
		}
		return f.getObject(req)
	case http.MethodDelete:
		if req.q.Has("uploadId") {
			return f.abortUpload(req, uploadID)
		}
		return f.deleteObject(req)
	case http.MethodPost:
		switch {
		case req.q.Has("uploads"):
			return f.createUpload(req)
		case req.q.Has("uploadId"):
			return f.completeUpload(req, uploadID)
		}
		return s3NotImplemented("POST object")
	}
	return s3NotImplemented(r.Method + " on an object")
}

func (f *S3FrontEnd) dispatchBucket(req *s3Request) error {
	switch req.r.Method {
	case http.MethodPut:
		return f.createBucket(req)
	case http.MethodHead:
		return f.headBucket(req)
	case http.MethodGet:
		if !f.Backend.BucketExists(req.bucket) {
			return ErrNoSuchBucket
		}
		switch {
		case req.q.Has("location"):
			return f.bucketLocation(req)
		case req.q.Has("versioning"):
			writeXML(req.w, http.StatusOK, struct {
				XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
			}{})
			return nil
		case req.q.Has("uploads"):
			return f.listUploads(req)
		case req.q.Get("list-type") == "2":
			return f.listObjects(req, true)
		}
		return f.listObjects(req, false)
	case http.MethodPost:
		if req.q.Has("delete") {
			return f.deleteObjects(req)
		}
	}
	return s3NotImplemented(req.r.Method + " on a bucket")
}

// ---- service and buckets

type s3Owner struct {
	ID          string
	DisplayName string
}

var s3DefaultOwner = s3Owner{ID: s3OwnerID, DisplayName: s3OwnerName}

type s3BucketXML struct {
	Name         string
	CreationDate string
}

type s3ListBucketsResult struct {
	XMLName xml.Name      `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   s3Owner       `xml:"Owner"`
	Buckets []s3BucketXML `xml:"Buckets>Bucket"`
}

// s3Buckets lists the backend's buckets by name; the backend has no
// listing of its own because neither OSS nor COS clients here need one.
func s3Buckets(b *Backend) []s3BucketXML {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]s3BucketXML, 0, len(b.buckets))
	for name, bk := range b.buckets {
		out = append(out, s3BucketXML{Name: name, CreationDate: isoTime(bk.created)})
	}
	slices.SortFunc(out, func(a, b s3BucketXML) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (f *S3FrontEnd) listBuckets(req *s3Request) error {
	writeXML(req.w, http.StatusOK, s3ListBucketsResult{Owner: s3DefaultOwner, Buckets: s3Buckets(f.Backend)})
	return nil
}

func (f *S3FrontEnd) createBucket(req *s3Request) error {
	if !s3BucketName.MatchString(req.bucket) || strings.Contains(req.bucket, "..") || isIPHost(req.bucket) {
		return apiErr(400, "InvalidBucketName", "The specified bucket %q is not valid.", req.bucket)
	}
	// The body, when sent, only names a location constraint.
	_, _ = io.Copy(io.Discard, io.LimitReader(req.r.Body, s3CreateBucketXML))
	if f.Backend.BucketExists(req.bucket) {
		return apiErr(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
	}
	if err := f.Backend.CreateBucket(req.bucket); err != nil {
		return err
	}
	req.w.Header().Set("Location", "/"+req.bucket)
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (f *S3FrontEnd) headBucket(req *s3Request) error {
	if !f.Backend.BucketExists(req.bucket) {
		return ErrNoSuchBucket
	}
	req.w.Header().Set("x-amz-bucket-region", f.region())
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (f *S3FrontEnd) bucketLocation(req *s3Request) error {
	loc := f.region()
	if loc == s3DefaultRegion {
		loc = "" // as S3 answers for us-east-1
	}
	writeXML(req.w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
		Location string   `xml:",chardata"`
	}{Location: loc})
	return nil
}

// ---- listings

type s3Contents struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	Owner        *s3Owner `xml:",omitempty"`
	StorageClass string
}

type s3CommonPrefix struct {
	Prefix string
}

type s3ListResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	Marker                *string `xml:",omitempty"`
	NextMarker            string  `xml:",omitempty"`
	ContinuationToken     string  `xml:",omitempty"`
	NextContinuationToken string  `xml:",omitempty"`
	StartAfter            string  `xml:",omitempty"`
	KeyCount              *int    `xml:",omitempty"`
	MaxKeys               int
	Delimiter             string `xml:",omitempty"`
	EncodingType          string `xml:",omitempty"`
	IsTruncated           bool
	Contents              []s3Contents
	CommonPrefixes        []s3CommonPrefix
}

func s3Token(marker string) string { return base64.RawURLEncoding.EncodeToString([]byte(marker)) }

func s3ParseToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", apiErr(400, "InvalidArgument", "The continuation token provided is incorrect.")
	}
	return string(b), nil
}

// listObjects serves ListObjects (V1, marker) and ListObjectsV2
// (continuation-token, start-after).
func (f *S3FrontEnd) listObjects(req *s3Request, v2 bool) error {
	enc, err := listEncoding(req.q, "Invalid Encoding Method specified in Request: %q.")
	if err != nil {
		return err
	}
	maxKeys, err := clampedIntParam(req.q, "max-keys", s3MaxListKeys, 0, s3MaxListKeys)
	if err != nil {
		return err
	}
	prefix, delim := req.q.Get("prefix"), req.q.Get("delimiter")
	res := s3ListResult{Name: req.bucket, Prefix: enc.enc(prefix), MaxKeys: maxKeys, Delimiter: enc.enc(delim), EncodingType: enc.typ()}
	var marker string
	if v2 {
		marker = req.q.Get("start-after")
		res.StartAfter = enc.enc(marker)
		if tok := req.q.Get("continuation-token"); tok != "" {
			if marker, err = s3ParseToken(tok); err != nil {
				return err
			}
			res.ContinuationToken = tok
		}
	} else {
		marker = req.q.Get("marker")
		m := enc.enc(marker)
		res.Marker = &m
	}
	var lr ListResult
	if maxKeys > 0 {
		if lr, err = f.Backend.List(req.bucket, prefix, marker, delim, maxKeys); err != nil {
			return err
		}
	} else if probe, err := f.Backend.List(req.bucket, prefix, marker, delim, 1); err != nil {
		return err
	} else {
		// max-keys=0 lists nothing but still says whether anything is left.
		lr.IsTruncated = len(probe.Objects)+len(probe.CommonPrefixes) > 0
		lr.NextMarker = marker
	}
	res.IsTruncated = lr.IsTruncated
	fetchOwner := !v2 || req.q.Get("fetch-owner") == "true"
	for _, o := range lr.Objects {
		c := s3Contents{Key: enc.enc(o.Key), LastModified: isoTime(o.LastModified), ETag: s3ETag(o.ETag), Size: o.Size,
			StorageClass: s3Class(o.Meta.StorageClass)}
		if fetchOwner {
			c.Owner = &s3DefaultOwner
		}
		res.Contents = append(res.Contents, c)
	}
	for _, p := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, s3CommonPrefix{Prefix: enc.enc(p)})
	}
	if v2 {
		n := len(res.Contents) + len(res.CommonPrefixes)
		res.KeyCount = &n
		if lr.IsTruncated {
			res.NextContinuationToken = s3Token(lr.NextMarker)
		}
	} else if lr.IsTruncated {
		res.NextMarker = enc.enc(lr.NextMarker)
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}

// ---- storage classes and metadata

// s3Classes maps S3 storage class names to neutral ones.
var s3Classes = map[string]string{
	"STANDARD":            storage.ClassStandard,
	"REDUCED_REDUNDANCY":  storage.ClassStandard,
	"EXPRESS_ONEZONE":     storage.ClassStandard,
	"STANDARD_IA":         storage.ClassIA,
	"ONEZONE_IA":          storage.ClassIA,
	"GLACIER_IR":          storage.ClassIA,
	"GLACIER":             storage.ClassArchive,
	"DEEP_ARCHIVE":        storage.ClassDeepColdArchive,
	"INTELLIGENT_TIERING": storage.ClassIntelligent,
}

// s3Class maps a neutral class to its S3 name.
func s3Class(neutral string) string {
	switch neutral {
	case "", storage.ClassStandard:
		return "STANDARD"
	case storage.ClassIA:
		return "STANDARD_IA"
	case storage.ClassArchive:
		return "GLACIER"
	case storage.ClassColdArchive, storage.ClassDeepColdArchive:
		return "DEEP_ARCHIVE"
	case storage.ClassIntelligent:
		return "INTELLIGENT_TIERING"
	}
	return "STANDARD"
}

// s3ETag is how S3 shows an ETag: quoted lower-case hex.
func s3ETag(etag string) string { return `"` + strings.ToLower(etag) + `"` }

// s3Meta reads and checks the metadata of a PUT, copy or create request.
func s3Meta(h http.Header) (Meta, error) {
	if c := h.Get(s3ClassHeader); c != "" {
		if _, ok := s3Classes[c]; !ok {
			return Meta{}, apiErr(400, "InvalidStorageClass", "The storage class you specified is not valid: %q.", c)
		}
	}
	m := metaFromHeaders(h, s3MetaPrefix, s3ClassHeader, func(c string) string { return s3Classes[c] })
	// aws-chunked describes the request body, not the object.
	var enc []string
	for _, e := range strings.Split(m.ContentEncoding, ",") {
		if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
			enc = append(enc, e)
		}
	}
	m.ContentEncoding = strings.Join(enc, ",")
	if n := userMetaSize(m, ""); n > s3MaxMeta {
		return Meta{}, apiErr(400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size: %d bytes of %d.", n, s3MaxMeta)
	}
	return m, nil
}

// setS3ObjectHeaders writes an object's headers the way S3 does.
func setS3ObjectHeaders(h http.Header, obj *Object) {
	setObjectHeaders(h, obj, s3MetaPrefix, s3CRCHeader)
	h.Del(s3CRCHeader)
	h.Set("ETag", s3ETag(obj.ETag))
	if c := s3Class(obj.Meta.StorageClass); c != "STANDARD" {
		h.Set(s3ClassHeader, c)
	}
	if storage.IsArchiveClass(obj.Meta.StorageClass) && obj.Restored {
		expiry := time.Now().Add(24 * time.Hour)
		h.Set("x-amz-restore", fmt.Sprintf(`ongoing-request="false", expiry-date="%s"`, expiry.UTC().Format(http.TimeFormat)))
	}
}

// ---- objects

// body returns the checked request body and its decoded size.
func (req *s3Request) body() (io.Reader, int64, error) {
	body, size, aerr := req.auth.body(req.r)
	if aerr != nil {
		return nil, 0, aerr
	}
	if size > s3MaxObjectSize {
		return nil, 0, apiErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	if body, aerr = s3CheckedBody(req.r.Header, body); aerr != nil {
		return nil, 0, aerr
	}
	sum, err := contentMD5(req.r)
	if err != nil {
		return nil, 0, err
	}
	if sum != nil {
		// Checked here rather than by the backend, whose mismatch code is
		// OSS's InvalidDigest where S3 says BadDigest.
		body = &s3HashReader{r: body, h: md5.New(), want: sum, fail: func() *APIError {
			return apiErr(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
		}}
	}
	return body, size, nil
}

// readXML decodes a request document of at most limit bytes after checking
// it against the signed payload hash.
func (req *s3Request) readXML(limit int64, v any) error {
	body, _, aerr := req.auth.body(req.r)
	if aerr != nil {
		return aerr
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return apiErr(400, "MalformedXML", "The XML you provided is larger than %d bytes.", limit)
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return apiErr(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: %v", err)
	}
	return nil
}

func (f *S3FrontEnd) putObject(req *s3Request) error {
	meta, err := s3Meta(req.r.Header)
	if err != nil {
		return err
	}
	body, size, err := req.body()
	if err != nil {
		return err
	}
	obj, err := f.Backend.PutObject(req.bucket, req.key, body, size, meta, nil)
	if err != nil {
		return err
	}
	h := req.w.Header()
	h.Set("ETag", s3ETag(obj.ETag))
	h.Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (f *S3FrontEnd) getObject(req *s3Request) error {
	obj, err := f.Backend.Object(req.bucket, req.key)
	if err != nil {
		return err
	}
	r := req.r
	if r.Method == http.MethodGet && storage.IsArchiveClass(obj.Meta.StorageClass) && !obj.Restored {
		return apiErr(403, "InvalidObjectState", "The operation is not valid for the object's storage class.")
	}
	set := setS3ObjectHeaders
	if strings.EqualFold(r.Header.Get("x-amz-checksum-mode"), "ENABLED") && r.Header.Get("Range") == "" {
		set = func(h http.Header, obj *Object) {
			setS3ObjectHeaders(h, obj)
			setS3FullObjectChecksum(h, obj)
		}
	}
	return serveObject(req.w, r, req.q, obj, set)
}

// setS3FullObjectChecksum answers a whole read or HEAD in checksum mode with
// the object's full-object CRC64NVME, as S3 does for every object it
// stores (it computes one for uploads that bring none, multipart ones
// included). Computed from the data on each request: the backend keeps no
// CRC64NVME, and only S3 clients that ask pay for it.
func setS3FullObjectChecksum(h http.Header, obj *Object) {
	rc, err := obj.Open(0, obj.Size)
	if err != nil {
		return
	}
	defer rc.Close()
	sum := s3NewCRC64NVME()
	if _, err := io.Copy(sum, rc); err != nil {
		return
	}
	h.Set("x-amz-checksum-crc64nvme", s3ChecksumValue(sum))
	h.Set("x-amz-checksum-type", "FULL_OBJECT")
}

func (f *S3FrontEnd) deleteObject(req *s3Request) error {
	if err := f.Backend.DeleteObject(req.bucket, req.key); err != nil {
		return err
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

// copySource resolves x-amz-copy-source ("/bucket/key" or "bucket/key",
// URL-encoded) to the source object.
func (f *S3FrontEnd) copySource(req *s3Request) (*Object, error) {
	src := req.r.Header.Get("x-amz-copy-source")
	path, query, _ := strings.Cut(src, "?")
	if query != "" {
		return nil, s3NotImplemented("copying a version (x-amz-copy-source with ?versionId)")
	}
	dec, err := url.PathUnescape(path)
	if err != nil {
		return nil, apiErr(400, "InvalidArgument", "Invalid copy source encoding: %q.", src)
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(dec, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return nil, apiErr(400, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
	}
	obj, err := f.Backend.Object(bucket, key)
	if err != nil {
		return nil, err
	}
	if storage.IsArchiveClass(obj.Meta.StorageClass) && !obj.Restored {
		return nil, apiErr(403, "InvalidObjectState", "The source object of the COPY action is not in the active tier.")
	}
	return obj, nil
}

type s3CopyResult struct {
	XMLName      xml.Name
	ETag         string
	LastModified string
}

func (f *S3FrontEnd) copyObject(req *s3Request) error {
	src, err := f.copySource(req)
	if err != nil {
		return err
	}
	if src.Size > s3MaxObjectSize {
		return apiErr(400, "InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120.")
	}
	meta := src.Meta.clone()
	switch d := req.r.Header.Get("x-amz-metadata-directive"); d {
	case "", "COPY":
		if c := req.r.Header.Get(s3ClassHeader); c != "" {
			n, ok := s3Classes[c]
			if !ok {
				return apiErr(400, "InvalidStorageClass", "The storage class you specified is not valid: %q.", c)
			}
			meta.StorageClass = n
		}
	case "REPLACE":
		if meta, err = s3Meta(req.r.Header); err != nil {
			return err
		}
	default:
		return apiErr(400, "InvalidArgument", "Unknown metadata directive %q.", d)
	}
	body, err := src.Open(0, src.Size)
	if err != nil {
		return err
	}
	defer body.Close()
	obj, err := f.Backend.PutObject(req.bucket, req.key, body, src.Size, meta, nil)
	if err != nil {
		return err
	}
	writeXML(req.w, http.StatusOK, s3CopyResult{XMLName: xml.Name{Space: s3XMLNS, Local: "CopyObjectResult"},
		ETag: s3ETag(obj.ETag), LastModified: isoTime(obj.LastModified)})
	return nil
}

type s3DeleteRequest struct {
	Quiet   bool
	Objects []struct {
		Key string
	} `xml:"Object"`
}

type s3DeleteResult struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []struct {
		Key string
	} `xml:"Deleted"`
	Errors []struct {
		Key     string
		Code    string
		Message string
	} `xml:"Error"`
}

func (f *S3FrontEnd) deleteObjects(req *s3Request) error {
	var body s3DeleteRequest
	if err := req.readXML(s3MaxDeleteXML, &body); err != nil {
		return err
	}
	if len(body.Objects) > s3MaxDeleteKeys {
		return apiErr(400, "MalformedXML", "A delete request names at most %d keys.", s3MaxDeleteKeys)
	}
	var res s3DeleteResult
	for _, o := range body.Objects {
		if err := f.Backend.DeleteObject(req.bucket, o.Key); err != nil {
			var aerr *APIError
			if !errors.As(err, &aerr) {
				aerr = apiErr(500, "InternalError", "%v", err)
			}
			res.Errors = append(res.Errors, struct{ Key, Code, Message string }{o.Key, aerr.Code, aerr.Message})
			continue
		}
		if !body.Quiet {
			res.Deleted = append(res.Deleted, struct{ Key string }{o.Key})
		}
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}

// ---- multipart uploads (the shared calls are in multipart.go)

func (f *S3FrontEnd) createUpload(req *s3Request) error {
	meta, err := s3Meta(req.r.Header)
	if err != nil {
		return err
	}
	return createUpload(req.w, f.Backend, xml.Name{Space: s3XMLNS, Local: "InitiateMultipartUploadResult"}, req.bucket, req.key, meta)
}

func (f *S3FrontEnd) uploadPart(req *s3Request, uploadID string) error {
	n, err := partNumberParam(req.q, uploadID, s3MaxPartNumber, func(string) error {
		return apiErr(400, "InvalidArgument", "Part number must be an integer between 1 and %d, inclusive.", s3MaxPartNumber)
	})
	if err != nil {
		return err
	}
	if req.r.Header.Get("x-amz-copy-source") != "" {
		return f.uploadPartCopy(req, uploadID, n)
	}
	body, size, err := req.body()
	if err != nil {
		return err
	}
	return uploadPart(req.w, f.Backend, req.bucket, req.key, uploadID, n, body, size, nil, s3ETag, nil)
}

func (f *S3FrontEnd) uploadPartCopy(req *s3Request, uploadID string, n int) error {
	src, err := f.copySource(req)
	if err != nil {
		return err
	}
	start, size := int64(0), src.Size
	if v := req.r.Header.Get("x-amz-copy-source-range"); v != "" {
		rng, ok, satisfiable := parseRange(v, src.Size)
		if !ok || !satisfiable || strings.HasPrefix(v, "bytes=-") {
			return apiErr(400, "InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last within the object: %q.", v)
		}
		start, size = rng.start, rng.end-rng.start+1
	}
	if size > s3MaxObjectSize {
		return apiErr(400, "InvalidRequest", "The specified copy range is larger than 5 GiB.")
	}
	body, err := src.Open(start, size)
	if err != nil {
		return err
	}
	defer body.Close()
	p, err := f.Backend.UploadPart(req.bucket, req.key, uploadID, n, body, size, nil)
	if err != nil {
		return err
	}
	writeXML(req.w, http.StatusOK, s3CopyResult{XMLName: xml.Name{Space: s3XMLNS, Local: "CopyPartResult"},
		ETag: s3ETag(p.ETag), LastModified: isoTime(p.LastModified)})
	return nil
}

type s3ListPartsResult struct {
	XMLName              xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket               string
	Key                  string
	UploadID             string `xml:"UploadId"`
	Initiator            s3Owner
	Owner                s3Owner
	StorageClass         string
	PartNumberMarker     int
	NextPartNumberMarker int `xml:",omitempty"`
	MaxParts             int
	IsTruncated          bool
	Parts                []partXML `xml:"Part"`
}

func (f *S3FrontEnd) listParts(req *s3Request, uploadID string) error {
	pg, err := listPartsPage(f.Backend, req.q, req.bucket, req.key, uploadID, s3MaxPartNumber)
	if err != nil {
		return err
	}
	writeXML(req.w, http.StatusOK, s3ListPartsResult{Bucket: req.bucket, Key: req.key, UploadID: uploadID,
		Initiator: s3DefaultOwner, Owner: s3DefaultOwner, StorageClass: s3Class(pg.upload.Meta.StorageClass),
		PartNumberMarker: pg.marker, NextPartNumberMarker: pg.next, MaxParts: pg.max, IsTruncated: pg.truncated,
		Parts: pg.xml(s3ETag)})
	return nil
}

// s3CompleteRequest leaves the root element unchecked, as S3 does.
type s3CompleteRequest struct {
	Parts []completePartXML `xml:"Part"`
}

func (f *S3FrontEnd) completeUpload(req *s3Request, uploadID string) error {
	var body s3CompleteRequest
	if err := req.readXML(s3MaxCompleteXML, &body); err != nil {
		return err
	}
	obj, err := completeUpload(f.Backend, req.bucket, req.key, uploadID, body.Parts, CompleteRules{MinPartSize: s3MinPartSize})
	if err != nil {
		return err
	}
	writeXML(req.w, http.StatusOK, completeResult{
		XMLName:  xml.Name{Space: s3XMLNS, Local: "CompleteMultipartUploadResult"},
		Location: "http://" + req.r.Host + "/" + req.bucket + "/" + req.key,
		Bucket:   req.bucket,
		Key:      req.key,
		ETag:     s3ETag(obj.ETag),
	})
	return nil
}

func (f *S3FrontEnd) abortUpload(req *s3Request, uploadID string) error {
	return abortUpload(req.w, f.Backend, req.bucket, req.key, uploadID)
}

type s3UploadXML struct {
	Key          string
	UploadID     string `xml:"UploadId"`
	Initiator    s3Owner
	Owner        s3Owner
	StorageClass string
	Initiated    string
}

type s3ListUploadsResult struct {
	XMLName            xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket             string
	KeyMarker          string
	UploadIDMarker     string `xml:"UploadIdMarker"`
	NextKeyMarker      string `xml:",omitempty"`
	NextUploadIDMarker string `xml:"NextUploadIdMarker,omitempty"`
	Prefix             string
	EncodingType       string `xml:",omitempty"`
	MaxUploads         int
	IsTruncated        bool
	Uploads            []s3UploadXML `xml:"Upload"`
}

func (f *S3FrontEnd) listUploads(req *s3Request) error {
	if req.q.Get("delimiter") != "" {
		return s3NotImplemented("ListMultipartUploads with a delimiter")
	}
	enc, err := listEncoding(req.q, "Invalid Encoding Method specified in Request: %q.")
	if err != nil {
		return err
	}
	pg, err := listUploadsPage(f.Backend, req.q, req.bucket)
	if err != nil {
		return err
	}
	res := s3ListUploadsResult{Bucket: req.bucket, KeyMarker: enc.enc(pg.keyMarker), UploadIDMarker: pg.idMarker,
		NextKeyMarker: enc.enc(pg.nextKey), NextUploadIDMarker: pg.nextID, Prefix: enc.enc(pg.prefix),
		EncodingType: enc.typ(), MaxUploads: pg.max, IsTruncated: pg.truncated}
	for _, u := range pg.uploads {
		res.Uploads = append(res.Uploads, s3UploadXML{Key: enc.enc(u.Key), UploadID: u.ID, Initiator: s3DefaultOwner,
			Owner: s3DefaultOwner, StorageClass: s3Class(u.Meta.StorageClass), Initiated: isoTime(u.Initiated)})
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}
