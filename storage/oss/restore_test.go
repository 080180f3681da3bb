package oss

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/storage"
)

func TestRestore(t *testing.T) {
	ts := newTestServer(t)
	ts.fe.RestoreDelay = 300 * time.Millisecond
	s := ts.store(t, ts.config(ts.freshBucket(t), 4))
	ctx := context.Background()
	if _, err := s.Put(ctx, "cold", strings.NewReader("ice"), 3, storage.Metadata{StorageClass: storage.ClassArchive}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "warm", strings.NewReader("sun"), 3, storage.Metadata{}); err != nil {
		t.Fatal(err)
	}
	opts := storage.RestoreOptions{Days: 2, Tier: "Expedited"}
	if err := s.Restore(ctx, "cold", opts); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	// In progress: asking again is not an error, and the object stays
	// unreadable until the delay has passed.
	if err := s.Restore(ctx, "cold", opts); err != nil {
		t.Fatalf("Restore while in progress: %v", err)
	}
	if info, err := s.Head(ctx, "cold"); err != nil || info.Restored {
		t.Fatalf("Head during the restore: restored %v, %v", info.Restored, err)
	}
	time.Sleep(400 * time.Millisecond)
	if info, err := s.Head(ctx, "cold"); err != nil || !info.Restored {
		t.Fatalf("Head after the restore: restored %v, %v", info.Restored, err)
	}
	if err := s.Restore(ctx, "cold", opts); err != nil {
		t.Fatalf("Restore of a restored object: %v", err)
	}
	rc, _, err := s.Get(ctx, "cold", storage.Range{})
	if err != nil {
		t.Fatalf("Get after the restore: %v", err)
	}
	rc.Close()
	requireKind(t, "Restore of a standard object", s.Restore(ctx, "warm", opts), storage.KindInvalid)
	requireKind(t, "Restore of a missing object", s.Restore(ctx, "missing", opts), storage.KindNotFound)
}
