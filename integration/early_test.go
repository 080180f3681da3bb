package integration

import (
	"fmt"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
)

// TestJobCopiesWhilePlanning: against a far-away source (300 ms a request)
// a job checks its stores, starts its head shard at once and plans the
// rest meanwhile: the head's first range is under way before the plan is
// made; then the head ends at a boundary of the plan and the planned
// shards beyond it copy the rest. Every object is copied once (no key
// falls between the head and the plan, none is taken by both) and
// verified.
func TestJobCopiesWhilePlanning(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 3000, MaxSize: 1 << 10, Seed: 43})
	if err != nil {
		t.Fatal(err)
	}
	h.emu.OSSFaults.Set(emulator.FaultConfig{Latency: 300 * time.Millisecond})
	h.startNamedWorker(t, "near-the-source", 8)
	h.awaitFleet(t, 1)
	spec := baseSpec()
	spec.PageSize = 100
	spec.Shards = 4
	spec.Concurrency = migration.Concurrency{Shards: 4, Objects: 10, LargeObjects: 2}
	run := h.startJob(t, "job-pack-quiet", spec)
	res, err := h.wait(t, run, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) || res.Counts.Skipped != 0 {
		t.Fatalf("status %q, copied %d and skipped %d of %d", res.Status, res.Counts.Copied, res.Counts.Skipped, st.Objects)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d", n, st.Objects)
	}

	// The job's history: a check, the head started, then the plan done.
	var plans, headStarted, planDone int64
	h.eachEvent(t, "job-pack-quiet", "", func(e *historypb.HistoryEvent) {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.ActivityType.GetName() == "Plan" {
			var in migration.PlanInput
			if err := converter.GetDefaultDataConverter().FromPayloads(a.Input, &in); err != nil {
				t.Fatal(err)
			}
			plans++
			if plans == 1 && !in.CheckOnly || plans == 2 && in.CheckOnly {
				t.Errorf("plan activity %d: CheckOnly %v", plans, in.CheckOnly)
			}
		}
		if a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil && a.WorkflowId == "job-pack-quiet/shard-00000" && headStarted == 0 {
			headStarted = e.EventId
		}
		if e.GetActivityTaskCompletedEventAttributes() != nil && plans == 2 && planDone == 0 {
			planDone = e.EventId
		}
	})
	if plans != 2 || headStarted == 0 || planDone < headStarted {
		t.Fatalf("plan activities %d, head started at event %d, plan done at event %d: want the head started before the plan is done", plans, headStarted, planDone)
	}
	if res.Shards < 2 {
		t.Errorf("%d shards: want the head and planned shards beyond it", res.Shards)
	}

	// The head: open at its start, a range copied before the plan came,
	// then cut.
	var open bool
	var cut bool
	var copies, carried, packed int
	h.eachEvent(t, "job-pack-quiet/shard-00000", "", func(e *historypb.HistoryEvent) {
		if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			var in migration.ShardInput
			if err := converter.GetDefaultDataConverter().FromPayloads(a.Input, &in); err != nil {
				t.Fatal(err)
			}
			open = in.Open
		}
		if a := e.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.SignalName == migration.SignalShardCut {
			cut = true
		}
		a := e.GetActivityTaskScheduledEventAttributes()
		if a == nil {
			return
		}
		if a.ActivityType.GetName() == "CopyPage" {
			var in migration.CopyPageInput
			if err := converter.GetDefaultDataConverter().FromPayloads(a.Input, &in); err != nil {
				t.Fatal(err)
			}
			if !cut {
				copies++
			}
			if len(in.Objects) > 0 {
				carried++
			}
			if len(in.Packed) > 0 {
				packed++
			}
		}
		// Listings go ahead of the copies waiting in the task queue
		// (windowed-shard 5); copies keep the default priority.
		want := map[string]int32{"ListAhead": 1, "CopyPage": 0}[a.ActivityType.GetName()]
		if got := a.GetPriority().GetPriorityKey(); got != want {
			t.Errorf("%s scheduled with priority %d, want %d", a.ActivityType.GetName(), got, want)
		}
	})
	t.Logf("%d shards; the head started %d ranges before its cut, %d with the objects the check carried, %d with those its listings packed", res.Shards, copies, carried, packed)
	// The source is far: the head's first page comes with its objects from
	// the job's check, and every listing packs its chunks' (windowed-shard
	// 7): no range lists its keys again.
	if carried == 0 || packed == 0 {
		t.Errorf("ranges of the head: %d carried their objects, %d had them packed: want both", carried, packed)
	}
	for i := range res.Shards {
		id := fmt.Sprintf("job-pack-quiet/shard-%05d", i)
		var ranges, listed int
		h.eachEvent(t, id, "", func(e *historypb.HistoryEvent) {
			a := e.GetActivityTaskScheduledEventAttributes()
			if a == nil || a.ActivityType.GetName() != "CopyPage" {
				return
			}
			var in migration.CopyPageInput
			if err := converter.GetDefaultDataConverter().FromPayloads(a.Input, &in); err != nil {
				t.Fatal(err)
			}
			ranges++
			if len(in.Objects) == 0 && len(in.Packed) == 0 {
				listed++
			}
		})
		if ranges == 0 || listed > 0 {
			t.Errorf("%s: %d of %d ranges listed their keys again: want none", id, listed, ranges)
		}
	}
	if !open || !cut || copies == 0 {
		t.Errorf("head open %v, cut %v, ranges before the cut %d: want an open head copying before its cut", open, cut, copies)
	}
	h.recordHistories(t, "job-pack-quiet", "job-pack-quiet/shard-00000", "job-pack-quiet/shard-00001")
}
