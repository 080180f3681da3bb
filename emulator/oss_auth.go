package emulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OSS request signatures, verified exactly as the official SDK computes them
// (aliyun-oss-go-sdk oss/auth.go and oss/conn.go), so a wrong secret fails
// here the way it fails at the real service.

// ossIsSignedSubResource reports whether a V1 signature covers a query
// parameter; any other parameter (prefix, marker, max-keys...) is left out of
// the string to sign. The list is the SDK's signKeyList.
func ossIsSignedSubResource(k string) bool {
	switch k {
	case "acl", "uploads", "location", "cors", "logging", "website", "referer", "lifecycle",
		"delete", "append", "tagging", "objectMeta", "uploadId", "partNumber", "security-token",
		"position", "img", "style", "styleName", "replication", "replicationProgress",
		"replicationLocation", "cname", "bucketInfo", "comp", "qos", "live", "status", "vod",
		"startTime", "endTime", "symlink", "x-oss-process", "response-content-type", "x-oss-traffic-limit",
		"response-content-language", "response-expires", "response-cache-control", "response-content-disposition",
		"response-content-encoding", "udf", "udfName", "udfImage", "udfId", "udfImageDesc", "udfApplication",
		"udfApplicationLog", "restore", "callback", "callback-var", "qosInfo", "policy", "stat", "encryption",
		"versions", "versioning", "versionId", "requestPayment", "x-oss-request-payer", "sequential",
		"inventory", "inventoryId", "continuation-token", "asyncFetch", "worm", "wormId", "wormExtend",
		"withHashContext", "x-oss-enable-md5", "x-oss-enable-sha1", "x-oss-enable-sha256", "x-oss-hash-ctx",
		"x-oss-md5-ctx", "transferAcceleration", "regionList", "cloudboxes", "x-oss-ac-source-ip",
		"x-oss-ac-subnet-mask", "x-oss-ac-vpc-id", "x-oss-ac-forward-allow", "metaQuery", "resourceGroup",
		"rtc", "x-oss-async-process", "responseHeader":
		return true
	}
	return false
}

const (
	ossV4Algorithm  = "OSS4-HMAC-SHA256"
	ossV4TimeFormat = "20060102T150405Z"
	ossV4DayFormat  = "20060102"
	// ossMaxSkew is how far a request's date may be from the server's clock,
	// as at the real service.
	ossMaxSkew = 15 * time.Minute
)

var (
	errOSSAccessDenied = &APIError{403, "AccessDenied", "AccessDenied: the request carries no authorization."}
	errOSSSignature    = &APIError{403, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your key and signing method."}
)

// authenticate verifies the request's Authorization header against the front
// end's credentials.
func (f *OSSFrontEnd) authenticate(r *http.Request, bucket, key string) *APIError {
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		return errOSSAccessDenied
	case strings.HasPrefix(auth, "OSS "):
		return f.authV1(r, bucket, key, strings.TrimPrefix(auth, "OSS "))
	case strings.HasPrefix(auth, ossV4Algorithm+" "):
		return f.authV4(r, bucket, key, strings.TrimPrefix(auth, ossV4Algorithm+" "))
	default:
		return apiErr(403, "AccessDenied", "Authorization header %q uses an unsupported signature version.", strings.SplitN(auth, " ", 2)[0])
	}
}

func (f *OSSFrontEnd) secret(ak string) (string, *APIError) {
	secret, ok := f.Credentials[ak]
	if !ok {
		return "", &APIError{403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."}
	}
	return secret, nil
}

func ossCheckSkew(t time.Time) *APIError {
	if d := time.Since(t); d > ossMaxSkew || d < -ossMaxSkew {
		return &APIError{403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."}
	}
	return nil
}

// authV1 checks "OSS ak:signature": base64 HMAC-SHA1 over the method,
// Content-MD5, Content-Type, Date, the sorted x-oss-* headers and the
// canonical resource.
func (f *OSSFrontEnd) authV1(r *http.Request, bucket, key, cred string) *APIError {
	ak, sig, ok := strings.Cut(cred, ":")
	if !ok || ak == "" {
		return apiErr(400, "InvalidArgument", "Authorization header is malformed.")
	}
	secret, aerr := f.secret(ak)
	if aerr != nil {
		return aerr
	}
	date, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return apiErr(403, "AccessDenied", "The Date header is missing or malformed.")
	}
	if aerr := ossCheckSkew(date); aerr != nil {
		return aerr
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(r.Header.Get("Content-MD5") + "\n")
	b.WriteString(r.Header.Get("Content-Type") + "\n")
	b.WriteString(r.Header.Get("Date") + "\n")
	for _, h := range ossCanonicalHeaders(r, func(name string) bool { return strings.HasPrefix(name, "x-oss-") }) {
		b.WriteString(h + "\n")
	}
	b.WriteString(ossResourceV1(bucket, key, r.URL.Query()))
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(b.String()))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errOSSSignature
	}
	return nil
}

// ossCanonicalHeaders returns "name:value" for every header include
// selects, names lower-cased, sorted by name.
func ossCanonicalHeaders(r *http.Request, include func(lowerName string) bool) []string {
	var out []string
	for name, vals := range r.Header {
		lower := strings.ToLower(name)
		if include(lower) && len(vals) > 0 {
			out = append(out, lower+":"+strings.Trim(vals[0], " "))
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		an, _, _ := strings.Cut(a, ":")
		bn, _, _ := strings.Cut(b, ":")
		return strings.Compare(an, bn)
	})
	return out
}

// ossResourceV1 is the V1 canonical resource: /bucket/key with the raw key
// and only the signed sub-resources, "k" or "k=v" with raw values.
func ossResourceV1(bucket, key string, q url.Values) string {
	res := "/"
	if bucket != "" {
		res = "/" + bucket + "/" + key
	}
	var subs []string
	for k, vs := range q {
		if !ossIsSignedSubResource(k) {
			continue
		}
		if len(vs) > 0 && vs[0] != "" {
			subs = append(subs, k+"="+vs[0])
		} else {
			subs = append(subs, k)
		}
	}
	if len(subs) == 0 {
		return res
	}
	slices.SortFunc(subs, func(a, b string) int {
		an, _, _ := strings.Cut(a, "=")
		bn, _, _ := strings.Cut(b, "=")
		return strings.Compare(an, bn)
	})
	return res + "?" + strings.Join(subs, "&")
}

// ossEscapeV4 escapes a query key or value the way the SDK does for V4:
// query escaping with spaces as %20.
func ossEscapeV4(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// authV4 checks "OSS4-HMAC-SHA256 Credential=ak/day/region/oss/aliyun_v4_request,
// [AdditionalHeaders=a;b,]Signature=hex".
func (f *OSSFrontEnd) authV4(r *http.Request, bucket, key, params string) *APIError {
	fields := map[string]string{}
	for _, p := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] == "" || scope[4] != "aliyun_v4_request" || fields["Signature"] == "" {
		return apiErr(400, "InvalidArgument", "Invalid credential in Authorization header.")
	}
	ak, day, region, product := scope[0], scope[1], scope[2], scope[3]
	secret, aerr := f.secret(ak)
	if aerr != nil {
		return aerr
	}
	if product != "oss" {
		return apiErr(403, "AccessDenied", "Invalid signing product %q in Authorization header.", product)
	}
	if region != f.region() {
		return apiErr(403, "AccessDenied", "Invalid signing region %q in Authorization header: the bucket is in %q.", region, f.region())
	}
	// The SDK signs x-oss-date when it is present and the Date header
	// otherwise, verbatim in the string to sign.
	signDate := r.Header.Get("X-Oss-Date")
	var t time.Time
	var err error
	if signDate != "" {
		t, err = time.Parse(ossV4TimeFormat, signDate)
	} else {
		signDate = r.Header.Get("Date")
		t, err = http.ParseTime(signDate)
	}
	if err != nil {
		return apiErr(403, "AccessDenied", "The x-oss-date and Date headers are missing or malformed.")
	}
	if aerr := ossCheckSkew(t); aerr != nil {
		return aerr
	}
	if t.UTC().Format(ossV4DayFormat) != day {
		return apiErr(403, "AccessDenied", "Invalid signing date in Authorization header: %q does not match the request date.", day)
	}
	var additional []string
	if a := fields["AdditionalHeaders"]; a != "" {
		for _, h := range strings.Split(a, ";") {
			additional = append(additional, strings.ToLower(h))
		}
		slices.Sort(additional)
	}
	headers := ossCanonicalHeaders(r, func(name string) bool {
		return name == "content-md5" || name == "content-type" || strings.HasPrefix(name, "x-oss-") ||
			slices.Contains(additional, name)
	})
	if slices.Contains(additional, "host") {
		// net/http moves Host out of the header map.
		headers = append(headers, "host:"+r.Host)
		slices.SortFunc(headers, func(a, b string) int {
			an, _, _ := strings.Cut(a, ":")
			bn, _, _ := strings.Cut(b, ":")
			return strings.Compare(an, bn)
		})
	}
	payload := r.Header.Get("X-Oss-Content-Sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(ossResourceV4(bucket, key) + "\n")
	canon.WriteString(ossQueryV4(r.URL.Query()) + "\n")
	for _, h := range headers {
		canon.WriteString(h + "\n")
	}
	canon.WriteString("\n" + strings.Join(additional, ";") + "\n" + payload)
	hashed := sha256.Sum256([]byte(canon.String()))
	toSign := ossV4Algorithm + "\n" + signDate + "\n" + day + "/" + region + "/" + product + "/aliyun_v4_request\n" +
		hex.EncodeToString(hashed[:])

	signingKey := []byte("aliyun_v4" + secret)
	for _, part := range []string{day, region, product, "aliyun_v4_request"} {
		signingKey = ossHMAC256(signingKey, part)
	}
	want := hex.EncodeToString(ossHMAC256(signingKey, toSign))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(fields["Signature"]))) {
		return errOSSSignature
	}
	return nil
}

func ossHMAC256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// ossResourceV4 is the V4 canonical URI: /bucket/escaped-key with slashes
// kept, "/bucket/" for bucket operations, "/" for the service.
func ossResourceV4(bucket, key string) string {
	if bucket == "" {
		return "/"
	}
	return "/" + bucket + "/" + strings.ReplaceAll(ossEscapeV4(key), "%2F", "/")
}

// ossQueryV4 is the V4 canonical query: every parameter, escaped, sorted by
// escaped name, "k" when the value is empty.
func ossQueryV4(q url.Values) string {
	type kv struct{ k, v string }
	var all []kv
	for k, vs := range q {
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		all = append(all, kv{ossEscapeV4Key(k), v})
	}
	slices.SortFunc(all, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	parts := make([]string, 0, len(all))
	for _, p := range all {
		if p.v == "" {
			parts = append(parts, p.k)
		} else {
			parts = append(parts, p.k+"="+ossEscapeV4(p.v))
		}
	}
	return strings.Join(parts, "&")
}

// ossEscapeV4Key escapes a parameter name as the SDK does (plain query
// escaping; names never contain spaces in practice).
func ossEscapeV4Key(k string) string { return url.QueryEscape(k) }
