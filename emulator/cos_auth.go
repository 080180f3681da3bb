package emulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// COS request signatures, verified exactly as the official SDK computes them
// (cos-go-sdk-v5 auth.go): an HMAC-SHA1 key derived from the secret and
// q-key-time, over a string to sign that hashes the method, the decoded path
// and the parameters and headers the client chose to sign.

// cosMaxSkew is how far in the future a signature may start, as clocks drift.
const cosMaxSkew = 15 * time.Minute

var (
	errCOSAccessDenied = &APIError{403, "AccessDenied", "Access Denied: the request carries no authorization."}
	errCOSSignature    = &APIError{403, "SignatureDoesNotMatch",
		"The Signature you specified is invalid: the signature we calculated does not match the one you provided."}
)

// cosAuth holds the fields of a COS authorization string.
type cosAuth struct {
	algorithm, ak, signTime, keyTime, signature string
	headers, params                             []string // lower-cased, URL-encoded names
}

// cosParseAuth parses "q-sign-algorithm=sha1&q-ak=...&...&q-signature=...".
func cosParseAuth(s string) (cosAuth, bool) {
	var a cosAuth
	for _, kv := range strings.Split(s, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "q-sign-algorithm":
			a.algorithm = v
		case "q-ak":
			a.ak = v
		case "q-sign-time":
			a.signTime = v
		case "q-key-time":
			a.keyTime = v
		case "q-header-list":
			a.headers = cosSplitList(v)
		case "q-url-param-list":
			a.params = cosSplitList(v)
		case "q-signature":
			a.signature = v
		}
	}
	ok := a.algorithm != "" && a.ak != "" && a.signTime != "" && a.keyTime != "" && a.signature != ""
	return a, ok
}

func cosSplitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(strings.ToLower(v), ";")
}

// cosAuthString finds the authorization of a request: the Authorization
// header, or for pre-signed URLs the q-* query parameters (or one merged
// "sign" parameter).
func cosAuthString(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		return a
	}
	q := r.URL.Query()
	if s := q.Get("sign"); s != "" {
		return s
	}
	if q.Get("q-sign-algorithm") == "" {
		return ""
	}
	var parts []string
	for _, k := range []string{"q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list", "q-signature"} {
		parts = append(parts, k+"="+q.Get(k))
	}
	return strings.Join(parts, "&")
}

// authenticate verifies a request's signature against the credentials.
func (f *COSFrontEnd) authenticate(r *http.Request) *APIError {
	s := cosAuthString(r)
	if s == "" {
		return errCOSAccessDenied
	}
	a, ok := cosParseAuth(s)
	if !ok {
		return apiErr(403, "AccessDenied", "The Authorization is malformed: q-sign-algorithm, q-ak, q-sign-time, q-key-time and q-signature are required.")
	}
	if a.algorithm != "sha1" {
		return apiErr(403, "AccessDenied", "q-sign-algorithm %q is not supported; use sha1.", a.algorithm)
	}
	secret, known := f.Credentials[a.ak]
	if !known {
		return &APIError{403, "InvalidAccessKeyId", "The SecretId you provided does not exist in our records."}
	}
	now := time.Now()
	for _, span := range []string{a.signTime, a.keyTime} {
		start, end, ok := cosParseSpan(span)
		if !ok {
			return apiErr(403, "AccessDenied", "q-sign-time or q-key-time %q is malformed.", span)
		}
		if now.After(end) {
			return apiErr(403, "AccessDenied", "Request has expired: the signature was valid until %s.", end.UTC().Format(time.RFC3339))
		}
		if start.After(now.Add(cosMaxSkew)) {
			return apiErr(403, "RequestTimeTooSkewed", "The signature's start time %s is too far in the future.", start.UTC().Format(time.RFC3339))
		}
	}
	signKey := cosHMACHex(secret, a.keyTime)
	sum := sha1.Sum([]byte(cosHTTPString(r, a)))
	toSign := "sha1\n" + a.keyTime + "\n" + hex.EncodeToString(sum[:]) + "\n"
	want := cosHMACHex(signKey, toSign)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(a.signature))) {
		return errCOSSignature
	}
	return nil
}

// cosParseSpan parses "start;end" in Unix seconds.
func cosParseSpan(s string) (start, end time.Time, ok bool) {
	a, b, found := strings.Cut(s, ";")
	if !found {
		return time.Time{}, time.Time{}, false
	}
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || y < x {
		return time.Time{}, time.Time{}, false
	}
	return time.Unix(x, 0), time.Unix(y, 0), true
}

func cosHMACHex(key, msg string) string {
	mac := hmac.New(sha1.New, []byte(key))
	mac.Write([]byte(msg))
	return hex.EncodeToString(mac.Sum(nil))
}

// cosHTTPString is the SDK's FormatString: method, decoded path, and the
// signed parameters and headers as sorted "name=value" lists with encoded
// values.
func cosHTTPString(r *http.Request, a cosAuth) string {
	params := url.Values{}
	for k, vs := range r.URL.Query() {
		name := strings.ToLower(cosSafeURLEncode(k))
		if slices.Contains(a.params, name) {
			params[name] = append(params[name], vs...)
		}
	}
	headers := url.Values{}
	for k, vs := range r.Header {
		name := strings.ToLower(cosSafeURLEncode(k))
		if slices.Contains(a.headers, name) {
			headers[name] = append(headers[name], vs...)
		}
	}
	// net/http moves these out of the header map.
	if slices.Contains(a.headers, "host") {
		headers["host"] = []string{r.Host}
	}
	if slices.Contains(a.headers, "transfer-encoding") && len(r.TransferEncoding) > 0 && headers["transfer-encoding"] == nil {
		headers["transfer-encoding"] = []string{strings.Join(r.TransferEncoding, ", ")}
	}
	return strings.ToLower(r.Method) + "\n" + r.URL.Path + "\n" + cosEncodeSigned(params) + "\n" + cosEncodeSigned(headers) + "\n"
}

// cosEncodeSigned joins "name=value" pairs sorted by name, then by raw value.
func cosEncodeSigned(vs url.Values) string {
	names := make([]string, 0, len(vs))
	for k := range vs {
		names = append(names, k)
	}
	slices.Sort(names)
	var pairs []string
	for _, k := range names {
		vals := slices.Clone(vs[k])
		slices.Sort(vals)
		for _, v := range vals {
			pairs = append(pairs, k+"="+cosSafeURLEncode(v))
		}
	}
	return strings.Join(pairs, "&")
}

// cosSafeURLEncode percent-encodes every byte but letters, digits and
// "-_.~", as the SDK's safeURLEncode does.
func cosSafeURLEncode(s string) string { return cosPercentEncode(s, "") }

// cosPercentEncode percent-encodes (upper-case hex) every byte but letters,
// digits, "-_.~" and the bytes in keep.
func cosPercentEncode(s, keep string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
