package activities

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// TestCarriedRoundTrip: what a copy takes from carried objects is what the
// listing found.
func TestCarriedRoundTrip(t *testing.T) {
	objs := []storage.ObjectInfo{
		{Key: "a/1", Size: 10, ETag: `"e1"`, LastModified: time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC), CRC64: 0xfedcba9876543210, HasCRC64: true},
		{Key: "a/2", Size: 0, LastModified: time.Date(2026, 1, 2, 3, 4, 5, 123, time.UTC),
			Checksums: []storage.Checksum{{Alg: storage.Algorithm("md5"), Value: "abc:def"}}},
		{Key: "a/3", Size: 7, Restored: true},
	}
	objs[2].Meta.StorageClass = storage.ClassArchive
	back, err := uncarried(carried(objs, 2))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, objs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, objs)
	}
	if _, err := uncarried([]migration.Listed{{Key: "b"}, {Key: "a"}}); err == nil {
		t.Error("objects out of order taken")
	}
}

// TestCarriedFitsItsBudget: objects of long keys are carried from the
// first chunk whose objects, with all after it, fit MaxCarriedBytes.
func TestCarriedFitsItsBudget(t *testing.T) {
	var objs []storage.ObjectInfo
	for i := range 400 {
		objs = append(objs, storage.ObjectInfo{Key: fmt.Sprintf("%s%04d", strings.Repeat("k", 900), i), Size: int64(i)})
	}
	const n = 32
	out := carried(objs, n)
	from := len(objs) - len(out)
	if len(out) == 0 || from%n != 0 || out[0].Key != objs[from].Key {
		t.Fatalf("carried %d of %d objects from %d: want whole chunks of %d", len(out), len(objs), from, n)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	per := len(b) / len(out)
	if len(b) > migration.MaxCarriedBytes || len(b)+n*per <= migration.MaxCarriedBytes {
		t.Errorf("carried %d bytes: want the most whole chunks within %d", len(b), migration.MaxCarriedBytes)
	}
	// Keys the JSON escapes (each < is six bytes) are counted as encoded.
	var odd []storage.ObjectInfo
	for i := range 400 {
		odd = append(odd, storage.ObjectInfo{Key: fmt.Sprintf("%s%04d", strings.Repeat("<", 200), i), ETag: `"0123456789abcdef0123456789abcdef"`})
	}
	if b, _ := json.Marshal(carried(odd, n)); len(b) > migration.MaxCarriedBytes {
		t.Errorf("carried %d bytes of escaped keys, over %d", len(b), migration.MaxCarriedBytes)
	}
	if got := carried(objs[:10], n); len(got) != 10 {
		t.Errorf("carried %d of 10 short objects", len(got))
	}
}
