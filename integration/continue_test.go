package integration

import (
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/server/common/dynamicconfig"
	temporalserver "go.temporal.io/server/temporal"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
)

// TestJobAndShardsContinueAsNew: on a server that suggests continue-as-new
// after 150 events (the default is thousands), the job and its shards hand
// over to new runs many times; the job still ends succeeded with every
// object verified and counted once.
func TestJobAndShardsContinueAsNew(t *testing.T) {
	h := newHarnessWith(t, temporalserver.WithDynamicConfigClient(dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		dynamicconfig.HistoryCountSuggestContinueAsNew.Key():        []dynamicconfig.ConstrainedValue{{Value: 150}},
	}))
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 1200, MaxSize: 4 << 10, Large: 2, LargeSize: 9 * mib, Seed: 37})
	if err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 2
	spec.PageSize = 20
	spec.Concurrency = migration.Concurrency{Shards: 2, Objects: 8, LargeObjects: 2}
	const id = "job-can-quiet"
	res, err := h.wait(t, h.startJob(t, id, spec), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) || res.Counts.Failed != 0 {
		t.Fatalf("status %q, counts %+v; want all %d copied", res.Status, res.Counts, st.Objects)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
	runs := map[string]int{}
	for run := range h.histories(t) {
		wid, runID, _ := strings.Cut(run, "@")
		runs[wid]++
		// Each run records one version marker (release-gates) and one
		// TemporalChangeVersion upsert, whatever gates it passes.
		var markers, upserts int
		h.eachEvent(t, wid, runID, func(e *historypb.HistoryEvent) {
			if a := e.GetMarkerRecordedEventAttributes(); a != nil && a.GetMarkerName() == "Version" {
				markers++
			}
			if a := e.GetUpsertWorkflowSearchAttributesEventAttributes(); a != nil {
				if _, ok := a.GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"]; ok {
					upserts++
				}
			}
		})
		if markers != 1 || upserts != 1 {
			t.Errorf("run %s: %d version markers and %d change-version upserts, want 1 of each", run, markers, upserts)
		}
	}
	t.Logf("runs: %v", runs)
	if runs[id] < 2 || runs[id+"/shard-00000"] < 2 {
		t.Errorf("runs %v: the job and shard 0 should each have continued as new", runs)
	}
	h.recordHistories(t, id, id+"/shard-00000")
}
