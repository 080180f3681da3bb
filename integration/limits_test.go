package integration

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/runner"
)

// startWorkers runs n workers, each with its own identity (and so its own
// share of a job's limits), on the harness's server.
func (h *harness) startWorkers(t *testing.T, n int) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	for i := range n {
		cfg := *h.cfg
		cfg.Worker.Identity = "limits-worker-" + string(rune('a'+i))
		w, err := runner.NewWorker(h.c, &cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
}

// sample is what both front ends have served so far.
type sample struct {
	at       time.Time
	requests int64
	dstBytes int64
}

func (h *harness) sample() sample {
	oss, cos := h.emu.OSSFaults.Stats(), h.emu.COSFaults.Stats()
	// The destination's request bodies, not the source's responses: the
	// source writes a whole small object into the socket buffers at once,
	// while the upload streams at the pace the body is read.
	return sample{at: time.Now(), requests: oss.Requests + cos.Requests, dstBytes: cos.BytesIn}
}

// requestRate and kibRate are what the emulators served per second
// between two samples: requests, and KiB of destination bodies.
func requestRate(a, b sample) float64 {
	return float64(b.requests-a.requests) / b.at.Sub(a.at).Seconds()
}

func kibRate(a, b sample) float64 {
	return float64(b.dstBytes-a.dstBytes) / 1024 / b.at.Sub(a.at).Seconds()
}

func (h *harness) setLimits(t *testing.T, job string, u migration.LimitsUpdate) migration.Limits {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	handle, err := h.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: job, UpdateName: migration.UpdateSetLimits, Args: []any{u},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		t.Fatalf("update limits of %s: %v", job, err)
	}
	var l migration.Limits
	if err := handle.Get(ctx, &l); err != nil {
		t.Fatalf("update limits of %s: %v", job, err)
	}
	return l
}

// waitStarted waits until the job has written something.
func (h *harness) waitStarted(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(h.emu.Backend.Keys(dstBucket)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the job copied nothing in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertLimit measures a job's rate at the emulators over windows of
// 10 s and holds it to its limit: no window may pass the limit by more
// than 10 % (what a limit promises, and a busy machine, which only slows
// the job, cannot make it pass), and one of at most three windows must
// come within 10 % of it (polled rather than timed: a busy machine may
// need more than one window to get there).
func (h *harness) assertLimit(t *testing.T, what string, limit float64, rate func(a, b sample) float64) {
	t.Helper()
	for range 3 {
		a := h.sample()
		time.Sleep(10 * time.Second)
		got := rate(a, h.sample())
		t.Logf("%s: %.1f/s (limit %.1f/s, %+.1f%%)", what, got, limit, 100*(got-limit)/limit)
		if got > limit*1.1 {
			t.Errorf("%s: measured %.1f/s, over the limit of %.1f/s by more than 10%%", what, got, limit)
			return
		}
		if got >= limit*0.9 {
			return
		}
	}
	t.Errorf("%s: never within 10%% of the limit of %.1f/s in three windows of 10 s", what, limit)
}

// TestJobQPSLimitAcrossThreeWorkers: a QPS limit of 50 on a job run by
// three workers holds at the emulators (both front ends together) within
// 10 %; raised to 100 by the setLimits update while the job runs, the rate
// follows within seconds; lifted, the job runs to the end, verified.
func TestJobQPSLimitAcrossThreeWorkers(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 3000, MaxSize: 2 << 10, Seed: 21})
	if err != nil {
		t.Fatal(err)
	}
	h.startWorkers(t, 3)
	spec := baseSpec()
	spec.PageSize = 50
	spec.Concurrency.Shards = 12
	spec.Limits = migration.Limits{QPS: 50}
	run := h.startJob(t, "job-qps", spec)
	h.waitStarted(t)

	time.Sleep(4 * time.Second) // every worker has its share
	h.assertLimit(t, "requests at QPS 50", 50, requestRate)

	qps := 100.0
	if l := h.setLimits(t, run.GetID(), migration.LimitsUpdate{QPS: &qps}); l.QPS != 100 {
		t.Fatalf("update answered %+v", l)
	}
	time.Sleep(3 * time.Second)
	h.assertLimit(t, "requests after raising the limit to 100", 100, requestRate)

	unlimited := 0.0
	h.setLimits(t, run.GetID(), migration.LimitsUpdate{QPS: &unlimited})
	res, err := h.wait(t, run, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) {
		t.Fatalf("status %q, copied %d of %d", res.Status, res.Counts.Copied, st.Objects)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d", n, st.Objects)
	}
	// A job whose limits were updated while it ran.
	h.recordHistories(t, "job-qps", "job-qps/shard-00000")
}

// TestJobBandwidthLimitAcrossThreeWorkers: a bandwidth limit of 4 MiB/s on
// a job run by three workers holds at the emulator within 10 %, and a raise
// to 8 MiB/s takes effect while the job runs.
func TestJobBandwidthLimitAcrossThreeWorkers(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 900, MinSize: 128 << 10, MaxSize: 384 << 10, Seed: 22})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("source: %d objects, %d MiB", st.Objects, st.Bytes>>20)
	h.startWorkers(t, 3)
	spec := baseSpec()
	// Many shards: the part of the job measured never reaches its tail,
	// where fewer shards than workers are left in flight.
	spec.Shards = 48
	spec.PageSize = 20
	spec.Concurrency.Shards = 12
	spec.Concurrency.Objects = 4
	spec.Limits = migration.Limits{BandwidthBytesPerSecond: 4 * mib}
	run := h.startJob(t, "job-bandwidth", spec)
	h.waitStarted(t)

	time.Sleep(4 * time.Second)
	h.assertLimit(t, "KiB at 4 MiB/s", 4*1024, kibRate)

	bw := int64(8 * mib)
	h.setLimits(t, run.GetID(), migration.LimitsUpdate{BandwidthBytesPerSecond: &bw})
	time.Sleep(3 * time.Second)
	h.assertLimit(t, "KiB after raising the limit to 8 MiB/s", 8*1024, kibRate)

	var unlimited int64
	h.setLimits(t, run.GetID(), migration.LimitsUpdate{BandwidthBytesPerSecond: &unlimited})
	res, err := h.wait(t, run, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded {
		t.Fatalf("status %q", res.Status)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d", n, st.Objects)
	}
}
