package storage

import (
	"net/http"
	"strconv"
	"strings"
)

// MetadataFromHeader reads the standard headers and the user metadata
// (headers starting with userPrefix, such as "x-oss-meta-") of an HTTP
// answer. Both providers use the same standard headers; only the prefix of
// user metadata and the storage-class names differ, so the class is left to
// the caller.
func MetadataFromHeader(h http.Header, userPrefix string) Metadata {
	m := Metadata{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	for name, vals := range h {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, userPrefix) && len(vals) > 0 {
			if m.User == nil {
				m.User = map[string]string{}
			}
			m.User[lower[len(userPrefix):]] = vals[0]
		}
	}
	return m
}

// RangeHeader is the HTTP Range value of a range that is not whole:
// "bytes=off-" or "bytes=off-last".
func RangeHeader(rng Range) string {
	spec := "bytes=" + strconv.FormatInt(rng.Offset, 10) + "-"
	if rng.Length > 0 {
		spec += strconv.FormatInt(rng.Offset+rng.Length-1, 10)
	}
	return spec
}

// TotalFromContentRange parses the whole size in a Content-Range answer,
// "bytes a-b/total".
func TotalFromContentRange(v string) (int64, bool) {
	_, total, ok := strings.Cut(v, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}
