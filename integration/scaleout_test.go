package integration

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/fleet"
	"github.com/bucketferry/bucketferry/internal/histories"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/runner"
)

// startNamedWorker runs a worker with its own identity and at most slots
// activities at once.
func (h *harness) startNamedWorker(t *testing.T, identity string, slots int) worker.Worker {
	t.Helper()
	cfg := *h.cfg
	cfg.Worker.Identity = identity
	cfg.Worker.MaxConcurrentActivities = slots
	w, err := runner.NewWorker(h.c, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// pagesByWorker counts the CopyPage activities each worker completed
// after since, from the histories of the job's shard workflows.
func (h *harness) pagesByWorker(t *testing.T, since time.Time) map[string]int {
	return h.activitiesByWorker(t, "CopyPage", since)
}

// activitiesByWorker counts the activities of a type each worker
// completed after since, from the histories of the shard workflows.
func (h *harness) activitiesByWorker(t *testing.T, activity string, since time.Time) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	var token []byte
	for {
		resp, err := h.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: h.ts.GetDefaultNamespace(), PageSize: 1000, NextPageToken: token,
			Query: "WorkflowType = '" + migration.ShardWorkflow + "'",
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range resp.Executions {
			scheduled := map[int64]string{}
			h.eachEvent(t, ex.Execution.WorkflowId, ex.Execution.RunId, func(e *historypb.HistoryEvent) {
				if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
					scheduled[e.EventId] = a.ActivityType.GetName()
				}
				if a := e.GetActivityTaskCompletedEventAttributes(); a != nil &&
					scheduled[a.ScheduledEventId] == activity && e.EventTime.AsTime().After(since) {
					out[a.Identity]++
				}
			})
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return out
		}
	}
}

// eachEvent calls fn with every event of a workflow run's history (runID
// "": the newest run).
func (h *harness) eachEvent(t *testing.T, id, runID string, fn func(*historypb.HistoryEvent)) {
	t.Helper()
	it := h.c.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		fn(e)
	}
}

// awaitFleet waits until the task queue's fleet shows workers workers, as
// a job's activities would see it.
func (h *harness) awaitFleet(t *testing.T, workers int) {
	t.Helper()
	w := fleet.NewWatcher(h.c.WorkflowService(), h.ts.GetDefaultNamespace(), migration.TaskQueue)
	deadline := time.Now().Add(time.Minute)
	for f := w.Fleet(t.Context()); f == nil || f.Workers < workers; f = w.Fleet(t.Context()) {
		if time.Now().After(deadline) {
			t.Fatalf("fleet %+v after a minute, want %d workers", f, workers)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestJobWorkersJoinMidJob: a job started on one worker of 2 slots takes
// in two workers that join mid-job: its window grows with the fleet, the
// activities it keeps in flight pass what the first worker can hold, each
// newcomer copies a fair share of the pages left, and every object arrives
// verified.
func TestJobWorkersJoinMidJob(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 3000, MaxSize: 2 << 10, Seed: 31})
	if err != nil {
		t.Fatal(err)
	}
	// A far-away store: each request takes 40 ms, so pages take long
	// enough for the fleet to change under them.
	for _, f := range []*emulator.Faults{h.emu.OSSFaults, h.emu.COSFaults} {
		f.Set(emulator.FaultConfig{Latency: 40 * time.Millisecond})
	}
	h.startNamedWorker(t, "first", 2)
	spec := baseSpec()
	spec.PageSize = 50
	spec.Concurrency.Objects = 4
	run := h.startJob(t, "job-join-quiet", spec)
	h.waitStarted(t)

	// A worker's first heartbeat may come before its slots are known: the
	// job learns of them from a later one.
	p := h.progress(t, run.GetID())
	for ; p.Status == migration.StatusRunning; p = h.progress(t, run.GetID()) {
		if p.Fleet != nil && p.Fleet.Workers == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p.Fleet == nil || p.Fleet.Workers != 1 || p.Fleet.Slots != 2 {
		t.Fatalf("fleet before the join %+v, want 1 worker with 2 slots", p.Fleet)
	}
	// The window holds pages; each shard may be listing ahead besides.
	if p.Window != 4 || p.Activities > p.Window+p.Shards.Running {
		t.Errorf("%d activities in flight over %d shards in a window of %d pages, want the 2 slots and 2 waiting",
			p.Activities, p.Shards.Running, p.Window)
	}
	joined := time.Now()
	h.startNamedWorker(t, "second", 2)
	h.startNamedWorker(t, "third", 2)

	// The job hears of the newcomers from its activities' results and
	// offers them work: counted, not timed (the job's end stops the wait).
	var grown migration.Progress
	for p = h.progress(t, run.GetID()); p.Status == migration.StatusRunning; p = h.progress(t, run.GetID()) {
		if p.Fleet != nil && p.Fleet.Workers == 3 && p.Activities > 4 {
			grown = p
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if grown.Fleet == nil {
		t.Fatalf("the job never offered the three workers more than the first one's window: last progress %+v", p)
	}
	if grown.Window != 8 || grown.Fleet.Slots != 6 {
		t.Errorf("window %d over %d slots, want 8 over 6", grown.Window, grown.Fleet.Slots)
	}

	res, err := h.wait(t, run, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) {
		t.Fatalf("status %q, copied %d of %d", res.Status, res.Counts.Copied, st.Objects)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d", n, st.Objects)
	}
	h.recordHistories(t, "job-join-quiet", "job-join-quiet/shard-00000")
	pages := h.pagesByWorker(t, joined)
	total := pages["first"] + pages["second"] + pages["third"]
	t.Logf("pages completed after the join: %v", pages)
	for _, w := range []string{"second", "third"} {
		// A fair share is a third; a newcomer that got less than a fifth
		// was left out.
		if pages[w]*5 < total {
			t.Errorf("%s completed %d of the %d pages after it joined", w, pages[w], total)
		}
	}
}

// TestJobWorkerStoppedMidJob: of two workers, one stops (as on SIGTERM)
// mid-job; the job drops it from its fleet, its pages go to the other,
// and the job ends succeeded with every object verified.
func TestJobWorkerStoppedMidJob(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 1500, MaxSize: 2 << 10, Seed: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*emulator.Faults{h.emu.OSSFaults, h.emu.COSFaults} {
		f.Set(emulator.FaultConfig{Latency: 40 * time.Millisecond})
	}
	h.startNamedWorker(t, "staying", 2)
	leaving := h.startNamedWorker(t, "leaving", 2)
	spec := baseSpec()
	spec.PageSize = 50
	spec.Concurrency.Objects = 4
	run := h.startJob(t, "job-leave", spec)
	h.waitStarted(t)
	leaving.Stop()

	var shrunk bool
	for p := h.progress(t, run.GetID()); p.Status == migration.StatusRunning; p = h.progress(t, run.GetID()) {
		if p.Fleet != nil && p.Fleet.Workers == 1 {
			shrunk = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := h.wait(t, run, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) {
		t.Fatalf("status %q, copied %d of %d", res.Status, res.Counts.Copied, st.Objects)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d", n, st.Objects)
	}
	if !shrunk {
		t.Error("the job's fleet never dropped the stopped worker")
	}
	h.recordHistories(t, "job-leave", "job-leave/shard-00000")
}

// TestJobSpreadsAHugeObjectOverWorkers: the parts of one object of 1 GiB
// are copied by activities on both workers, and the object arrives whole,
// its CRC64 the source's.
func TestJobSpreadsAHugeObjectOverWorkers(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 10, MaxSize: 1 << 10, Large: 1, LargeSize: 1 << 30, Seed: 33})
	if err != nil {
		t.Fatal(err)
	}
	h.startNamedWorker(t, "left", 2)
	h.startNamedWorker(t, "right", 2)
	run := h.startJob(t, "job-spread", baseSpec())
	res, err := h.wait(t, run, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) {
		t.Fatalf("status %q, copied %d of %d", res.Status, res.Counts.Copied, st.Objects)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d", n, st.Objects)
	}
	h.recordHistories(t, "job-spread", "job-spread/shard-00000")
	chunks := h.activitiesByWorker(t, "CopyLargeParts", time.Time{})
	t.Logf("runs of parts copied by each worker: %v", chunks)
	if chunks["left"] == 0 || chunks["right"] == 0 || chunks["left"]+chunks["right"] != 8 {
		t.Errorf("runs of parts by worker %v: want the 8 runs spread over both workers", chunks)
	}
	if res.Counts.BytesSent < 1<<30 || res.Counts.BytesSent > 1<<30+64<<20 {
		t.Errorf("sent %d bytes for an object of 1 GiB", res.Counts.BytesSent)
	}
}

// TestJobOneShardCopiesChunkedRanges: a shard lists chunks of one pool
// round of keys and joins them into ranges as it starts them: ranges of at
// least four chunks while keys are left to list, and at the shard's end
// down to one chunk a range, so that the last keys are spread over the
// fleet's slots. Every object is copied once and verified.
func TestJobOneShardCopiesChunkedRanges(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 800, MaxSize: 1 << 10, Seed: 41})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*emulator.Faults{h.emu.OSSFaults, h.emu.COSFaults} {
		f.Set(emulator.FaultConfig{Latency: 20 * time.Millisecond})
	}
	h.startNamedWorker(t, "first", 6)
	h.startNamedWorker(t, "second", 6)
	// The fleet is seen before the job starts, so that its one shard is
	// windowed from its first page.
	h.awaitFleet(t, 2)
	spec := baseSpec()
	spec.Shards = 1
	spec.PageSize = 100
	spec.Concurrency = migration.Concurrency{Shards: 1, Objects: 4, LargeObjects: 2}
	run := h.startJob(t, "job-chunked", spec)
	res, err := h.wait(t, run, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) {
		t.Fatalf("status %q, copied %d of %d", res.Status, res.Counts.Copied, st.Objects)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d", n, st.Objects)
	}

	// The ranges the shard copied, counted in keys.
	keys := h.emu.Backend.Keys(srcBucket)
	var sizes []int
	chunked := false
	h.eachEvent(t, "job-chunked/shard-00000", "", func(e *historypb.HistoryEvent) {
		a := e.GetActivityTaskScheduledEventAttributes()
		if a == nil {
			return
		}
		switch a.ActivityType.GetName() {
		case "ListAhead":
			var in migration.ListAheadInput
			if err := converter.GetDefaultDataConverter().FromPayloads(a.Input, &in); err != nil {
				t.Fatal(err)
			}
			chunked = chunked || in.ChunkKeys == 4
		case "CopyPage":
			var in migration.CopyPageInput
			if err := converter.GetDefaultDataConverter().FromPayloads(a.Input, &in); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, k := range keys {
				if k > in.Shard.After && (in.Shard.Before == "" || k < in.Shard.Before) {
					n++
				}
			}
			sizes = append(sizes, n)
		}
	})
	t.Logf("ranges of %v keys", sizes)
	if !chunked {
		t.Error("no listing asked for chunks of the pool's 4 keys")
	}
	if len(sizes) < 2 || slices.Max(sizes) < 16 || slices.Min(sizes) > 4 {
		t.Errorf("ranges of %v keys: want ranges of four chunks (16 keys) or more, and the last ones of one chunk", sizes)
	}
	h.recordHistories(t, "job-chunked", "job-chunked/shard-00000")
}

// recordHistories adds the workflows' histories to the replay corpus
// (workflows/testdata) when BUCKETFERRY_RECORD_HISTORIES=1.
func (h *harness) recordHistories(t *testing.T, ids ...string) {
	t.Helper()
	if os.Getenv("BUCKETFERRY_RECORD_HISTORIES") != "1" {
		return
	}
	if err := histories.Record(context.Background(), h.c, filepath.Join("..", "workflows", "testdata"), ids...); err != nil {
		t.Fatal(err)
	}
}
