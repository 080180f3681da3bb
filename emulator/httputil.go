package emulator

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Helpers shared by the protocol front ends. Both providers speak S3-style
// HTTP: the same range syntax, the same standard headers, metadata under a
// provider prefix (x-oss-meta-, x-cos-meta-), and XML bodies.

// metaFromHeaders reads the standard headers and user metadata (names
// lower-cased, prefix removed) of a PUT or initiate-multipart request.
// classHeader names the provider's storage-class header; toNeutral maps the
// provider's class names to neutral ones.
func metaFromHeaders(h http.Header, metaPrefix, classHeader string, toNeutral func(string) string) Meta {
	m := Meta{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	for name, vals := range h {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, metaPrefix) && len(vals) > 0 {
			if m.User == nil {
				m.User = map[string]string{}
			}
			m.User[lower[len(metaPrefix):]] = vals[0]
		}
	}
	if c := h.Get(classHeader); c != "" {
		m.StorageClass = toNeutral(c)
	}
	return m
}

// userMetaSize is what providers count against their metadata limit.
func userMetaSize(m Meta, metaPrefix string) int {
	n := 0
	for k, v := range m.User {
		n += len(metaPrefix) + len(k) + len(v)
	}
	return n
}

// setObjectHeaders writes an object's standard headers, user metadata, ETag,
// Last-Modified and (unless the object has none) its CRC64 header.
func setObjectHeaders(h http.Header, obj *Object, metaPrefix, crcHeader string) {
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	ct := obj.Meta.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	set("Content-Encoding", obj.Meta.ContentEncoding)
	set("Content-Disposition", obj.Meta.ContentDisposition)
	set("Content-Language", obj.Meta.ContentLanguage)
	set("Cache-Control", obj.Meta.CacheControl)
	set("Expires", obj.Meta.Expires)
	for k, v := range obj.Meta.User {
		h.Set(metaPrefix+k, v)
	}
	h.Set("ETag", `"`+obj.ETag+`"`)
	h.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	if !obj.NoCRC {
		h.Set(crcHeader, strconv.FormatUint(obj.CRC64, 10))
	}
}

// byteRange is an inclusive range resolved against an object size.
type byteRange struct{ start, end int64 }

// parseRange parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range.
// ok is false when the header is absent or (as S3-style servers do) when it
// is malformed, in which case the whole object is served; satisfiable is
// false for a range entirely past the end.
func parseRange(header string, size int64) (r byteRange, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(header, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, true
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return byteRange{}, false, true
	}
	switch {
	case first == "":
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return byteRange{}, false, true
		}
		if size == 0 {
			return byteRange{}, true, false
		}
		return byteRange{max(size-n, 0), size - 1}, true, true
	default:
		a, err := strconv.ParseInt(first, 10, 64)
		if err != nil {
			return byteRange{}, false, true
		}
		b := size - 1
		if last != "" {
			if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
				return byteRange{}, false, true
			}
		}
		if a >= size {
			return byteRange{}, true, false
		}
		return byteRange{a, min(b, size-1)}, true, true
	}
}

// serveBody writes an object's body (or the requested range) after the
// caller has set the object headers. HEAD requests get headers only.
func serveBody(w http.ResponseWriter, r *http.Request, obj *Object) error {
	rng, ranged, satisfiable := parseRange(r.Header.Get("Range"), obj.Size)
	if !satisfiable {
		return apiErr(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
	}
	start, n, status := int64(0), obj.Size, http.StatusOK
	if ranged {
		start, n, status = rng.start, rng.end-rng.start+1, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.end, obj.Size))
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return nil
	}
	body, err := obj.Open(start, n)
	if err != nil {
		return apiErr(500, "InternalError", "open body: %v", err)
	}
	defer body.Close()
	w.WriteHeader(status)
	_, err = io.Copy(w, body)
	return err // the status is sent; a failure here can only cut the body
}

// writeXML writes v as an XML document with the given status.
func writeXML(w http.ResponseWriter, status int, v any) {
	data, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(data)))
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(data)
}

// readXML decodes a request body of at most limit bytes.
func readXML(r *http.Request, limit int64, v any) error {
	if err := xml.NewDecoder(io.LimitReader(r.Body, limit)).Decode(v); err != nil {
		return apiErr(400, "MalformedXML", "The XML you provided was not well-formed: %v", err)
	}
	return nil
}

// contentMD5 decodes a Content-MD5 header; nil when absent.
func contentMD5(r *http.Request) ([]byte, error) {
	v := r.Header.Get("Content-MD5")
	if v == "" {
		return nil, nil
	}
	sum, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(sum) != 16 {
		return nil, apiErr(400, "InvalidDigest", "Content-MD5 is not a base64 MD5")
	}
	return sum, nil
}

// isIPHost reports whether a Host header names an address rather than a
// virtual host, which selects path-style routing (/bucket/key).
func isIPHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host == "localhost" || net.ParseIP(strings.Trim(host, "[]")) != nil
}

// hostWithoutPort strips the port of a Host header.
func hostWithoutPort(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// isoTime formats a time the way both providers do in XML listings.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// listEncoder URL-encodes listing fields when the request asked for
// encoding-type=url (COS and S3), so that keys with characters XML cannot
// carry survive.
type listEncoder bool

// listEncoding reads encoding-type; invalid is the provider's message for
// another value (with %q for it).
func listEncoding(q url.Values, invalid string) (listEncoder, error) {
	switch t := q.Get("encoding-type"); t {
	case "":
		return false, nil
	case "url":
		return true, nil
	default:
		return false, apiErr(400, "InvalidArgument", invalid, t)
	}
}

func (e listEncoder) enc(s string) string {
	if !e {
		return s
	}
	return cosPercentEncode(s, "/")
}

func (e listEncoder) typ() string {
	if e {
		return "url"
	}
	return ""
}

// clampedIntParam parses an optional integer parameter of at least lo; a
// value over hi means hi, as COS and S3 treat max-keys and the like.
func clampedIntParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		return 0, apiErr(400, "InvalidArgument", "%s %q must be an integer of at least %d.", name, v, lo)
	}
	return min(n, hi), nil
}
