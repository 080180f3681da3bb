package activities_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
)

func plan(t *testing.T, st storage.Store, spec migration.JobSpec) []migration.Shard {
	t.Helper()
	return keyOrder(t, planned(t, st, spec))
}

// planned is the plan as the job gets it, in start order.
func planned(t *testing.T, st storage.Store, spec migration.JobSpec) []migration.Shard {
	t.Helper()
	stores := resolver{"src": st, "dst": st}
	if spec.Source.Store == "" {
		spec.Source.Store = "src"
	}
	if spec.Destination.Store == "" {
		spec.Destination.Store = "dst"
	}
	a := newActivities(t, stores, transfer.Options{})
	env := newActivityEnv(a)
	v, err := env.ExecuteActivity(a.Plan, migration.PlanInput{JobID: "job", Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	var res migration.PlanResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	// The plan travels as JSON: its bounds must survive the trip.
	b, _ := json.Marshal(res.Shards)
	var back []migration.Shard
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, res.Shards) {
		t.Fatalf("shards do not survive JSON: %v", err)
	}
	return res.Shards
}

// keyOrder checks that shards are indexed by their position in the plan,
// and returns them in key order, renumbered, for checks of the partition.
func keyOrder(t *testing.T, shards []migration.Shard) []migration.Shard {
	t.Helper()
	for i, s := range shards {
		if s.Index != i {
			t.Fatalf("shard at %d of the plan has index %d", i, s.Index)
		}
	}
	sorted := slices.Clone(shards)
	slices.SortFunc(sorted, func(a, b migration.Shard) int { return strings.Compare(a.After, b.After) })
	for i := range sorted {
		sorted[i].Index = i
	}
	return sorted
}

func shardStats(counts []int) (lo, hi int) {
	return slices.Min(counts), slices.Max(counts)
}

// nestedKeys makes a bucket-like tree: top directories of very different
// sizes, nested date directories, and names that are prefixes of others.
func nestedKeys() []string {
	r := rand.New(rand.NewPCG(1, 2))
	tops := map[string]int{"logs": 2500, "images": 900, "data/raw": 400, "data/parquet": 120, "用户上传": 300, "docs": 7, "z": 1}
	var keys []string
	for top, n := range tops {
		for i := range n {
			day := fmt.Sprintf("2025/%02d/%02d", 1+r.IntN(12), 1+r.IntN(28))
			keys = append(keys, fmt.Sprintf("%s/%s/f%d.bin", top, day, i))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func TestPlanNestedTree(t *testing.T) {
	keys := nestedKeys()
	st := localTree(t, keys)
	shards := plan(t, st, migration.JobSpec{Shards: 16, PageSize: 100})
	counts := checkShards(t, st, "", shards, keys)
	lo, hi := shardStats(counts)
	lists := st.lists.Load() - int64(len(shards)) // minus checkShards' own listings (at least one per shard)
	t.Logf("%d keys: %d shards of %d..%d keys; about %d List calls to plan", len(keys), len(shards), lo, hi, lists)
	if len(shards) < 12 || len(shards) > 40 {
		t.Errorf("%d shards, want about 16", len(shards))
	}
	if hi > 3*len(keys)/16 {
		t.Errorf("largest shard has %d keys, over three times the even share of %d", hi, len(keys)/16)
	}
	if lo < 10 {
		t.Errorf("a shard of %d keys is absurdly small", lo)
	}
}

// TestPlanBiggestShardsFirst: counted to the key (every range fits a probe
// page), the plan starts the biggest shards first: pages of a shard run one
// after another, so a big shard started last would end the job alone.
func TestPlanBiggestShardsFirst(t *testing.T) {
	keys := nestedKeys()
	st := localTree(t, keys)
	shards := planned(t, st, migration.JobSpec{Shards: 16, PageSize: 1000})
	counts := make([]int, len(shards))
	for _, k := range keys {
		for i, s := range shards {
			if k > s.After && (s.Before == "" || k < s.Before) {
				counts[i]++
			}
		}
	}
	t.Logf("keys per shard in start order: %v", counts)
	if len(counts) < 3 || slices.Max(counts) == slices.Min(counts) {
		t.Fatalf("shards of %v keys: the tree should give unequal shards", counts)
	}
	for i := 1; i < len(counts); i++ {
		if counts[i] > counts[i-1] {
			t.Fatalf("shard %d (%d keys) starts after shard %d (%d keys): %v", i, counts[i], i-1, counts[i-1], counts)
		}
	}
}

// TestPlanFlatPrefix: one flat prefix of 20,000 keys, through the OSS SDK,
// spreads over many shards without listing it all.
func TestPlanFlatPrefix(t *testing.T) {
	e := newEmuEnv(t)
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprintf("file-%07d", i+1)
		if _, err := e.srv.Backend.AddObject(srcBucket, keys[i], emulator.GeneratedBlob(0, 0), emulator.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ pageSize, shards, maxLists int }{{100, 20, 100}, {1000, 20, 100}, {100, 64, 400}, {1000, 64, 100}} {
		t.Run(fmt.Sprintf("page%d-shards%d", tc.pageSize, tc.shards), func(t *testing.T) {
			before := e.srv.OSSFaults.Stats().Requests
			shards := plan(t, e.src, migration.JobSpec{Shards: tc.shards, PageSize: tc.pageSize})
			lists := e.srv.OSSFaults.Stats().Requests - before - 2 // the two probes of the stores
			counts := checkShards(t, e.src, "", shards, keys)
			lo, hi := shardStats(counts)
			t.Logf("%d shards of %d..%d keys; %d List calls to plan (a full listing takes %d)", len(shards), lo, hi, lists, len(keys)/tc.pageSize)
			// As many shards as asked, but none smaller than a page.
			if want := min(tc.shards, len(keys)/tc.pageSize); len(shards) < want {
				t.Errorf("%d shards, want at least %d", len(shards), want)
			}
			if hi > 2*len(keys)/tc.shards+tc.pageSize {
				t.Errorf("largest shard has %d keys", hi)
			}
			if lists > int64(tc.maxLists) {
				t.Errorf("planning took %d List calls, want at most %d", lists, tc.maxLists)
			}
		})
	}
}

// TestPlanKeysEqualToSplitPrefixes: unpadded numbers make many keys exact
// prefixes of others ("n/1", "n/10", "n/100"), the boundaries the planner
// splits at.
func TestPlanKeysEqualToSplitPrefixes(t *testing.T) {
	var keys []string
	for i := range 3000 {
		keys = append(keys, fmt.Sprintf("n/%d", i))
	}
	keys = append(keys, "n/1x/a", "n0") // a directory next to keys, a sibling of the prefix
	st := localTree(t, keys)
	shards := plan(t, st, migration.JobSpec{Source: migration.Location{Store: "src", Prefix: "n/"}, Shards: 30, PageSize: 50})
	var under []string
	for _, k := range keys {
		if strings.HasPrefix(k, "n/") {
			under = append(under, k)
		}
	}
	counts := checkShards(t, st, "n/", shards, under)
	lo, hi := shardStats(counts)
	t.Logf("%d shards of %d..%d keys", len(shards), lo, hi)
	if len(shards) < 20 {
		t.Errorf("%d shards, want about 30", len(shards))
	}
	var split int
	for _, s := range shards[1:] {
		if slices.Contains(keys, s.After) {
			split++
		}
	}
	t.Logf("%d of %d shard bounds are keys themselves", split, len(shards)-1)
}

func TestPlanSmallSources(t *testing.T) {
	st := localTree(t, nil)
	shards := plan(t, st, migration.JobSpec{})
	if len(shards) != 1 || shards[0].After != "" || shards[0].Before != "" {
		t.Fatalf("empty source: %+v, want one unbounded shard", shards)
	}
	var keys []string
	for i := range 250 {
		keys = append(keys, fmt.Sprintf("k/%03d", i))
	}
	st = localTree(t, keys)
	// Shards never fall below half of a tenth of a page, however many
	// are asked for.
	for _, pageSize := range []int{1000, 100} {
		shards = plan(t, st, migration.JobSpec{Shards: 64, PageSize: pageSize})
		counts := checkShards(t, st, "", shards, keys)
		if lo, _ := shardStats(counts); lo < pageSize/20 {
			t.Errorf("page %d: a shard of %d keys", pageSize, lo)
		}
		t.Logf("250 keys, page %d, 64 shards asked: %d shards %v", pageSize, len(shards), counts)
	}
}

// TestPlanGeneratedBucketOnOSS plans a realistic bucket through the OSS SDK
// with the job's default page size, as the integration test does.
func TestPlanGeneratedBucketOnOSS(t *testing.T) {
	e := newEmuEnv(t)
	if _, err := emulator.Generate(e.srv.Backend, srcBucket, emulator.DataSet{Objects: 5000, MaxSize: 1024, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	before := e.srv.OSSFaults.Stats().Requests
	shards := plan(t, e.src, migration.JobSpec{Shards: 24, PageSize: 100})
	requests := e.srv.OSSFaults.Stats().Requests - before
	keys := e.srv.Backend.Keys(srcBucket)
	counts := checkShards(t, e.src, "", shards, keys)
	lo, hi := shardStats(counts)
	t.Logf("%d keys: %d shards of %d..%d keys; %d OSS requests to plan", len(keys), len(shards), lo, hi, requests)
	if len(shards) < 20 {
		t.Errorf("%d shards, want at least 20", len(shards))
	}
	if requests > 500 {
		t.Errorf("%d requests to plan", requests)
	}
}

func TestPlanManifest(t *testing.T) {
	var b strings.Builder
	var keys []string
	for i := range 2550 {
		k := fmt.Sprintf("dir/obj %d", i)
		keys = append(keys, k)
		b.WriteString(k)
		switch {
		case i%100 == 7:
			b.WriteString("\r\n\n") // CRLF and a blank line
		default:
			b.WriteString("\n")
		}
	}
	manifest := strings.TrimSuffix(b.String(), "\n") // no final newline
	dir := localTree(t, nil)
	if _, err := dir.Put(t.Context(), "list.txt", strings.NewReader(manifest), int64(len(manifest)), storage.Metadata{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ shards, pageSize, want int }{{8, 100, 8}, {64, 100, 25}, {8, 1000, 2}} {
		spec := migration.JobSpec{Shards: tc.shards, PageSize: tc.pageSize,
			Filters: migration.Filters{Manifest: &migration.ManifestRef{Store: "src", Key: "list.txt"}}}
		shards := plan(t, dir, spec)
		if len(shards) != tc.want {
			t.Errorf("%d shards of %d lines asked: got %d, want %d", tc.shards, tc.pageSize, len(shards), tc.want)
		}
		var got []string
		for i, s := range shards {
			if i == 0 && s.ManifestStart != 0 || i > 0 && s.ManifestStart != shards[i-1].ManifestEnd {
				t.Fatalf("shard %d starts at %d, not where shard %d ends", i, s.ManifestStart, i-1)
			}
			if s.ManifestStart > 0 && manifest[s.ManifestStart-1] != '\n' {
				t.Fatalf("shard %d starts at byte %d, inside a line", i, s.ManifestStart)
			}
			var n int
			for _, line := range strings.Split(manifest[s.ManifestStart:s.ManifestEnd], "\n") {
				if line = strings.TrimSuffix(line, "\r"); line != "" {
					got = append(got, line)
					n++
				}
			}
			if n < tc.pageSize && len(keys) >= tc.pageSize {
				t.Errorf("shard %d has %d keys, under a page of %d", i, n, tc.pageSize)
			}
		}
		if shards[len(shards)-1].ManifestEnd != int64(len(manifest)) {
			t.Errorf("last shard ends at %d of %d bytes", shards[len(shards)-1].ManifestEnd, len(manifest))
		}
		if !slices.Equal(got, keys) {
			t.Errorf("shards cover %d keys, the manifest has %d", len(got), len(keys))
		}
	}
}

func TestPlanFailsFast(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "a", 1, emulator.Meta{})
	a := newActivities(t, e.stores, transfer.Options{})
	env := newActivityEnv(a)
	for _, tc := range []struct {
		name string
		spec migration.JobSpec
		typ  string
		want []string
	}{
		{"bad destination credentials", migration.JobSpec{Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "baddst"}},
			migration.ErrFatal, []string{`destination store "baddst"`, "cos://" + dstBucket, "access denied", "credentials"}},
		{"unknown store", migration.JobSpec{Source: migration.Location{Store: "nope"}, Destination: migration.Location{Store: "dst"}},
			migration.ErrFatal, []string{`source store "nope"`, "stores"}},
		{"missing manifest", migration.JobSpec{Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "dst"},
			Filters: migration.Filters{Manifest: &migration.ManifestRef{Store: "src", Key: "missing.txt"}}},
			migration.ErrFatal, []string{"missing.txt", "not found"}},
		{"invalid spec", migration.JobSpec{Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "dst"}, PageSize: -1},
			migration.ErrInvalidSpec, []string{"spec.pageSize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.ExecuteActivity(a.Plan, migration.PlanInput{JobID: "j", Spec: tc.spec})
			if err == nil {
				t.Fatal("plan succeeded")
			}
			ae := appError(t, err)
			if ae.Type() != tc.typ || !ae.NonRetryable() {
				t.Errorf("type %q non-retryable %v, want %q non-retryable: %v", ae.Type(), ae.NonRetryable(), tc.typ, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
		})
	}
}

var _ = activities.PageHeartbeat{}

// TestPlanLargeFlatPrefix: on a prefix much larger than the shards asked
// for, planning costs a small fraction of a full listing.
func TestPlanLargeFlatPrefix(t *testing.T) {
	e := newEmuEnv(t)
	keys := make([]string, 100000)
	for i := range keys {
		keys[i] = fmt.Sprintf("logs/part-%08d.gz", i*7)
		if _, err := e.srv.Backend.AddObject(srcBucket, keys[i], emulator.GeneratedBlob(0, 0), emulator.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	before := e.srv.OSSFaults.Stats().Requests
	shards := plan(t, e.src, migration.JobSpec{Source: migration.Location{Store: "src", Prefix: "logs/"}, Shards: 32, PageSize: 100})
	lists := e.srv.OSSFaults.Stats().Requests - before - 2
	counts := checkShards(t, e.src, "logs/", shards, keys)
	lo, hi := shardStats(counts)
	t.Logf("%d keys: %d shards of %d..%d keys; %d List calls to plan (a full listing takes %d)", len(keys), len(shards), lo, hi, lists, len(keys)/100)
	if len(shards) < 32 || hi > 4*len(keys)/32 {
		t.Errorf("%d shards, largest %d keys", len(shards), hi)
	}
	if lists > 100 {
		t.Errorf("planning took %d List calls, a tenth of a full listing is %d", lists, len(keys)/1000)
	}
}

// TestPlanCheckFirst: a job's check (CheckOnly) probes every store and
// lists the source's first page in chunks of a pool round, for its head
// shard; the plan that follows (Checked) does not probe the stores again:
// it makes no request of the destination.
func TestPlanCheckFirst(t *testing.T) {
	e := newEmuEnv(t)
	var keys []string
	for i := range 60 {
		keys = append(keys, fmt.Sprintf("data/k%03d", i))
		e.seed(t, keys[i], 10, emulator.Meta{})
	}
	a := newActivities(t, e.stores, transfer.Options{})
	env := newActivityEnv(a)
	spec := pageSpec() // pages of 25 keys, 8 copied at once
	run := func(in migration.PlanInput) migration.PlanResult {
		t.Helper()
		v, err := env.ExecuteActivity(a.Plan, in)
		if err != nil {
			t.Fatal(err)
		}
		var res migration.PlanResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	dst := e.srv.COSFaults.Stats().Requests
	check := run(migration.PlanInput{JobID: "job", Spec: spec, CheckOnly: true})
	if e.srv.COSFaults.Stats().Requests == dst {
		t.Error("the check made no request of the destination")
	}
	want := []string{keys[7], keys[15], keys[23], keys[24]}
	if check.Head == nil || !slices.Equal(check.Head.Bounds, want) || check.Head.Done || len(check.Shards) != 0 {
		t.Errorf("check %+v head %+v: want the first page's chunk ends %v, no shards", check, check.Head, want)
	}

	if check.Head.Objects != nil {
		t.Errorf("the check carried %d objects unasked", len(check.Head.Objects))
	}
	// A source 20 ms away: its first page's objects come with the check
	// when the job asks from 10 ms, not when it asks from 10 s.
	e.srv.OSSFaults.Set(emulator.FaultConfig{Latency: 20 * time.Millisecond})
	if far := run(migration.PlanInput{JobID: "job", Spec: spec, CheckOnly: true, CarryFromMS: 10}); len(far.Head.Objects) != 25 || far.Head.Objects[24].Key != keys[24] {
		t.Errorf("a far source's check carried %d objects, want the first page's 25", len(far.Head.Objects))
	}
	if near := run(migration.PlanInput{JobID: "job", Spec: spec, CheckOnly: true, CarryFromMS: 10000}); near.Head.Objects != nil {
		t.Errorf("a check faster than asked carried %d objects", len(near.Head.Objects))
	}
	e.srv.OSSFaults.Set(emulator.FaultConfig{})

	dst = e.srv.COSFaults.Stats().Requests
	planned := run(migration.PlanInput{JobID: "job", Spec: spec, Checked: true})
	if n := e.srv.COSFaults.Stats().Requests - dst; n != 0 {
		t.Errorf("the plan after a check made %d requests of the destination", n)
	}
	if len(planned.Shards) == 0 || planned.Head != nil {
		t.Errorf("plan %+v: want shards and no head", planned)
	}
}
