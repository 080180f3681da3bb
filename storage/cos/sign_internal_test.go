package cos

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	cossdk "github.com/tencentyun/cos-go-sdk-v5"
)

// captured is a RoundTripper that keeps the request it was given.
type captured struct{ req *http.Request }

func (c *captured) RoundTrip(r *http.Request) (*http.Response, error) {
	c.req = r
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
}

// signBoth signs req with the signer and with the SDK's
// AddAuthorizationHeader at the same second, and returns the headers each
// request was sent with.
func signBoth(t testing.TB, token string, req *http.Request, at time.Time) (ours, sdk http.Header) {
	t.Helper()
	var c captured
	s := &signer{id: "AKIDexample", secret: "secret/KEY+1", token: token, next: &c, now: func() time.Time { return at }}
	before := req.Header.Clone()
	if _, err := s.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if !equalHeaders(req.Header, before) {
		t.Fatalf("the caller's request changed: %v, was %v", req.Header, before)
	}
	theirs := req.Clone(req.Context())
	end := at.Add(time.Hour)
	cossdk.AddAuthorizationHeader("AKIDexample", "secret/KEY+1", token, theirs,
		&cossdk.AuthTime{SignStartTime: at, SignEndTime: end, KeyStartTime: at, KeyEndTime: end})
	return c.req.Header, theirs.Header
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// TestSignerMatchesSDK holds the signer to the SDK's signature on the
// requests the store sends and on awkward ones: every header the SDK signs
// or not, repeated headers and parameters, keys that need escaping, a
// session token.
func TestSignerMatchesSDK(t *testing.T) {
	at := time.Unix(1764633600, 0)
	cases := []struct {
		method, url string
		header      http.Header
		token       string
	}{
		{"PUT", "http://bucket-1250000000.cos.ap-guangzhou.myqcloud.com/small/00001", http.Header{
			"Content-Type": {"text/plain"}, "Content-Length": {"4096"}, "User-Agent": {"cos-go-sdk-v5/0.7.70"},
			"X-Cos-Meta-Owner": {"ferry"}, "X-Cos-Storage-Class": {"STANDARD_IA"},
		}, ""},
		{"GET", "https://bucket-1250000000.cos.ap-guangzhou.myqcloud.com/?prefix=logs%2F&marker=a%20b&max-keys=1000&encoding-type=url", http.Header{
			"Range": {"bytes=0-99"}, "If-Match": {`"abc"`},
		}, "session-token"},
		{"POST", "http://127.0.0.1:9001/%E4%B8%AD%E6%96%87/%20key%2Bplus?uploads", http.Header{
			"Content-Md5": {"1B2M2Y8AsgTpgAmY7PhCfg=="}, "X-Cos-Meta-B": {"2", "1"}, "X-Ci-Thing": {"x"},
			"Cache-Control": {"no-cache"}, "Content-Disposition": {`attachment; filename="a b.txt"`},
			"Expires": {"Thu, 01 Dec 1994 16:00:00 GMT"}, "X-Other": {"not signed"},
		}, ""},
		{"PUT", "http://bucket-1250000000.cos.ap-guangzhou.myqcloud.com/k?partNumber=3&uploadId=1764633600abc&x=1&x=0", http.Header{
			"Content-Length": {"0"},
		}, "tok!'()*"},
		{"DELETE", "http://bucket-1250000000.cos.ap-guangzhou.myqcloud.com/a~b_c.d-e", nil, ""},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range c.header {
			req.Header[k] = vs
		}
		ours, sdk := signBoth(t, c.token, req, at)
		if !equalHeaders(ours, sdk) {
			t.Errorf("%s %s:\n ours %v\n SDK  %v", c.method, c.url, ours, sdk)
		}
		if ours.Get("Authorization") == "" {
			t.Errorf("%s %s: no Authorization", c.method, c.url)
		}
	}
}

// TestSignerKeyPerSecond shows the cached signing key follows the clock:
// the signature of the next second is the SDK's for that second.
func TestSignerKeyPerSecond(t *testing.T) {
	at := time.Unix(1764633600, 0)
	var c captured
	clock := at
	s := &signer{id: "AKIDexample", secret: "secret/KEY+1", next: &c, now: func() time.Time { return clock }}
	for range 3 {
		req, _ := http.NewRequest("GET", "http://bucket-1250000000.cos.ap-guangzhou.myqcloud.com/k", nil)
		if _, err := s.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		theirs := req.Clone(req.Context())
		end := clock.Add(time.Hour)
		cossdk.AddAuthorizationHeader("AKIDexample", "secret/KEY+1", "", theirs,
			&cossdk.AuthTime{SignStartTime: clock, SignEndTime: end, KeyStartTime: clock, KeyEndTime: end})
		if got, want := c.req.Header.Get("Authorization"), theirs.Header.Get("Authorization"); got != want {
			t.Fatalf("at %v:\n ours %s\n SDK  %s", clock, got, want)
		}
		clock = clock.Add(time.Second)
	}
}

// FuzzSigner signs requests of any path, query, header names and values
// both ways.
func FuzzSigner(f *testing.F) {
	f.Add("PUT", "/small/00001", "a=1&b=&a=0", "X-Cos-Meta-K", "v v", "Content-Type", "text/plain")
	f.Add("GET", "/%E4%B8%AD", "prefix=x%2Fy&uploads", "Range", "bytes=1-2", "X-Other", "z")
	f.Add("post", "/a b", "", "x-ci-Pic", "!'()*", "Content-Md5", "==")
	f.Fuzz(func(t *testing.T, method, path, query, h1, v1, h2, v2 string) {
		u := &url.URL{Scheme: "http", Host: "bucket-1250000000.cos.ap-guangzhou.myqcloud.com", Path: path, RawQuery: query}
		req, err := http.NewRequest(method, u.String(), nil)
		if err != nil {
			return
		}
		req.Header.Add(h1, v1)
		req.Header.Add(h2, v2)
		ours, sdk := signBoth(t, "", req, time.Unix(1764633600, 0))
		if got, want := ours.Get("Authorization"), sdk.Get("Authorization"); got != want {
			t.Fatalf("%s %s:\n ours %s\n SDK  %s", method, u, got, want)
		}
	})
}

// BenchmarkSign compares the cost of signing a small object's PUT.
func BenchmarkSign(b *testing.B) {
	req, _ := http.NewRequest("PUT", "http://bucket-1250000000.cos.ap-guangzhou.myqcloud.com/small/00001", nil)
	req.Header = http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"4096"}, "User-Agent": {"cos-go-sdk-v5/0.7.70"}}
	b.Run("signer", func(b *testing.B) {
		s := &signer{id: "AKIDexample", secret: "secret/KEY+1", next: &captured{}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdk", func(b *testing.B) {
		t := &cossdk.AuthorizationTransport{SecretID: "AKIDexample", SecretKey: "secret/KEY+1", Transport: &captured{}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := t.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
