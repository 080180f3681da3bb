package emulator

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bucketferry/bucketferry/storage"
)

// COS protocol limits the front end enforces, as the real service does.
const (
	cosMetaPrefix       = "x-cos-meta-"
	cosCRCHeader        = "x-cos-hash-crc64ecma"
	cosClassHeader      = "x-cos-storage-class"
	cosMaxMetaHeader    = 2 << 10 // one x-cos-meta-* header, name and value
	cosMaxMetaTotal     = 4 << 10 // all x-cos-meta-* headers
	cosMinPartSize      = 1 << 20
	cosMaxPartNumber    = 10000
	cosMaxObjectSize    = 5 << 30 // single PUT and one part
	cosMaxListKeys      = 1000
	cosMaxCompleteXML   = 8 << 20
	cosDrainOnError     = 32 << 20 // request body read before an error answer
	cosDefaultOwnerUIN  = "100000000001"
	cosRestoreExpiryDay = 24 * time.Hour
)

// cosBucketName is the COS rule for bucket names: name-APPID.
var cosBucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*-[0-9]+$`)

// COSFrontEnd serves the Tencent Cloud COS XML API over a Backend: routing by
// virtual host (examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com) or,
// when the Host is an IP address or localhost, by path (/bucket/key); COS
// signatures; x-cos-* headers; CRC64 on every write and read answer; and the
// COS multipart rules (parts of at least 1 MiB, consecutive part numbers).
type COSFrontEnd struct {
	Backend *Backend
	// Credentials maps SecretId to SecretKey. Every request must be signed
	// by one of them.
	Credentials map[string]string

	seq atomic.Uint64 // request ids
}

// cosRequest is one routed request.
type cosRequest struct {
	w      http.ResponseWriter
	r      *http.Request
	bucket string
	key    string
	q      url.Values
}

// ServeHTTP answers one COS request.
func (f *COSFrontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.setCommonHeaders(w)
	bucket, key := cosRoute(r)
	cw := &cosWriter{ResponseWriter: w}
	req := &cosRequest{w: cw, r: r, bucket: bucket, key: key, q: r.URL.Query()}
	var err error
	if aerr := f.authenticate(r); aerr != nil {
		err = aerr
	} else {
		err = f.dispatch(req)
	}
	if err == nil || cw.started {
		// Once the status is sent, a failure can only cut the body short;
		// the client sees fewer bytes than Content-Length promised.
		return
	}
	var aerr *APIError
	switch {
	case errors.As(err, &aerr):
	case errors.Is(err, io.ErrUnexpectedEOF):
		aerr = apiErr(400, "IncompleteBody", "The request body ended early: %v", err)
	default:
		aerr = apiErr(500, "InternalError", "%v", err)
	}
	f.WriteError(w, r, aerr)
}

// cosWriter remembers whether the answer has started.
type cosWriter struct {
	http.ResponseWriter
	started bool
}

func (w *cosWriter) WriteHeader(status int) {
	w.started = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *cosWriter) Write(p []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(p)
}

// setCommonHeaders sets the headers COS puts on every answer. The SDK's
// retry logic looks at x-cos-request-id to tell COS answers from a proxy's.
func (f *COSFrontEnd) setCommonHeaders(w http.ResponseWriter) {
	h := w.Header()
	if h.Get("x-cos-request-id") != "" {
		return
	}
	id := fmt.Sprintf("%x%06x", time.Now().UnixNano(), f.seq.Add(1)&0xffffff)
	h.Set("x-cos-request-id", id)
	h.Set("x-cos-trace-id", "trace-"+id)
	h.Set("Server", "tencent-cos")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
}

// cosRoute finds the bucket and key: path style for IP and localhost hosts,
// virtual-host style (bucket = first label of the Host) otherwise.
func cosRoute(r *http.Request) (bucket, key string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if isIPHost(r.Host) || r.Host == "" {
		bucket, key, _ = strings.Cut(path, "/")
		return bucket, key
	}
	host := hostWithoutPort(r.Host)
	if i := strings.IndexByte(host, '.'); i >= 0 {
		host = host[:i]
	}
	return host, path
}

// cosErrorXML is the COS error document.
type cosErrorXML struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
	TraceID   string `xml:"TraceId"`
}

// WriteError answers a request with a COS error document.
func (f *COSFrontEnd) WriteError(w http.ResponseWriter, r *http.Request, e *APIError) {
	f.setCommonHeaders(w)
	// An SDK still sending its body would see a reset instead of the error,
	// so read (a bounded amount of) what it sends first.
	if r.Body != nil && r.ContentLength != 0 {
		_, _ = io.CopyN(io.Discard, r.Body, cosDrainOnError)
	}
	h := w.Header()
	for _, k := range []string{"ETag", "Last-Modified", "Content-Range", "Accept-Ranges", cosCRCHeader} {
		h.Del(k)
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), cosMetaPrefix) {
			h.Del(k)
		}
	}
	reqID := h.Get("x-cos-request-id")
	writeXML(w, e.Status, cosErrorXML{
		Code:      e.Code,
		Message:   e.Message,
		Resource:  r.Host + r.URL.Path,
		RequestID: reqID,
		TraceID:   h.Get("x-cos-trace-id"),
	})
}

func cosNotImplemented(what string) *APIError {
	return apiErr(501, "NotImplemented", "%s is not implemented by this emulator.", what)
}

// cosUnsupported lists sub-resources this emulator does not serve, so such a
// request fails clearly instead of being taken for a plain object request.
var cosUnsupported = []string{"acl", "cors", "lifecycle", "policy", "tagging", "versioning", "versions",
	"website", "logging", "replication", "inventory", "encryption", "referer", "domain", "origin",
	"intelligenttiering", "object-lock", "accelerate", "restore", "append", "select", "symlink", "delete",
	"location", "retention", "legal-hold"}

func (f *COSFrontEnd) dispatch(req *cosRequest) error {
	r := req.r
	if req.bucket == "" {
		return apiErr(400, "InvalidURI", "The request names no bucket; use a virtual host (bucket-appid.cos.region.myqcloud.com) or a path /bucket/key.")
	}
	for _, sub := range cosUnsupported {
		if req.q.Has(sub) {
			return cosNotImplemented(fmt.Sprintf("%s ?%s", r.Method, sub))
		}
	}
	if r.Header.Get("x-cos-copy-source") != "" {
		return cosNotImplemented("server-side copy (x-cos-copy-source)")
	}
	if req.key == "" {
		switch r.Method {
		case http.MethodPut:
			return f.putBucket(req)
		case http.MethodHead:
			return f.headBucket(req)
		case http.MethodGet:
			if req.q.Has("uploads") {
				return f.listUploads(req)
			}
			return f.listObjects(req)
		}
		return cosNotImplemented(r.Method + " on a bucket")
	}
	if !f.Backend.BucketExists(req.bucket) {
		return ErrNoSuchBucket
	}
	uploadID := req.q.Get("uploadId")
	switch r.Method {
	case http.MethodPut:
		if req.q.Has("partNumber") || req.q.Has("uploadId") {
			return f.uploadPart(req, uploadID)
		}
		return f.putObject(req)
	case http.MethodGet, http.MethodHead:
		if req.q.Has("uploadId") {
			if r.Method == http.MethodHead {
				return cosNotImplemented("HEAD ?uploadId")
			}
			return f.listParts(req, uploadID)
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
			return f.initiateUpload(req)
		case req.q.Has("uploadId"):
			return f.completeUpload(req, uploadID)
		}
		return cosNotImplemented("POST object")
	}
	return cosNotImplemented(r.Method + " on an object")
}

// ---- buckets

func (f *COSFrontEnd) putBucket(req *cosRequest) error {
	if !cosBucketName.MatchString(req.bucket) || len(req.bucket) > 60 {
		return apiErr(400, "InvalidBucketName", "The bucket name %q is invalid: use lower-case letters, digits and hyphens followed by -APPID.", req.bucket)
	}
	if f.Backend.BucketExists(req.bucket) {
		return apiErr(409, "BucketAlreadyOwnedByYou", "The bucket %q already exists and is yours.", req.bucket)
	}
	if err := f.Backend.CreateBucket(req.bucket); err != nil {
		return err
	}
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (f *COSFrontEnd) headBucket(req *cosRequest) error {
	if !f.Backend.BucketExists(req.bucket) {
		return ErrNoSuchBucket
	}
	req.w.Header().Set("x-cos-bucket-region", "ap-guangzhou")
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

// cosOwner is the owner block of listings.
type cosOwner struct {
	ID          string
	DisplayName string
}

func cosBucketOwner(bucket string) cosOwner {
	uin := cosDefaultOwnerUIN
	if i := strings.LastIndexByte(bucket, '-'); i >= 0 && i+1 < len(bucket) {
		uin = bucket[i+1:]
	}
	return cosOwner{ID: "qcs::cam::uin/" + uin + ":uin/" + uin, DisplayName: uin}
}

type cosContents struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	Owner        cosOwner
	StorageClass string
}

type cosCommonPrefix struct {
	Prefix string
}

type cosListBucketResult struct {
	XMLName        xml.Name `xml:"ListBucketResult"`
	Name           string
	EncodingType   string `xml:",omitempty"`
	Prefix         string
	Marker         string
	MaxKeys        int
	Delimiter      string `xml:",omitempty"`
	IsTruncated    bool
	NextMarker     string            `xml:",omitempty"`
	CommonPrefixes []cosCommonPrefix `xml:"CommonPrefixes"`
	Contents       []cosContents
}

func (f *COSFrontEnd) listObjects(req *cosRequest) error {
	if !f.Backend.BucketExists(req.bucket) {
		return ErrNoSuchBucket
	}
	enc, err := listEncoding(req.q, "encoding-type %q is invalid; only url is supported.")
	if err != nil {
		return err
	}
	maxKeys, err := clampedIntParam(req.q, "max-keys", cosMaxListKeys, 0, cosMaxListKeys)
	if err != nil {
		return err
	}
	prefix, marker, delim := req.q.Get("prefix"), req.q.Get("marker"), req.q.Get("delimiter")
	res := cosListBucketResult{Name: req.bucket, EncodingType: enc.typ(), Prefix: enc.enc(prefix),
		Marker: enc.enc(marker), MaxKeys: maxKeys, Delimiter: enc.enc(delim)}
	if maxKeys > 0 {
		lr, err := f.Backend.List(req.bucket, prefix, marker, delim, maxKeys)
		if err != nil {
			return err
		}
		res.IsTruncated = lr.IsTruncated
		if lr.IsTruncated {
			res.NextMarker = enc.enc(lr.NextMarker)
		}
		owner := cosBucketOwner(req.bucket)
		for _, o := range lr.Objects {
			res.Contents = append(res.Contents, cosContents{Key: enc.enc(o.Key), LastModified: isoTime(o.LastModified),
				ETag: cosETag(o.ETag), Size: o.Size, Owner: owner, StorageClass: cosClassName(o.Meta.StorageClass)})
		}
		for _, p := range lr.CommonPrefixes {
			res.CommonPrefixes = append(res.CommonPrefixes, cosCommonPrefix{Prefix: enc.enc(p)})
		}
	} else if lr, err := f.Backend.List(req.bucket, prefix, marker, delim, 1); err != nil {
		return err
	} else {
		// max-keys=0 lists nothing but still says whether anything is left.
		res.IsTruncated = len(lr.Objects)+len(lr.CommonPrefixes) > 0
		if res.IsTruncated {
			res.NextMarker = enc.enc(marker)
		}
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}

// ---- storage classes and metadata

// cosClasses maps COS storage class names to neutral ones. Other valid COS
// classes (the multi-AZ MAZ_* ones) are stored under their own names.
var cosClasses = map[string]string{
	"STANDARD":            storage.ClassStandard,
	"STANDARD_IA":         storage.ClassIA,
	"ARCHIVE":             storage.ClassArchive,
	"DEEP_ARCHIVE":        storage.ClassDeepColdArchive,
	"INTELLIGENT_TIERING": storage.ClassIntelligent,
}

var cosNativeOnlyClasses = []string{"MAZ_STANDARD", "MAZ_STANDARD_IA", "MAZ_INTELLIGENT_TIERING", "MAZ_ARCHIVE"}

// cosNeutralClass maps a COS class name to the neutral one; ok is false for a
// name COS does not know.
func cosNeutralClass(c string) (string, bool) {
	up := strings.ToUpper(c)
	if n, ok := cosClasses[up]; ok {
		return n, true
	}
	for _, n := range cosNativeOnlyClasses {
		if up == n {
			return up, true
		}
	}
	return "", false
}

// cosClassName is the COS name the emulator shows for a neutral class,
// from its own table rather than the COS store's: the store's mapping
// (storage/cos) is then checked against it by every test of the two. COS
// has no ColdArchive: such an object (written through another front end)
// shows as DEEP_ARCHIVE.
func cosClassName(class string) string {
	switch class {
	case "":
		return "STANDARD"
	case storage.ClassColdArchive:
		return "DEEP_ARCHIVE"
	}
	for name, n := range cosClasses {
		if n == class {
			return name
		}
	}
	return class
}

// cosETag is how COS shows an ETag: quoted lower-case hex.
func cosETag(etag string) string { return `"` + strings.ToLower(etag) + `"` }

// cosMeta reads and checks the metadata of a PUT or initiate request.
func cosMeta(h http.Header) (Meta, error) {
	if c := h.Get(cosClassHeader); c != "" {
		if _, ok := cosNeutralClass(c); !ok {
			return Meta{}, apiErr(400, "InvalidArgument", "x-cos-storage-class %q is not a COS storage class.", c)
		}
	}
	m := metaFromHeaders(h, cosMetaPrefix, cosClassHeader, func(c string) string {
		n, _ := cosNeutralClass(c)
		return n
	})
	for k, v := range m.User {
		if n := len(cosMetaPrefix) + len(k) + len(v); n > cosMaxMetaHeader {
			return Meta{}, apiErr(400, "MetadataTooLarge", "The header %s%s is %d bytes; COS allows at most %d bytes (name and value) per user metadata header.",
				cosMetaPrefix, k, n, cosMaxMetaHeader)
		}
	}
	if n := userMetaSize(m, cosMetaPrefix); n > cosMaxMetaTotal {
		return Meta{}, apiErr(400, "MetadataTooLarge", "The user metadata (x-cos-meta-*) is %d bytes in total; COS allows at most %d bytes.",
			n, cosMaxMetaTotal)
	}
	return m, nil
}

// setCOSObjectHeaders writes an object's headers the way COS does: the
// storage class only when it is not STANDARD, the restore state of archived
// objects, lower-case ETags.
func setCOSObjectHeaders(h http.Header, obj *Object) {
	setObjectHeaders(h, obj, cosMetaPrefix, cosCRCHeader)
	h.Set("ETag", cosETag(obj.ETag))
	if c := cosClassName(obj.Meta.StorageClass); c != "STANDARD" {
		h.Set(cosClassHeader, c)
	}
	if storage.IsArchiveClass(obj.Meta.StorageClass) && obj.Restored {
		expiry := obj.LastModified.Add(cosRestoreExpiryDay)
		if now := time.Now(); expiry.Before(now) {
			expiry = now.Add(cosRestoreExpiryDay)
		}
		h.Set("x-cos-restore", fmt.Sprintf(`ongoing-request="false", expiry-date="%s"`, expiry.UTC().Format(http.TimeFormat)))
	}
}

// ---- objects

func (f *COSFrontEnd) putObject(req *cosRequest) error {
	r := req.r
	if r.ContentLength > cosMaxObjectSize {
		return apiErr(400, "EntityTooLarge", "A single PUT may store at most 5 GB; use a multipart upload.")
	}
	meta, err := cosMeta(r.Header)
	if err != nil {
		return err
	}
	sum, err := contentMD5(r)
	if err != nil {
		return err
	}
	obj, err := f.Backend.PutObject(req.bucket, req.key, r.Body, r.ContentLength, meta, sum)
	if err != nil {
		return err
	}
	h := req.w.Header()
	h.Set("ETag", cosETag(obj.ETag))
	h.Set(cosCRCHeader, strconv.FormatUint(obj.CRC64, 10))
	h.Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

// cosPreconditions evaluates the conditional headers of a GET or HEAD.
func cosPreconditions(r *http.Request, obj *Object) (notModified bool, err error) {
	etagMatches := func(list string) bool {
		for _, e := range strings.Split(list, ",") {
			e = strings.Trim(strings.TrimSpace(e), `"`)
			if e == "*" || strings.EqualFold(e, obj.ETag) {
				return true
			}
		}
		return false
	}
	modified := obj.LastModified.Truncate(time.Second)
	if v := r.Header.Get("If-Match"); v != "" && !etagMatches(v) {
		return false, apiErr(412, "PreconditionFailed", "If-Match: the object's ETag differs.")
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		if t, perr := http.ParseTime(v); perr == nil && modified.After(t) {
			return false, apiErr(412, "PreconditionFailed", "If-Unmodified-Since: the object was modified since.")
		}
	}
	if v := r.Header.Get("If-None-Match"); v != "" && etagMatches(v) {
		return true, nil
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, perr := http.ParseTime(v); perr == nil && !modified.After(t) {
			return true, nil
		}
	}
	return false, nil
}

// cosResponseOverrides are the response-* parameters of GET object.
var cosResponseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

func (f *COSFrontEnd) getObject(req *cosRequest) error {
	obj, err := f.Backend.Object(req.bucket, req.key)
	if err != nil {
		return err
	}
	r := req.r
	if r.Method == http.MethodGet && storage.IsArchiveClass(obj.Meta.StorageClass) && !obj.Restored {
		return apiErr(403, "InvalidObjectState", "The object is in the %s storage class and must be restored before it can be read.",
			cosClassName(obj.Meta.StorageClass))
	}
	return serveObject(req.w, r, req.q, obj, setCOSObjectHeaders)
}

// serveObject answers a GET or HEAD of obj the way COS and S3 both do:
// conditional headers, the object's headers (setHeaders), the
// response-* overrides of a GET, then the body or the requested range.
func serveObject(w http.ResponseWriter, r *http.Request, q url.Values, obj *Object, setHeaders func(http.Header, *Object)) error {
	notModified, err := cosPreconditions(r, obj)
	if err != nil {
		return err
	}
	h := w.Header()
	setHeaders(h, obj)
	if notModified {
		h.Del("Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if r.Method == http.MethodGet {
		for param, header := range cosResponseOverrides {
			if v := q.Get(param); v != "" {
				h.Set(header, v)
			}
		}
	}
	return serveBody(w, r, obj)
}

func (f *COSFrontEnd) deleteObject(req *cosRequest) error {
	if err := f.Backend.DeleteObject(req.bucket, req.key); err != nil {
		return err
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- multipart uploads (the shared calls are in multipart.go)

func (f *COSFrontEnd) initiateUpload(req *cosRequest) error {
	meta, err := cosMeta(req.r.Header)
	if err != nil {
		return err
	}
	return createUpload(req.w, f.Backend, xml.Name{Local: "InitiateMultipartUploadResult"}, req.bucket, req.key, meta)
}

func (f *COSFrontEnd) uploadPart(req *cosRequest, uploadID string) error {
	r := req.r
	n, err := partNumberParam(req.q, uploadID, cosMaxPartNumber, func(v string) error {
		return apiErr(400, "InvalidArgument", "partNumber %q must be an integer from 1 to %d.", v, cosMaxPartNumber)
	})
	if err != nil {
		return err
	}
	if r.ContentLength > cosMaxObjectSize {
		return apiErr(400, "EntityTooLarge", "A part may be at most 5 GB.")
	}
	sum, err := contentMD5(r)
	if err != nil {
		return err
	}
	return uploadPart(req.w, f.Backend, req.bucket, req.key, uploadID, n, r.Body, r.ContentLength, sum, cosETag,
		func(p *Part, h http.Header) { h.Set(cosCRCHeader, strconv.FormatUint(p.CRC64, 10)) })
}

type cosInitiator struct {
	ID          string
	DisplayName string
}

type cosListPartsResult struct {
	XMLName              xml.Name `xml:"ListPartsResult"`
	Bucket               string
	EncodingType         string `xml:"Encoding-type,omitempty"`
	Key                  string
	UploadID             string `xml:"UploadId"`
	Initiator            cosInitiator
	Owner                cosOwner
	StorageClass         string
	PartNumberMarker     int
	NextPartNumberMarker int `xml:",omitempty"`
	MaxParts             int
	IsTruncated          bool
	Parts                []partXML `xml:"Part"`
}

func (f *COSFrontEnd) listParts(req *cosRequest, uploadID string) error {
	enc, err := listEncoding(req.q, "encoding-type %q is invalid; only url is supported.")
	if err != nil {
		return err
	}
	pg, err := listPartsPage(f.Backend, req.q, req.bucket, req.key, uploadID, cosMaxPartNumber)
	if err != nil {
		return err
	}
	owner := cosBucketOwner(req.bucket)
	writeXML(req.w, http.StatusOK, cosListPartsResult{Bucket: req.bucket, EncodingType: enc.typ(), Key: enc.enc(req.key),
		UploadID: uploadID, Initiator: cosInitiator(owner), Owner: owner, StorageClass: cosClassName(pg.upload.Meta.StorageClass),
		PartNumberMarker: pg.marker, NextPartNumberMarker: pg.next, MaxParts: pg.max, IsTruncated: pg.truncated,
		Parts: pg.xml(cosETag)})
	return nil
}

// cosCompleteRequest names its root element so that COS's check of it holds.
type cosCompleteRequest struct {
	XMLName xml.Name          `xml:"CompleteMultipartUpload"`
	Parts   []completePartXML `xml:"Part"`
}

func (f *COSFrontEnd) completeUpload(req *cosRequest, uploadID string) error {
	var body cosCompleteRequest
	if err := readXML(req.r, cosMaxCompleteXML, &body); err != nil {
		return err
	}
	obj, err := completeUpload(f.Backend, req.bucket, req.key, uploadID, body.Parts,
		CompleteRules{MinPartSize: cosMinPartSize, Consecutive: true})
	if err != nil {
		return err
	}
	if !obj.NoCRC {
		req.w.Header().Set(cosCRCHeader, strconv.FormatUint(obj.CRC64, 10))
	}
	writeXML(req.w, http.StatusOK, completeResult{
		XMLName:  xml.Name{Local: "CompleteMultipartUploadResult"},
		Location: req.r.Host + "/" + req.key,
		Bucket:   req.bucket,
		Key:      req.key,
		ETag:     cosETag(obj.ETag),
	})
	return nil
}

func (f *COSFrontEnd) abortUpload(req *cosRequest, uploadID string) error {
	return abortUpload(req.w, f.Backend, req.bucket, req.key, uploadID)
}

type cosUploadXML struct {
	Key          string
	UploadID     string `xml:"UploadId"`
	StorageClass string
	Initiator    cosInitiator
	Owner        cosOwner
	Initiated    string
}

type cosListUploadsResult struct {
	XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
	Bucket             string
	EncodingType       string `xml:"Encoding-Type,omitempty"`
	KeyMarker          string
	UploadIDMarker     string `xml:"UploadIdMarker"`
	NextKeyMarker      string `xml:",omitempty"`
	NextUploadIDMarker string `xml:"NextUploadIdMarker,omitempty"`
	MaxUploads         int
	IsTruncated        bool
	Prefix             string
	Uploads            []cosUploadXML `xml:"Upload"`
}

func (f *COSFrontEnd) listUploads(req *cosRequest) error {
	if !f.Backend.BucketExists(req.bucket) {
		return ErrNoSuchBucket
	}
	enc, err := listEncoding(req.q, "encoding-type %q is invalid; only url is supported.")
	if err != nil {
		return err
	}
	pg, err := listUploadsPage(f.Backend, req.q, req.bucket)
	if err != nil {
		return err
	}
	owner := cosBucketOwner(req.bucket)
	res := cosListUploadsResult{Bucket: req.bucket, EncodingType: enc.typ(), KeyMarker: enc.enc(pg.keyMarker),
		UploadIDMarker: pg.idMarker, NextKeyMarker: enc.enc(pg.nextKey), NextUploadIDMarker: pg.nextID,
		MaxUploads: pg.max, IsTruncated: pg.truncated, Prefix: enc.enc(pg.prefix)}
	for _, u := range pg.uploads {
		res.Uploads = append(res.Uploads, cosUploadXML{Key: enc.enc(u.Key), UploadID: u.ID,
			StorageClass: cosClassName(u.Meta.StorageClass), Initiator: cosInitiator(owner), Owner: owner,
			Initiated: isoTime(u.Initiated)})
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}
