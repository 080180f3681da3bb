package emulator

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestKeyFaults(t *testing.T) {
	denied := &APIError{Status: 403, Code: "AccessDenied", Message: "no"}
	k := NewKeyFaults(http.MethodGet)
	k.Fail("src", denied, "a/b c", "照片/1", "x")
	for _, tc := range []struct {
		method, host, target string
		fail                 bool
		route                func(*http.Request) *APIError
	}{
		{http.MethodGet, "127.0.0.1:9000", "/src/a/b%20c", true, k.OSS},
		{http.MethodGet, "src.oss-cn-hangzhou.aliyuncs.com", "/%E7%85%A7%E7%89%87/1", true, k.OSS},
		{http.MethodHead, "127.0.0.1:9000", "/src/a/b%20c", false, k.OSS}, // other method
		{http.MethodGet, "127.0.0.1:9000", "/other/x", false, k.OSS},      // other bucket
		{http.MethodGet, "127.0.0.1:9000", "/src/", false, k.OSS},         // the bucket itself
		{http.MethodGet, "src.cos.ap-guangzhou.myqcloud.com", "/x", true, k.COS},
		{http.MethodGet, "127.0.0.1:9001", "/src/x", true, k.COS},
	} {
		r := httptest.NewRequest(tc.method, "http://"+tc.host+tc.target, nil)
		if got := tc.route(r); (got != nil) != tc.fail {
			t.Errorf("%s %s%s: fault %v, want failing %v", tc.method, tc.host, tc.target, got, tc.fail)
		}
	}
	k.Heal("src", "x")
	if k.Len() != 2 || k.COS(httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9001/src/x", nil)) != nil {
		t.Errorf("healed key still fails (%d keys)", k.Len())
	}
}
