package activities_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// TestCopyPageChanged: the changed policy sends only the objects new at
// the source or differing at the destination, and says which were which.
func TestCopyPageChanged(t *testing.T) {
	e := newEmuEnv(t)
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		e.seed(t, "data/"+k, 100, emulator.Meta{})
	}
	a := newActivities(t, e.stores, smallCopier())
	in := migration.CopyPageInput{JobID: "job", Spec: pageSpec(), Shard: migration.Shard{Index: 0}}
	if res, err := copyPage(t, newActivityEnv(a), a, in); err != nil || res.Counts.Copied != 6 {
		t.Fatalf("first pass: %+v, %v", res, err)
	}
	b := e.srv.Backend
	// Same size, other bytes; another size; a new key.
	if _, err := b.PutObject(srcBucket, "data/b", bytes.NewReader(bytes.Repeat([]byte("z"), 100)), 100, emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(srcBucket, "data/e", strings.NewReader("shorter"), 7, emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
	e.seed(t, "data/g", 50, emulator.Meta{})

	before := e.puts()
	in.Spec.Conflict = migration.Changed
	res, err := copyPage(t, newActivityEnv(a), a, in)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Counts
	if c.Copied != 3 || c.New != 1 || c.Changed != 2 || c.Skipped != 4 || c.Failed != 0 {
		t.Errorf("counts %+v, want 1 new, 2 changed, 4 unchanged", c)
	}
	if n := e.puts() - before; n != 3 {
		t.Errorf("%d PUTs at the destination, want 3", n)
	}
	for _, k := range []string{"b", "e", "g"} {
		e.checkCopied(t, "data/"+k, "moved/"+k)
	}
}

// TestRestoreArchived: readable objects are returned for copying, archived
// ones get a restore and are pending until it completes, missing ones fail.
func TestRestoreArchived(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/warm", 10, emulator.Meta{})
	e.seed(t, "data/cold", 20, emulator.Meta{StorageClass: storage.ClassColdArchive})
	a := newActivities(t, e.stores, smallCopier())
	objs := []migration.LargeObject{{Key: "data/warm", Size: 10}, {Key: "data/cold", Size: 20}, {Key: "data/gone", Size: 30}}
	in := migration.RestoreInput{JobID: "job", Spec: pageSpec(), Shard: 1, Objects: objs, Batch: 4}
	run := func(in migration.RestoreInput) migration.RestoreResult {
		t.Helper()
		v, err := newActivityEnv(a).ExecuteActivity(a.RestoreArchived, in)
		if err != nil {
			t.Fatal(err)
		}
		var res migration.RestoreResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run(in)
	if len(res.Restored) != 1 || res.Restored[0].Key != "data/warm" || len(res.Pending) != 1 || res.Pending[0].Key != "data/cold" ||
		res.Counts.Failed != 1 || res.Counts.BytesFailed != 30 {
		t.Fatalf("first round %+v", res)
	}
	fs := e.readFailures(t, "bucketferry-reports/job/failures/shard-00001/restore-000004-0000.jsonl")
	if len(fs) != 1 || fs[0].Key != "data/gone" || fs[0].Kind != "not found" || !strings.HasPrefix(fs[0].Reason, migration.ArchivedReason) {
		t.Errorf("failure log %+v", fs)
	}
	// The emulator restores at once: the next round finds it readable.
	in.Objects, in.Round = res.Pending, 1
	if res := run(in); len(res.Restored) != 1 || len(res.Pending) != 0 || res.Counts.Failed != 0 {
		t.Errorf("second round %+v", res)
	}
}
