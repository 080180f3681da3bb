package storage

import (
	"net/http"
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
