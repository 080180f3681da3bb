package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bucketferry/bucketferry/storage"
)

// OSS limits the front end enforces, as documented by Alibaba Cloud.
const (
	ossMinPartSize     = 100 << 10
	ossMaxPartSize     = 5 << 30
	ossMaxPutSize      = 5 << 30
	ossMaxParts        = 10000
	ossMaxUserMetadata = 8 << 10
	ossMaxKeyLen       = 1023
	ossMaxListKeys     = 1000
	ossDefaultListKeys = 100
	ossMetaPrefix      = "x-oss-meta-"
	ossCRCHeader       = "X-Oss-Hash-Crc64ecma"
	ossClassHeader     = "X-Oss-Storage-Class"
	ossRequestIDHeader = "X-Oss-Request-Id"
	ossDefaultRegion   = "cn-hangzhou"
	ossOwnerID         = "1234567890123456"
)

// OSSFrontEnd serves the Alibaba Cloud OSS protocol over a Backend, well
// enough for the official aliyun-oss-go-sdk to work unmodified: V1 and V4
// signatures, path-style and virtual-host routing, URL-encoded listings,
// multipart uploads with OSS's rules, CRC64 headers and archive restores.
//
// Routing is path style (/bucket/key) when the Host is an IP address,
// localhost, or the bare service endpoint (oss-REGION.aliyuncs.com); it is
// virtual host (bucket = first label) when the rest of the Host after the
// first label is localhost or starts with "oss-", as in
// bucket.oss-cn-hangzhou.aliyuncs.com or bucket.localhost:8080.
type OSSFrontEnd struct {
	Backend *Backend
	// Credentials maps AccessKeyId to AccessKeySecret.
	Credentials map[string]string
	// Region is the region of every bucket (default "cn-hangzhou"); V4
	// signatures must be scoped to it.
	Region string
	// RestoreDelay is how long a RestoreObject takes before an archived
	// object becomes readable; zero restores at once.
	RestoreDelay time.Duration

	mu       sync.Mutex
	restores map[string]*ossRestore // bucket + "\x00" + key
}

// ossRestore tracks a RestoreObject request for one version of an object.
type ossRestore struct {
	etag     string
	modified time.Time
	done     time.Time // when the restored copy becomes readable
	expiry   time.Time
}

func (f *OSSFrontEnd) region() string {
	if f.Region == "" {
		return ossDefaultRegion
	}
	return f.Region
}

// ossRequest is one request after routing.
type ossRequest struct {
	w      http.ResponseWriter
	r      *http.Request
	bucket string
	key    string
	q      url.Values
}

// ServeHTTP implements http.Handler.
func (f *OSSFrontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ossSetCommonHeaders(w, r)
	bucket, key := ossRoute(r)
	if aerr := f.authenticate(r, bucket, key); aerr != nil {
		f.WriteError(w, r, aerr)
		return
	}
	req := &ossRequest{w: w, r: r, bucket: bucket, key: key, q: r.URL.Query()}
	if err := f.dispatch(req); err != nil {
		var aerr *APIError
		if !errors.As(err, &aerr) {
			aerr = apiErr(500, "InternalError", "We encountered an internal error: %v", err)
		}
		f.WriteError(w, r, aerr)
	}
}

// ossSetCommonHeaders sets the headers every OSS answer carries.
func ossSetCommonHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if h.Get(ossRequestIDHeader) == "" {
		var id [12]byte
		rand.Read(id[:])
		h.Set(ossRequestIDHeader, strings.ToUpper(hex.EncodeToString(id[:])))
	}
	h.Set("Server", "AliyunOSS")
}

// ossRoute finds the bucket and key of a request (see OSSFrontEnd).
func ossRoute(r *http.Request) (bucket, key string) {
	host := hostWithoutPort(r.Host)
	if !isIPHost(r.Host) {
		if first, rest, ok := strings.Cut(host, "."); ok && (rest == "localhost" || strings.HasPrefix(rest, "oss-")) {
			return first, strings.TrimPrefix(r.URL.Path, "/")
		}
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return bucket, key
}

// WriteError answers an error in OSS's XML format. HEAD answers carry no
// body, so the XML also goes base64-encoded into x-oss-err, where the SDK
// looks for it.
func (f *OSSFrontEnd) WriteError(w http.ResponseWriter, r *http.Request, e *APIError) {
	ossSetCommonHeaders(w, r)
	body := ossError{Code: e.Code, Message: e.Message, RequestID: w.Header().Get(ossRequestIDHeader), HostID: r.Host}
	if r.Method == http.MethodHead {
		data, _ := xml.Marshal(body)
		w.Header().Set("X-Oss-Err", base64.StdEncoding.EncodeToString(append([]byte(xml.Header), data...)))
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(e.Status)
		return
	}
	writeXML(w, e.Status, body)
}

type ossError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

func ossNotImplemented(what string) *APIError {
	return apiErr(501, "NotImplemented", "%s is not implemented by this emulator.", what)
}

func (f *OSSFrontEnd) dispatch(req *ossRequest) error {
	q, m := req.q, req.r.Method
	if req.bucket == "" {
		return ossNotImplemented("ListBuckets")
	}
	if req.key == "" {
		switch {
		case m == http.MethodPut && len(q) == 0:
			return f.putBucket(req)
		case m == http.MethodGet && q.Has("bucketInfo"):
			return f.getBucketInfo(req)
		case m == http.MethodGet && q.Has("location"):
			return f.getBucketLocation(req)
		case m == http.MethodGet && q.Has("uploads"):
			return f.listUploads(req)
		case m == http.MethodGet && ossOnlyListParams(q):
			if q.Get("list-type") == "2" {
				return f.listObjectsV2(req)
			}
			return f.listObjects(req)
		}
		return ossNotImplemented(m + " bucket ?" + req.r.URL.RawQuery)
	}
	if len(req.key) > ossMaxKeyLen || !utf8.ValidString(req.key) {
		return apiErr(400, "InvalidObjectName", "The object name is longer than %d bytes or not valid UTF-8.", ossMaxKeyLen)
	}
	switch m {
	case http.MethodPut:
		switch {
		case q.Has("partNumber") || q.Has("uploadId"):
			if req.r.Header.Get("X-Oss-Copy-Source") != "" {
				return ossNotImplemented("UploadPartCopy")
			}
			return f.uploadPart(req)
		case req.r.Header.Get("X-Oss-Copy-Source") != "":
			return ossNotImplemented("CopyObject")
		case len(q) == 0:
			return f.putObject(req)
		}
	case http.MethodGet:
		switch {
		case q.Has("uploadId"):
			return f.listParts(req)
		case ossOnlyResponseParams(q):
			return f.getObject(req)
		}
	case http.MethodHead:
		switch {
		case q.Has("objectMeta"):
			return f.getObjectMeta(req)
		case len(q) == 0:
			return f.getObject(req)
		}
	case http.MethodDelete:
		switch {
		case q.Has("uploadId"):
			return f.abortUpload(req)
		case len(q) == 0:
			return f.deleteObject(req)
		}
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return f.initiateUpload(req)
		case q.Has("uploadId"):
			return f.completeUpload(req)
		case q.Has("restore"):
			return f.restoreObject(req)
		}
	}
	return ossNotImplemented(m + " object ?" + req.r.URL.RawQuery)
}

// ossOnlyListParams reports whether a bucket GET is a plain listing (no
// sub-resource such as ?acl that this emulator does not serve).
func ossOnlyListParams(q url.Values) bool {
	for k := range q {
		switch k {
		case "prefix", "marker", "delimiter", "max-keys", "encoding-type", "list-type",
			"continuation-token", "start-after", "fetch-owner":
		default:
			return false
		}
	}
	return true
}

// ossOnlyResponseParams reports whether an object GET is a plain read,
// possibly with response-* header overrides.
func ossOnlyResponseParams(q url.Values) bool {
	for k := range q {
		if !strings.HasPrefix(k, "response-") {
			return false
		}
	}
	return true
}

// ossValidBucketName applies OSS's naming rule: 3 to 63 lower-case letters,
// digits and hyphens, not starting or ending with a hyphen.
func ossValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (f *OSSFrontEnd) putBucket(req *ossRequest) error {
	if !ossValidBucketName(req.bucket) {
		return apiErr(400, "InvalidBucketName", "The specified bucket is not valid.")
	}
	if f.Backend.BucketExists(req.bucket) {
		return apiErr(409, "BucketAlreadyExists", "The requested bucket name is not available.")
	}
	if err := f.Backend.CreateBucket(req.bucket); err != nil {
		return err
	}
	req.w.Header().Set("Location", "/"+req.bucket)
	req.w.Header().Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

type ossOwner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func ossDefaultOwner() ossOwner { return ossOwner{ID: ossOwnerID, DisplayName: ossOwnerID} }

type ossBucketInfo struct {
	XMLName xml.Name `xml:"BucketInfo"`
	Bucket  struct {
		Name             string   `xml:"Name"`
		AccessMonitor    string   `xml:"AccessMonitor"`
		Location         string   `xml:"Location"`
		CreationDate     string   `xml:"CreationDate"`
		ExtranetEndpoint string   `xml:"ExtranetEndpoint"`
		IntranetEndpoint string   `xml:"IntranetEndpoint"`
		ACL              string   `xml:"AccessControlList>Grant"`
		Redundancy       string   `xml:"DataRedundancyType"`
		Owner            ossOwner `xml:"Owner"`
		StorageClass     string   `xml:"StorageClass"`
		SSE              struct {
			SSEAlgorithm string `xml:"SSEAlgorithm"`
		} `xml:"ServerSideEncryptionRule"`
		Versioning string `xml:"Versioning"`
	} `xml:"Bucket"`
}

func (f *OSSFrontEnd) getBucketInfo(req *ossRequest) error {
	created, err := f.Backend.BucketCreated(req.bucket)
	if err != nil {
		return err
	}
	var out ossBucketInfo
	b := &out.Bucket
	b.Name = req.bucket
	b.AccessMonitor = "Disabled"
	b.Location = "oss-" + f.region()
	b.CreationDate = isoTime(created)
	b.ExtranetEndpoint = "oss-" + f.region() + ".aliyuncs.com"
	b.IntranetEndpoint = "oss-" + f.region() + "-internal.aliyuncs.com"
	b.ACL = "private"
	b.Redundancy = "LRS"
	b.Owner = ossDefaultOwner()
	b.StorageClass = storage.ClassStandard
	b.SSE.SSEAlgorithm = "None"
	b.Versioning = "Disabled"
	writeXML(req.w, http.StatusOK, out)
	return nil
}

func (f *OSSFrontEnd) getBucketLocation(req *ossRequest) error {
	if !f.Backend.BucketExists(req.bucket) {
		return ErrNoSuchBucket
	}
	writeXML(req.w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"LocationConstraint"`
		Location string   `xml:",chardata"`
	}{Location: "oss-" + f.region()})
	return nil
}

// ossEncoder URL-encodes listing fields when the request asked for
// encoding-type=url; the SDK always asks and always decodes.
type ossEncoder bool

func ossEncoding(q url.Values) (ossEncoder, error) {
	switch q.Get("encoding-type") {
	case "":
		return false, nil
	case "url":
		return true, nil
	}
	return false, apiErr(400, "InvalidArgument", "encoding-type must be url.")
}

func (e ossEncoder) enc(s string) string {
	if !e {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func (e ossEncoder) typ() string {
	if e {
		return "url"
	}
	return ""
}

// ossIntParam parses an optional integer parameter within [lo, hi].
func ossIntParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, apiErr(400, "InvalidArgument", "%s must be an integer between %d and %d.", name, lo, hi)
	}
	return n, nil
}

type ossContents struct {
	Key          string    `xml:"Key"`
	LastModified string    `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Type         string    `xml:"Type"`
	Size         int64     `xml:"Size"`
	StorageClass string    `xml:"StorageClass"`
	Owner        *ossOwner `xml:"Owner,omitempty"`
	RestoreInfo  string    `xml:"RestoreInfo,omitempty"`
}

type ossCommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type ossListV1 struct {
	XMLName        xml.Name          `xml:"ListBucketResult"`
	Name           string            `xml:"Name"`
	Prefix         string            `xml:"Prefix"`
	Marker         string            `xml:"Marker"`
	MaxKeys        int               `xml:"MaxKeys"`
	Delimiter      string            `xml:"Delimiter"`
	EncodingType   string            `xml:"EncodingType,omitempty"`
	IsTruncated    bool              `xml:"IsTruncated"`
	NextMarker     string            `xml:"NextMarker,omitempty"`
	Contents       []ossContents     `xml:"Contents"`
	CommonPrefixes []ossCommonPrefix `xml:"CommonPrefixes"`
}

type ossListV2 struct {
	XMLName               xml.Name          `xml:"ListBucketResult"`
	Name                  string            `xml:"Name"`
	Prefix                string            `xml:"Prefix"`
	StartAfter            string            `xml:"StartAfter,omitempty"`
	ContinuationToken     string            `xml:"ContinuationToken,omitempty"`
	MaxKeys               int               `xml:"MaxKeys"`
	Delimiter             string            `xml:"Delimiter"`
	EncodingType          string            `xml:"EncodingType,omitempty"`
	IsTruncated           bool              `xml:"IsTruncated"`
	NextContinuationToken string            `xml:"NextContinuationToken,omitempty"`
	KeyCount              int               `xml:"KeyCount"`
	Contents              []ossContents     `xml:"Contents"`
	CommonPrefixes        []ossCommonPrefix `xml:"CommonPrefixes"`
}

func (f *OSSFrontEnd) contents(bucket string, objs []*Object, e ossEncoder, owner bool) []ossContents {
	out := make([]ossContents, 0, len(objs))
	for _, o := range objs {
		c := ossContents{Key: e.enc(o.Key), LastModified: isoTime(o.LastModified), ETag: `"` + o.ETag + `"`,
			Type: ossObjectType(o), Size: o.Size, StorageClass: ossClass(o.Meta.StorageClass)}
		if owner {
			ow := ossDefaultOwner()
			c.Owner = &ow
		}
		if storage.IsArchiveClass(o.Meta.StorageClass) {
			c.RestoreInfo, _ = f.restoreStatus(bucket, o, false)
		}
		out = append(out, c)
	}
	return out
}

func ossPrefixes(cps []string, e ossEncoder) []ossCommonPrefix {
	out := make([]ossCommonPrefix, 0, len(cps))
	for _, p := range cps {
		out = append(out, ossCommonPrefix{Prefix: e.enc(p)})
	}
	return out
}

func (f *OSSFrontEnd) listObjects(req *ossRequest) error {
	q := req.q
	e, err := ossEncoding(q)
	if err != nil {
		return err
	}
	maxKeys, err := ossIntParam(q, "max-keys", ossDefaultListKeys, 1, ossMaxListKeys)
	if err != nil {
		return err
	}
	prefix, marker, delim := q.Get("prefix"), q.Get("marker"), q.Get("delimiter")
	res, err := f.Backend.List(req.bucket, prefix, marker, delim, maxKeys)
	if err != nil {
		return err
	}
	out := ossListV1{Name: req.bucket, Prefix: e.enc(prefix), Marker: e.enc(marker), MaxKeys: maxKeys,
		Delimiter: e.enc(delim), EncodingType: e.typ(), IsTruncated: res.IsTruncated,
		Contents: f.contents(req.bucket, res.Objects, e, true), CommonPrefixes: ossPrefixes(res.CommonPrefixes, e)}
	if res.IsTruncated {
		out.NextMarker = e.enc(res.NextMarker)
	}
	writeXML(req.w, http.StatusOK, out)
	return nil
}

// Continuation tokens are opaque to clients; they carry the last key listed.
func ossToken(marker string) string { return base64.RawURLEncoding.EncodeToString([]byte(marker)) }

func ossParseToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", apiErr(400, "InvalidArgument", "The continuation token is not valid.")
	}
	return string(b), nil
}

func (f *OSSFrontEnd) listObjectsV2(req *ossRequest) error {
	q := req.q
	e, err := ossEncoding(q)
	if err != nil {
		return err
	}
	maxKeys, err := ossIntParam(q, "max-keys", ossDefaultListKeys, 1, ossMaxListKeys)
	if err != nil {
		return err
	}
	prefix, delim, startAfter, tok := q.Get("prefix"), q.Get("delimiter"), q.Get("start-after"), q.Get("continuation-token")
	marker := startAfter
	if tok != "" {
		if marker, err = ossParseToken(tok); err != nil {
			return err
		}
	}
	res, err := f.Backend.List(req.bucket, prefix, marker, delim, maxKeys)
	if err != nil {
		return err
	}
	out := ossListV2{Name: req.bucket, Prefix: e.enc(prefix), StartAfter: e.enc(startAfter), ContinuationToken: tok,
		MaxKeys: maxKeys, Delimiter: e.enc(delim), EncodingType: e.typ(), IsTruncated: res.IsTruncated,
		KeyCount: len(res.Objects) + len(res.CommonPrefixes),
		Contents: f.contents(req.bucket, res.Objects, e, q.Get("fetch-owner") == "true"), CommonPrefixes: ossPrefixes(res.CommonPrefixes, e)}
	if res.IsTruncated {
		out.NextContinuationToken = ossToken(res.NextMarker)
	}
	writeXML(req.w, http.StatusOK, out)
	return nil
}

// ossNeutralClass maps an OSS storage class name to the neutral name (they
// are equal; case is forgiven); ok is false for an unknown class.
func ossNeutralClass(c string) (string, bool) {
	for _, n := range []string{storage.ClassStandard, storage.ClassIA, storage.ClassArchive,
		storage.ClassColdArchive, storage.ClassDeepColdArchive} {
		if strings.EqualFold(c, n) {
			return n, true
		}
	}
	return c, false
}

// ossClass is the class OSS reports for a neutral class.
func ossClass(neutral string) string {
	if neutral == "" {
		return storage.ClassStandard
	}
	return neutral
}

func ossObjectType(o *Object) string {
	if strings.Contains(o.ETag, "-") {
		return "Multipart"
	}
	return "Normal"
}

// ossMeta reads and validates the metadata of a PUT or initiate request.
func ossMeta(h http.Header) (Meta, error) {
	meta := metaFromHeaders(h, ossMetaPrefix, ossClassHeader, func(c string) string {
		n, _ := ossNeutralClass(c)
		return n
	})
	if c := h.Get(ossClassHeader); c != "" {
		if _, ok := ossNeutralClass(c); !ok {
			return Meta{}, apiErr(400, "InvalidArgument", "Invalid storage class %q.", c)
		}
	}
	for name := range meta.User {
		if name == "" || strings.IndexFunc(name, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
		}) >= 0 {
			return Meta{}, apiErr(400, "InvalidArgument", "User metadata name %q may only contain letters, digits and hyphens.", name)
		}
	}
	if n := userMetaSize(meta, ossMetaPrefix); n > ossMaxUserMetadata {
		return Meta{}, apiErr(400, "MetadataTooLarge", "Your metadata headers are %d bytes, more than the maximum allowed %d.", n, ossMaxUserMetadata)
	}
	return meta, nil
}

func (f *OSSFrontEnd) putObject(req *ossRequest) error {
	r := req.r
	meta, err := ossMeta(r.Header)
	if err != nil {
		return err
	}
	if r.ContentLength > ossMaxPutSize {
		return apiErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size of %d bytes.", int64(ossMaxPutSize))
	}
	sum, err := contentMD5(r)
	if err != nil {
		return err
	}
	if strings.EqualFold(r.Header.Get("X-Oss-Forbid-Overwrite"), "true") {
		if _, err := f.Backend.Object(req.bucket, req.key); err == nil {
			return apiErr(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
		}
	}
	obj, err := f.Backend.PutObject(req.bucket, req.key, r.Body, r.ContentLength, meta, sum)
	if err != nil {
		return err
	}
	h := req.w.Header()
	h.Set("ETag", `"`+obj.ETag+`"`)
	if raw, err := hex.DecodeString(obj.ETag); err == nil {
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(raw))
	}
	if !obj.NoCRC {
		h.Set(ossCRCHeader, strconv.FormatUint(obj.CRC64, 10))
	}
	h.Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

// ossPreconditions applies If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since; notModified is set for a 304.
func ossPreconditions(r *http.Request, obj *Object) (notModified bool, err error) {
	lm := obj.LastModified.Truncate(time.Second)
	if v := r.Header.Get("If-Match"); v != "" && v != "*" && !strings.EqualFold(strings.Trim(v, `"`), obj.ETag) {
		return false, apiErr(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && lm.After(t) {
			return false, apiErr(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
		}
	}
	if v := r.Header.Get("If-None-Match"); v != "" && (v == "*" || strings.EqualFold(strings.Trim(v, `"`), obj.ETag)) {
		return true, nil
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !lm.After(t) {
			return true, nil
		}
	}
	return false, nil
}

// setOSSObjectHeaders writes an object's headers as OSS sends them on GET
// and HEAD.
func (f *OSSFrontEnd) setOSSObjectHeaders(h http.Header, bucket string, obj *Object) {
	setObjectHeaders(h, obj, ossMetaPrefix, ossCRCHeader)
	h.Set("X-Oss-Object-Type", ossObjectType(obj))
	h.Set(ossClassHeader, ossClass(obj.Meta.StorageClass))
	if storage.IsArchiveClass(obj.Meta.StorageClass) {
		if status, _ := f.restoreStatus(bucket, obj, true); status != "" {
			h.Set("X-Oss-Restore", status)
		}
	}
}

func (f *OSSFrontEnd) getObject(req *ossRequest) error {
	r, w := req.r, req.w
	obj, err := f.Backend.Object(req.bucket, req.key)
	if err != nil {
		return err
	}
	notModified, err := ossPreconditions(r, obj)
	if err != nil {
		return err
	}
	if r.Method == http.MethodGet && storage.IsArchiveClass(obj.Meta.StorageClass) {
		if _, readable := f.restoreStatus(req.bucket, obj, true); !readable {
			return apiErr(403, "InvalidObjectState", "The operation is not valid for the object's state.")
		}
	}
	if r.Method == http.MethodGet {
		if _, _, satisfiable := parseRange(r.Header.Get("Range"), obj.Size); !satisfiable {
			return apiErr(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range cannot be satisfied.")
		}
	}
	f.setOSSObjectHeaders(w.Header(), req.bucket, obj)
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	for param, header := range map[string]string{"response-content-type": "Content-Type",
		"response-content-language": "Content-Language", "response-expires": "Expires",
		"response-cache-control": "Cache-Control", "response-content-disposition": "Content-Disposition",
		"response-content-encoding": "Content-Encoding"} {
		if v := req.q.Get(param); v != "" {
			w.Header().Set(header, v)
		}
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.FormatInt(obj.Size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if err := serveBody(w, r, obj); err != nil {
		var aerr *APIError
		if errors.As(err, &aerr) {
			return err
		}
		// The status is already sent: the client sees a short body.
		return nil
	}
	return nil
}

// getObjectMeta answers HEAD ?objectMeta: the basic headers only.
func (f *OSSFrontEnd) getObjectMeta(req *ossRequest) error {
	obj, err := f.Backend.Object(req.bucket, req.key)
	if err != nil {
		return err
	}
	h := req.w.Header()
	h.Set("ETag", `"`+obj.ETag+`"`)
	h.Set("Content-Length", strconv.FormatInt(obj.Size, 10))
	h.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	if !obj.NoCRC {
		h.Set(ossCRCHeader, strconv.FormatUint(obj.CRC64, 10))
	}
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (f *OSSFrontEnd) deleteObject(req *ossRequest) error {
	if err := f.Backend.DeleteObject(req.bucket, req.key); err != nil {
		return err
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

type ossInitiateResult struct {
	XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	UploadID     string   `xml:"UploadId"`
	EncodingType string   `xml:"EncodingType,omitempty"`
}

func (f *OSSFrontEnd) initiateUpload(req *ossRequest) error {
	e, err := ossEncoding(req.q)
	if err != nil {
		return err
	}
	meta, err := ossMeta(req.r.Header)
	if err != nil {
		return err
	}
	u, err := f.Backend.CreateUpload(req.bucket, req.key, meta)
	if err != nil {
		return err
	}
	writeXML(req.w, http.StatusOK, ossInitiateResult{Bucket: req.bucket, Key: e.enc(req.key), UploadID: u.ID, EncodingType: e.typ()})
	return nil
}

func ossPartNumber(q url.Values) (int, error) {
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > ossMaxParts {
		return 0, apiErr(400, "InvalidArgument", "Part number must be an integer between 1 and %d, inclusive.", ossMaxParts)
	}
	return n, nil
}

func (f *OSSFrontEnd) uploadPart(req *ossRequest) error {
	r := req.r
	n, err := ossPartNumber(req.q)
	if err != nil {
		return err
	}
	if req.q.Get("uploadId") == "" {
		return apiErr(400, "InvalidArgument", "uploadId is required.")
	}
	if r.ContentLength > ossMaxPartSize {
		return apiErr(400, "EntityTooLarge", "A part may not exceed %d bytes.", int64(ossMaxPartSize))
	}
	sum, err := contentMD5(r)
	if err != nil {
		return err
	}
	p, err := f.Backend.UploadPart(req.bucket, req.key, req.q.Get("uploadId"), n, r.Body, r.ContentLength, sum)
	if err != nil {
		return err
	}
	h := req.w.Header()
	h.Set("ETag", `"`+p.ETag+`"`)
	if raw, err := hex.DecodeString(p.ETag); err == nil {
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(raw))
	}
	h.Set(ossCRCHeader, strconv.FormatUint(p.CRC64, 10))
	h.Set("Content-Length", "0")
	req.w.WriteHeader(http.StatusOK)
	return nil
}

type ossPartXML struct {
	PartNumber    int    `xml:"PartNumber"`
	LastModified  string `xml:"LastModified"`
	ETag          string `xml:"ETag"`
	HashCrc64ecma string `xml:"HashCrc64ecma"`
	Size          int64  `xml:"Size"`
}

type ossListPartsResult struct {
	XMLName              xml.Name     `xml:"ListPartsResult"`
	Bucket               string       `xml:"Bucket"`
	EncodingType         string       `xml:"EncodingType,omitempty"`
	Key                  string       `xml:"Key"`
	UploadID             string       `xml:"UploadId"`
	StorageClass         string       `xml:"StorageClass"`
	PartNumberMarker     int          `xml:"PartNumberMarker"`
	NextPartNumberMarker int          `xml:"NextPartNumberMarker"`
	MaxParts             int          `xml:"MaxParts"`
	IsTruncated          bool         `xml:"IsTruncated"`
	Parts                []ossPartXML `xml:"Part"`
}

func (f *OSSFrontEnd) listParts(req *ossRequest) error {
	q := req.q
	e, err := ossEncoding(q)
	if err != nil {
		return err
	}
	maxParts, err := ossIntParam(q, "max-parts", 1000, 1, 1000)
	if err != nil {
		return err
	}
	marker, err := ossIntParam(q, "part-number-marker", 0, 0, ossMaxParts)
	if err != nil {
		return err
	}
	parts, u, err := f.Backend.Parts(req.bucket, req.key, q.Get("uploadId"))
	if err != nil {
		return err
	}
	out := ossListPartsResult{Bucket: req.bucket, EncodingType: e.typ(), Key: e.enc(req.key), UploadID: u.ID,
		StorageClass: ossClass(u.Meta.StorageClass), PartNumberMarker: marker, MaxParts: maxParts}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(out.Parts) == maxParts {
			out.IsTruncated = true
			break
		}
		out.Parts = append(out.Parts, ossPartXML{PartNumber: p.Number, LastModified: isoTime(p.LastModified),
			ETag: `"` + p.ETag + `"`, HashCrc64ecma: strconv.FormatUint(p.CRC64, 10), Size: p.Size})
		out.NextPartNumberMarker = p.Number
	}
	writeXML(req.w, http.StatusOK, out)
	return nil
}

type ossCompleteRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type ossCompleteResult struct {
	XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Location     string   `xml:"Location"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	ETag         string   `xml:"ETag"`
}

func (f *OSSFrontEnd) completeUpload(req *ossRequest) error {
	e, err := ossEncoding(req.q)
	if err != nil {
		return err
	}
	id := req.q.Get("uploadId")
	var want []CompletePart
	if strings.EqualFold(req.r.Header.Get("X-Oss-Complete-All"), "yes") {
		parts, _, err := f.Backend.Parts(req.bucket, req.key, id)
		if err != nil {
			return err
		}
		for _, p := range parts {
			want = append(want, CompletePart{Number: p.Number, ETag: p.ETag})
		}
	} else {
		var body ossCompleteRequest
		if err := readXML(req.r, 8<<20, &body); err != nil {
			return err
		}
		for _, p := range body.Parts {
			want = append(want, CompletePart{Number: p.PartNumber, ETag: p.ETag})
		}
	}
	obj, err := f.Backend.CompleteUpload(req.bucket, req.key, id, want, CompleteRules{MinPartSize: ossMinPartSize})
	if err != nil {
		return err
	}
	h := req.w.Header()
	h.Set("ETag", `"`+obj.ETag+`"`)
	if !obj.NoCRC {
		h.Set(ossCRCHeader, strconv.FormatUint(obj.CRC64, 10))
	}
	writeXML(req.w, http.StatusOK, ossCompleteResult{EncodingType: e.typ(),
		Location: "http://" + req.bucket + ".oss-" + f.region() + ".aliyuncs.com/" + url.PathEscape(req.key),
		Bucket:   req.bucket, Key: e.enc(req.key), ETag: `"` + obj.ETag + `"`})
	return nil
}

func (f *OSSFrontEnd) abortUpload(req *ossRequest) error {
	if err := f.Backend.AbortUpload(req.bucket, req.key, req.q.Get("uploadId")); err != nil {
		return err
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

type ossUploadXML struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	StorageClass string `xml:"StorageClass"`
	Initiated    string `xml:"Initiated"`
}

type ossListUploadsResult struct {
	XMLName            xml.Name          `xml:"ListMultipartUploadsResult"`
	Bucket             string            `xml:"Bucket"`
	EncodingType       string            `xml:"EncodingType,omitempty"`
	KeyMarker          string            `xml:"KeyMarker"`
	UploadIDMarker     string            `xml:"UploadIdMarker"`
	NextKeyMarker      string            `xml:"NextKeyMarker"`
	NextUploadIDMarker string            `xml:"NextUploadIdMarker"`
	Delimiter          string            `xml:"Delimiter"`
	Prefix             string            `xml:"Prefix"`
	MaxUploads         int               `xml:"MaxUploads"`
	IsTruncated        bool              `xml:"IsTruncated"`
	Uploads            []ossUploadXML    `xml:"Upload"`
	CommonPrefixes     []ossCommonPrefix `xml:"CommonPrefixes"`
}

func (f *OSSFrontEnd) listUploads(req *ossRequest) error {
	q := req.q
	e, err := ossEncoding(q)
	if err != nil {
		return err
	}
	maxUploads, err := ossIntParam(q, "max-uploads", 1000, 1, 1000)
	if err != nil {
		return err
	}
	prefix, delim, keyMarker, idMarker := q.Get("prefix"), q.Get("delimiter"), q.Get("key-marker"), q.Get("upload-id-marker")
	all, _, err := f.Backend.Uploads(req.bucket, prefix, keyMarker, idMarker, math.MaxInt32)
	if err != nil {
		return err
	}
	out := ossListUploadsResult{Bucket: req.bucket, EncodingType: e.typ(), KeyMarker: e.enc(keyMarker),
		UploadIDMarker: idMarker, Delimiter: e.enc(delim), Prefix: e.enc(prefix), MaxUploads: maxUploads}
	// A key marker that is a common prefix resumes after its whole group.
	skipGroup := ""
	if delim != "" && strings.HasPrefix(keyMarker, prefix) && strings.HasSuffix(keyMarker, delim) &&
		strings.Contains(keyMarker[len(prefix):], delim) {
		skipGroup = keyMarker
	}
	count, lastPrefix := 0, ""
	var nextKey, nextID string
	for _, u := range all {
		if skipGroup != "" && strings.HasPrefix(u.Key, skipGroup) {
			continue
		}
		cp := ""
		if delim != "" {
			if i := strings.Index(u.Key[len(prefix):], delim); i >= 0 {
				cp = u.Key[:len(prefix)+i+len(delim)]
				if cp == lastPrefix {
					continue
				}
			}
		}
		if count == maxUploads {
			out.IsTruncated = true
			break
		}
		count++
		if cp != "" {
			lastPrefix = cp
			out.CommonPrefixes = append(out.CommonPrefixes, ossCommonPrefix{Prefix: e.enc(cp)})
			nextKey, nextID = cp, ""
			continue
		}
		out.Uploads = append(out.Uploads, ossUploadXML{Key: e.enc(u.Key), UploadID: u.ID,
			StorageClass: ossClass(u.Meta.StorageClass), Initiated: isoTime(u.Initiated)})
		nextKey, nextID = u.Key, u.ID
	}
	if out.IsTruncated {
		out.NextKeyMarker, out.NextUploadIDMarker = e.enc(nextKey), nextID
	}
	writeXML(req.w, http.StatusOK, out)
	return nil
}

type ossRestoreRequest struct {
	XMLName xml.Name `xml:"RestoreRequest"`
	Days    int      `xml:"Days"`
	Tier    string   `xml:"JobParameters>Tier"`
}

func ossRestoreKey(bucket, key string) string { return bucket + "\x00" + key }

// restoreObject answers POST ?restore: 202 when a restore starts, 200 when
// the object is already restored, 409 while one is in progress.
func (f *OSSFrontEnd) restoreObject(req *ossRequest) error {
	obj, err := f.Backend.Object(req.bucket, req.key)
	if err != nil {
		return err
	}
	if !storage.IsArchiveClass(obj.Meta.StorageClass) {
		return apiErr(400, "OperationNotSupported", "The operation is not supported for this resource: the object is not archived.")
	}
	days := 1
	if req.r.ContentLength != 0 {
		var body ossRestoreRequest
		if err := readXML(req.r, 64<<10, &body); err != nil {
			return err
		}
		if body.Days > 0 {
			days = body.Days
		}
	}
	if _, readable := f.restoreStatus(req.bucket, obj, true); readable {
		f.mu.Lock()
		if st := f.restores[ossRestoreKey(req.bucket, req.key)]; st != nil {
			st.expiry = f.Backend.Now().Add(time.Duration(days) * 24 * time.Hour)
		}
		f.mu.Unlock()
		req.w.WriteHeader(http.StatusOK)
		return nil
	}
	now := f.Backend.Now()
	f.mu.Lock()
	if st := f.restores[ossRestoreKey(req.bucket, req.key)]; st != nil && st.matches(obj) {
		f.mu.Unlock()
		return apiErr(409, "RestoreAlreadyInProgress", "The restore operation is in progress.")
	}
	if f.restores == nil {
		f.restores = map[string]*ossRestore{}
	}
	st := &ossRestore{etag: obj.ETag, modified: obj.LastModified, done: now.Add(f.RestoreDelay)}
	st.expiry = st.done.Add(time.Duration(days) * 24 * time.Hour)
	f.restores[ossRestoreKey(req.bucket, req.key)] = st
	f.mu.Unlock()
	if f.RestoreDelay <= 0 {
		f.restoreStatus(req.bucket, obj, true) // completes it now
	}
	req.w.WriteHeader(http.StatusAccepted)
	return nil
}

func (st *ossRestore) matches(obj *Object) bool {
	return st.etag == obj.ETag && st.modified.Equal(obj.LastModified)
}

// restoreStatus returns the x-oss-restore value of an archived object and
// whether it is readable. With complete set, a restore whose delay has passed
// is recorded in the backend (Object.Restored).
func (f *OSSFrontEnd) restoreStatus(bucket string, obj *Object, complete bool) (string, bool) {
	now := f.Backend.Now()
	f.mu.Lock()
	st := f.restores[ossRestoreKey(bucket, obj.Key)]
	if st != nil && !st.matches(obj) {
		// The object was replaced since: its restore is gone.
		delete(f.restores, ossRestoreKey(bucket, obj.Key))
		st = nil
	}
	var cp ossRestore
	if st != nil {
		cp = *st
	}
	f.mu.Unlock()
	switch {
	case st != nil && now.Before(cp.done):
		return `ongoing-request="true"`, false
	case st != nil:
		if !obj.Restored && complete {
			etag, modified := obj.ETag, obj.LastModified
			f.Backend.UpdateObject(bucket, obj.Key, func(o *Object) {
				if o.ETag == etag && o.LastModified.Equal(modified) {
					o.Restored = true
				}
			})
		}
		return fmt.Sprintf(`ongoing-request="false", expiry-date="%s"`, cp.expiry.UTC().Format(http.TimeFormat)), true
	case obj.Restored:
		// Restored outside this front end (seeded): a day from now.
		return fmt.Sprintf(`ongoing-request="false", expiry-date="%s"`, now.Add(24*time.Hour).UTC().Format(http.TimeFormat)), true
	}
	return "", false
}
