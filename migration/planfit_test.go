package migration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
)

// temporalPayloadLimit is the size over which Temporal refuses a payload
// (BlobSizeLimitError, 2 MB).
const temporalPayloadLimit = 2 << 20

// key1K is the i-th of keys of 1 KB, in order.
func key1K(i int) string { return strings.Repeat("k", 1000) + fmt.Sprintf("/%08d", i) }

// payloadSize is v's size as the Temporal SDK sends it.
func payloadSize(t *testing.T, v any) int {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p.Size()
}

// TestPayloadsWithinTemporalLimits: a plan of MaxShards shards whose
// boundaries are 1 KB keys (20 MB as planned) is merged to fit; the plan
// result, a job's continue-as-new input with a full state, a shard's input,
// a page's input and a page's result with the most it can carry all stay
// under Temporal's payload limit.
func TestPayloadsWithinTemporalLimits(t *testing.T) {
	plan := make([]Shard, MaxShards)
	for i := range plan {
		plan[i] = Shard{Index: i, After: key1K(i), Before: key1K(i + 1)}
		if i == 0 {
			plan[i].After = ""
		}
		if i == MaxShards-1 {
			plan[i].Before = ""
		}
	}
	// Biggest first, as the planner orders them: not key order.
	for i, j := 0, len(plan)-1; i < j; i, j = i+2, j-2 {
		plan[i], plan[j] = plan[j], plan[i]
	}
	t.Logf("plan of %d shards with 1 KB keys: %d bytes", len(plan), planBytes(plan))
	fit := FitPlan(plan, MaxPlanBytes)
	t.Logf("fitted: %d shards, %d bytes", len(fit), planBytes(fit))
	if planBytes(fit) > MaxPlanBytes || len(fit) < 100 {
		t.Fatalf("fitted plan of %d shards is %d bytes, want at most %d (and still many shards)", len(fit), planBytes(fit), MaxPlanBytes)
	}
	// The fitted plan still covers every shard of the original.
	for _, s := range plan {
		covered := false
		for _, m := range fit {
			if (m.After == "" || m.After <= s.After && s.After != "") && (m.Before == "" || s.Before != "" && s.Before <= m.Before) {
				covered = true
				break
			}
		}
		if !covered {
			t.Fatalf("shard %+v is covered by no shard of the fitted plan", s)
		}
	}
	for i, s := range fit {
		if s.Index != i {
			t.Fatalf("shard %d has index %d", i, s.Index)
		}
	}
	if again := FitPlan(fit, MaxPlanBytes); len(again) != len(fit) {
		t.Errorf("a plan that fits was changed: %d shards to %d", len(fit), len(again))
	}

	spec := JobSpec{Source: Location{Store: "src", Prefix: strings.Repeat("p", 1000)},
		Destination: Location{Store: "dst", Prefix: strings.Repeat("d", 1000)},
		Filters:     Filters{Include: []string{strings.Repeat("i", 1000)}, Exclude: []string{strings.Repeat("e", 1000)}},
	}.WithDefaults("job")
	failure := func(i int) Failure {
		return Failure{Key: key1K(i), Size: 1, Reason: strings.Repeat("r", 1024), Kind: "transient", Attempts: 5}
	}
	var failures []Failure
	for i := range FailureSampleSize {
		failures = append(failures, failure(i))
	}
	var samples []RateSample
	for i := range 64 {
		samples = append(samples, RateSample{At: time.Unix(int64(i), 0), Objects: 1 << 40, Bytes: 1 << 50})
	}
	state := &JobState{Plan: fit, NextShard: len(fit) / 2, Running: make([]int, 1000), Failures: failures,
		Samples: samples, Stalls: []Stall{{Store: "source store \"src\"", What: "objects", Reason: strings.Repeat("r", 300)}}}
	large := make([]LargeObject, MaxPageSize)
	for i := range large {
		large[i] = LargeObject{Key: key1K(i), Size: 1 << 40}
	}
	// A job's first run holds the plan twice (the plan result and its
	// continue-as-new input); with both it must stay far below the 4 MiB
	// of history at which Temporal suggests continuing as new (and the
	// 50 MB it refuses), or every run would hand over at once.
	if n := payloadSize(t, PlanResult{Shards: fit}) + payloadSize(t, JobInput{Spec: spec, State: state}); n > 2<<20 {
		t.Errorf("plan result and job input are %d bytes together, over half of the 4 MiB history that suggests continue-as-new", n)
	}
	// Objects a listing carries (activities.carried), as many 1 KB keys as
	// fit MaxCarriedBytes, in a listing's result, a page's input and (twice)
	// the shard's state.
	var objects []Listed
	for i := 0; ; i++ {
		o := Listed{Key: key1K(i), Size: 1 << 40, ETag: `"0123456789abcdef0123456789abcdef"`, Modified: 1 << 62, CRC64: "fedcba9876543210", Class: "Standard"}
		if payloadSize(t, append(objects, o)) > MaxCarriedBytes {
			break
		}
		objects = append(objects, o)
	}
	// A shard holds two listings' worth at most (workflows.onListAhead).
	held := append(append([]Listed(nil), objects...), objects...)
	var carrying []Range
	for i := 0; i < len(held); i += 32 {
		chunk := held[i:min(i+32, len(held))]
		carrying = append(carrying, Range{After: key1K(i - 1), Last: chunk[len(chunk)-1].Key, Page: i, Objects: chunk})
	}
	for name, v := range map[string]any{
		"plan result": PlanResult{Shards: fit},
		"shard input carrying objects": ShardInput{JobID: "job", Spec: spec, Shard: fit[0], Cursor: key1K(5), Window: 1000,
			Ranges: carrying, CarryListed: true},
		"page input carrying objects": CopyPageInput{JobID: "job", Spec: spec, Shard: fit[0], Objects: objects},
		"list-ahead result carrying objects": ListAheadResult{Bounds: func() []string {
			var b []string
			for _, r := range carrying {
				b = append(b, r.Last)
			}
			return b
		}(), Objects: objects},
		"job input with a full state": JobInput{Spec: spec, State: state},
		"shard input":                 ShardInput{JobID: "job", Spec: spec, Shard: fit[0], Cursor: key1K(5)},
		"page input":                  CopyPageInput{JobID: "job", Spec: spec, Shard: fit[0], After: key1K(5)},
		"page result, all large":      CopyPageResult{LastKey: key1K(999), Large: large, Failures: failures},
		"page result, all archived":   CopyPageResult{LastKey: key1K(999), Archived: large, Failures: failures},
	} {
		n := payloadSize(t, v)
		t.Logf("%s: %d bytes", name, n)
		if n > temporalPayloadLimit {
			t.Errorf("%s is %d bytes, over Temporal's payload limit of %d", name, n, temporalPayloadLimit)
		}
	}
}
