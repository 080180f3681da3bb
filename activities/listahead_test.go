package activities_test

import (
	"fmt"
	"testing"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
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
