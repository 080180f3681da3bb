package oss

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
)

// listTestObject is an object seeded into an emulator bucket.
type listTestObject struct {
	key      string
	size     int
	class    string // neutral; "" is Standard
	restored bool   // restore completed
	restore  bool   // restore requested, still in progress
}

// oddKeys are keys that need escaping in XML, in URLs, or both.
func oddKeys() []string {
	return []string{
		"plain", "dir/sub/file.txt", "a+b", "with space", "per%cent", "per%2Fcent", "amp&lt<>\"'",
		"unicode/日本語/ü", "tab\tand\r\nnewline", "ctrl\x01\x1f", "trailing ", "~!@#$^*()[]{}|;:,?=",
	}
}

// emulatorListings seeds a bucket of the emulator's OSS front end and lists
// it with the SDK's own ListObjects over loopback, maxKeys at a time. It
// returns the raw answer of each page and the SDK's decoding of it.
func emulatorListings(tb testing.TB, objs []listTestObject, maxKeys int) ([][]byte, []alioss.ListObjectsResult) {
	tb.Helper()
	const bucket = "listing"
	backend, err := emulator.NewBackend("")
	if err != nil {
		tb.Fatal(err)
	}
	if err := backend.CreateBucket(bucket); err != nil {
		tb.Fatal(err)
	}
	fe := &emulator.OSSFrontEnd{Backend: backend, Credentials: map[string]string{testAK: testSecret},
		RestoreDelay: time.Hour}
	var mu sync.Mutex
	var last bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		last.Reset()
		fe.ServeHTTP(teeWriter{w, &last}, r)
	}))
	tb.Cleanup(srv.Close)
	client, err := alioss.New(srv.URL, testAK, testSecret)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := client.Bucket(bucket)
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range objs {
		meta := emulator.Meta{StorageClass: o.class}
		if _, err := backend.PutObject(bucket, o.key, strings.NewReader(strings.Repeat("x", o.size)), int64(o.size), meta, nil); err != nil {
			tb.Fatal(err)
		}
		if o.restored {
			if err := backend.UpdateObject(bucket, o.key, func(obj *emulator.Object) { obj.Restored = true }); err != nil {
				tb.Fatal(err)
			}
		}
		if o.restore {
			if err := b.RestoreObject(o.key); err != nil {
				tb.Fatal(err)
			}
		}
	}
	var docs [][]byte
	var results []alioss.ListObjectsResult
	marker := ""
	for {
		res, err := b.ListObjects(alioss.Marker(marker), alioss.MaxKeys(maxKeys))
		if err != nil {
			tb.Fatal(err)
		}
		mu.Lock()
		docs = append(docs, bytes.Clone(last.Bytes()))
		mu.Unlock()
		results = append(results, res)
		if !res.IsTruncated {
			return docs, results
		}
		marker = res.NextMarker
	}
}

type teeWriter struct {
	http.ResponseWriter
	copy *bytes.Buffer
}

func (w teeWriter) Write(p []byte) (int, error) {
	w.copy.Write(p)
	return w.ResponseWriter.Write(p)
}

// fromSDK is what decodeList must give for a document the SDK decoded as r.
func fromSDK(r alioss.ListObjectsResult) listResult {
	out := listResult{IsTruncated: r.IsTruncated, NextMarker: r.NextMarker,
		Objects: []listObject{}}
	for _, o := range r.Objects {
		out.Objects = append(out.Objects, listObject{Key: o.Key, Size: o.Size, ETag: o.ETag,
			LastModified: o.LastModified, StorageClass: o.StorageClass, RestoreInfo: o.RestoreInfo})
	}
	return out
}

func requireSameList(t *testing.T, what string, got, want listResult) {
	t.Helper()
	if got.Objects == nil {
		got.Objects = []listObject{}
	}
	if want.Objects == nil {
		want.Objects = []listObject{}
	}
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got.Objects) != len(want.Objects) {
		t.Fatalf("%s: %d objects, want %d:\n got %+v\nwant %+v", what, len(got.Objects), len(want.Objects), got, want)
	}
	for i := range got.Objects {
		if !reflect.DeepEqual(got.Objects[i], want.Objects[i]) {
			t.Fatalf("%s: object %d\n got %#v\nwant %#v", what, i, got.Objects[i], want.Objects[i])
		}
	}
	got.Objects, want.Objects = nil, nil
	t.Fatalf("%s:\n got %#v\nwant %#v", what, got, want)
}

// fastDecode runs only the fast decoder.
func fastDecode(doc []byte) (listResult, bool) {
	var d listDecoder
	return d.decode(doc)
}

// TestDecodeEmulatorListings checks the fast decoder against the SDK's own
// ListObjects on what the emulator answers: odd keys, every storage class,
// restores done and in progress, and paging.
func TestDecodeEmulatorListings(t *testing.T) {
	var objs []listTestObject
	for i, k := range oddKeys() {
		objs = append(objs, listTestObject{key: k, size: i * 1000})
	}
	objs = append(objs,
		listTestObject{key: "class/ia", class: storage.ClassIA},
		listTestObject{key: "class/archive", class: storage.ClassArchive, restored: true},
		listTestObject{key: "class/cold", class: storage.ClassColdArchive, restore: true},
		listTestObject{key: "class/deep", class: storage.ClassDeepColdArchive},
	)
	for _, maxKeys := range []int{1000, 5} {
		docs, sdk := emulatorListings(t, objs, maxKeys)
		if maxKeys == 5 && len(docs) < 3 {
			t.Fatalf("%d pages of 5 keys for %d objects", len(docs), len(objs))
		}
		var keys []string
		for i, doc := range docs {
			got, ok := fastDecode(doc)
			if !ok {
				t.Fatalf("the fast decoder gave up on the emulator's answer:\n%s", doc)
			}
			requireSameList(t, fmt.Sprintf("page %d of %d keys", i, maxKeys), got, fromSDK(sdk[i]))
			for _, o := range got.Objects {
				keys = append(keys, o.Key)
			}
		}
		want := make([]string, 0, len(objs))
		for _, o := range objs {
			want = append(want, o.key)
		}
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Fatalf("keys listed %q, want %q", keys, want)
		}
	}
	// The restore states really were in the answers.
	docs, _ := emulatorListings(t, objs, 1000)
	got, _ := fastDecode(docs[0])
	restore := map[string]string{}
	for _, o := range got.Objects {
		restore[o.Key] = o.RestoreInfo
	}
	if !strings.Contains(restore["class/archive"], `ongoing-request="false"`) ||
		restore["class/cold"] != `ongoing-request="true"` || restore["class/deep"] != "" {
		t.Fatalf("RestoreInfo: %q", restore)
	}
}

const ossDocsExample = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult>
  <Name>examplebucket</Name>
  <Prefix></Prefix>
  <Marker></Marker>
  <MaxKeys>100</MaxKeys>
  <Delimiter></Delimiter>
  <EncodingType>url</EncodingType>
  <IsTruncated>false</IsTruncated>
  <Contents>
    <Key>fun%2Fmovie%2F001.avi</Key>
    <LastModified>2012-02-24T08:43:07.000Z</LastModified>
    <ETag>&quot;5B3C1A2E053D763E1B002CC607C5A0FE1****&quot;</ETag>
    <Type>Normal</Type>
    <Size>344606</Size>
    <StorageClass>Standard</StorageClass>
    <Owner>
      <ID>0022012****</ID>
      <DisplayName>user-example</DisplayName>
    </Owner>
  </Contents>
  <Contents>
    <Key>fun%2Ftest.jpg</Key>
    <LastModified>2012-02-24T08:42:32.000Z</LastModified>
    <ETag>"5B3C1A2E053D763E1B002CC607C5A0FE1****"</ETag>
    <Type>Normal</Type>
    <Size>344606</Size>
    <StorageClass>IA</StorageClass>
    <Owner>
      <ID>0022012****</ID>
      <DisplayName>user-example</DisplayName>
    </Owner>
  </Contents>
</ListBucketResult>
`

// listDoc wraps Contents entries (and other root children) in a
// ListBucketResult with the usual prolog.
func listDoc(children ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n<ListBucketResult><Name>b</Name><EncodingType>url</EncodingType>" +
		strings.Join(children, "") + "</ListBucketResult>"
}

// contents is one Contents entry with the given key and extra children.
func contents(key string, extra ...string) string {
	return "<Contents><Key>" + key + "</Key><LastModified>2024-02-29T23:59:59.999Z</LastModified>" +
		"<ETag>&#34;ABC&#34;</ETag><Type>Normal</Type><Size>7</Size><StorageClass>Standard</StorageClass>" +
		strings.Join(extra, "") + "</Contents>"
}

// mustParseTime parses as encoding/xml does: the zone it picks depends on the
// machine's.
func mustParseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// obj is what contents(key) decodes to.
func obj(key string) listObject {
	return listObject{Key: key, Size: 7, ETag: `"ABC"`, StorageClass: "Standard",
		LastModified: time.Date(2024, 2, 29, 23, 59, 59, 999e6, time.UTC)}
}

type listDocCase struct {
	name    string
	doc     string
	fast    bool // the fast decoder must handle it
	want    listResult
	wantErr bool
}

func listDocCases() []listDocCase {
	t0 := time.Date(2012, 2, 24, 8, 43, 7, 0, time.UTC)
	withClass := func(o listObject, class, restore string) listObject {
		o.StorageClass, o.RestoreInfo = class, restore
		return o
	}
	withTime := func(o listObject, t time.Time) listObject {
		o.LastModified = t
		return o
	}
	one := func(o listObject) listResult { return listResult{Objects: []listObject{o}} }
	return []listDocCase{
		{name: "OSS documentation example", doc: ossDocsExample, fast: true, want: listResult{
			Objects: []listObject{
				{Key: "fun/movie/001.avi", Size: 344606, ETag: `"5B3C1A2E053D763E1B002CC607C5A0FE1****"`, LastModified: t0, StorageClass: "Standard"},
				{Key: "fun/test.jpg", Size: 344606, ETag: `"5B3C1A2E053D763E1B002CC607C5A0FE1****"`, LastModified: t0.Add(-35 * time.Second), StorageClass: "IA"},
			}}},
		{name: "entities", fast: true, doc: listDoc(contents("a&amp;b&lt;c&gt;d&quot;e&apos;f&#65;&#x42;&#x1F600;&#233;")),
			want: one(obj("a&b<c>d\"e'fAB😀é"))},
		{name: "url-encoded key", fast: true, doc: listDoc(contents("dir%2Fsub%2Fa%2Bb+c%20d%25e%2f")),
			want: one(obj("dir/sub/a+b c d%e/"))},
		{name: "unicode raw and encoded", fast: true, doc: listDoc(contents("%E6%97%A5%E6%9C%AC/ü/日本")),
			want: one(obj("日本/ü/日本"))},
		{name: "encoded control characters and invalid UTF-8", fast: true, doc: listDoc(contents("a%0D%0A%09%00%FFb")),
			want: one(obj("a\r\n\t\x00\xffb"))},
		{name: "plus and spaces", fast: true, doc: listDoc(contents("a+b c+")), want: one(obj("a b c "))},
		{name: "empty listing", fast: true,
			doc:  listDoc("<Prefix>x%2F</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><Delimiter/><IsTruncated>false</IsTruncated>"),
			want: listResult{}},
		{name: "empty root", fast: true, doc: `<?xml version="1.0"?><ListBucketResult/>`},
		{name: "truncated", fast: true,
			doc: listDoc("<IsTruncated>true</IsTruncated><NextMarker>next%2Fkey+1</NextMarker>", contents("k1"), contents("next%2Fkey+1")),
			want: listResult{IsTruncated: true, NextMarker: "next/key 1",
				Objects: []listObject{obj("k1"), obj("next/key 1")}}},
		{name: "restore info", fast: true,
			doc:  listDoc(contents("cold", `<StorageClass>ColdArchive</StorageClass><RestoreInfo>ongoing-request=&quot;false&quot;, expiry-date=&quot;Sun, 16 Apr 2017 08:12:33 GMT&quot;</RestoreInfo>`)),
			want: one(withClass(obj("cold"), "ColdArchive", `ongoing-request="false", expiry-date="Sun, 16 Apr 2017 08:12:33 GMT"`))},
		{name: "common prefixes and owner", fast: true,
			doc:  listDoc("<Delimiter>%2F</Delimiter><CommonPrefixes><Prefix>a%2F</Prefix></CommonPrefixes><CommonPrefixes><Prefix>b%2F</Prefix><Other/></CommonPrefixes>", contents("k", "<Owner><ID>1</ID><DisplayName>x &amp; y</DisplayName></Owner>")),
			want: one(obj("k"))},
		{name: "namespace and attributes", fast: true,
			doc:  `<ListBucketResult xmlns="http://doc.oss-cn-hangzhou.aliyuncs.com"><Contents a='1' b = "x&amp;y"><Key>k</Key><Size>7</Size><ETag>"ABC"</ETag><LastModified>2024-02-29T23:59:59.999Z</LastModified><StorageClass>Standard</StorageClass></Contents></ListBucketResult>`,
			want: listResult{Objects: []listObject{obj("k")}}},
		{name: "CRLF between elements", fast: true,
			doc:  strings.ReplaceAll(listDoc("\n", contents("k"), "\n"), "\n", "\r\n"),
			want: one(obj("k"))},
		{name: "other time layouts", fast: true,
			doc: listDoc(strings.Replace(contents("a"), "2024-02-29T23:59:59.999Z", "2012-02-24T08:43:07Z", 1),
				strings.Replace(contents("b"), "2024-02-29T23:59:59.999Z", "2012-02-24T08:43:07.5-00:00", 1)),
			want: listResult{Objects: []listObject{withTime(obj("a"), t0),
				withTime(obj("b"), mustParseTime("2012-02-24T08:43:07.5-00:00"))}}},
		{name: "unknown elements and duplicates", fast: true,
			doc:  listDoc("<Future><Deep><Deeper a=\"1\">text</Deeper></Deep></Future>", contents("first", "<Key>second</Key><Size>8</Size><Size> 9 </Size>")),
			want: one(func() listObject { o := obj("second"); o.Size = 9; return o }())},
		{name: "self-closing fields", fast: true, doc: listDoc("<Contents><Key/><ETag/><StorageClass/><Size/></Contents>"),
			want: listResult{Objects: []listObject{{}}}},

		// Left to encoding/xml, still decoded.
		{name: "CDATA", doc: listDoc(contents("<![CDATA[a&b]]>")), want: one(obj("a&b"))},
		{name: "comment", doc: listDoc("<!-- hi -->", contents("k")), want: one(obj("k"))},
		{name: "doctype", doc: "<!DOCTYPE ListBucketResult>" + listDoc(contents("k")), want: one(obj("k"))},
		{name: "trailing content", doc: listDoc(contents("k")) + "junk<", want: one(obj("k"))},
		{name: "raw CR in a key", doc: listDoc(contents("a\r\nb\rc")), want: one(obj("a\nb\nc"))},
		{name: "text mixed with elements", doc: listDoc(contents("a<b/>c")), want: one(obj("ac"))},
		{name: "namespace prefix", doc: `<x:ListBucketResult xmlns:x="u"><x:Contents><x:Key>k</x:Key></x:Contents></x:ListBucketResult>`,
			want: listResult{Objects: []listObject{{Key: "k"}}}},

		// Errors, whichever decoder sees them first.
		{name: "empty body", doc: "", wantErr: true},
		{name: "not XML", doc: "<html>", wantErr: true},
		{name: "wrong root", doc: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code></Error>`, wantErr: true},
		{name: "cut short", doc: listDoc(contents("k1"), contents("k2"))[:200], wantErr: true},
		{name: "mismatched end tag", doc: listDoc("<Contents><Key>k</Size></Contents>"), wantErr: true},
		{name: "unknown entity", doc: listDoc(contents("a&nbsp;b")), wantErr: true},
		{name: "bare ampersand", doc: listDoc(contents("a&b")), wantErr: true},
		{name: "control character", doc: listDoc(contents("a&#1;b")), wantErr: true},
		{name: "raw control character", doc: listDoc(contents("a\x01b")), wantErr: true},
		{name: "invalid UTF-8", doc: listDoc(contents("a\xffb")), wantErr: true},
		{name: "]]> in text", doc: listDoc(contents("a]]>b")), wantErr: true},
		{name: "bad size", doc: listDoc(contents("k", "<Size>12a</Size>")), wantErr: true},
		{name: "bad date", doc: listDoc(strings.Replace(contents("k"), "2024-02-29", "2023-02-29", 1)), wantErr: true},
		{name: "empty date", doc: listDoc(contents("k", "<LastModified/>")), wantErr: true},
		{name: "bad IsTruncated", doc: listDoc("<IsTruncated>yes</IsTruncated>"), wantErr: true},
		{name: "bad MaxKeys", doc: listDoc("<MaxKeys>many</MaxKeys>"), wantErr: true},
		{name: "bad escape in a key", doc: listDoc(contents("a%zzb")), wantErr: true},
		{name: "escape cut short", doc: listDoc(contents("a%2")), wantErr: true},
		{name: "bad escape in the marker", doc: listDoc("<Marker>%</Marker>"), wantErr: true},
		{name: "bad escape in a common prefix", doc: listDoc("<CommonPrefixes><Prefix>%g0</Prefix></CommonPrefixes>"), wantErr: true},
		{name: "unquoted attribute", doc: `<ListBucketResult a=1></ListBucketResult>`, wantErr: true},
	}
}

func TestDecodeListDocuments(t *testing.T) {
	for _, tc := range listDocCases() {
		t.Run(tc.name, func(t *testing.T) {
			doc := []byte(tc.doc)
			if _, ok := fastDecode(doc); ok != tc.fast {
				t.Errorf("fast decoder accepted the document: %v, want %v", ok, tc.fast)
			}
			xmlRes, xmlErr := decodeListXML(doc)
			got, err := decodeList(doc)
			if tc.wantErr {
				if err == nil || xmlErr == nil {
					t.Fatalf("decoded %+v (encoding/xml: %v), want an error", got, xmlErr)
				}
				return
			}
			if err != nil || xmlErr != nil {
				t.Fatalf("decodeList: %v; encoding/xml: %v", err, xmlErr)
			}
			requireSameList(t, "decodeList", got, tc.want)
			requireSameList(t, "encoding/xml", xmlRes, tc.want)
		})
	}
}

// TestListOddKeys lists keys that need escaping page by page through
// Store.List and checks what List makes of every field.
func TestListOddKeys(t *testing.T) {
	ts := newTestServer(t)
	bucket := ts.freshBucket(t)
	s := ts.store(t, ts.config(bucket, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]int{}
	keys := oddKeys()
	for i, k := range keys {
		want[k] = i
		if _, err := s.Put(ctx, k, strings.NewReader(strings.Repeat("y", i)), int64(i), storage.Metadata{}); err != nil {
			t.Fatalf("Put %q: %v", k, err)
		}
	}
	if _, err := s.Put(ctx, "zz/cold", strings.NewReader("c"), 1, storage.Metadata{StorageClass: storage.ClassArchive}); err != nil {
		t.Fatal(err)
	}
	var got []storage.ObjectInfo
	after := ""
	for pages := 0; ; pages++ {
		if pages > len(keys) {
			t.Fatal("listing does not end")
		}
		page, err := s.List(ctx, storage.ListOptions{After: after, MaxKeys: 3})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Objects...)
		if page.Done {
			break
		}
		after = page.Next
	}
	if len(got) != len(keys)+1 {
		t.Fatalf("listed %d objects, want %d", len(got), len(keys)+1)
	}
	for _, o := range got {
		if o.Key == "zz/cold" {
			if o.Meta.StorageClass != storage.ClassArchive || o.Restored || o.Size != 1 {
				t.Errorf("archived object listed as %+v", o)
			}
			continue
		}
		i, ok := want[o.Key]
		if !ok {
			t.Fatalf("listed unknown key %q", o.Key)
		}
		info, err := s.Head(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		// Head's Last-Modified has whole seconds, the listing milliseconds.
		if o.Size != int64(i) || o.ETag != info.ETag || !o.LastModified.Truncate(time.Second).Equal(info.LastModified) ||
			o.LastModified.IsZero() || o.Meta.StorageClass != storage.ClassStandard || o.Restored {
			t.Errorf("listed %+v, head says %+v", o, info)
		}
	}
	// Before cuts the page short.
	page, err := s.List(ctx, storage.ListOptions{Before: "b"})
	if err != nil || !page.Done || len(page.Objects) != 2 || page.Objects[0].Key != "a+b" || page.Next != "amp&lt<>\"'" {
		t.Fatalf("List before \"b\": %+v, %v", page, err)
	}
}

// TestListAnswerErrors checks that error answers are classified as the SDK
// path classified them and that a bad listing is an error, never a short
// page.
func TestListAnswerErrors(t *testing.T) {
	ts := newTestServer(t)
	bucket := ts.freshBucket(t)
	s := ts.store(t, ts.config(bucket, 4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := s.Put(ctx, k, strings.NewReader(k), 1, storage.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	answer := func(status int, body string) {
		ts.setIntercept(func(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
			if r.Method != http.MethodGet || r.URL.Query().Get("encoding-type") != "url" {
				t.Errorf("listing request %s %s", r.Method, r.URL)
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			w.Write([]byte(body))
			return w, true
		})
	}
	errorXML := func(code string) string {
		return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>m</Message><RequestId>r</RequestId></Error>`
	}
	cases := []struct {
		name   string
		status int
		body   string
		kind   storage.Kind
		code   string
	}{
		{"forbidden", 403, errorXML("AccessDenied"), storage.KindForbidden, "AccessDenied"},
		{"bad signature", 403, errorXML("SignatureDoesNotMatch"), storage.KindAccessDenied, "SignatureDoesNotMatch"},
		{"no such bucket", 404, errorXML("NoSuchBucket"), storage.KindNoSuchBucket, "NoSuchBucket"},
		{"throttled", 503, errorXML("SlowDown"), storage.KindThrottled, "SlowDown"},
		{"error without a body", 500, "", storage.KindTransient, ""},
		{"redirect", 301, "", storage.KindTransient, ""},
		{"garbage", 200, "<<<not xml", storage.KindTransient, ""},
		{"cut short", 200, listDoc(contents("a"), contents("b"))[:150], storage.KindTransient, ""},
		{"bad escape", 200, listDoc(contents("a%zz")), storage.KindTransient, ""},
		{"error document with 200", 200, errorXML("InternalError"), storage.KindTransient, ""},
	}
	for _, tc := range cases {
		answer(tc.status, tc.body)
		page, err := s.List(ctx, storage.ListOptions{})
		se := requireKind(t, tc.name, err, tc.kind)
		if se.Code != tc.code || se.Op != "list" || len(page.Objects) != 0 {
			t.Errorf("%s: %+v, page %+v", tc.name, se, page)
		}
	}
	ts.setIntercept(nil)
	page, err := s.List(ctx, storage.ListOptions{})
	if err != nil || len(page.Objects) != 3 || !page.Done {
		t.Fatalf("List after the faults: %+v, %v", page, err)
	}
}

// FuzzListDecode checks that the fast decoder never disagrees with
// encoding/xml: for any input both give the same listing or both fail.
func FuzzListDecode(f *testing.F) {
	for _, tc := range listDocCases() {
		f.Add([]byte(tc.doc))
	}
	objs := []listTestObject{{key: "class/cold", class: storage.ClassColdArchive, restored: true}}
	for i, k := range oddKeys() {
		objs = append(objs, listTestObject{key: k, size: i})
	}
	docs, _ := emulatorListings(f, objs, 4)
	for _, doc := range docs {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		want, wantErr := decodeListXML(doc)
		if fast, ok := fastDecode(doc); ok {
			if wantErr != nil {
				t.Fatalf("the fast decoder accepted what encoding/xml rejects (%v): %+v", wantErr, fast)
			}
			requireSameList(t, "fast decoder", fast, want)
		}
		got, err := decodeList(doc)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("decodeList error %v, encoding/xml error %v", err, wantErr)
		}
		if err == nil {
			requireSameList(t, "decodeList", got, want)
		}
	})
}

// BenchmarkListDecode decodes the emulator's answer for a 1000-object page
// with both decoders.
func BenchmarkListDecode(b *testing.B) {
	objs := make([]listTestObject, 1000)
	for i := range objs {
		objs[i] = listTestObject{key: fmt.Sprintf("data/2024/%02d/object-%06d.bin", i%12, i), size: 4096}
	}
	docs, _ := emulatorListings(b, objs, 1000)
	doc := docs[0]
	for _, bc := range []struct {
		name   string
		decode func([]byte) (listResult, error)
	}{{"fast", decodeList}, {"encoding-xml", decodeListXML}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				res, err := bc.decode(doc)
				if err != nil || len(res.Objects) != len(objs) {
					b.Fatalf("%d objects, %v", len(res.Objects), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(objs)), "ns/object")
		})
	}
}
