package activities_test

import (
	"fmt"
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// TestListAheadRangesCoverTheShardOnce: ranges listed ahead through the
// OSS front end, each then copied by CopyPage bounded to it, copy every
// object of the shard exactly once; the end of the shard comes in smaller
// ranges than its middle.
func TestListAheadRangesCoverTheShardOnce(t *testing.T) {
	e := newEmuEnv(t)
	for i := range 230 {
		e.seed(t, fmt.Sprintf("data/k%04d", i), int64(i), emulator.Meta{})
	}
	e.seed(t, "other/not-in-prefix", 10, emulator.Meta{})
	a := newActivities(t, e.stores, smallCopier())
	env := newActivityEnv(a)
	spec := pageSpec() // pages of 25, 8 objects at once
	shard := migration.Shard{Index: 3, After: "data/k0009"}

	var ranges []migration.Range
	after := ""
	for calls := 0; ; calls++ {
		if calls > 20 {
			t.Fatal("the listing never ended")
		}
		v, err := env.ExecuteActivity(a.ListAhead, migration.ListAheadInput{
			JobID: "job", Spec: spec, Shard: shard, After: after, Ranges: 2, MinKeys: 10,
		})
		if err != nil {
			t.Fatal(err)
		}
		var res migration.ListAheadResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		prev := max(after, shard.After)
		for _, b := range res.Bounds {
			ranges = append(ranges, migration.Range{After: prev, Last: b, Page: len(ranges)})
			prev = b
		}
		after = prev
		if res.Done {
			break
		}
		if len(res.Bounds) != 2 {
			t.Errorf("call %d: %d ranges, want the 2 asked for", calls, len(res.Bounds))
		}
	}
	var total migration.Counts
	for _, r := range ranges {
		sub := shard
		sub.After, sub.Before = r.After, r.Last+"\x00"
		res, err := copyPage(t, env, a, migration.CopyPageInput{JobID: "job", Spec: spec, Shard: sub, Page: r.Page})
		if err != nil {
			t.Fatal(err)
		}
		if res.LastKey != r.Last || (!res.Done && res.LastKey < r.Last) {
			t.Errorf("range %+v: copied to %q (done %v)", r, res.LastKey, res.Done)
		}
		if res.Counts.Copied > int64(spec.PageSize) {
			t.Errorf("range %+v copied %d objects, more than a page", r, res.Counts.Copied)
		}
		total.Add(res.Counts)
	}
	if total.Copied != 220 {
		t.Errorf("copied %d objects, want the 220 after k0009", total.Copied)
	}
	if got := len(e.dstKeys()); got != 220 {
		t.Errorf("%d objects at the destination, want 220", got)
	}
	last := ranges[len(ranges)-1]
	if n := keysIn(last); n > 25 || n < 10 {
		t.Errorf("last range %+v holds %d keys", last, n)
	}
}

// keysIn counts the keys data/kNNNN of a range.
func keysIn(r migration.Range) int {
	n := 0
	for i := range 230 {
		k := fmt.Sprintf("data/k%04d", i)
		if k > r.After && k <= r.Last {
			n++
		}
	}
	return n
}

// TestListAheadCarriesTheShardsEnd: a listing that reaches the end of its
// shard returns the objects it listed when asked (none before the end,
// unless the shard ramps);
// the copy of a range given them makes no listing request, copies and
// verifies them, and still leaves large objects to their own activity.
func TestListAheadCarriesTheShardsEnd(t *testing.T) {
	e, a, env, spec := carryEnv(t)
	listAhead := func(after string, all bool) migration.ListAheadResult {
		t.Helper()
		res, err := execute[migration.ListAheadResult](t, a, a.ListAhead, nil, migration.ListAheadInput{
			JobID: "job", Spec: spec, After: after, Ranges: 1, Listings: 1, ChunkKeys: 8, Carry: true, CarryAll: all,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := listAhead("", false)
	if first.Done || first.Objects != nil {
		t.Fatalf("first page: done %v, %d objects carried: want none before the end", first.Done, len(first.Objects))
	}
	// A ramp's listing (CarryAll) carries its objects before the end too.
	if ramp := listAhead("", true); len(ramp.Objects) != 25 || ramp.Objects[24].Key != first.Bounds[len(first.Bounds)-1] {
		t.Errorf("a ramp's first page carried %d objects, want its 25", len(ramp.Objects))
	}
	after := first.Bounds[len(first.Bounds)-1]
	end := listAhead(after, false)
	if !end.Done || len(end.Objects) != 16 || end.Objects[0].Key != "data/k0025" || end.Objects[15].Key != "data/k0040-large" {
		t.Fatalf("last page: done %v, objects %+v: want the 16 keys after %q", end.Done, end.Objects, after)
	}
	if o := end.Objects[1]; o.Size != 2600 || o.Class != storage.ClassIA || o.ETag == "" || o.Modified == 0 {
		t.Errorf("carried %+v: want its size, class, ETag and time", o)
	}

	// The last chunk, k0033 to the large object, copied from what was
	// carried: its GETs and no listing.
	from := 0
	for end.Objects[from].Key <= end.Bounds[0] {
		from++
	}
	objs := end.Objects[from:]
	sub := migration.Shard{After: end.Bounds[0], Before: end.Bounds[1] + "\x00"}
	before := e.srv.OSSFaults.Stats().Requests
	res, err := copyPage(t, env, a, migration.CopyPageInput{JobID: "job", Spec: spec, Shard: sub, Page: 3, Objects: objs})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.srv.OSSFaults.Stats().Requests - before; n != int64(len(objs)-1) {
		t.Errorf("%d requests of the source for %d small objects: want their GETs only", n, len(objs)-1)
	}
	if !res.Done || res.LastKey != "data/k0040-large" || res.Counts.Copied != int64(len(objs)-1) ||
		len(res.Large) != 1 || res.Large[0].Key != "data/k0040-large" {
		t.Errorf("result %+v: want %d copied and the large object left", res, len(objs)-1)
	}
	for _, o := range objs[:len(objs)-1] {
		e.checkCopied(t, o.Key, "moved/"+strings.TrimPrefix(o.Key, "data/"))
	}

	// Carried objects it cannot take (out of order) make the copy list its
	// range instead: one request more, and every object copied.
	bad := append([]migration.Listed{objs[1], objs[0]}, objs[2:]...)
	before = e.srv.OSSFaults.Stats().Requests
	res, err = copyPage(t, env, a, migration.CopyPageInput{JobID: "job", Spec: spec, Shard: sub, Page: 4, Objects: bad})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.srv.OSSFaults.Stats().Requests - before; n != int64(len(objs)) {
		t.Errorf("%d requests of the source with unusable carried objects: want its listing and %d GETs", n, len(objs)-1)
	}
	if res.Counts.Copied != int64(len(objs)-1) {
		t.Errorf("copied %d of %d with unusable carried objects", res.Counts.Copied, len(objs)-1)
	}
}

// TestListAheadPacksEveryChunk: a listing asked to pack returns every
// chunk's objects, whether or not it reaches the end of the shard; the
// copy of a range given them makes no listing request, copies and
// verifies them, and leaves large objects to their own activity; packed
// objects it cannot read make it list its range instead.
func TestListAheadPacksEveryChunk(t *testing.T) {
	e, a, env, spec := carryEnv(t)
	listAhead := func(after string) migration.ListAheadResult {
		t.Helper()
		res, err := execute[migration.ListAheadResult](t, a, a.ListAhead, nil, migration.ListAheadInput{
			JobID: "job", Spec: spec, After: after, Ranges: 1, Listings: 1, ChunkKeys: 8, Pack: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Chunks) != len(res.Bounds) || len(res.Objects) != 0 {
			t.Fatalf("%d chunks packed and %d objects carried for %d bounds: want a chunk each", len(res.Chunks), len(res.Objects), len(res.Bounds))
		}
		return res
	}
	first := listAhead("")
	end := listAhead(first.Bounds[len(first.Bounds)-1])
	if first.Done || !end.Done || len(first.Bounds) != 4 || len(end.Bounds) != 2 {
		t.Fatalf("listings of %d and %d chunks, done %v and %v", len(first.Bounds), len(end.Bounds), first.Done, end.Done)
	}

	// The first page's second chunk, k0008 to k0015, and the last chunk,
	// k0033 to the large object, copied from what was packed: their GETs
	// and no listing.
	for _, c := range []struct {
		res  migration.ListAheadResult
		i    int
		page int
	}{{first, 1, 1}, {end, 1, 2}} {
		sub := migration.Shard{After: c.res.Bounds[c.i-1], Before: c.res.Bounds[c.i] + "\x00"}
		packed := c.res.Chunks[c.i : c.i+1]
		small := 8
		if c.res.Done {
			small = 7
		}
		before := e.srv.OSSFaults.Stats().Requests
		res, err := copyPage(t, env, a, migration.CopyPageInput{JobID: "job", Spec: spec, Shard: sub, Page: c.page, Packed: packed})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.srv.OSSFaults.Stats().Requests - before; n != int64(small) {
			t.Errorf("page %d: %d requests of the source for %d small objects: want their GETs only", c.page, n, small)
		}
		if !res.Done || res.LastKey != c.res.Bounds[c.i] || res.Counts.Copied != int64(small) {
			t.Errorf("page %d: result %+v, want %d copied through %q", c.page, res, small, c.res.Bounds[c.i])
		}
		if c.res.Done && (len(res.Large) != 1 || res.Large[0].Key != "data/k0040-large") {
			t.Errorf("page %d: large %+v, want the large object left to its own activity", c.page, res.Large)
		}
		for i := range small {
			k := fmt.Sprintf("data/k%04d", i+8*(c.i)+25*(c.page-1))
			e.checkCopied(t, k, "moved/"+strings.TrimPrefix(k, "data/"))
		}
	}

	// Packed objects of an unknown format: the copy lists its range, one
	// request more, and copies every object.
	sub := migration.Shard{After: first.Bounds[1], Before: first.Bounds[2] + "\x00"}
	bad := append([]byte{99}, first.Chunks[2][1:]...)
	before := e.srv.OSSFaults.Stats().Requests
	res, err := copyPage(t, env, a, migration.CopyPageInput{JobID: "job", Spec: spec, Shard: sub, Page: 3, Packed: [][]byte{bad}})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.srv.OSSFaults.Stats().Requests - before; n != 9 {
		t.Errorf("%d requests of the source with unreadable packed objects: want its listing and 8 GETs", n)
	}
	if res.Counts.Copied != 8 {
		t.Errorf("copied %d of 8 with unreadable packed objects", res.Counts.Copied)
	}
}

// carryEnv is a source of 40 small objects and a large one, and the
// activities to list and copy it in pages of 25, 8 objects at once.
func carryEnv(t *testing.T) (*emuEnv, *activities.Activities, *testsuite.TestActivityEnvironment, migration.JobSpec) {
	t.Helper()
	e := newEmuEnv(t)
	for i := range 40 {
		e.seed(t, fmt.Sprintf("data/k%04d", i), int64(i*100), emulator.Meta{ContentType: "text/plain", StorageClass: storage.ClassIA})
	}
	e.seed(t, "data/k0040-large", 2*mib, emulator.Meta{})
	a := newActivities(t, e.stores, smallCopier())
	return e, a, newActivityEnv(a), pageSpec()
}
