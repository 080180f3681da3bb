package emulator

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/storage"
)

func mustPut(t *testing.T, b *Backend, bucket, key, body string) *Object {
	t.Helper()
	o, err := b.PutObject(bucket, key, strings.NewReader(body), int64(len(body)), Meta{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func readAll(t *testing.T, o *Object) []byte {
	t.Helper()
	rc, err := o.Open(0, o.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestListDelimiterAndMarkers(t *testing.T) {
	b, _ := NewBackend("")
	b.CreateBucket("b")
	for _, k := range []string{"a-b", "a/1", "a/2", "a/x/3", "b", "c/1", "c/2", "d"} {
		mustPut(t, b, "b", k, k)
	}
	var got []string
	marker := ""
	for {
		res, err := b.List("b", "", marker, "/", 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			got = append(got, o.Key)
		}
		got = append(got, res.CommonPrefixes...)
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
	}
	slices.Sort(got)
	want := []string{"a-b", "a/", "b", "c/", "d"}
	if !slices.Equal(got, want) {
		t.Fatalf("paged delimiter listing = %q, want %q", got, want)
	}
	res, _ := b.List("b", "a/", "", "/", 100)
	if len(res.Objects) != 2 || len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0] != "a/x/" {
		t.Fatalf("prefix a/: %+v", res)
	}
	if _, err := b.List("nope", "", "", "", 1); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("missing bucket: %v", err)
	}
}

func TestMultipartRulesAndCRC(t *testing.T) {
	b, _ := NewBackend("")
	b.CreateBucket("b")
	u, _ := b.CreateUpload("b", "k", Meta{ContentType: "text/plain"})
	p1 := bytes.Repeat([]byte("a"), 200)
	p3 := []byte("tail")
	b.UploadPart("b", "k", u.ID, 1, bytes.NewReader(p1), int64(len(p1)), nil)
	part3, _ := b.UploadPart("b", "k", u.ID, 3, bytes.NewReader(p3), int64(len(p3)), nil)
	parts, _, _ := b.Parts("b", "k", u.ID)
	list := []CompletePart{{1, parts[0].ETag}, {3, part3.ETag}}
	if _, err := b.CompleteUpload("b", "k", u.ID, list, CompleteRules{Consecutive: true}); err == nil || err.(*APIError).Code != "InvalidPart" {
		t.Fatalf("gap with consecutive rule: %v", err)
	}
	if _, err := b.CompleteUpload("b", "k", u.ID, list, CompleteRules{MinPartSize: 1000}); err == nil || err.(*APIError).Code != "EntityTooSmall" {
		t.Fatalf("small part: %v", err)
	}
	obj, err := b.CompleteUpload("b", "k", u.ID, list, CompleteRules{MinPartSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	whole := append(append([]byte{}, p1...), p3...)
	if !bytes.Equal(readAll(t, obj), whole) || obj.CRC64 != storage.CRC64(whole) || !strings.HasSuffix(obj.ETag, "-2") {
		t.Fatalf("completed object wrong: size %d crc %d etag %s", obj.Size, obj.CRC64, obj.ETag)
	}
	if b.UploadCount("b") != 0 {
		t.Fatal("upload still open after complete")
	}
}

func TestIncompleteBodyIsNotStored(t *testing.T) {
	b, _ := NewBackend("")
	b.CreateBucket("b")
	if _, err := b.PutObject("b", "k", strings.NewReader("short"), 10, Meta{}, nil); err == nil {
		t.Fatal("short body accepted")
	}
	if _, err := b.Object("b", "k"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("truncated object stored: %v", err)
	}
}

func TestOnDiskBackendReloads(t *testing.T) {
	dir := t.TempDir()
	b, err := NewBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.CreateBucket("b")
	mustPut(t, b, "b", "x/1", "hello")
	if _, err := b.AddObject("b", "gen", GeneratedBlob(9, 300000), Meta{User: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "b", "gone", "bye")
	b.DeleteObject("b", "gone")

	b2, err := NewBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	if keys := b2.Keys("b"); !slices.Equal(keys, []string{"gen", "x/1"}) {
		t.Fatalf("reloaded keys %q", keys)
	}
	o, _ := b2.Object("b", "x/1")
	if string(readAll(t, o)) != "hello" {
		t.Fatal("reloaded body differs")
	}
	g1, _ := b.Object("b", "gen")
	g2, _ := b2.Object("b", "gen")
	if CompareObjects(g1, g2) != "" || !bytes.Equal(readAll(t, g1), readAll(t, g2)) {
		t.Fatal("reloaded generated object differs")
	}
}

func TestGeneratedBlobRanges(t *testing.T) {
	blob := GeneratedBlob(42, 200_003)
	rc, _ := blob.Open(0, blob.Size())
	all, _ := io.ReadAll(rc)
	if int64(len(all)) != blob.Size() {
		t.Fatalf("read %d bytes", len(all))
	}
	for _, r := range [][2]int64{{0, 1}, {65535, 2}, {100_000, 65536}, {200_002, 1}} {
		rc, _ := blob.Open(r[0], r[1])
		part, _ := io.ReadAll(rc)
		if !bytes.Equal(part, all[r[0]:r[0]+r[1]]) {
			t.Errorf("range %v differs from the whole read", r)
		}
		// The same range through WriteTo, which io.Copy prefers.
		rc, _ = blob.Open(r[0], r[1])
		var w bytes.Buffer
		if n, err := rc.(io.WriterTo).WriteTo(&w); err != nil || n != r[1] || !bytes.Equal(w.Bytes(), part) {
			t.Errorf("range %v by WriteTo: %d bytes, %v, equal %v", r, n, err, bytes.Equal(w.Bytes(), part))
		}
	}
	mb := newMultiBlob([]Blob{memBlob("abc"), memBlob(""), memBlob("defg")})
	rc, _ = mb.Open(2, 4)
	got, _ := io.ReadAll(rc)
	if string(got) != "cdef" {
		t.Fatalf("multi blob range = %q", got)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	ds := DataSet{Objects: 300, MinSize: 0, MaxSize: 100_000, Large: 1, LargeSize: 1 << 20, Seed: 3}
	b1, _ := NewBackend("")
	b2, _ := NewBackend("")
	s1, err := Generate(b1, "b", ds)
	if err != nil {
		t.Fatal(err)
	}
	Generate(b2, "b", ds)
	if s1.Objects != 301 || !slices.Equal(b1.Keys("b"), b2.Keys("b")) {
		t.Fatalf("generated %d objects; keys equal: %v", s1.Objects, slices.Equal(b1.Keys("b"), b2.Keys("b")))
	}
	odd := 0
	for _, k := range b1.Keys("b") {
		if strings.ContainsAny(k, " %+~&") || !isASCII(k) {
			odd++
		}
		o1, _ := b1.Object("b", k)
		o2, _ := b2.Object("b", k)
		if CompareObjects(o1, o2) != "" {
			t.Fatalf("%q differs between runs", k)
		}
	}
	if odd == 0 {
		t.Error("no keys with special characters generated")
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
