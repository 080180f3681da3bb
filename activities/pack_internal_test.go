package activities

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

func packSample() []storage.ObjectInfo {
	objs := []storage.ObjectInfo{
		{Key: "a/1", Size: 10, ETag: "5B3C1A2E053D763E1B002CC607C5A0FE", LastModified: time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC),
			CRC64: 0xfedcba9876543210, HasCRC64: true},
		{Key: "a/10", Size: 0, ETag: "d41d8cd98f00b204e9800998ecf8427e-3", LastModified: time.Date(2026, 1, 2, 3, 4, 5, 123, time.UTC),
			Checksums: []storage.Checksum{{Alg: storage.Algorithm("md5"), Value: "abc:def"}}},
		{Key: "a/10/x", Size: 1 << 40, ETag: "0123456789abcdef0123456789abcdef", Restored: true},
		{Key: "b", Size: 7, ETag: `"quoted"`, LastModified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Key: "b\x00\xff", Size: 1, ETag: "aBcD12"},
		{Key: "c", ETag: "0123456789"},
	}
	objs[2].Meta.StorageClass = storage.ClassArchive
	objs[3].Meta.StorageClass = storage.ClassArchive
	objs[4].Meta.StorageClass = storage.ClassIA
	return objs
}

// TestPackedRoundTrip: what a copy takes from packed objects is what the
// listing found: all of it when packed full, key, size, class and restore
// state otherwise.
func TestPackedRoundTrip(t *testing.T) {
	objs := packSample()
	back, err := unpackChunks([][]byte{packChunk(objs[:2], true), packChunk(objs[2:], true)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, objs) {
		t.Errorf("full round trip:\n got %+v\nwant %+v", back, objs)
	}
	back, err = unpackChunks([][]byte{packChunk(objs, false)})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		want := storage.ObjectInfo{Key: o.Key, Size: o.Size, Restored: o.Restored}
		want.Meta.StorageClass = o.Meta.StorageClass
		if !reflect.DeepEqual(back[i], want) {
			t.Errorf("short round trip of %q: got %+v, want %+v", o.Key, back[i], want)
		}
	}
	if got, err := unpackChunks([][]byte{packChunk(nil, false)}); err != nil || len(got) != 0 {
		t.Errorf("empty chunk: %v, %v", got, err)
	}
}

// TestPackedIsSmall: objects of a bucket's usual keys pack to a few bytes
// each, ETags, times and CRC64s included to tens: the history budget of
// carrying every listing (docs/scale.md).
func TestPackedIsSmall(t *testing.T) {
	var objs []storage.ObjectInfo
	for i := range 16 {
		objs = append(objs, storage.ObjectInfo{Key: fmt.Sprintf("logs/2026/12/02/host-07/app-%06d.log.gz", 4000+i), Size: int64(4096 + i*77),
			ETag: fmt.Sprintf("%032X", i*7919), LastModified: time.Date(2026, 12, 2, 8, 0, i, 0, time.UTC), CRC64: uint64(i) * 0x9e3779b97f4a7c15, HasCRC64: true})
	}
	short, full := len(packChunk(objs, false)), len(packChunk(objs, true))
	if per := float64(short) / 16; per > 16 {
		t.Errorf("packed %.1f bytes an object without ETags, want at most 16", per)
	}
	if per := float64(full) / 16; per > 48 {
		t.Errorf("packed %.1f bytes an object in full, want at most 48", per)
	}
	t.Logf("16 objects: %d bytes packed, %d in full", short, full)

	// The benchmark's keys (emulator.Generate: nested prefixes, 33 bytes
	// long on average), in chunks of 32 as a job's pool cuts them.
	b, err := emulator.NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emulator.Generate(b, "src", emulator.DataSet{Objects: 20000, MinSize: 1, MaxSize: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	keys := b.Keys("src")
	var gen []storage.ObjectInfo
	for _, k := range keys {
		gen = append(gen, storage.ObjectInfo{Key: k, Size: 4096})
	}
	n := 0
	for i := 0; i < len(gen); i += 32 {
		n += len(packChunk(gen[i:min(i+32, len(gen))], false))
	}
	if per := float64(n) / float64(len(gen)); per > 14 {
		t.Errorf("the benchmark's keys packed in %.1f bytes an object, want at most 14", per)
	} else {
		t.Logf("the benchmark's %d keys: %.1f bytes an object packed", len(gen), per)
	}
}

// TestUnpackRejectsDamage: a packed chunk cut short, of another format or
// out of order is refused with an error, never a panic or a wrong object.
func TestUnpackRejectsDamage(t *testing.T) {
	b := packChunk(packSample(), true)
	for n := range len(b) {
		if _, err := unpackChunk(b[:n]); err == nil {
			t.Errorf("chunk cut to %d of %d bytes taken", n, len(b))
		}
	}
	if _, err := unpackChunk(append(b[:len(b):len(b)], 0)); err == nil {
		t.Error("chunk with a byte left over taken")
	}
	other := append([]byte{packVersion + 1}, b[1:]...)
	if _, err := unpackChunk(other); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("chunk of another format: %v", err)
	}
	objs := packSample()
	if _, err := unpackChunks([][]byte{packChunk(objs[2:], false), packChunk(objs[:2], false)}); err == nil {
		t.Error("chunks out of order taken")
	}
}

// TestPackChunksFitsItsBudget: the first chunks whose packed objects fit
// MaxCarriedBytes, as the payload encodes them, are packed; the others are
// left empty for their copies to list.
func TestPackChunksFitsItsBudget(t *testing.T) {
	var objs []storage.ObjectInfo
	for i := range 1000 {
		// Keys that share nothing: front coding saves nothing.
		objs = append(objs, storage.ObjectInfo{Key: fmt.Sprintf("%04d%s", i, strings.Repeat("k", 500)), Size: int64(i)})
	}
	const n = 16
	chunks := packChunks(objs, n, false)
	if len(chunks) != len(chunkEnds(keysOf(objs), n)) {
		t.Fatalf("%d chunks for %d bounds", len(chunks), len(chunkEnds(keysOf(objs), n)))
	}
	encoded, packed := 0, 0
	for i, c := range chunks {
		if len(c) == 0 {
			continue
		}
		if i != packed {
			t.Fatalf("chunk %d packed after an empty one", i)
		}
		packed++
		encoded += len(base64.StdEncoding.EncodeToString(c)) + 3
		got, err := unpackChunk(c)
		if err != nil || len(got) != n || got[0].Key != objs[i*n].Key {
			t.Fatalf("chunk %d: %d objects from %q, %v", i, len(got), got[0].Key, err)
		}
	}
	if packed == 0 || packed == len(chunks) || encoded > migration.MaxCarriedBytes {
		t.Errorf("%d of %d chunks packed in %d bytes: want the first ones within %d", packed, len(chunks), encoded, migration.MaxCarriedBytes)
	}
	short := packChunks(objs[:40], n, true)
	if len(short) != 3 || short[2] == nil {
		t.Errorf("40 objects in chunks of %d: %d chunks, want 3 all packed", n, len(short))
	}
}

// FuzzUnpackChunk: no input makes unpacking panic, and whatever packs
// unpacks to itself.
func FuzzUnpackChunk(f *testing.F) {
	f.Add(packChunk(packSample(), true), "k1", "k2", int64(3), "ABCDEF")
	f.Add(packChunk(packSample(), false), "", "\x00", int64(0), "")
	f.Fuzz(func(t *testing.T, b []byte, k1, k2 string, size int64, etag string) {
		_, _ = unpackChunk(b)
		if k1 >= k2 {
			return
		}
		objs := []storage.ObjectInfo{{Key: k1, Size: max(size, 0), ETag: etag}, {Key: k2, ETag: strings.ToLower(etag)}}
		back, err := unpackChunk(packChunk(objs, true))
		if err != nil || !reflect.DeepEqual(back, objs) {
			t.Errorf("round trip of %+v: %+v, %v", objs, back, err)
		}
	})
}
