package emulator

import (
	"net/http"
	"strings"
)

// OnGet returns a FaultConfig.Fail function that calls fn when a GET of
// the object key starts, before the front end reads the object, so fn may
// replace the object (Backend.PutObject) and the request then serves the
// new version. It matches path-style (/bucket/key) and virtual-host (/key)
// requests, whole or ranged, but not the multipart GETs (ListParts) that
// carry uploadId. next, when not nil, is asked afterwards about every
// request, so hooks combine with other failure rules.
func OnGet(key string, fn func(r *http.Request), next func(*http.Request) *APIError) func(*http.Request) *APIError {
	return func(r *http.Request) *APIError {
		if r.Method == http.MethodGet && requestKey(r) == key && !r.URL.Query().Has("uploadId") {
			fn(r)
		}
		if next != nil {
			return next(r)
		}
		return nil
	}
}

// requestKey is the object key of a request: path style (/bucket/key)
// when the Host is an IP address or localhost, as the front ends route
// them, otherwise virtual host (/key).
func requestKey(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if h := hostWithoutPort(r.Host); isIPHost(h) || h == "localhost" {
		_, key, _ := strings.Cut(p, "/")
		return key
	}
	return p
}
