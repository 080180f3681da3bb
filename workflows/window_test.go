package workflows

import (
	"bytes"
	"fmt"
	"go.temporal.io/sdk/workflow"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"

	"github.com/bucketferry/bucketferry/migration"
)

// manyObjects is a bucket of n small objects k000..k(n-1).
func manyObjects(n int) *fakeBucket {
	objs := make([]object, n)
	for i := range objs {
		objs[i] = object{key: "k" + string(rune('a'+i/26)) + string(rune('a'+i%26)), size: int64(i + 1)}
	}
	return newFakeBucket(objs...)
}

// TestWindowedShardCopiesRangesAtOnce: a shard given a window of 3 lists
// ahead and keeps three ranges in flight (as its reports tell the job),
// copies every object once, and reports what it could still use.
func TestWindowedShardCopiesRangesAtOnce(t *testing.T) {
	env, reps := shardEnv(t, 2)
	b := manyObjects(40)
	mockBucket(env, b)
	in := shardInput(testSpec(), migration.Shard{Index: 2})
	in.Window = 3
	env.ExecuteWorkflow(migration.ShardWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	var res migration.ShardResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if want := b.totals(migration.Shard{}); res.Counts != want || reps.sum() != want {
		t.Errorf("result %+v, reports %+v, want %+v", res.Counts, reps.sum(), want)
	}
	// Every page is a range of its own, none copied twice.
	seen := map[string]bool{}
	pages := map[int]bool{}
	for _, p := range b.pages {
		if pages[p.Page] {
			t.Errorf("page number %d used twice", p.Page)
		}
		pages[p.Page] = true
		if p.Shard.Before == "" || p.Shard.Index != 2 {
			t.Errorf("page %d not bounded to its range: %+v", p.Page, p.Shard)
		}
		for _, o := range b.objects {
			if b.inShard(p.Shard, o.key) {
				if seen[o.key] {
					t.Errorf("%s copied twice", o.key)
				}
				seen[o.key] = true
			}
		}
	}
	if len(seen) != 40 {
		t.Errorf("copied %d of 40 objects", len(seen))
	}
	maxFlight, sawListing := 0, false
	for _, r := range reps.all() {
		maxFlight = max(maxFlight, r.InFlight)
		if r.Done == nil && r.Pages == -1 {
			sawListing = true
		}
	}
	if maxFlight != 3 && maxFlight != 3+1 {
		t.Errorf("at most %d activities in flight, want the window of 3 (and the listing ahead)", maxFlight)
	}
	if !sawListing {
		t.Error("no report said the shard had keys left to list")
	}
}

// TestChunksPerRange: how many listed chunks the next range takes, at the
// start of a shard (ramp share, unless the fleet is busy) and at its end
// (shared over the window's slots, since windowed-shard 5).
func TestChunksPerRange(t *testing.T) {
	busy := &migration.Fleet{Workers: 3, Slots: 48, Used: 46}
	room := &migration.Fleet{Workers: 3, Slots: 48, Used: 30}
	cases := []struct {
		name      string
		listFirst bool
		seen      *migration.Fleet
		listed    bool
		chunks    int // listed, not yet copied
		copying   int
		want      int
	}{
		{"ramp, no fleet view yet", true, nil, false, 8, 0, 1},
		{"ramp, fleet with room", true, room, false, 8, 0, 1},
		{"fleet busy: no ramp share", true, busy, false, 8, 0, minChunks},
		{"fleet busy, before windowed-shard 5", false, busy, false, 8, 0, 1},
		{"end, shared over the slots", true, nil, true, 9, 0, 2},
		{"end, before windowed-shard 5: over the window", false, nil, true, 9, 0, 1},
		{"end, fewer chunks than slots", true, nil, true, 5, 3, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := testSpec()
			spec.PageSize, spec.Concurrency.Objects = 1000, 32
			s := &shard{spec: spec, chunked: true, rampShare: true, listFirst: c.listFirst, seen: c.seen,
				listed: c.listed, copying: c.copying}
			s.in.Window = 10
			for i := range c.chunks {
				s.in.Ranges = append(s.in.Ranges, migration.Range{Last: fmt.Sprintf("k%03d", i), Page: i})
			}
			if got := s.chunksPerRange(); got != c.want {
				t.Errorf("chunksPerRange = %d, want %d", got, c.want)
			}
		})
	}
}

// TestWindowedShardTakesNewWindow: a window signal from the job changes how
// many ranges the shard copies at once.
func TestWindowedShardTakesNewWindow(t *testing.T) {
	env, reps := shardEnv(t, 1)
	b := manyObjects(60)
	mockBucket(env, b)
	in := shardInput(testSpec(), migration.Shard{Index: 1})
	in.Window = 1
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(migration.SignalShardWindow, migration.ShardWindow{Pages: 5, Seq: 1})
	}, 0)
	env.ExecuteWorkflow(migration.ShardWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	flights := []int{}
	for _, r := range reps.all() {
		flights = append(flights, r.InFlight)
	}
	// The window's 5 ranges, and the listing ahead when one was in flight
	// at that report (the test environment runs activities at once, so
	// whether one was is a matter of timing).
	if m := slices.Max(flights); m != 5 && m != 5+1 {
		t.Errorf("activities in flight over the reports %v: want the new window of 5 (and the listing ahead)", flights)
	}
}

func TestAllot(t *testing.T) {
	for _, c := range []struct {
		t       int
		demands []int
		want    []int
	}{
		{60, []int{-1, -1, -1}, []int{20, 20, 20}},
		{10, []int{-1, -1, -1}, []int{4, 3, 3}},
		// A shard that can use only 2 leaves the rest to the others.
		{60, []int{2, -1, -1}, []int{2, 29, 29}},
		{60, []int{2, 5, 100}, []int{2, 5, 53}},
		// All listed and small: each its own, never 0.
		{60, []int{0, 3, 4}, []int{1, 3, 4}},
		// Fewer pages than shards: one each all the same.
		{2, []int{-1, -1, -1}, []int{1, 1, 1}},
		// One shard left never takes more than a run can hold.
		{5000, []int{-1}, []int{maxShardPages}},
	} {
		if got := allot(c.t, c.demands); !slices.Equal(got, c.want) {
			t.Errorf("allot(%d, %v) = %v, want %v", c.t, c.demands, got, c.want)
		}
	}
}

// TestSizedJobWithShardWorkflows: a job whose planner saw two workers of 4
// slots offers them 10 pages over its shards, which copy ranges of their
// keys in windows; everything is copied once and counted once.
func TestSizedJobWithShardWorkflows(t *testing.T) {
	env := newEnv(t)
	Register(env)
	b := manyObjects(90)
	mockBucket(env, b)
	fleet := &migration.Fleet{Workers: 2, Slots: 8}
	env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(
		migration.PlanResult{Shards: keyPlan("kd", "kg"), Fleet: fleet}, nil)
	spec := testSpec()
	spec.Concurrency.Shards = 2
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec})

	var res migration.JobResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if want := b.totals(migration.Shard{}); res.Counts != want || res.Status != migration.StatusSucceeded {
		t.Errorf("result %+v, want counts %+v, succeeded", res, want)
	}
	progress := query(t, env)
	if progress.Window != 8+2 || progress.Fleet == nil || progress.Fleet.Slots != 8 {
		t.Errorf("progress %+v: want a window of 10 pages for 8 slots", progress)
	}
	for _, p := range b.pages {
		if p.Shard.Before == "" {
			t.Errorf("page %d of shard %d is not a range: %+v", p.Page, p.Shard.Index, p.Shard)
		}
	}
}

// TestWindowedShardCarriesItsEnd: at windowed-shard 6, a shard of a job against a far-away
// source (CarryListed) gives the copies of the ranges of its last listing
// their objects, exactly those of each range; the ranges listed before it
// list themselves. Every object is copied once.
func TestWindowedShardCarriesItsEnd(t *testing.T) {
	b, seen := runFarShard(t, 6)
	carried, listed := 0, 0
	for _, p := range b.pages {
		keys := rangeKeys(t, b, p, seen)
		if p.Objects == nil {
			listed++
			continue
		}
		carried++
		var got []string
		for _, o := range p.Objects {
			got = append(got, o.Key)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("page %d carried %v, its range holds %v", p.Page, got, keys)
		}
	}
	if len(seen) != 100 {
		t.Errorf("copied %d of 100 objects", len(seen))
	}
	if carried == 0 || listed == 0 {
		t.Errorf("%d ranges carried their objects, %d listed them: want the last ones carried, the others listed", carried, listed)
	}
}

// TestWindowedShardPacksEveryListing: since windowed-shard 7 a shard of a
// job against a far-away source hands every range's copy the packed
// objects of its chunks, exactly those of the range, and no copy lists
// its range again. Every object is copied once.
func TestWindowedShardPacksEveryListing(t *testing.T) {
	b, seen := runFarShard(t, 7)
	for _, p := range b.pages {
		keys := rangeKeys(t, b, p, seen)
		if len(p.Objects) > 0 {
			t.Errorf("page %d carried objects as JSON too", p.Page)
		}
		var got []string
		for _, c := range p.Packed {
			got = append(got, strings.Split(string(c), "\n")...)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("page %d was handed %v, its range holds %v", p.Page, got, keys)
		}
	}
	if len(seen) != 100 {
		t.Errorf("copied %d of 100 objects", len(seen))
	}
}

// TestWindowedShardListsWhatIsNotPacked: listings that pack nothing (a
// worker from before windowed-shard 7 in a fleet being upgraded) leave
// every range to list its keys, and every object is copied once.
func TestWindowedShardListsWhatIsNotPacked(t *testing.T) {
	b, seen := runFarShard(t, 7, func(b *fakeBucket) { b.unpacked = true })
	for _, p := range b.pages {
		rangeKeys(t, b, p, seen)
		if len(p.Packed) > 0 || len(p.Objects) > 0 {
			t.Errorf("page %d was handed objects no listing packed", p.Page)
		}
	}
	if len(seen) != 100 {
		t.Errorf("copied %d of 100 objects", len(seen))
	}
}

// runFarShard runs a windowed shard of a job against a far-away source
// (CarryListed) over 100 objects at the given windowed-shard version.
func runFarShard(t *testing.T, v workflow.Version, opts ...func(*fakeBucket)) (*fakeBucket, map[string]bool) {
	t.Helper()
	env, _ := shardEnv(t, 0)
	// A run recorded before release-gates asks windowed-shard itself.
	env.OnGetVersion(releaseVersion, workflow.DefaultVersion, releaseNewest).Return(workflow.DefaultVersion)
	env.OnGetVersion(windowedVersion, workflow.DefaultVersion, windowedNewest).Return(v)
	b := manyObjects(100)
	for _, o := range opts {
		o(b)
	}
	mockBucket(env, b)
	spec := testSpec()
	spec.PageSize, spec.Concurrency.Objects = 10, 2 // chunks of 2 keys, 5 a page
	in := shardInput(spec, migration.Shard{})
	in.Window, in.CarryListed = 4, true
	env.ExecuteWorkflow(migration.ShardWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	return b, map[string]bool{}
}

// rangeKeys is the keys of a page's range; each must be copied once.
func rangeKeys(t *testing.T, b *fakeBucket, p migration.CopyPageInput, seen map[string]bool) []string {
	t.Helper()
	var keys []string
	for _, o := range b.objects {
		if b.inShard(p.Shard, o.key) {
			keys = append(keys, o.key)
			if seen[o.key] {
				t.Errorf("%s copied twice", o.key)
			}
			seen[o.key] = true
		}
	}
	return keys
}

// TestKeepPacked: a listing's packed chunks go to their ranges while they
// fit the shard's room; the rest list themselves.
func TestKeepPacked(t *testing.T) {
	ranges := make([]migration.Range, 4)
	keep(ranges, [][]byte{[]byte("aa"), []byte("bbb"), []byte("c"), []byte("dd")}, 6)
	var got []string
	for _, r := range ranges {
		got = append(got, string(bytes.Join(r.Packed, nil)))
	}
	if want := []string{"aa", "bbb", "c", ""}; !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
	if packedBytes(ranges) != 6 {
		t.Errorf("packedBytes = %d, want 6", packedBytes(ranges))
	}
	if joinPacked(ranges) != nil {
		t.Errorf("joinPacked: a range without its objects must make the join nil")
	}
	if got := bytes.Join(joinPacked(ranges[:3]), []byte(",")); string(got) != "aa,bbb,c" {
		t.Errorf("joined %q, want every chunk in order", got)
	}
}

// TestAttach: carried objects go to the ranges they cover wholly; objects
// that do not match the ranges go nowhere.
func TestAttach(t *testing.T) {
	objs := func(keys ...string) []migration.Listed {
		var out []migration.Listed
		for _, k := range keys {
			out = append(out, migration.Listed{Key: k})
		}
		return out
	}
	ranges := func() []migration.Range {
		return []migration.Range{{After: "", Last: "b"}, {After: "b", Last: "d"}, {After: "d", Last: "f"}}
	}
	count := func(rs []migration.Range) []int {
		var n []int
		for _, r := range rs {
			n = append(n, len(r.Objects))
		}
		return n
	}
	for _, c := range []struct {
		name string
		objs []migration.Listed
		want []int
	}{
		{"all", objs("a", "b", "c", "d", "e", "f"), []int{2, 2, 2}},
		{"the last two", objs("c", "d", "e", "f"), []int{0, 2, 2}},
		{"not ending a range", objs("c", "d", "e"), []int{0, 0, 0}},
		{"beyond the ranges", objs("e", "f", "g"), []int{0, 0, 0}},
		{"none", nil, []int{0, 0, 0}},
	} {
		rs := ranges()
		attach(rs, c.objs)
		if got := count(rs); !slices.Equal(got, c.want) {
			t.Errorf("%s: objects per range %v, want %v", c.name, got, c.want)
		}
	}
	rs := ranges()
	attach(rs, objs("a", "b", "c", "d", "e", "f"))
	if j := joinObjects(rs[1:]); len(j) != 4 || j[0].Key != "c" {
		t.Errorf("joined %v", j)
	}
	rs[2].Objects = nil
	if j := joinObjects(rs); j != nil {
		t.Errorf("joined %v with a range that lists itself", j)
	}
}
