package integration

import (
	"strings"
	"testing"
	"time"

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
	const id = "job-can"
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
		runs[strings.Split(run, "@")[0]]++
	}
	t.Logf("runs: %v", runs)
	if runs[id] < 2 || runs[id+"/shard-00000"] < 2 {
		t.Errorf("runs %v: the job and shard 0 should each have continued as new", runs)
	}
	h.recordHistories(t, id, id+"/shard-00000")
}
