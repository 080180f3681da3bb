package emulator

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4 as S3 checks it: header auth (Authorization) and
// presigned query auth (X-Amz-*), with the payload either unsigned, hashed
// (x-amz-content-sha256, checked against the body as it is read) or sent as
// aws-chunked frames, each signed in a chain from the request's signature.
const (
	s3Algorithm        = "AWS4-HMAC-SHA256"
	s3UnsignedPayload  = "UNSIGNED-PAYLOAD"
	s3StreamingSigned  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	s3StreamingTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	s3StreamingUnsTrl  = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	s3EmptySHA256      = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	s3MaxSkew          = 15 * time.Minute
	s3MaxPresignExpiry = 7 * 24 * time.Hour
	s3MaxChunkLine     = 4 << 10
)

// s3Auth is a parsed, verified request signature: what the body decoder
// needs to check chunk signatures.
type s3Auth struct {
	key       []byte // signing key
	amzDate   string
	scope     string
	signature string
	payload   string // x-amz-content-sha256, or UNSIGNED-PAYLOAD
}

// s3Credential is the parsed Credential= value.
type s3Credential struct {
	accessKey, date, region, service string
}

func s3ParseCredential(v string) (s3Credential, bool) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return s3Credential{}, false
	}
	return s3Credential{accessKey: parts[0], date: parts[1], region: parts[2], service: parts[3]}, true
}

func (c s3Credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/aws4_request"
}

func s3AuthErr(code, format string, args ...any) *APIError {
	return apiErr(http.StatusForbidden, code, format, args...)
}

// authenticate verifies a request's signature and returns what the body
// decoder needs.
func (f *S3FrontEnd) authenticate(r *http.Request) (*s3Auth, *APIError) {
	q := r.URL.Query()
	authz := r.Header.Get("Authorization")
	switch {
	case authz != "":
		return f.authHeader(r, authz)
	case q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Signature") != "":
		return f.authQuery(r, q)
	}
	return nil, s3AuthErr("AccessDenied", "Anonymous access is not allowed; sign the request with AWS Signature Version 4.")
}

func (f *S3FrontEnd) authHeader(r *http.Request, authz string) (*s3Auth, *APIError) {
	alg, rest, _ := strings.Cut(authz, " ")
	if alg != s3Algorithm {
		return nil, apiErr(400, "InvalidArgument", "Unsupported Authorization algorithm %q; only %s is supported.", alg, s3Algorithm)
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	cred, ok := s3ParseCredential(fields["Credential"])
	if !ok || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return nil, apiErr(400, "AuthorizationHeaderMalformed", "The authorization header is malformed: %q.", authz)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		amzDate = r.Header.Get("Date")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return nil, apiErr(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256.")
	}
	a, aerr := f.verify(r, cred, amzDate, strings.Split(fields["SignedHeaders"], ";"), payload, fields["Signature"], nil)
	if aerr != nil {
		return nil, aerr
	}
	a.payload = payload
	return a, nil
}

func (f *S3FrontEnd) authQuery(r *http.Request, q url.Values) (*s3Auth, *APIError) {
	if alg := q.Get("X-Amz-Algorithm"); alg != s3Algorithm {
		return nil, apiErr(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm %q is not %s.", alg, s3Algorithm)
	}
	cred, ok := s3ParseCredential(q.Get("X-Amz-Credential"))
	if !ok || q.Get("X-Amz-SignedHeaders") == "" || q.Get("X-Amz-Signature") == "" {
		return nil, apiErr(400, "AuthorizationQueryParametersError", "The presigned URL lacks X-Amz-Credential, X-Amz-SignedHeaders or X-Amz-Signature.")
	}
	amzDate := q.Get("X-Amz-Date")
	signed, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return nil, apiErr(400, "AuthorizationQueryParametersError", "X-Amz-Date %q is not an ISO 8601 basic time.", amzDate)
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 1 || time.Duration(expires)*time.Second > s3MaxPresignExpiry {
		return nil, apiErr(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be from 1 to 604800 seconds.")
	}
	if now := f.now(); now.After(signed.Add(time.Duration(expires) * time.Second)) {
		return nil, s3AuthErr("AccessDenied", "Request has expired.")
	} else if signed.After(now.Add(s3MaxSkew)) {
		return nil, s3AuthErr("AccessDenied", "Request is not valid yet.")
	}
	payload := q.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = s3UnsignedPayload
	}
	a, aerr := f.verify(r, cred, amzDate, strings.Split(q.Get("X-Amz-SignedHeaders"), ";"), payload, q.Get("X-Amz-Signature"),
		func(k string) bool { return k == "X-Amz-Signature" })
	if aerr != nil {
		return nil, aerr
	}
	a.payload = payload
	return a, nil
}

// verify recomputes the signature. skipQuery names query parameters left out
// of the canonical query (the signature itself, for presigned URLs).
func (f *S3FrontEnd) verify(r *http.Request, cred s3Credential, amzDate string, signedHeaders []string, payload, signature string,
	skipQuery func(string) bool) (*s3Auth, *APIError) {
	secret, ok := f.Credentials[cred.accessKey]
	if !ok {
		return nil, s3AuthErr("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	}
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		if t, err = http.ParseTime(amzDate); err != nil {
			return nil, s3AuthErr("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header.")
		}
	}
	if r.URL.Query().Get("X-Amz-Algorithm") == "" {
		if d := f.now().Sub(t); d > s3MaxSkew || d < -s3MaxSkew {
			return nil, s3AuthErr("RequestTimeTooSkewed", "The difference between the request time (%s) and the current time is too large.", amzDate)
		}
	}
	if cred.date != t.UTC().Format("20060102") || cred.service != "s3" {
		return nil, apiErr(400, "AuthorizationHeaderMalformed", "The credential scope %s does not match the request date or the s3 service.", cred.scope())
	}
	if !slices.Contains(signedHeaders, "host") {
		return nil, s3AuthErr("AccessDenied", "The host header must be signed.")
	}
	headers := s3CanonicalHeaders(r, signedHeaders)
	query := s3CanonicalQuery(r.URL.RawQuery, skipQuery)
	key := s3SigningKey(secret, cred)
	a := &s3Auth{key: key, amzDate: amzDate, scope: cred.scope()}
	var canonical string
	// Clients sign the path as they sent it; a path a client left partly
	// unescaped is tried again in the canonical escaping.
	for _, uri := range s3CanonicalURIs(r) {
		canonical = strings.Join([]string{r.Method, uri, query, headers, strings.Join(signedHeaders, ";"), payload}, "\n")
		sts := s3Algorithm + "\n" + amzDate + "\n" + a.scope + "\n" + s3SHA256Hex([]byte(canonical))
		want := hex.EncodeToString(s3HMAC(key, sts))
		if hmac.Equal([]byte(want), []byte(strings.ToLower(signature))) {
			a.signature = want
			return a, nil
		}
	}
	return nil, s3AuthErr("SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your key and signing method. Canonical request: %q", canonical)
}

func (f *S3FrontEnd) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func s3SigningKey(secret string, c s3Credential) []byte {
	k := s3HMAC([]byte("AWS4"+secret), c.date)
	k = s3HMAC(k, c.region)
	k = s3HMAC(k, c.service)
	return s3HMAC(k, "aws4_request")
}

func s3HMAC(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func s3SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// s3CanonicalURIs returns the path as sent and, when it differs, the path in
// the canonical escaping (every byte but unreserved ones and "/").
func s3CanonicalURIs(r *http.Request) []string {
	raw := r.RequestURI
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if u, err := url.Parse(raw); err == nil && u.IsAbs() {
		raw = u.EscapedPath() // an absolute-form request line
	}
	if raw == "" {
		raw = "/"
	}
	canon := cosPercentEncode(r.URL.Path, "/")
	if canon == "" {
		canon = "/"
	}
	if canon == raw {
		return []string{raw}
	}
	return []string{raw, canon}
}

// s3CanonicalQuery sorts the query by escaped name, then value.
func s3CanonicalQuery(raw string, skip func(string) bool) string {
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		if skip != nil && skip(dk) {
			continue
		}
		pairs = append(pairs, kv{cosSafeURLEncode(dk), cosSafeURLEncode(dv)})
	}
	slices.SortFunc(pairs, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

// s3CanonicalHeaders renders the signed headers, "name:value\n" each.
func s3CanonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = r.Header.Values("Content-Length")
			if len(vals) == 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			vals = r.TransferEncoding
		default:
			vals = r.Header.Values(name)
		}
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(trimmed, ",") + "\n")
	}
	return b.String()
}

// body returns the request body as the object's bytes: checked against the
// signed SHA-256, or decoded from aws-chunked frames. size is the decoded
// length, or -1 when unknown.
func (a *s3Auth) body(r *http.Request) (io.Reader, int64, *APIError) {
	switch a.payload {
	case s3UnsignedPayload:
		return r.Body, r.ContentLength, nil
	case s3StreamingSigned, s3StreamingTrailer, s3StreamingUnsTrl:
		size := int64(-1)
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, 0, apiErr(400, "InvalidArgument", "x-amz-decoded-content-length %q is not a length.", v)
			}
			size = n
		} else if a.payload == s3StreamingSigned {
			return nil, 0, apiErr(411, "MissingContentLength", "x-amz-decoded-content-length is required with %s.", a.payload)
		}
		c := &s3ChunkReader{auth: a, src: bufio.NewReaderSize(r.Body, 64<<10), prevSig: a.signature,
			signed: a.payload != s3StreamingUnsTrl, trailer: a.payload != s3StreamingSigned}
		if c.trailer {
			c.trailerName = strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
			if _, ok := s3NewChecksum(c.trailerName); !ok {
				return nil, 0, apiErr(400, "InvalidRequest", "x-amz-trailer %q is not a supported checksum.", c.trailerName)
			}
		}
		return c, size, nil
	}
	want, err := hex.DecodeString(a.payload)
	if err != nil || len(want) != sha256.Size {
		return nil, 0, apiErr(400, "InvalidArgument", "x-amz-content-sha256 %q is not a SHA-256, %s or a streaming mode.", a.payload, s3UnsignedPayload)
	}
	return &s3HashReader{r: r.Body, h: sha256.New(), want: want, fail: func() *APIError {
		return apiErr(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}}, r.ContentLength, nil
}

// s3HashReader checks a digest of everything read when the source ends.
type s3HashReader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
	fail func() *APIError
}

func (h *s3HashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	if errors.Is(err, io.EOF) && !bytes.Equal(h.h.Sum(nil), h.want) {
		return n, h.fail()
	}
	return n, err
}

// s3ChunkReader decodes an aws-chunked body: "size[;chunk-signature=sig]"
// lines each followed by that many bytes, a zero-size chunk, and optional
// trailing headers (a checksum, and its signature in the signed variant).
type s3ChunkReader struct {
	auth        *s3Auth
	src         *bufio.Reader
	signed      bool
	trailer     bool
	trailerName string
	prevSig     string

	left     int64     // bytes left in the current chunk
	chunkSig string    // its claimed signature
	chunkSum hash.Hash // its SHA-256, when signed
	whole    hash.Hash // the trailing checksum's hash
	count    int       // chunk headers read
	done     bool
	err      error
}

func (c *s3ChunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if err := c.next(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.src.Read(p)
	c.left -= int64(n)
	if c.chunkSum != nil {
		c.chunkSum.Write(p[:n])
	}
	if c.whole != nil {
		c.whole.Write(p[:n])
	}
	if c.left == 0 && n > 0 {
		if aerr := c.endChunk(); aerr != nil {
			c.err = aerr
			return n, aerr
		}
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

func s3ChunkErr(format string, args ...any) *APIError {
	return apiErr(400, "IncompleteBody", "aws-chunked body: "+format, args...)
}

func (c *s3ChunkReader) line() (string, error) {
	var b []byte
	for {
		frag, err := c.src.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > s3MaxChunkLine {
			return "", s3ChunkErr("a chunk header is too long")
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			return "", s3ChunkErr("the body ends inside a chunk header")
		}
		return "", err
	}
	s, ok := strings.CutSuffix(string(b), "\r\n")
	if !ok {
		return "", s3ChunkErr("a chunk header does not end in CRLF")
	}
	return s, nil
}

// next reads the CRLF ending the previous chunk (if any) and the next chunk
// header; the last chunk also consumes the trailer.
func (c *s3ChunkReader) next() error {
	if c.count > 0 {
		crlf := make([]byte, 2)
		if _, err := io.ReadFull(c.src, crlf); err != nil || string(crlf) != "\r\n" {
			return s3ChunkErr("a chunk's data does not end in CRLF")
		}
	}
	hdr, err := c.line()
	if err != nil {
		return err
	}
	sizeHex, ext, _ := strings.Cut(hdr, ";")
	size, perr := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
	if perr != nil || size < 0 {
		return s3ChunkErr("bad chunk size %q", sizeHex)
	}
	c.chunkSig = ""
	if c.signed {
		sig, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature=")
		if !ok || sig == "" {
			return s3ChunkErr("a chunk lacks its chunk-signature")
		}
		c.chunkSig = sig
		c.chunkSum = sha256.New()
	}
	if c.whole == nil && c.trailer {
		c.whole, _ = s3NewChecksum(c.trailerName)
	}
	c.left = size
	c.count++
	if size > 0 {
		return nil
	}
	if aerr := c.endChunk(); aerr != nil {
		return aerr
	}
	c.done = true
	return c.readTrailer()
}

// endChunk checks the signature of the chunk just read.
func (c *s3ChunkReader) endChunk() *APIError {
	if !c.signed {
		return nil
	}
	sts := strings.Join([]string{"AWS4-HMAC-SHA256-PAYLOAD", c.auth.amzDate, c.auth.scope, c.prevSig, s3EmptySHA256,
		hex.EncodeToString(c.chunkSum.Sum(nil))}, "\n")
	want := hex.EncodeToString(s3HMAC(c.auth.key, sts))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(c.chunkSig))) {
		return s3AuthErr("SignatureDoesNotMatch", "The chunk signature %s does not match; expected %s.", c.chunkSig, want)
	}
	c.prevSig = want
	return nil
}

// readTrailer reads the lines after the last chunk up to the empty line.
func (c *s3ChunkReader) readTrailer() error {
	var headers []string
	var gotSum, gotSig string
	for {
		l, err := c.line()
		if err != nil {
			if !c.trailer && len(headers) == 0 {
				// Some clients end the body right after the last chunk.
				return nil
			}
			return err
		}
		if l == "" {
			break
		}
		name, val, _ := strings.Cut(l, ":")
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)
		switch name {
		case "x-amz-trailer-signature":
			gotSig = val
		default:
			headers = append(headers, name+":"+val)
			if name == c.trailerName {
				gotSum = val
			}
		}
	}
	if !c.trailer {
		return nil
	}
	if c.signed {
		want := s3TrailerSignature(c.auth, c.prevSig, headers)
		if !hmac.Equal([]byte(want), []byte(strings.ToLower(gotSig))) {
			return s3AuthErr("SignatureDoesNotMatch", "The trailer signature does not match.")
		}
	}
	if gotSum == "" {
		return apiErr(400, "MalformedTrailerError", "The trailer lacks the declared %s.", c.trailerName)
	}
	if s3ChecksumValue(c.whole) != gotSum {
		return apiErr(400, "BadDigest", "The %s you specified did not match the calculated checksum.", c.trailerName)
	}
	return nil
}

// s3TrailerSignature signs trailing headers ("name:value" each, in the order
// sent) in the chain after the last chunk's signature.
func s3TrailerSignature(a *s3Auth, prevSig string, headers []string) string {
	sts := strings.Join([]string{"AWS4-HMAC-SHA256-TRAILER", a.amzDate, a.scope, prevSig,
		s3SHA256Hex([]byte(strings.Join(headers, "\n") + "\n"))}, "\n")
	return hex.EncodeToString(s3HMAC(a.key, sts))
}

// s3NewChecksum returns the hash of a flexible checksum S3 accepts as a
// header or trailer. the flexible checksums S3 accepts as headers or trailers.
func s3NewChecksum(header string) (hash.Hash, bool) {
	switch header {
	case "x-amz-checksum-crc32":
		return s3NewCRC32(false), true
	case "x-amz-checksum-crc32c":
		return s3NewCRC32(true), true
	case "x-amz-checksum-crc64nvme":
		return s3NewCRC64NVME(), true
	case "x-amz-checksum-sha1":
		return s3NewSHA1(), true
	case "x-amz-checksum-sha256":
		return sha256.New(), true
	}
	return nil, false
}

func s3NewCRC32(castagnoli bool) hash.Hash {
	if castagnoli {
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	}
	return crc32.NewIEEE()
}

// s3CRC64NVMEPoly is the CRC-64/NVME polynomial, bit-reversed as hash/crc64
// wants it.
const s3CRC64NVMEPoly = 0x9a6c9329ac4bc9b5

func s3NewCRC64NVME() hash.Hash { return crc64.New(crc64.MakeTable(s3CRC64NVMEPoly)) }

func s3NewSHA1() hash.Hash { return sha1.New() }

// s3ChecksumValue is how S3 writes a checksum: base64 of its big-endian bytes.
func s3ChecksumValue(h hash.Hash) string { return base64.StdEncoding.EncodeToString(h.Sum(nil)) }

// s3CheckedBody wraps body with a check of every x-amz-checksum-* header the
// request carries, so a corrupted upload is refused before it is stored.
func s3CheckedBody(h http.Header, body io.Reader) (io.Reader, *APIError) {
	for _, name := range []string{"x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
		"x-amz-checksum-sha1", "x-amz-checksum-sha256"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, apiErr(400, "InvalidRequest", "Value for %s header is invalid.", name)
		}
		sum, _ := s3NewChecksum(name)
		body = &s3HashReader{r: body, h: sum, want: want, fail: func() *APIError {
			return apiErr(400, "BadDigest", "The %s you specified did not match the calculated checksum.", name)
		}}
	}
	return body, nil
}
