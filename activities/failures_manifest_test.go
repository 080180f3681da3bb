package activities_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
)

// putFailureChunk writes a failure-log chunk into the source bucket.
func putFailureChunk(t *testing.T, e *emuEnv, key string, fs []migration.Failure) {
	t.Helper()
	var buf bytes.Buffer
	for _, f := range fs {
		if err := json.NewEncoder(&buf).Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.srv.Backend.PutObject(srcBucket, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestFailureLogManifest: a job scoped to an earlier job's failure log
// (chunks under a prefix) plans runs of whole chunks and copies every
// failed key exactly once, pages crossing chunk ends.
func TestFailureLogManifest(t *testing.T) {
	e := newEmuEnv(t)
	const prefix = "reports/job/failures/"
	var want []string
	n := 0
	for c, size := range []int{3, 1, 7, 2, 5, 4} {
		var fs []migration.Failure
		for range size {
			k := fmt.Sprintf("data/f%03d", n)
			n++
			e.seed(t, k, int64(50+n), emulator.Meta{})
			fs = append(fs, migration.Failure{Key: k, Size: int64(50 + n), Reason: "denied", Kind: "forbidden", Attempts: 2})
			want = append(want, k)
		}
		putFailureChunk(t, e, fmt.Sprintf("%sshard-%05d/page-%06d.jsonl", prefix, c/2, c), fs)
	}
	// A key failing again: missing at the source now.
	putFailureChunk(t, e, prefix+"shard-00009/large-ff.jsonl", []migration.Failure{{Key: "data/gone", Size: 9, Reason: "x", Attempts: 1}})
	e.seed(t, "data/not-failed", 10, emulator.Meta{}) // never touched

	spec := pageSpec()
	spec.PageSize = 4
	spec.Shards = 3
	spec.Filters.Manifest = &migration.ManifestRef{Store: "src", Format: migration.ManifestFailures, Prefix: prefix}
	a := newActivities(t, e.stores, smallCopier())
	env := newActivityEnv(a)
	v, err := env.ExecuteActivity(a.Plan, migration.PlanInput{JobID: "retry", Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	var plan migration.PlanResult
	if err := v.Get(&plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Shards) != 3 {
		t.Fatalf("%d shards, want 3: %+v", len(plan.Shards), plan.Shards)
	}
	for i, s := range plan.Shards {
		if i > 0 && (s.After == "" || !strings.HasPrefix(plan.Shards[i-1].Before, prefix) || plan.Shards[i-1].Before <= s.After) {
			t.Fatalf("shards %d and %d do not meet: %+v", i-1, i, plan.Shards)
		}
	}

	var total migration.Counts
	var failures []migration.Failure
	for _, sh := range plan.Shards {
		in := migration.CopyPageInput{JobID: "retry", Spec: spec, Shard: sh}
		for {
			res, err := copyPage(t, env, a, in)
			if err != nil {
				t.Fatal(err)
			}
			total.Add(res.Counts)
			failures = append(failures, res.Failures...)
			if res.Done {
				break
			}
			if res.NextManifest <= in.ManifestOffset {
				t.Fatalf("page did not move: next %d at %d", res.NextManifest, in.ManifestOffset)
			}
			in.ManifestOffset, in.Page = res.NextManifest, in.Page+1
		}
	}
	if total.Copied != int64(len(want)) || total.Failed != 1 {
		t.Fatalf("counts %+v, want %d copied and 1 failed", total, len(want))
	}
	if len(failures) != 1 || failures[0].Key != "data/gone" {
		t.Errorf("failures %+v", failures)
	}
	for _, k := range want {
		e.checkCopied(t, k, "moved/"+strings.TrimPrefix(k, "data/"))
	}
	if got := len(e.dstKeys()); got != len(want) {
		t.Errorf("destination holds %d objects, want %d", got, len(want))
	}

	// A chunk that changed since planning stops the job rather than
	// skipping or repeating keys.
	putFailureChunk(t, e, prefix+"shard-00000/page-000000.jsonl", []migration.Failure{{Key: "data/f000"}})
	_, err = copyPage(t, env, a, migration.CopyPageInput{JobID: "retry", Spec: spec, Shard: plan.Shards[0]})
	if err == nil {
		t.Fatal("a page over a changed failure log succeeded")
	}
	if ae := appError(t, err); ae.Type() != migration.ErrFatal || !strings.Contains(ae.Error(), "changed") {
		t.Errorf("error %v, want a fatal error saying the log changed", err)
	}
}
