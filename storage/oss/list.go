package oss

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Listing answers are decoded here instead of by Bucket.ListObjects: its
// reflection-driven encoding/xml decoding costs about 10 µs per listed object
// (BenchmarkListDecode), 14 % of a worker's CPU copying 4 KiB objects; the
// decoder below is more than 10 times faster. It reads the one document shape OSS sends in a
// single pass and hands anything else to encoding/xml, so correctness never
// depends on it.

const (
	// maxListBodyHint caps the buffer made in advance from a
	// Content-Length header (a 1000-key page is a few hundred KiB).
	maxListBodyHint = 16 << 20
	// maxSkipDepth bounds the nesting the fast decoder follows inside
	// elements it ignores; deeper documents go to encoding/xml.
	maxSkipDepth = 16
)

// listResult is what List needs from a ListObjects (v1) answer, with keys and
// markers URL-decoded the way the SDK decodes them.
type listResult struct {
	IsTruncated bool
	NextMarker  string
	Objects     []listObject
}

// listObject is one Contents entry of a listing.
type listObject struct {
	Key          string
	Size         int64
	ETag         string // as sent, quotes included
	LastModified time.Time
	StorageClass string
	RestoreInfo  string
}

// listObjects issues GET Bucket (ListObjects v1) exactly as
// Bucket.ListObjects does, signing, transport and error mapping included, and
// decodes the answer with decodeList.
func (s *Store) listObjects(ctx context.Context, prefix, marker string, maxKeys int) (listResult, error) {
	options := []alioss.Option{alioss.WithContext(ctx), alioss.Prefix(prefix), alioss.Marker(marker),
		alioss.MaxKeys(maxKeys), alioss.EncodingType("url")}
	params, err := alioss.GetRawParams(options)
	if err != nil {
		return listResult{}, err
	}
	resp, err := s.bucket.Do(http.MethodGet, "", params, options, nil, nil)
	if resp != nil && resp.Body != nil {
		// Error answers come with a body too (a 3xx one still unread).
		defer resp.Body.Close()
	}
	if err != nil {
		return listResult{}, err
	}
	var buf bytes.Buffer
	if n, err := strconv.Atoi(resp.Headers.Get("Content-Length")); err == nil && n > 0 {
		// One allocation of the right size instead of doubling from 512
		// bytes; the spare MinRead lets ReadFrom see EOF without growing.
		buf.Grow(min(n, maxListBodyHint) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return listResult{}, fmt.Errorf("read listing: %w", err)
	}
	return decodeList(buf.Bytes())
}

// decodeList decodes a ListBucketResult document. The fast decoder handles
// the documents OSS and the emulator send; anything it does not understand
// goes to decodeListXML, whose answer (or error) is then final.
func decodeList(doc []byte) (listResult, error) {
	var d listDecoder
	if res, ok := d.decode(doc); ok {
		return res, nil
	}
	return decodeListXML(doc)
}

// decodeListXML decodes a listing the way Bucket.ListObjects does: encoding/xml
// into the SDK's type, then URL-decoding as its decodeListObjectsResult does.
func decodeListXML(doc []byte) (listResult, error) {
	// Keys are URL-decoded whatever EncodingType says, as the SDK does (and
	// as OSS, asked for url, always sends).
	var out alioss.ListObjectsResult
	if err := xml.Unmarshal(doc, &out); err != nil {
		return listResult{}, fmt.Errorf("decode listing: %w", err)
	}
	// The SDK decodes these fields too; a bad escape in any of them fails
	// the whole answer.
	checked := append([]string{out.Prefix, out.Marker, out.Delimiter}, out.CommonPrefixes...)
	for _, v := range checked {
		if _, err := url.QueryUnescape(v); err != nil {
			return listResult{}, fmt.Errorf("decode listing: %w", err)
		}
	}
	next, err := url.QueryUnescape(out.NextMarker)
	if err != nil {
		return listResult{}, fmt.Errorf("decode listing: %w", err)
	}
	res := listResult{IsTruncated: out.IsTruncated, NextMarker: next,
		Objects: make([]listObject, 0, len(out.Objects))}
	for _, o := range out.Objects {
		key, err := url.QueryUnescape(o.Key)
		if err != nil {
			return listResult{}, fmt.Errorf("decode listing: %w", err)
		}
		res.Objects = append(res.Objects, listObject{Key: key, Size: o.Size, ETag: o.ETag,
			LastModified: o.LastModified, StorageClass: o.StorageClass, RestoreInfo: o.RestoreInfo})
	}
	return res, nil
}

// listDecoder is the single-pass ListBucketResult decoder. Its methods
// return ok=false for anything outside the subset of XML it accepts (CDATA,
// comments, directives, processing instructions other than the usual prolog,
// namespace prefixes, entities other than the predefined and numeric ones,
// text mixed with elements, raw carriage returns in text, malformed input);
// for everything it accepts it must give exactly what decodeListXML gives.
type listDecoder struct {
	doc   []byte
	pos   int
	text  []byte // decoded character data when entities were resolved
	unesc []byte // URL-decoded text
	stack [maxSkipDepth][]byte
}

func (d *listDecoder) decode(doc []byte) (listResult, bool) {
	d.doc, d.pos = doc, 0
	for _, prolog := range [...]string{`<?xml version="1.0" encoding="UTF-8"?>`,
		`<?xml version="1.0" encoding="utf-8"?>`, `<?xml version="1.0"?>`} {
		if hasPrefix(doc, prolog) {
			d.pos = len(prolog)
			break
		}
	}
	d.skipSpace()
	if !d.atStartTag() {
		return listResult{}, false
	}
	name, empty, ok := d.startTag()
	if !ok || string(name) != "ListBucketResult" {
		return listResult{}, false
	}
	// A Contents entry takes 250 to 450 bytes; room for a few too many
	// costs less than counting them.
	res := listResult{Objects: make([]listObject, 0, min(len(doc)/200, maxListKeys))}
	for !empty {
		child, childEmpty, end, ok := d.next(name)
		if !ok {
			return listResult{}, false
		}
		if end {
			break
		}
		switch string(child) {
		case "Contents":
			var o listObject
			o, ok = d.contents(child, childEmpty)
			res.Objects = append(res.Objects, o)
		case "IsTruncated":
			res.IsTruncated, ok = parseListBool(d.leaf(child, childEmpty))
		case "NextMarker":
			res.NextMarker, ok = d.unescape(d.leaf(child, childEmpty))
		case "Prefix", "Marker", "Delimiter":
			ok = validEscapes(d.leaf(child, childEmpty))
		case "MaxKeys":
			_, ok = parseListInt(d.leaf(child, childEmpty))
		case "CommonPrefixes":
			ok = d.commonPrefixes(child, childEmpty)
		default:
			ok = d.skip(child, childEmpty)
		}
		if !ok {
			return listResult{}, false
		}
	}
	// encoding/xml ignores what follows the root element; leave anything
	// but white space to it.
	d.skipSpace()
	if d.pos != len(d.doc) {
		return listResult{}, false
	}
	return res, true
}

// contents reads the children of a Contents element.
func (d *listDecoder) contents(name []byte, empty bool) (listObject, bool) {
	var o listObject
	for !empty {
		child, childEmpty, end, ok := d.next(name)
		if !ok {
			return o, false
		}
		if end {
			break
		}
		var txt []byte
		switch string(child) {
		case "Key":
			o.Key, ok = d.unescape(d.leaf(child, childEmpty))
		case "Size":
			o.Size, ok = parseListInt(d.leaf(child, childEmpty))
		case "ETag":
			txt, ok = d.leaf(child, childEmpty)
			o.ETag = string(txt)
		case "LastModified":
			o.LastModified, ok = parseListTime(d.leaf(child, childEmpty))
		case "StorageClass":
			txt, ok = d.leaf(child, childEmpty)
			o.StorageClass = internClass(txt)
		case "RestoreInfo":
			txt, ok = d.leaf(child, childEmpty)
			o.RestoreInfo = string(txt)
		default: // Type, Owner and anything new
			ok = d.skip(child, childEmpty)
		}
		if !ok {
			return o, false
		}
	}
	return o, true
}

// commonPrefixes checks the Prefix children of a CommonPrefixes element: the
// SDK URL-decodes them, so a bad escape fails the answer.
func (d *listDecoder) commonPrefixes(name []byte, empty bool) bool {
	for !empty {
		child, childEmpty, end, ok := d.next(name)
		if !ok {
			return false
		}
		if end {
			return true
		}
		if string(child) == "Prefix" {
			ok = validEscapes(d.leaf(child, childEmpty))
		} else {
			ok = d.skip(child, childEmpty)
		}
		if !ok {
			return false
		}
	}
	return true
}

func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace skips white space between elements, where encoding/xml ignores
// character data (a \r there becomes \n, which is as valid).
func (d *listDecoder) skipSpace() {
	for d.pos < len(d.doc) && isXMLSpace(d.doc[d.pos]) {
		d.pos++
	}
}

// atStartTag reports whether a start tag begins at the current position.
func (d *listDecoder) atStartTag() bool {
	return d.pos+1 < len(d.doc) && d.doc[d.pos] == '<' && isNameStart(d.doc[d.pos+1])
}

// next moves to the next child of the element named parent: it returns the
// child's name and whether its tag is self-closing, or end when parent's end
// tag was read instead. Only white space may come between the tags.
func (d *listDecoder) next(parent []byte) (name []byte, empty, end, ok bool) {
	d.skipSpace()
	if d.pos+1 >= len(d.doc) || d.doc[d.pos] != '<' {
		return nil, false, false, false
	}
	if d.doc[d.pos+1] == '/' {
		return nil, false, true, d.endTag(parent)
	}
	if !isNameStart(d.doc[d.pos+1]) {
		return nil, false, false, false
	}
	name, empty, ok = d.startTag()
	return name, empty, false, ok
}

// isNameStart and isNameByte accept the ASCII subset of XML names without
// colons (no namespace prefixes).
func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// name reads a name starting at the current position.
func (d *listDecoder) name() []byte {
	start := d.pos
	if d.pos >= len(d.doc) || !isNameStart(d.doc[d.pos]) {
		return nil
	}
	for d.pos < len(d.doc) && isNameByte(d.doc[d.pos]) {
		d.pos++
	}
	return d.doc[start:d.pos]
}

// startTag reads a start tag at the current position ('<' and a name start
// are there), checking and ignoring its attributes as encoding/xml does.
func (d *listDecoder) startTag() (name []byte, empty, ok bool) {
	d.pos++ // '<'
	name = d.name()
	for {
		spaced := d.pos < len(d.doc) && isXMLSpace(d.doc[d.pos])
		d.skipSpace()
		if d.pos >= len(d.doc) {
			return nil, false, false
		}
		switch d.doc[d.pos] {
		case '>':
			d.pos++
			return name, false, true
		case '/':
			if d.pos+1 < len(d.doc) && d.doc[d.pos+1] == '>' {
				d.pos += 2
				return name, true, true
			}
			return nil, false, false
		}
		if !spaced || !d.attribute() {
			return nil, false, false
		}
	}
}

// attribute checks one name="value" (or 'value') attribute.
func (d *listDecoder) attribute() bool {
	if d.name() == nil {
		return false
	}
	d.skipSpace()
	if d.pos >= len(d.doc) || d.doc[d.pos] != '=' {
		return false
	}
	d.pos++
	d.skipSpace()
	if d.pos >= len(d.doc) || d.doc[d.pos] != '"' && d.doc[d.pos] != '\'' {
		return false
	}
	quote := d.doc[d.pos]
	d.pos++
	i := bytes.IndexByte(d.doc[d.pos:], quote)
	if i < 0 {
		return false
	}
	value := d.doc[d.pos : d.pos+i]
	d.pos += i + 1
	// encoding/xml forbids < in a value; ]]> is allowed there, but rare
	// enough to leave to it.
	if bytes.IndexByte(value, '<') >= 0 {
		return false
	}
	_, ok := d.charData(value)
	return ok
}

// endTag reads the end tag of the element named name at the current
// position.
func (d *listDecoder) endTag(name []byte) bool {
	rest := d.doc[d.pos:]
	if len(rest) < len(name)+3 || rest[0] != '<' || rest[1] != '/' || !bytes.Equal(rest[2:2+len(name)], name) {
		return false
	}
	d.pos += 2 + len(name)
	d.skipSpace()
	if d.pos >= len(d.doc) || d.doc[d.pos] != '>' {
		return false
	}
	d.pos++
	return true
}

// leaf reads the character data of a simple element whose start tag has just
// been read, and its end tag. The text is valid until the next call.
func (d *listDecoder) leaf(name []byte, empty bool) ([]byte, bool) {
	if empty {
		return nil, true
	}
	i := bytes.IndexByte(d.doc[d.pos:], '<')
	if i < 0 {
		return nil, false
	}
	seg := d.doc[d.pos : d.pos+i]
	d.pos += i
	txt, ok := d.charData(seg)
	if !ok || !d.endTag(name) {
		return nil, false
	}
	return txt, true
}

// skip reads and checks an element the listing does not need, up to and
// including its end tag.
func (d *listDecoder) skip(name []byte, empty bool) bool {
	if empty {
		return true
	}
	stack := append(d.stack[:0], name)
	for len(stack) > 0 {
		i := bytes.IndexByte(d.doc[d.pos:], '<')
		if i < 0 {
			return false
		}
		if _, ok := d.charData(d.doc[d.pos : d.pos+i]); !ok {
			return false
		}
		d.pos += i
		switch {
		case d.pos+1 < len(d.doc) && d.doc[d.pos+1] == '/':
			if !d.endTag(stack[len(stack)-1]) {
				return false
			}
			stack = stack[:len(stack)-1]
		case d.atStartTag():
			child, empty, ok := d.startTag()
			if !ok {
				return false
			}
			if !empty {
				if len(stack) == cap(stack) {
					return false
				}
				stack = append(stack, child)
			}
		default:
			return false
		}
	}
	return true
}

// charData decodes character data (no '<' in seg) as encoding/xml does in
// strict mode: it resolves the predefined and numeric character references
// and rejects invalid UTF-8 and characters outside the XML range. It returns
// seg itself when nothing needed decoding, else d.text.
func (d *listDecoder) charData(seg []byte) ([]byte, bool) {
	for i := 0; i < len(seg); {
		c := seg[i]
		switch {
		case c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != ']', c == '\t', c == '\n':
			i++
		case c == ']':
			// encoding/xml rejects ]]> outside CDATA.
			if hasPrefix(seg[i:], "]]>") {
				return nil, false
			}
			i++
		case c == '&':
			return d.charDataRefs(seg, i)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(seg[i:])
			if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
				return nil, false
			}
			i += size
		default:
			// Control characters are invalid; a raw \r would be rewritten
			// to \n by encoding/xml.
			return nil, false
		}
	}
	return seg, true
}

// charDataRefs is charData from the first '&' at i on, copying to d.text.
func (d *listDecoder) charDataRefs(seg []byte, i int) ([]byte, bool) {
	out := append(d.text[:0], seg[:i]...)
	for i < len(seg) {
		c := seg[i]
		if c != '&' {
			// Copy up to the next reference, checked by charData.
			j := bytes.IndexByte(seg[i:], '&')
			if j < 0 {
				j = len(seg) - i
			}
			if _, ok := d.charData(seg[i : i+j]); !ok {
				return nil, false
			}
			out = append(out, seg[i:i+j]...)
			i += j
			continue
		}
		semi := bytes.IndexByte(seg[i:], ';')
		if semi < 0 {
			return nil, false
		}
		ref := seg[i+1 : i+semi]
		i += semi + 1
		switch string(ref) {
		case "amp":
			out = append(out, '&')
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			r, ok := parseCharRef(ref)
			if !ok {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
		}
	}
	d.text = out
	return out, true
}

// parseCharRef reads the inside of &#NN; or &#xHH; and accepts only a valid
// XML character (encoding/xml turns surrogates into U+FFFD; those are left
// to it).
func parseCharRef(ref []byte) (rune, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	digits, base := ref[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || len(digits) > 8 {
		return 0, false
	}
	var n rune
	for _, c := range digits {
		var v rune
		switch {
		case '0' <= c && c <= '9':
			v = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			v = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			v = rune(c-'A') + 10
		default:
			return 0, false
		}
		n = n*rune(base) + v
	}
	if !isXMLChar(n) || 0xD800 <= n && n <= 0xDFFF {
		return 0, false
	}
	return n, true
}

// isXMLChar is the Char production of XML 1.0.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// unescape URL-decodes txt as url.QueryUnescape does, making the one string.
func (d *listDecoder) unescape(txt []byte, ok bool) (string, bool) {
	if !ok {
		return "", false
	}
	if bytes.IndexByte(txt, '%') < 0 && bytes.IndexByte(txt, '+') < 0 {
		return string(txt), true
	}
	out := d.unesc[:0]
	for i := 0; i < len(txt); i++ {
		switch c := txt[i]; c {
		case '%':
			if i+2 >= len(txt) || !isHex(txt[i+1]) || !isHex(txt[i+2]) {
				return "", false
			}
			out = append(out, unhex(txt[i+1])<<4|unhex(txt[i+2]))
			i += 2
		case '+':
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	d.unesc = out
	return string(out), true
}

// validEscapes reports whether url.QueryUnescape accepts txt.
func validEscapes(txt []byte, ok bool) bool {
	if !ok {
		return false
	}
	for i := bytes.IndexByte(txt, '%'); i >= 0; {
		if i+2 >= len(txt) || !isHex(txt[i+1]) || !isHex(txt[i+2]) {
			return false
		}
		j := bytes.IndexByte(txt[i+3:], '%')
		if j < 0 {
			break
		}
		i += 3 + j
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// parseListBool reads a bool as encoding/xml does.
func parseListBool(txt []byte, ok bool) (bool, bool) {
	if !ok {
		return false, false
	}
	switch string(txt) {
	case "true":
		return true, true
	case "false", "":
		return false, true
	}
	v, err := strconv.ParseBool(strings.TrimSpace(string(txt)))
	return v, err == nil
}

// parseListInt reads an int64 as encoding/xml does.
func parseListInt(txt []byte, ok bool) (int64, bool) {
	if !ok {
		return 0, false
	}
	if len(txt) == 0 {
		return 0, true
	}
	if len(txt) <= 18 { // cannot overflow
		var n int64
		for _, c := range txt {
			if c < '0' || c > '9' {
				n = -1
				break
			}
			n = n*10 + int64(c-'0')
		}
		if n >= 0 {
			return n, true
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(txt)), 10, 64)
	return n, err == nil
}

// parseListTime reads OSS's fixed "2006-01-02T15:04:05.000Z" layout directly
// and anything else as encoding/xml does (time.Time.UnmarshalText, strict
// RFC 3339).
func parseListTime(txt []byte, ok bool) (time.Time, bool) {
	if !ok {
		return time.Time{}, false
	}
	if len(txt) == 24 && txt[4] == '-' && txt[7] == '-' && txt[10] == 'T' && txt[13] == ':' &&
		txt[16] == ':' && txt[19] == '.' && txt[23] == 'Z' {
		year, ok1 := atoiFixed(txt[0:4])
		month, ok2 := atoiFixed(txt[5:7])
		day, ok3 := atoiFixed(txt[8:10])
		hour, ok4 := atoiFixed(txt[11:13])
		minute, ok5 := atoiFixed(txt[14:16])
		sec, ok6 := atoiFixed(txt[17:19])
		milli, ok7 := atoiFixed(txt[20:23])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && month >= 1 && month <= 12 &&
			day >= 1 && day <= daysIn(month, year) && hour < 24 && minute < 60 && sec < 60 {
			return time.Date(year, time.Month(month), day, hour, minute, sec, milli*int(time.Millisecond), time.UTC), true
		}
	}
	var t time.Time
	if err := t.UnmarshalText(txt); err != nil {
		return time.Time{}, false
	}
	return t, true
}

func atoiFixed(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// internClass spares an allocation for the usual storage class names.
func internClass(txt []byte) string {
	switch string(txt) {
	case string(alioss.StorageStandard):
		return string(alioss.StorageStandard)
	case string(alioss.StorageIA):
		return string(alioss.StorageIA)
	case string(alioss.StorageArchive):
		return string(alioss.StorageArchive)
	case string(alioss.StorageColdArchive):
		return string(alioss.StorageColdArchive)
	case string(alioss.StorageDeepColdArchive):
		return string(alioss.StorageDeepColdArchive)
	}
	return string(txt)
}
