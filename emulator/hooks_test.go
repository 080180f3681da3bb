package emulator

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOnGet(t *testing.T) {
	calls := 0
	denied := &APIError{Status: 403, Code: "AccessDenied"}
	fail := OnGet("dir/obj", func(*http.Request) { calls++ }, func(r *http.Request) *APIError {
		if r.Method == http.MethodPut {
			return denied
		}
		return nil
	})
	for _, tc := range []struct {
		method, url string
		want        int // calls after the request
	}{
		{http.MethodGet, "http://127.0.0.1:9000/bucket/dir/obj", 1},
		{http.MethodGet, "http://localhost:9000/bucket/dir/obj?response-content-type=x", 2},
		{http.MethodGet, "http://bucket.oss-cn-hangzhou.aliyuncs.com/dir/obj", 3},
		{http.MethodHead, "http://127.0.0.1:9000/bucket/dir/obj", 3},
		{http.MethodGet, "http://127.0.0.1:9000/bucket/dir/obj?uploadId=1", 3},
		{http.MethodGet, "http://127.0.0.1:9000/bucket/other/dir/obj", 3},
		{http.MethodGet, "http://bucket.localhost:9000/bucket/dir/obj", 3},
	} {
		if e := fail(httptest.NewRequest(tc.method, tc.url, nil)); e != nil {
			t.Errorf("%s %s: %v", tc.method, tc.url, e)
		}
		if calls != tc.want {
			t.Errorf("%s %s: %d calls, want %d", tc.method, tc.url, calls, tc.want)
		}
	}
	if e := fail(httptest.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/dir/obj", nil)); e != denied {
		t.Errorf("next was not consulted: %v", e)
	}
}
