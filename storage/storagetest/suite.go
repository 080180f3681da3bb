// Package storagetest is the conformance suite every storage.Store backend
// must pass. Backends describe how to make stores in a Harness and call Run
// from their own tests, so one set of behaviours (ordering, paging, ranges,
// metadata, checksums, multipart, typed errors) holds for all of them.
package storagetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bucketferry/bucketferry/storage"
)

// Harness tells the suite how to make stores of one backend.
type Harness struct {
	// New returns a new, empty store (a fresh bucket) on every call.
	New func(t *testing.T) storage.Store
	// WrongCredentials returns a store for an existing bucket with a wrong
	// secret; nil when the backend has no credentials (local).
	WrongCredentials func(t *testing.T) storage.Store
	// MissingBucket returns a store for a bucket (or root directory) that
	// does not exist.
	MissingBucket func(t *testing.T) storage.Store
}

// opTimeout bounds every subtest so that a hung backend fails the test
// instead of stalling the whole run.
const opTimeout = 60 * time.Second

// tester is the part of *testing.T the suite uses; the suite's own tests
// substitute a recorder to prove that broken stores fail.
type tester interface {
	Helper()
	Error(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Context() context.Context
	Cleanup(func())
}

// storeTest is one behaviour checked against one fresh store.
type storeTest struct {
	name string
	fn   func(t tester, s storage.Store)
}

func storeTests() []storeTest {
	return []storeTest{
		{"PutHeadGet", testPutHeadGet},
		{"Overwrite", testOverwrite},
		{"ZeroByte", testZeroByte},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"ShortBody", testShortBody},
		{"FailedSourceNeverCommits", testFailedSourceNeverCommits},
		{"SpecialKeys", testSpecialKeys},
		{"DirectoryMarker", testDirectoryMarker},
		{"ListEmpty", testListEmpty},
		{"ListOrder", testListOrder},
		{"ListPaging", testListPaging},
		{"ListPrefix", testListPrefix},
		{"ListRange", testListRange},
		{"RangedGet", testRangedGet},
		{"Metadata", testMetadata},
		{"Checksums", testChecksums},
		{"Multipart", testMultipart},
		{"MultipartAbort", testMultipartAbort},
		{"MultipartMissingPart", testMultipartMissingPart},
		{"ListUploadsPrefix", testListUploadsPrefix},
		{"ConcurrentPuts", testConcurrentPuts},
	}
}

// Run runs every conformance test against the backend h describes, each
// behaviour as a subtest on a fresh store.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("storagetest: Harness.New is required")
	}
	for _, tc := range storeTests() {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h.New(t)) })
	}
	t.Run("WrongCredentials", func(t *testing.T) { testWrongCredentials(t, h) })
	t.Run("MissingBucket", func(t *testing.T) { testMissingBucket(t, h) })
}

// --- basic object operations ---

func testPutHeadGet(t tester, s storage.Store) {
	ctx := testContext(t)
	data := randomBytes(1, 4099)
	before := time.Now()
	res := mustPut(ctx, t, s, "obj/one.bin", data, storage.Metadata{})
	if res.ETag == "" {
		t.Error("Put returned an empty ETag")
	}
	info := mustHead(ctx, t, s, "obj/one.bin")
	if info.Key != "obj/one.bin" {
		t.Errorf("Head Key = %q, want %q", info.Key, "obj/one.bin")
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Head Size = %d, want %d", info.Size, len(data))
	}
	if !sameETag(info.ETag, res.ETag) {
		t.Errorf("Head ETag = %q, Put returned %q", info.ETag, res.ETag)
	}
	checkRecent(t, "Head LastModified", info.LastModified, before)

	got, ginfo := mustGet(ctx, t, s, "obj/one.bin", storage.Range{})
	if !bytes.Equal(got, data) {
		t.Errorf("Get returned %d bytes that differ from the %d put", len(got), len(data))
	}
	if ginfo.Size != int64(len(data)) {
		t.Errorf("Get Size = %d, want %d", ginfo.Size, len(data))
	}
	if !sameETag(ginfo.ETag, res.ETag) {
		t.Errorf("Get ETag = %q, Put returned %q", ginfo.ETag, res.ETag)
	}

	objs := listAll(ctx, t, s, storage.ListOptions{})
	if len(objs) != 1 || objs[0].Key != "obj/one.bin" {
		t.Fatalf("List = %v, want just obj/one.bin", keysOf(objs))
	}
	if objs[0].Size != int64(len(data)) {
		t.Errorf("List Size = %d, want %d", objs[0].Size, len(data))
	}
	if !sameETag(objs[0].ETag, res.ETag) {
		t.Errorf("List ETag = %q, Put returned %q", objs[0].ETag, res.ETag)
	}
	checkRecent(t, "List LastModified", objs[0].LastModified, before)
}

func testOverwrite(t tester, s storage.Store) {
	ctx := testContext(t)
	first := randomBytes(2, 3000)
	second := randomBytes(3, 1200)
	mustPut(ctx, t, s, "over", first, storage.Metadata{ContentType: "text/plain", User: map[string]string{"old": "1"}})
	res := mustPut(ctx, t, s, "over", second, storage.Metadata{ContentType: "image/png", User: map[string]string{"new": "2"}})
	info := mustHead(ctx, t, s, "over")
	if info.Size != int64(len(second)) || !sameETag(info.ETag, res.ETag) {
		t.Errorf("Head after overwrite = size %d etag %q, want size %d etag %q", info.Size, info.ETag, len(second), res.ETag)
	}
	if info.Meta.ContentType != "image/png" {
		t.Errorf("ContentType after overwrite = %q, want image/png", info.Meta.ContentType)
	}
	if _, ok := info.Meta.User["old"]; ok || info.Meta.User["new"] != "2" {
		t.Errorf("user metadata after overwrite = %v, want only new=2", info.Meta.User)
	}
	got, _ := mustGet(ctx, t, s, "over", storage.Range{})
	if !bytes.Equal(got, second) {
		t.Error("Get after overwrite returned the old or a mixed body")
	}
	if objs := listAll(ctx, t, s, storage.ListOptions{}); len(objs) != 1 {
		t.Errorf("List after overwrite = %v, want one object", keysOf(objs))
	}
}

func testZeroByte(t tester, s storage.Store) {
	ctx := testContext(t)
	res := mustPut(ctx, t, s, "empty", nil, storage.Metadata{})
	if res.HasCRC64 && res.CRC64 != 0 {
		t.Errorf("Put CRC64 of an empty object = %d, want 0", res.CRC64)
	}
	info := mustHead(ctx, t, s, "empty")
	if info.Size != 0 {
		t.Errorf("Head Size = %d, want 0", info.Size)
	}
	got, ginfo := mustGet(ctx, t, s, "empty", storage.Range{})
	if len(got) != 0 || ginfo.Size != 0 {
		t.Errorf("Get = %d bytes, info size %d; want an empty object", len(got), ginfo.Size)
	}
	objs := listAll(ctx, t, s, storage.ListOptions{})
	if len(objs) != 1 || objs[0].Key != "empty" || objs[0].Size != 0 {
		t.Errorf("List = %+v, want one empty object", objs)
	}
}

func testNotFound(t tester, s storage.Store) {
	ctx := testContext(t)
	mustPut(ctx, t, s, "present", []byte("x"), storage.Metadata{})
	_, err := s.Head(ctx, "absent")
	requireKind(t, "Head of a missing key", err, storage.KindNotFound)
	if !storage.IsNotFound(err) {
		t.Errorf("storage.IsNotFound(%v) = false", err)
	}
	rc, _, err := s.Get(ctx, "absent", storage.Range{})
	if rc != nil {
		rc.Close()
	}
	requireKind(t, "Get of a missing key", err, storage.KindNotFound)
	rc, _, err = s.Get(ctx, "absent", storage.Range{Offset: 1, Length: 2})
	if rc != nil {
		rc.Close()
	}
	requireKind(t, "ranged Get of a missing key", err, storage.KindNotFound)
	// A key that is a prefix of an existing key is still missing.
	_, err = s.Head(ctx, "pres")
	requireKind(t, "Head of a key prefix", err, storage.KindNotFound)
}

func testDelete(t tester, s storage.Store) {
	ctx := testContext(t)
	mustPut(ctx, t, s, "dir/doomed", []byte("bye"), storage.Metadata{ContentType: "text/plain"})
	mustPut(ctx, t, s, "dir/kept", []byte("stay"), storage.Metadata{})
	if err := s.Delete(ctx, "dir/doomed"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Head(ctx, "dir/doomed")
	requireKind(t, "Head after Delete", err, storage.KindNotFound)
	rc, _, err := s.Get(ctx, "dir/doomed", storage.Range{})
	if rc != nil {
		rc.Close()
	}
	requireKind(t, "Get after Delete", err, storage.KindNotFound)
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{})); !slices.Equal(got, []string{"dir/kept"}) {
		t.Errorf("List after Delete = %q, want [dir/kept]", got)
	}
	if err := s.Delete(ctx, "dir/doomed"); err != nil {
		t.Errorf("second Delete of the same key: %v", err)
	}
	if err := s.Delete(ctx, "never/existed"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	// Deleting the last object under a prefix and putting it again works.
	if err := s.Delete(ctx, "dir/kept"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustPut(ctx, t, s, "dir/kept", []byte("again"), storage.Metadata{})
	if got, _ := mustGet(ctx, t, s, "dir/kept", storage.Range{}); string(got) != "again" {
		t.Errorf("Get after re-put = %q, want %q", got, "again")
	}
}

// testShortBody checks that a body shorter than the declared size fails and
// leaves no object behind: a half-written object must never appear.
func testShortBody(t tester, s storage.Store) {
	ctx := testContext(t)
	_, err := s.Put(ctx, "short", bytes.NewReader(make([]byte, 100)), 200, storage.Metadata{})
	if err == nil {
		t.Fatal("Put with a body shorter than size succeeded")
	}
	_, err = s.Head(ctx, "short")
	requireKind(t, "Head after a failed Put", err, storage.KindNotFound)
	mustPut(ctx, t, s, "short", []byte("old"), storage.Metadata{})
	if _, err := s.Put(ctx, "short", bytes.NewReader(make([]byte, 10)), 50, storage.Metadata{}); err == nil {
		t.Fatal("Put with a body shorter than size succeeded")
	}
	if got, _ := mustGet(ctx, t, s, "short", storage.Range{}); string(got) != "old" {
		t.Errorf("a failed overwrite changed the object to %q", got)
	}
}

// failingSource yields data, then fails: with its last bytes (withLast) or
// on the read after them, the way a source whose checksum is checked at
// its end fails.
type failingSource struct {
	data     []byte
	withLast bool
	off      int
}

var errSourceFailed = errors.New("source failed at its end (storagetest)")

func (f *failingSource) Read(p []byte) (int, error) {
	if f.off >= len(f.data) {
		return 0, errSourceFailed
	}
	n := copy(p, f.data[f.off:])
	f.off += n
	if f.withLast && f.off == len(f.data) {
		return n, errSourceFailed
	}
	return n, nil
}

// testFailedSourceNeverCommits checks that a Put or an UploadPart whose
// source fails with or after its last byte fails, and leaves nothing: no
// new object, an old one unchanged, no part to complete with. A backend
// that stops reading at the declared size, or sends the last byte before it
// knows the source ended well, would commit bytes the source disowned.
func testFailedSourceNeverCommits(t tester, s storage.Store) {
	ctx := testContext(t)
	for _, size := range []int{1, 1000, 300 << 10} {
		for _, withLast := range []bool{true, false} {
			what := fmt.Sprintf("%d bytes, failing %s the last", size, map[bool]string{true: "with", false: "after"}[withLast])
			data := randomBytes(uint64(size), size)
			key := fmt.Sprintf("failed-source/%d-%t", size, withLast)
			if _, err := s.Put(ctx, key, &failingSource{data: data, withLast: withLast}, int64(size), storage.Metadata{}); err == nil {
				t.Errorf("Put of %s succeeded", what)
			}
			_, err := s.Head(ctx, key)
			requireKind(t, "Head after a Put of "+what, err, storage.KindNotFound)

			mustPut(ctx, t, s, key, []byte("old"), storage.Metadata{})
			if _, err := s.Put(ctx, key, &failingSource{data: data, withLast: withLast}, int64(size), storage.Metadata{}); err == nil {
				t.Errorf("overwriting Put of %s succeeded", what)
			}
			if got, _ := mustGet(ctx, t, s, key, storage.Range{}); string(got) != "old" {
				t.Errorf("a failed overwrite of %s changed the object to %d bytes", what, len(got))
			}
		}
	}
	// A part: the upload must not complete with it.
	const key = "failed-source/multipart"
	id, err := s.InitMultipart(ctx, key, storage.Metadata{})
	if err != nil {
		t.Fatalf("InitMultipart: %v", err)
	}
	defer func() { _ = s.AbortMultipart(ctx, key, id) }()
	for _, withLast := range []bool{true, false} {
		data := randomBytes(77, partSize(s))
		if _, err := s.UploadPart(ctx, key, id, 1, &failingSource{data: data, withLast: withLast}, int64(len(data))); err == nil {
			t.Errorf("UploadPart of a source failing %v its last byte succeeded", map[bool]string{true: "with", false: "after"}[withLast])
		}
	}
	parts, err := s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(parts) != 0 {
		t.Errorf("failed part uploads left parts %+v", parts)
	}
}

// --- keys and listing ---

// specialKeys are keys that break naive URL escaping, signing or path
// handling. None is a path prefix of another key so that a directory-based
// backend can hold all of them.
func specialKeys() []string {
	return []string{
		"unicode/日本語/ファイル.txt",
		"unicode/Ünïcödé-ß",
		"unicode/😀 emoji.bin",
		"space/a b  c",
		"space/ leading and trailing ",
		"percent/100%",
		"percent/%2F%20%zz",
		"plus/a+b+c",
		"tilde/~user~",
		"amp/a&b&c",
		"question/what?x=1",
		"hash/#fragment#",
		"equals/a=b==",
		"mixed/!$'()*,;@[]^`{|}",
		"quote/\"double\" 'single'",
		"semi;colon/and:colon",
		".dotfile",
		"-dash/_under.score",
		longKey(),
	}
}

// longKey is a 1,000-byte key of path segments under 200 bytes each (a file
// system limits one name to 255 bytes), mixing multi-byte characters.
func longKey() string {
	var b strings.Builder
	for i := 0; b.Len() < 1000; i++ {
		if i > 0 {
			b.WriteByte('/')
		}
		seg := fmt.Sprintf("seg%02d-é-", i) + strings.Repeat("x", 150)
		b.WriteString(seg)
	}
	return truncateRunes(b.String(), 1000)
}

// truncateRunes cuts s to at most n bytes without splitting a character or
// leaving a trailing slash.
func truncateRunes(s string, n int) string {
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return strings.TrimRight(s, "/")
}

func testSpecialKeys(t tester, s storage.Store) {
	ctx := testContext(t)
	keys := specialKeys()
	if n := len(longKey()); n < 990 {
		t.Fatalf("long key is only %d bytes", n)
	}
	for _, k := range keys {
		mustPut(ctx, t, s, k, []byte("body of "+k), storage.Metadata{})
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{})); !slices.Equal(got, want) {
		t.Errorf("List returned\n%q\nwant\n%q", got, want)
	}
	// Page one key at a time so every key also travels as a cursor.
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{MaxKeys: 1})); !slices.Equal(got, want) {
		t.Errorf("List one key a page returned\n%q\nwant\n%q", got, want)
	}
	for _, k := range keys {
		info, err := s.Head(ctx, k)
		if err != nil {
			t.Errorf("Head(%q): %v", k, err)
			continue
		}
		if info.Size != int64(len("body of "+k)) {
			t.Errorf("Head(%q) Size = %d", k, info.Size)
		}
		if got, _ := mustGet(ctx, t, s, k, storage.Range{}); string(got) != "body of "+k {
			t.Errorf("Get(%q) = %q", k, got)
		}
		// Each special key is also a valid prefix and bound.
		if got := keysOf(listAll(ctx, t, s, storage.ListOptions{Prefix: k})); !slices.Equal(got, []string{k}) {
			t.Errorf("List with Prefix %q = %q", k, got)
		}
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q): %v", k, err)
		}
	}
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{})); len(got) != 0 {
		t.Errorf("List after deleting every key = %q", got)
	}
}

// testDirectoryMarker covers zero-byte keys ending in "/", which consoles
// create as folders: they must round trip alongside the keys under them.
func testDirectoryMarker(t tester, s storage.Store) {
	ctx := testContext(t)
	mustPut(ctx, t, s, "folder/", nil, storage.Metadata{User: map[string]string{"kind": "folder"}})
	mustPut(ctx, t, s, "folder/child", []byte("c"), storage.Metadata{})
	mustPut(ctx, t, s, "folder/sub/", nil, storage.Metadata{})
	mustPut(ctx, t, s, "folder-x", []byte("x"), storage.Metadata{})
	mustPut(ctx, t, s, "lonely/", nil, storage.Metadata{})
	want := []string{"folder-x", "folder/", "folder/child", "folder/sub/", "lonely/"}
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{})); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{MaxKeys: 1})); !slices.Equal(got, want) {
		t.Errorf("List one key a page = %q, want %q", got, want)
	}
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{Prefix: "folder/"})); !slices.Equal(got, want[1:4]) {
		t.Errorf("List prefix folder/ = %q, want %q", got, want[1:4])
	}
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{After: "folder/"})); !slices.Equal(got, want[2:]) {
		t.Errorf("List after folder/ = %q, want %q", got, want[2:])
	}
	info := mustHead(ctx, t, s, "folder/")
	if info.Size != 0 || info.Meta.User["kind"] != "folder" {
		t.Errorf("Head(folder/) = size %d user %v, want an empty object with kind=folder", info.Size, info.Meta.User)
	}
	if got, _ := mustGet(ctx, t, s, "folder/", storage.Range{}); len(got) != 0 {
		t.Errorf("Get(folder/) returned %d bytes", len(got))
	}
	if err := s.Delete(ctx, "folder/"); err != nil {
		t.Fatalf("Delete(folder/): %v", err)
	}
	_, err := s.Head(ctx, "folder/")
	requireKind(t, "Head of a deleted folder marker", err, storage.KindNotFound)
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{Prefix: "folder"})); !slices.Equal(got, []string{"folder-x", "folder/child", "folder/sub/"}) {
		t.Errorf("List after deleting the marker = %q", got)
	}
	if err := s.Delete(ctx, "lonely/"); err != nil {
		t.Fatalf("Delete(lonely/): %v", err)
	}
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{Prefix: "lonely"})); len(got) != 0 {
		t.Errorf("List after deleting lonely/ = %q", got)
	}
}

func testListEmpty(t tester, s storage.Store) {
	ctx := testContext(t)
	for _, opts := range []storage.ListOptions{{}, {MaxKeys: 1}, {Prefix: "p"}, {After: "a", Before: "z"}} {
		page, err := s.List(ctx, opts)
		if err != nil {
			t.Fatalf("List(%+v) of an empty store: %v", opts, err)
		}
		if len(page.Objects) != 0 || !page.Done {
			t.Errorf("List(%+v) of an empty store = %d objects, Done %v; want none and Done", opts, len(page.Objects), page.Done)
		}
	}
	uploads, err := s.ListUploads(ctx, "")
	if err != nil {
		t.Fatalf("ListUploads of an empty store: %v", err)
	}
	if len(uploads) != 0 {
		t.Errorf("ListUploads of an empty store = %+v", uploads)
	}
}

// orderKeys defeat a plain directory walk: '-' (0x2d) and '.' (0x2e) sort
// before '/' (0x2f), so "a-b/x" and "a.txt" come before "a/b", and "a0"
// after it, although a walk visiting directory "a" first would not agree.
func orderKeys() []string {
	return []string{
		"a/b", "a-b/x", "a.txt", "a0", "a/b-c", "a/b.c/d", "a/b0", "a/c/d/e",
		"A", "Z/z", "_", "~", "b!", "b/ /x", "日本/x", "é", "\u007f",
	}
}

func testListOrder(t tester, s storage.Store) {
	ctx := testContext(t)
	keys := orderKeys()
	putKeys(ctx, t, s, keys)
	want := sortedCopy(keys)
	if got := keysOf(listAll(ctx, t, s, storage.ListOptions{})); !slices.Equal(got, want) {
		t.Errorf("List order\n got %q\nwant %q", got, want)
	}
	for _, n := range []int{1, 2, 3, 5} {
		if got := keysOf(listAll(ctx, t, s, storage.ListOptions{MaxKeys: n})); !slices.Equal(got, want) {
			t.Errorf("List order with MaxKeys %d\n got %q\nwant %q", n, got, want)
		}
	}
}

func testListPaging(t tester, s storage.Store) {
	ctx := testContext(t)
	var keys []string
	for i := range 25 {
		keys = append(keys, fmt.Sprintf("page/%02d/item-%d", i%7, i))
	}
	putKeys(ctx, t, s, keys)
	want := sortedCopy(keys)
	for _, n := range []int{0, 1, 2, 7, 24, 25, 26, 1000} {
		opts := storage.ListOptions{MaxKeys: n}
		got := keysOf(listAll(ctx, t, s, opts))
		if !slices.Equal(got, want) {
			t.Errorf("paging with MaxKeys %d visited\n%q\nwant\n%q", n, got, want)
		}
	}
	// A full first page must say there is more and point at its last key.
	page, err := s.List(ctx, storage.ListOptions{MaxKeys: 10})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if page.Done || len(page.Objects) != 10 {
		t.Fatalf("first page of 10 from 25 = %d objects, Done %v", len(page.Objects), page.Done)
	}
	if page.Next != page.Objects[9].Key {
		t.Errorf("Next = %q, want the last key of the page %q", page.Next, page.Objects[9].Key)
	}
	// The cursor is resumable from a fresh call, as after a restart.
	rest := keysOf(listAll(ctx, t, s, storage.ListOptions{After: page.Next, MaxKeys: 4}))
	if !slices.Equal(rest, want[10:]) {
		t.Errorf("resuming after %q gave %q, want %q", page.Next, rest, want[10:])
	}
	// Resuming from the last key finds nothing and is Done.
	page, err = s.List(ctx, storage.ListOptions{After: want[len(want)-1]})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.Objects) != 0 || !page.Done {
		t.Errorf("List after the last key = %q, Done %v", keysOf(page.Objects), page.Done)
	}
}

func testListPrefix(t tester, s storage.Store) {
	ctx := testContext(t)
	keys := []string{
		"logs/2024/01/a", "logs/2024/01/b", "logs/2024/02/a", "logs/2025/01/a",
		"logs-old/x", "logs.txt", "logsx", "log", "photos/a.jpg", "photos/b.jpg",
	}
	putKeys(ctx, t, s, keys)
	cases := []struct {
		prefix string
		want   []string
	}{
		{"logs/", []string{"logs/2024/01/a", "logs/2024/01/b", "logs/2024/02/a", "logs/2025/01/a"}},
		{"logs/2024/0", []string{"logs/2024/01/a", "logs/2024/01/b", "logs/2024/02/a"}},
		{"logs/2024/01/", []string{"logs/2024/01/a", "logs/2024/01/b"}},
		{"logs", []string{"logs-old/x", "logs.txt", "logs/2024/01/a", "logs/2024/01/b", "logs/2024/02/a", "logs/2025/01/a", "logsx"}},
		{"log", sortedCopy(keys[:8])},
		{"logs/2024/01/a", []string{"logs/2024/01/a"}},
		{"p", []string{"photos/a.jpg", "photos/b.jpg"}},
		{"nothing", nil},
		{"logs/2026/", nil},
		{"logs/2024/01/a/", nil},
	}
	for _, c := range cases {
		for _, n := range []int{0, 1, 3} {
			got := keysOf(listAll(ctx, t, s, storage.ListOptions{Prefix: c.prefix, MaxKeys: n}))
			if !slices.Equal(got, c.want) {
				t.Errorf("Prefix %q MaxKeys %d = %q, want %q", c.prefix, n, got, c.want)
			}
		}
	}
	// Prefix combined with a cursor inside and outside the prefix.
	got := keysOf(listAll(ctx, t, s, storage.ListOptions{Prefix: "logs/", After: "logs/2024/01/b"}))
	if want := []string{"logs/2024/02/a", "logs/2025/01/a"}; !slices.Equal(got, want) {
		t.Errorf("Prefix logs/ After logs/2024/01/b = %q, want %q", got, want)
	}
	got = keysOf(listAll(ctx, t, s, storage.ListOptions{Prefix: "logs/", After: "a"}))
	if len(got) != 4 {
		t.Errorf("Prefix logs/ After a (before the prefix) = %q, want all 4 logs/ keys", got)
	}
	got = keysOf(listAll(ctx, t, s, storage.ListOptions{Prefix: "logs/", After: "m"}))
	if len(got) != 0 {
		t.Errorf("Prefix logs/ After m (past the prefix) = %q, want none", got)
	}
}

func testListRange(t tester, s storage.Store) {
	ctx := testContext(t)
	// No key is a directory of another ("k/b" beside "k/b/c"), which a file
	// system cannot hold; the bound "k/b" is still probed without existing.
	keys := []string{"k/a", "k/b/c", "k/bb", "k/c", "k/d/e/f", "k/e", "l", "m/n"}
	putKeys(ctx, t, s, keys)
	cases := []struct {
		opts storage.ListOptions
		want []string
	}{
		{storage.ListOptions{After: "k/b"}, []string{"k/b/c", "k/bb", "k/c", "k/d/e/f", "k/e", "l", "m/n"}},
		{storage.ListOptions{After: "k/b/c"}, []string{"k/bb", "k/c", "k/d/e/f", "k/e", "l", "m/n"}},
		{storage.ListOptions{Before: "k/c"}, []string{"k/a", "k/b/c", "k/bb"}},
		{storage.ListOptions{Before: "k/d"}, []string{"k/a", "k/b/c", "k/bb", "k/c"}},
		{storage.ListOptions{After: "k/a", Before: "k/e"}, []string{"k/b/c", "k/bb", "k/c", "k/d/e/f"}},
		{storage.ListOptions{After: "k/a", Before: "k/d/e/f"}, []string{"k/b/c", "k/bb", "k/c"}},
		{storage.ListOptions{After: "k/c", Before: "k/c"}, nil},
		{storage.ListOptions{After: "k/d", Before: "k/c"}, nil},
		{storage.ListOptions{After: "k/a", Before: "k/b"}, nil},
		{storage.ListOptions{After: "k/", Before: "l"}, []string{"k/a", "k/b/c", "k/bb", "k/c", "k/d/e/f", "k/e"}},
		{storage.ListOptions{After: "k/d/", Before: "k/d0"}, []string{"k/d/e/f"}},
		{storage.ListOptions{After: "", Before: "a"}, nil},
		{storage.ListOptions{After: "z"}, nil},
		{storage.ListOptions{Prefix: "k/", After: "k/b", Before: "k/d"}, []string{"k/b/c", "k/bb", "k/c"}},
		{storage.ListOptions{Prefix: "k/b", Before: "k/bb"}, []string{"k/b/c"}},
		{storage.ListOptions{Prefix: "m", Before: "k"}, nil},
	}
	for _, c := range cases {
		for _, n := range []int{0, 1, 2} {
			opts := c.opts
			opts.MaxKeys = n
			if got := keysOf(listAll(ctx, t, s, opts)); !slices.Equal(got, c.want) {
				t.Errorf("List(%+v) = %q, want %q", opts, got, c.want)
			}
		}
	}
}

// --- reads, metadata, checksums ---

func testRangedGet(t tester, s storage.Store) {
	ctx := testContext(t)
	data := randomBytes(4, 10000)
	res := mustPut(ctx, t, s, "ranged", data, storage.Metadata{})
	cases := []struct {
		name string
		rng  storage.Range
		want []byte
	}{
		{"middle", storage.Range{Offset: 1234, Length: 4321}, data[1234:5555]},
		{"start", storage.Range{Offset: 0, Length: 100}, data[:100]},
		{"first byte", storage.Range{Offset: 0, Length: 1}, data[:1]},
		{"to the end", storage.Range{Offset: 9000}, data[9000:]},
		{"to the end, negative length", storage.Range{Offset: 5000, Length: -1}, data[5000:]},
		{"last byte", storage.Range{Offset: 9999, Length: 1}, data[9999:]},
		{"last byte to the end", storage.Range{Offset: 9999}, data[9999:]},
		{"exactly to the end", storage.Range{Offset: 9000, Length: 1000}, data[9000:]},
		{"whole", storage.Range{}, data},
	}
	for _, c := range cases {
		got, info := mustGet(ctx, t, s, "ranged", c.rng)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s %+v: got %d bytes, want %d (content differs: %v)", c.name, c.rng, len(got), len(c.want), len(got) == len(c.want))
		}
		if info.Size != int64(len(data)) {
			t.Errorf("%s %+v: info Size = %d, want the whole size %d", c.name, c.rng, info.Size, len(data))
		}
		if !sameETag(info.ETag, res.ETag) {
			t.Errorf("%s %+v: info ETag = %q, want %q", c.name, c.rng, info.ETag, res.ETag)
		}
		if info.HasCRC64 && info.CRC64 != storage.CRC64(data) {
			t.Errorf("%s %+v: info CRC64 = %d, want the whole-object %d", c.name, c.rng, info.CRC64, storage.CRC64(data))
		}
	}
}

func testMetadata(t tester, s storage.Store) {
	ctx := testContext(t)
	meta := storage.Metadata{
		ContentType:        "application/json; charset=utf-8",
		ContentEncoding:    "gzip",
		ContentDisposition: `attachment; filename="report 2024.json"`,
		ContentLanguage:    "zh-CN",
		CacheControl:       "max-age=3600, must-revalidate",
		Expires:            "Wed, 21 Oct 2037 07:28:00 GMT",
		User: map[string]string{
			"color":         "blue",
			"source-bucket": "old-bucket",
			"empty-ish":     "-",
			"with-spaces":   "a value with spaces",
		},
	}
	mustPut(ctx, t, s, "meta/obj.json", []byte(`{"a":1}`), meta)
	head := mustHead(ctx, t, s, "meta/obj.json")
	checkMeta(t, "Head", head.Meta, meta)
	_, ginfo := mustGet(ctx, t, s, "meta/obj.json", storage.Range{})
	checkMeta(t, "Get", ginfo.Meta, meta)
	_, rinfo := mustGet(ctx, t, s, "meta/obj.json", storage.Range{Offset: 1, Length: 2})
	checkMeta(t, "ranged Get", rinfo.Meta, meta)

	// User metadata names come back lower-case whatever case they went in.
	mustPut(ctx, t, s, "meta/case", []byte("x"), storage.Metadata{User: map[string]string{"Mixed-Case": "Value Keeps Case"}})
	head = mustHead(ctx, t, s, "meta/case")
	if len(head.Meta.User) != 1 || head.Meta.User["mixed-case"] != "Value Keeps Case" {
		t.Errorf("user metadata = %v, want map[mixed-case:Value Keeps Case]", head.Meta.User)
	}
}

func checkMeta(t tester, op string, got, want storage.Metadata) {
	t.Helper()
	fields := []struct{ name, got, want string }{
		{"ContentType", got.ContentType, want.ContentType},
		{"ContentEncoding", got.ContentEncoding, want.ContentEncoding},
		{"ContentDisposition", got.ContentDisposition, want.ContentDisposition},
		{"ContentLanguage", got.ContentLanguage, want.ContentLanguage},
		{"CacheControl", got.CacheControl, want.CacheControl},
		{"Expires", got.Expires, want.Expires},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s %s = %q, want %q", op, f.name, f.got, f.want)
		}
	}
	if len(got.User) != len(want.User) {
		t.Errorf("%s user metadata = %v, want %v", op, got.User, want.User)
		return
	}
	for k, v := range want.User {
		if got.User[k] != v {
			t.Errorf("%s user metadata %q = %q, want %q", op, k, got.User[k], v)
		}
	}
}

// testChecksums checks that the store reports, in its family
// (Limits.Checksum), the checksum of what it stored: after a Put, at a
// Head and with a Get.
func testChecksums(t tester, s storage.Store) {
	ctx := testContext(t)
	alg := s.Limits().Preferred()
	for _, size := range []int{0, 1, 9, 4096, 100003} {
		data := randomBytes(uint64(size)+5, size)
		key := fmt.Sprintf("crc/%d", size)
		want := checksumOf(t, alg, data)
		res := mustPut(ctx, t, s, key, data, storage.Metadata{})
		if got, ok := res.Sum(alg); !ok || got != want {
			t.Errorf("%s: Put %s = %q (has %v), want %s", key, alg, got, ok, want)
		}
		head := mustHead(ctx, t, s, key)
		if got, ok := head.Sum(alg); !ok || got != want {
			t.Errorf("%s: Head %s = %q (has %v), want %s", key, alg, got, ok, want)
		}
		_, info := mustGet(ctx, t, s, key, storage.Range{})
		if got, ok := info.Sum(alg); !ok || got != want {
			t.Errorf("%s: Get %s = %q (has %v), want %s", key, alg, got, ok, want)
		}
	}
}

func checksumOf(t tester, alg storage.Algorithm, data []byte) string {
	h, err := storage.NewHash(alg)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(data)
	return storage.HashValue(h)
}

// checkMultipartSum checks what a store reports for a multipart object of
// parts: its CRC64, or for an MD5 store the ETag S3 gives such objects.
func checkMultipartSum(t tester, s storage.Store, what string, res storage.PutResult, head storage.ObjectInfo, parts [][]byte) {
	t.Helper()
	whole := bytes.Join(parts, nil)
	switch alg := s.Limits().Preferred(); alg {
	case storage.CRC64ECMA:
		want := storage.CRC64(whole)
		if !res.HasCRC64 || res.CRC64 != want {
			t.Errorf("%s CRC64 = %d (has %v), want %d", what, res.CRC64, res.HasCRC64, want)
		}
		if !head.HasCRC64 || head.CRC64 != want {
			t.Errorf("Head CRC64 = %d (has %v), want %d", head.CRC64, head.HasCRC64, want)
		}
	case storage.MD5:
		h := md5.New()
		for _, p := range parts {
			sum := md5.Sum(p)
			h.Write(sum[:])
		}
		want := fmt.Sprintf("%x-%d", h.Sum(nil), len(parts))
		if got := strings.ToLower(strings.Trim(res.ETag, `"`)); got != want {
			t.Errorf("%s ETag = %q, want the MD5 of the parts' MD5s %q", what, got, want)
		}
		if _, ok := head.Sum(storage.MD5); ok {
			t.Errorf("Head of a multipart object reports an MD5 (its ETag %q is not one)", head.ETag)
		}
	default:
		t.Errorf("the suite cannot check multipart objects of a %s store", alg)
	}
}

// --- multipart ---

// partSize is the suite's full part size: the backend's minimum, but never
// so small that parts are trivial.
func partSize(s storage.Store) int {
	const floor = 64 << 10
	return int(max(s.Limits().MinPartSize, floor))
}

func testMultipart(t tester, s storage.Store) {
	ctx := testContext(t)
	ps := partSize(s)
	parts := [][]byte{randomBytes(11, ps), randomBytes(12, ps), randomBytes(13, ps/3+7)}
	whole := bytes.Join(parts, nil)
	const key = "mp/big object.bin"
	meta := storage.Metadata{ContentType: "application/x-test", CacheControl: "no-cache", User: map[string]string{"origin": "multipart"}}

	id, err := s.InitMultipart(ctx, key, meta)
	if err != nil {
		t.Fatalf("InitMultipart: %v", err)
	}
	if id == "" {
		t.Fatal("InitMultipart returned an empty upload id")
	}
	uploads := mustListUploads(ctx, t, s, "mp/")
	if !hasUpload(uploads, key, id) {
		t.Fatalf("ListUploads(mp/) = %+v, want upload %q of %q", uploads, id, key)
	}
	for _, u := range uploads {
		if u.UploadID == id && u.Initiated.IsZero() {
			t.Error("ListUploads returned a zero Initiated time")
		}
	}

	// Parts out of order, and part 1 uploaded twice: the last upload wins.
	uploaded := map[int]storage.Part{}
	uploaded[3] = mustUploadPart(ctx, t, s, key, id, 3, parts[2])
	mustUploadPart(ctx, t, s, key, id, 1, randomBytes(99, ps))
	uploaded[1] = mustUploadPart(ctx, t, s, key, id, 1, parts[0])

	// Resume as after a crash: ask the store what is there and upload only
	// what is missing.
	listed, err := s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	checkParts(t, "ListParts before resume", listed, uploaded)
	have := map[int]bool{}
	for _, p := range listed {
		have[p.Number] = true
	}
	for n := 1; n <= 3; n++ {
		if !have[n] {
			uploaded[n] = mustUploadPart(ctx, t, s, key, id, n, parts[n-1])
		}
	}
	if len(uploaded) != 3 {
		t.Fatalf("resume uploaded parts %v, want 1..3", uploaded)
	}
	listed, err = s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	checkParts(t, "ListParts after resume", listed, uploaded)

	res, err := s.CompleteMultipart(ctx, key, id, listed)
	if err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	head := mustHead(ctx, t, s, key)
	if head.Size != int64(len(whole)) {
		t.Errorf("Head Size = %d, want %d", head.Size, len(whole))
	}
	checkMultipartSum(t, s, "CompleteMultipart", res, head, parts)
	if !sameETag(head.ETag, res.ETag) {
		t.Errorf("Head ETag = %q, CompleteMultipart returned %q", head.ETag, res.ETag)
	}
	checkMeta(t, "Head of a multipart object", head.Meta, meta)
	got, _ := mustGet(ctx, t, s, key, storage.Range{})
	if !bytes.Equal(got, whole) {
		t.Errorf("multipart object: got %d bytes, want the %d-byte concatenation", len(got), len(whole))
	}
	// A range across the part boundary.
	got, _ = mustGet(ctx, t, s, key, storage.Range{Offset: int64(ps) - 10, Length: 20})
	if !bytes.Equal(got, whole[ps-10:ps+10]) {
		t.Error("a range across the first part boundary differs")
	}
	if u := mustListUploads(ctx, t, s, ""); hasUpload(u, key, id) {
		t.Errorf("ListUploads after complete still shows the upload: %+v", u)
	}
	_, err = s.ListParts(ctx, key, id)
	requireKind(t, "ListParts of a completed upload", err, storage.KindNotFound)
	if objs := keysOf(listAll(ctx, t, s, storage.ListOptions{})); !slices.Equal(objs, []string{key}) {
		t.Errorf("List after complete = %q, want just %q", objs, key)
	}
}

func testMultipartAbort(t tester, s storage.Store) {
	ctx := testContext(t)
	const key = "abort/me"
	id, err := s.InitMultipart(ctx, key, storage.Metadata{})
	if err != nil {
		t.Fatalf("InitMultipart: %v", err)
	}
	mustUploadPart(ctx, t, s, key, id, 1, randomBytes(21, partSize(s)))
	mustUploadPart(ctx, t, s, key, id, 2, randomBytes(22, 100))
	if err := s.AbortMultipart(ctx, key, id); err != nil {
		t.Fatalf("AbortMultipart: %v", err)
	}
	if u := mustListUploads(ctx, t, s, ""); hasUpload(u, key, id) {
		t.Errorf("ListUploads after abort still shows the upload: %+v", u)
	}
	_, err = s.ListParts(ctx, key, id)
	requireKind(t, "ListParts of an aborted upload", err, storage.KindNotFound)
	_, err = s.Head(ctx, key)
	requireKind(t, "Head after abort", err, storage.KindNotFound)
	_, err = s.UploadPart(ctx, key, id, 3, bytes.NewReader([]byte("late")), 4)
	requireKind(t, "UploadPart to an aborted upload", err, storage.KindNotFound)
	_, err = s.ListParts(ctx, key, "no-such-upload-id")
	requireKind(t, "ListParts of an unknown upload", err, storage.KindNotFound)
	if objs := listAll(ctx, t, s, storage.ListOptions{}); len(objs) != 0 {
		t.Errorf("List after abort = %q, want nothing", keysOf(objs))
	}
}

func testMultipartMissingPart(t tester, s storage.Store) {
	ctx := testContext(t)
	const key = "missing/part"
	id, err := s.InitMultipart(ctx, key, storage.Metadata{})
	if err != nil {
		t.Fatalf("InitMultipart: %v", err)
	}
	p1 := mustUploadPart(ctx, t, s, key, id, 1, randomBytes(31, partSize(s)))
	p2 := mustUploadPart(ctx, t, s, key, id, 2, randomBytes(32, partSize(s)))
	never := storage.Part{Number: 3, Size: 10, ETag: p2.ETag}
	_, err = s.CompleteMultipart(ctx, key, id, []storage.Part{p1, p2, never})
	requireKind(t, "CompleteMultipart with a part never uploaded", err, storage.KindInvalid)
	wrong := p2
	wrong.ETag = p1.ETag
	if sameETag(p1.ETag, p2.ETag) {
		t.Fatalf("different parts got the same ETag %q", p1.ETag)
	}
	_, err = s.CompleteMultipart(ctx, key, id, []storage.Part{p1, wrong})
	requireKind(t, "CompleteMultipart with a wrong part ETag", err, storage.KindInvalid)
	_, err = s.Head(ctx, key)
	requireKind(t, "Head after failed completes", err, storage.KindNotFound)
	// The upload survives a failed complete and can still be completed.
	if _, err := s.CompleteMultipart(ctx, key, id, []storage.Part{p1, p2}); err != nil {
		t.Fatalf("CompleteMultipart after failed attempts: %v", err)
	}
	if info := mustHead(ctx, t, s, key); info.Size != p1.Size+p2.Size {
		t.Errorf("Size = %d, want %d", info.Size, p1.Size+p2.Size)
	}
	_, err = s.CompleteMultipart(ctx, key, "no-such-upload-id", []storage.Part{p1})
	if storage.KindOf(err) != storage.KindNotFound && storage.KindOf(err) != storage.KindInvalid {
		t.Errorf("CompleteMultipart of an unknown upload: %v, want not found or invalid", err)
	}
}

func testListUploadsPrefix(t tester, s storage.Store) {
	ctx := testContext(t)
	type up struct{ key, id string }
	var ups []up
	for _, k := range []string{"u/a", "u/a", "u/b", "v/c", "u-x"} {
		id, err := s.InitMultipart(ctx, k, storage.Metadata{})
		if err != nil {
			t.Fatalf("InitMultipart(%q): %v", k, err)
		}
		ups = append(ups, up{k, id})
	}
	if ups[0].id == ups[1].id {
		t.Fatalf("two uploads of one key share id %q", ups[0].id)
	}
	all := mustListUploads(ctx, t, s, "")
	for _, u := range ups {
		if !hasUpload(all, u.key, u.id) {
			t.Errorf("ListUploads(\"\") misses %q %q: %+v", u.key, u.id, all)
		}
	}
	if len(all) != len(ups) {
		t.Errorf("ListUploads(\"\") = %d uploads, want %d", len(all), len(ups))
	}
	sub := mustListUploads(ctx, t, s, "u/")
	if len(sub) != 3 {
		t.Errorf("ListUploads(u/) = %+v, want the 3 uploads under u/", sub)
	}
	for _, u := range sub {
		if !strings.HasPrefix(u.Key, "u/") {
			t.Errorf("ListUploads(u/) returned %q", u.Key)
		}
	}
	for _, u := range ups {
		if err := s.AbortMultipart(ctx, u.key, u.id); err != nil {
			t.Errorf("AbortMultipart(%q): %v", u.key, err)
		}
	}
	if left := mustListUploads(ctx, t, s, ""); len(left) != 0 {
		t.Errorf("ListUploads after aborting all = %+v", left)
	}
}

func checkParts(t tester, op string, got []storage.Part, want map[int]storage.Part) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %d parts, want %d: %+v", op, len(got), len(want), got)
	}
	for i, p := range got {
		if i > 0 && p.Number <= got[i-1].Number {
			t.Errorf("%s not in part-number order: %+v", op, got)
		}
		w, ok := want[p.Number]
		if !ok {
			t.Errorf("%s returned unexpected part %d", op, p.Number)
			continue
		}
		if p.Size != w.Size || !sameETag(p.ETag, w.ETag) {
			t.Errorf("%s part %d = size %d etag %q, want size %d etag %q", op, p.Number, p.Size, p.ETag, w.Size, w.ETag)
		}
		if p.HasCRC64 && w.HasCRC64 && p.CRC64 != w.CRC64 {
			t.Errorf("%s part %d CRC64 = %d, UploadPart returned %d", op, p.Number, p.CRC64, w.CRC64)
		}
	}
}

// --- errors ---

func testWrongCredentials(t *testing.T, h Harness) {
	if h.WrongCredentials == nil {
		// The backend has no credentials; nothing can be wrong with them.
		return
	}
	s, ctx := h.WrongCredentials(t), testContext(t)
	_, err := s.Head(ctx, "any/key")
	requireFatal(t, "Head with wrong credentials", err, storage.KindAccessDenied)
	_, err = s.List(ctx, storage.ListOptions{})
	requireFatal(t, "List with wrong credentials", err, storage.KindAccessDenied)
	_, err = s.Put(ctx, "any/key", bytes.NewReader([]byte("data")), 4, storage.Metadata{})
	requireFatal(t, "Put with wrong credentials", err, storage.KindAccessDenied)
	rc, _, err := s.Get(ctx, "any/key", storage.Range{})
	if rc != nil {
		rc.Close()
	}
	requireFatal(t, "Get with wrong credentials", err, storage.KindAccessDenied)
	_, err = s.InitMultipart(ctx, "any/key", storage.Metadata{})
	requireFatal(t, "InitMultipart with wrong credentials", err, storage.KindAccessDenied)
}

func testMissingBucket(t *testing.T, h Harness) {
	if h.MissingBucket == nil {
		t.Fatal("storagetest: Harness.MissingBucket is required")
	}
	s, ctx := h.MissingBucket(t), testContext(t)
	_, err := s.List(ctx, storage.ListOptions{})
	requireFatal(t, "List of a missing bucket", err, storage.KindNoSuchBucket)
	_, err = s.Put(ctx, "k", bytes.NewReader([]byte("data")), 4, storage.Metadata{})
	requireFatal(t, "Put to a missing bucket", err, storage.KindNoSuchBucket)
	_, err = s.InitMultipart(ctx, "k", storage.Metadata{})
	requireFatal(t, "InitMultipart in a missing bucket", err, storage.KindNoSuchBucket)
}

// --- concurrency ---

func testConcurrentPuts(t tester, s storage.Store) {
	ctx := testContext(t)
	const workers, each = 8, 6
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("conc/w%d/%02d", w, i)
				data := []byte(strings.Repeat(key, 50+i))
				if _, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.Metadata{}); err != nil {
					errs <- fmt.Errorf("Put(%q): %w", key, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	objs := listAll(ctx, t, s, storage.ListOptions{MaxKeys: 7})
	if len(objs) != workers*each {
		t.Fatalf("List after concurrent Puts = %d objects, want %d", len(objs), workers*each)
	}
	for _, o := range objs {
		data, _ := mustGet(ctx, t, s, o.Key, storage.Range{})
		if len(data) == 0 || !bytes.Equal(data, bytes.Repeat([]byte(o.Key), len(data)/len(o.Key))) {
			t.Errorf("%s holds another key's data", o.Key)
		}
	}
}

// --- helpers ---

func testContext(t tester) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// sameETag compares ETags as the providers do: quotes and hex case do not
// matter.
func sameETag(a, b string) bool {
	return strings.EqualFold(strings.Trim(a, `"`), strings.Trim(b, `"`))
}

func checkRecent(t tester, what string, got, before time.Time) {
	t.Helper()
	// Servers truncate to seconds and clocks drift a little.
	if got.Before(before.Add(-time.Hour)) || got.After(time.Now().Add(time.Hour)) {
		t.Errorf("%s = %v, want about now (%v)", what, got, before)
	}
}

func mustPut(ctx context.Context, t tester, s storage.Store, key string, data []byte, meta storage.Metadata) storage.PutResult {
	t.Helper()
	res, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), meta)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
	return res
}

func putKeys(ctx context.Context, t tester, s storage.Store, keys []string) {
	t.Helper()
	for _, k := range keys {
		mustPut(ctx, t, s, k, []byte(k), storage.Metadata{})
	}
}

func mustHead(ctx context.Context, t tester, s storage.Store, key string) storage.ObjectInfo {
	t.Helper()
	info, err := s.Head(ctx, key)
	if err != nil {
		t.Fatalf("Head(%q): %v", key, err)
	}
	return info
}

func mustGet(ctx context.Context, t tester, s storage.Store, key string, rng storage.Range) ([]byte, storage.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(ctx, key, rng)
	if err != nil {
		t.Fatalf("Get(%q, %+v): %v", key, rng, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading Get(%q, %+v): %v", key, rng, err)
	}
	return data, info
}

func mustUploadPart(ctx context.Context, t tester, s storage.Store, key, id string, n int, data []byte) storage.Part {
	t.Helper()
	p, err := s.UploadPart(ctx, key, id, n, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("UploadPart(%q, part %d, %d bytes): %v", key, n, len(data), err)
	}
	if p.Number != n || p.Size != int64(len(data)) || p.ETag == "" {
		t.Errorf("UploadPart returned %+v, want number %d size %d and an ETag", p, n, len(data))
	}
	if p.HasCRC64 && p.CRC64 != storage.CRC64(data) {
		t.Errorf("UploadPart part %d CRC64 = %d, want %d", n, p.CRC64, storage.CRC64(data))
	}
	return p
}

func mustListUploads(ctx context.Context, t tester, s storage.Store, prefix string) []storage.Upload {
	t.Helper()
	u, err := s.ListUploads(ctx, prefix)
	if err != nil {
		t.Fatalf("ListUploads(%q): %v", prefix, err)
	}
	return u
}

func hasUpload(uploads []storage.Upload, key, id string) bool {
	return slices.ContainsFunc(uploads, func(u storage.Upload) bool { return u.Key == key && u.UploadID == id })
}

// listAll pages through a listing, feeding Page.Next back as After, and
// checks the paging contract on the way: pages are ascending and within
// bounds, no page exceeds MaxKeys, and every page but the last is not Done.
func listAll(ctx context.Context, t tester, s storage.Store, opts storage.ListOptions) []storage.ObjectInfo {
	t.Helper()
	var all []storage.ObjectInfo
	for range 10000 {
		page, err := s.List(ctx, opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		if opts.MaxKeys > 0 && len(page.Objects) > opts.MaxKeys {
			t.Fatalf("List(%+v) returned %d objects, more than MaxKeys", opts, len(page.Objects))
		}
		for _, o := range page.Objects {
			if o.Key <= opts.After {
				t.Fatalf("List(%+v) returned %q, not after the cursor", opts, o.Key)
			}
			if opts.Before != "" && o.Key >= opts.Before {
				t.Fatalf("List(%+v) returned %q, not before the bound", opts, o.Key)
			}
			if !strings.HasPrefix(o.Key, opts.Prefix) {
				t.Fatalf("List(%+v) returned %q, outside the prefix", opts, o.Key)
			}
			if n := len(all); n > 0 && o.Key <= all[n-1].Key {
				t.Fatalf("List(%+v) returned %q after %q: not ascending or repeated", opts, o.Key, all[n-1].Key)
			}
			all = append(all, o)
		}
		if page.Done {
			return all
		}
		if len(page.Objects) == 0 {
			t.Fatalf("List(%+v) returned an empty page that is not Done", opts)
		}
		if page.Next <= opts.After {
			t.Fatalf("List(%+v) returned Next %q that does not advance", opts, page.Next)
		}
		opts.After = page.Next
	}
	t.Fatalf("List(%+v) did not finish in 10000 pages", opts)
	return nil
}

func keysOf(objs []storage.ObjectInfo) []string {
	if len(objs) == 0 {
		return nil
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys
}

func requireKind(t tester, what string, err error, want storage.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v", what, want)
		return
	}
	var se *storage.Error
	if !errors.As(err, &se) {
		t.Errorf("%s: %v is not a *storage.Error", what, err)
		return
	}
	if se.Kind != want {
		t.Errorf("%s: kind %v (%v), want %v", what, se.Kind, err, want)
	}
}

func requireFatal(t tester, what string, err error, want storage.Kind) {
	t.Helper()
	requireKind(t, what, err, want)
	if err != nil && !storage.IsFatal(err) {
		t.Errorf("%s: storage.IsFatal(%v) = false", what, err)
	}
}
