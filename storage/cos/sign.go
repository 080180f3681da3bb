package cos

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cossdk "github.com/tencentyun/cos-go-sdk-v5"
)

// signer is the SDK's AuthorizationTransport made cheap: it writes the
// very Authorization header cossdk.AddAuthorizationHeader writes (signed
// for an hour from now, every header the SDK signs, the request's host),
// which TestSignerMatchesSDK and FuzzSigner hold it to. The SDK's took 10 %
// of the worker's CPU on small objects (18 µs a request): it builds two
// maps of every header and query parameter, scans its table of signed
// headers for each header, formats with fmt, and derives the signing key
// (an HMAC) again for every request. This one derives the key once a
// second, looks headers up, and writes into one buffer.
type signer struct {
	id, secret, token string
	next              http.RoundTripper
	now               func() time.Time // time.Now; tests set it

	mu      sync.Mutex
	keyAt   int64  // the second signKey was derived for
	signKey []byte // hex HMAC-SHA1 of the key time under the secret
}

// authExpire is how long a signature holds, as the SDK's (one hour).
const authExpire = int64(time.Hour / time.Second)

func (s *signer) RoundTrip(req *http.Request) (*http.Response, error) {
	r := new(http.Request)
	*r = *req // per the RoundTripper contract the caller's request stays as it was
	r.Header = make(http.Header, len(req.Header)+3)
	for k, v := range req.Header {
		r.Header[k] = v
	}
	if s.token != "" {
		r.Header.Set("x-cos-security-token", s.token)
	}
	r.Header.Set("Host", r.Host)
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	r.Header.Set("Authorization", s.authorization(r, now().Unix()))
	return s.next.RoundTrip(r)
}

// key returns the signing key of the key time that starts at the second
// now, and that key time ("start;end").
func (s *signer) key(now int64) ([]byte, []byte) {
	keyTime := strconv.AppendInt(nil, now, 10)
	keyTime = append(keyTime, ';')
	keyTime = strconv.AppendInt(keyTime, now+authExpire, 10)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signKey == nil || s.keyAt != now {
		m := hmac.New(sha1.New, []byte(s.secret))
		m.Write(keyTime)
		s.signKey, s.keyAt = hex.AppendEncode(nil, m.Sum(nil)), now
	}
	return s.signKey, keyTime
}

// signPair is one signed header or query parameter: its name encoded and
// lower-cased, and its value as sent.
type signPair struct{ k, v string }

func (s *signer) authorization(r *http.Request, now int64) string {
	signKey, keyTime := s.key(now)
	headers := make([]signPair, 0, 8)
	for k, vs := range r.Header {
		if !signedHeader(strings.ToLower(k)) {
			continue
		}
		ek := strings.ToLower(uriEncode(k))
		for _, v := range vs {
			headers = append(headers, signPair{ek, v})
		}
	}
	var params []signPair
	if r.URL.RawQuery != "" {
		for k, vs := range r.URL.Query() {
			ek := strings.ToLower(uriEncode(k))
			for _, v := range vs {
				params = append(params, signPair{ek, v})
			}
		}
	}
	sortPairs(headers)
	sortPairs(params)

	h := sha1.New()
	b := make([]byte, 0, 512)
	b = append(b, strings.ToLower(r.Method)...)
	b = append(b, '\n')
	b = append(b, r.URL.Path...)
	b = append(b, '\n')
	b = appendPairs(b, params)
	b = append(b, '\n')
	b = appendPairs(b, headers)
	b = append(b, '\n')
	h.Write(b)

	b = append(b[:0], "sha1\n"...)
	b = append(b, keyTime...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, h.Sum(nil))
	b = append(b, '\n')
	m := hmac.New(sha1.New, signKey)
	m.Write(b)
	sig := m.Sum(nil)

	b = append(b[:0], "q-sign-algorithm=sha1&q-ak="...)
	b = append(b, s.id...)
	b = append(b, "&q-sign-time="...)
	b = append(b, keyTime...)
	b = append(b, "&q-key-time="...)
	b = append(b, keyTime...)
	b = append(b, "&q-header-list="...)
	b = appendNames(b, headers)
	b = append(b, "&q-url-param-list="...)
	b = appendNames(b, params)
	b = append(b, "&q-signature="...)
	b = hex.AppendEncode(b, sig)
	return string(b)
}

// signedHeader reports whether the SDK signs a header (its name in lower
// case): those of its table, and every x-cos- and x-ci- header.
func signedHeader(k string) bool {
	return cossdk.NeedSignHeaders[k] || strings.HasPrefix(k, "x-cos-") || strings.HasPrefix(k, "x-ci-")
}

// sortPairs orders pairs as the SDK does: by name, and the values of a
// name in order.
func sortPairs(ps []signPair) {
	slices.SortFunc(ps, func(a, b signPair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
}

// appendPairs writes name=value pairs joined by &, the values encoded.
func appendPairs(b []byte, ps []signPair) []byte {
	for i, p := range ps {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = appendURIEncoded(b, p.v)
	}
	return b
}

// appendNames writes the names of pairs joined by ; (a name once for
// each of its values, as the SDK lists them).
func appendNames(b []byte, ps []signPair) []byte {
	for i, p := range ps {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, p.k...)
	}
	return b
}

// uriEncode is the SDK's safeURLEncode: every byte but ASCII letters,
// digits and -_.~ as %XX in upper case.
func uriEncode(s string) string {
	for i := range len(s) {
		if !unreserved(s[i]) {
			return string(appendURIEncoded(make([]byte, 0, len(s)+8), s))
		}
	}
	return s
}

func appendURIEncoded(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := range len(s) {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}
