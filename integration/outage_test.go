package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/internal/histories"
	"github.com/bucketferry/bucketferry/migration"
)

// outageSpec is a job whose whole retry budget before outages were waited
// out (maxAttempts 2: one retry, a second after the first failure) is a
// few seconds, with outage waits capped at 250 ms so that an outage many
// times that budget stays short in CI.
func outageSpec() migration.JobSpec {
	spec := baseSpec()
	spec.Shards = 4
	spec.PageSize = 50
	spec.MaxAttempts = 2
	spec.OutageMaxBackoff = "250ms"
	spec.Concurrency = migration.Concurrency{Shards: 4, Objects: 8, LargeObjects: 2}
	return spec
}

// statusAttribute reads a job's BucketferryStatus search attribute.
func (h *harness) statusAttribute(t *testing.T, id string) string {
	t.Helper()
	d, err := h.c.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	p := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[migration.SAStatus]
	if p == nil {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// awaitProgress polls a job's progress until ok holds of it.
func (h *harness) awaitProgress(t *testing.T, id string, within time.Duration, what string, ok func(migration.Progress) bool) migration.Progress {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		p := h.progress(t, id)
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %s not seen within %v; last progress %+v", id, what, within, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitStalled waits for the job to show "stalled" with a reason, in its
// progress and its status search attribute, and returns the progress.
func (h *harness) awaitStalled(t *testing.T, id string) migration.Progress {
	t.Helper()
	p := h.awaitProgress(t, id, time.Minute, "status stalled", func(p migration.Progress) bool {
		return p.Status == migration.StatusStalled && len(p.Stalls) > 0
	})
	for _, s := range p.Stalls {
		if s.Store == "" || s.Reason == "" || s.Since.IsZero() {
			t.Errorf("stall without store, reason or since: %+v", s)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.statusAttribute(t, id) != string(migration.StatusStalled) {
		if time.Now().After(deadline) {
			t.Fatalf("search attribute %s never %q", migration.SAStatus, migration.StatusStalled)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// TestOutageWaitedOut: both stores go down (every connection dropped)
// mid-job for about ten times the job's old whole retry budget; the job
// shows "stalled" with the reason meanwhile, goes on by itself when they
// come back, and ends succeeded with every object verified and none failed.
func TestOutageWaitedOut(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{
		Objects: 800, MaxSize: 16 << 10, Large: 2, LargeSize: 12*mib + 5, Seed: 13,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Slow enough that the outage lands mid-job.
	h.emu.OSSFaults.Set(emulator.FaultConfig{Latency: 5 * time.Millisecond})
	h.emu.COSFaults.Set(emulator.FaultConfig{Latency: 5 * time.Millisecond})
	h.startWorker(t)
	const id = "job-outage"
	run := h.startJob(t, id, outageSpec())
	h.awaitProgress(t, id, time.Minute, "the first copies", func(p migration.Progress) bool { return p.Counts.Copied >= 50 })

	h.emu.OSSFaults.Set(emulator.FaultConfig{Down: true})
	h.emu.COSFaults.Set(emulator.FaultConfig{Down: true})
	down := time.Now()
	p := h.awaitStalled(t, id)
	t.Logf("stalled: %+v", p.Stalls)
	// The old budget: two attempts one second apart, each trying a listing
	// three times within 0.6 s: the job failed within about 3 s.
	time.Sleep(10*time.Second - time.Since(down))
	if p := h.progress(t, id); p.Status != migration.StatusStalled || p.Counts.Failed != 0 {
		t.Fatalf("after 10 s down: status %q, %d failed; want stalled, none failed", p.Status, p.Counts.Failed)
	}
	h.emu.OSSFaults.Set(emulator.FaultConfig{})
	h.emu.COSFaults.Set(emulator.FaultConfig{})

	res, err := h.wait(t, run, 3*time.Minute)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Failed != 0 {
		t.Fatalf("status %q with %d failed (sample %+v)", res.Status, res.Counts.Failed, res.FailureSample)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
	if n := h.emu.Backend.UploadCount(dstBucket); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
}

// TestSourceGetsFailThenHeal: the source answers 500 InternalError to every
// object GET (listings still work) for a while, then heals: no object
// fails, the job shows "stalled" meanwhile and ends succeeded.
func TestSourceGetsFailThenHeal(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 300, MaxSize: 8 << 10, Seed: 17})
	if err != nil {
		t.Fatal(err)
	}
	failGets := emulator.FaultConfig{Fail: func(r *http.Request) *emulator.APIError {
		// Object reads only: a bucket listing is a GET of the bucket.
		if r.Method != http.MethodGet || strings.Trim(r.URL.Path, "/") == "" || strings.Trim(r.URL.Path, "/") == srcBucket {
			return nil
		}
		return &emulator.APIError{Status: 500, Code: "InternalError", Message: "We encountered an internal error."}
	}}
	h.emu.OSSFaults.Set(failGets)
	h.startWorker(t)
	const id = "job-get-500-gates"
	run := h.startJob(t, id, outageSpec())
	h.awaitStalled(t, id)
	time.Sleep(5 * time.Second)
	if p := h.progress(t, id); p.Counts.Failed != 0 || p.Counts.Copied != 0 {
		t.Fatalf("while every GET fails: %d copied, %d failed; want none", p.Counts.Copied, p.Counts.Failed)
	}
	h.emu.OSSFaults.Set(emulator.FaultConfig{})
	res, err := h.wait(t, run, 3*time.Minute)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Failed != 0 {
		t.Fatalf("status %q with %d failed (sample %+v)", res.Status, res.Counts.Failed, res.FailureSample)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
	if p := h.progress(t, id); len(p.Stalls) != 0 {
		t.Errorf("stalls left after the job: %+v", p.Stalls)
	}
	if os.Getenv("BUCKETFERRY_RECORD_HISTORIES") == "1" {
		// A job that heard stall signals, for the replay tests.
		dir := filepath.Join("..", "workflows", "testdata")
		if err := histories.Record(context.Background(), h.c, dir, id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDestinationThrottlesEverything: mid-job, the destination answers 503
// SlowDown to every PUT for several times the job's whole retry budget of
// before outages were waited out (the 2 minutes scaled to 10 s,
// with outage waits capped at 250 ms; BUCKETFERRY_SLOWDOWN=2m for the full
// run): nothing fails, the job shows "stalled" naming the destination,
// and once writes are accepted again it ends succeeded with every object
// verified, none written twice beyond the pages in flight (PUTs accepted
// counted by key at the emulator).
func TestDestinationThrottlesEverything(t *testing.T) {
	slow := 10 * time.Second
	if v := os.Getenv("BUCKETFERRY_SLOWDOWN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("BUCKETFERRY_SLOWDOWN: %v", err)
		}
		slow = d
	}
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 1000, MaxSize: 8 << 10, Seed: 19})
	if err != nil {
		t.Fatal(err)
	}
	var throttling atomic.Bool
	var mu sync.Mutex
	written := map[string]int{} // PUTs accepted, by path
	h.emu.COSFaults.Set(emulator.FaultConfig{Latency: 5 * time.Millisecond, Fail: func(r *http.Request) *emulator.APIError {
		if r.Method != http.MethodPut {
			return nil
		}
		if throttling.Load() {
			return &emulator.APIError{Status: 503, Code: "SlowDown", Message: "Please reduce your request rate."}
		}
		mu.Lock()
		written[r.URL.Path]++
		mu.Unlock()
		return nil
	}})
	h.startWorker(t)
	const id = "job-slowdown"
	spec := outageSpec()
	// At most four pages in flight over the job: what the throttling may
	// cost is bounded by them.
	const pagesInFlight = 4
	spec.Concurrency.Activities = pagesInFlight
	run := h.startJob(t, id, spec)
	h.awaitProgress(t, id, time.Minute, "the first copies", func(p migration.Progress) bool { return p.Counts.Copied >= 100 })

	throttling.Store(true)
	began := time.Now()
	p := h.awaitStalled(t, id)
	if s := p.Stalls[0]; !strings.Contains(s.Store, "destination") || !strings.Contains(s.Reason, "SlowDown") {
		t.Errorf("stall %+v does not name the destination's throttling", s)
	}
	time.Sleep(slow - time.Since(began))
	if p := h.progress(t, id); p.Status != migration.StatusStalled || p.Counts.Failed != 0 {
		t.Fatalf("after %v of SlowDown: status %q, %d failed; want stalled, none failed", slow, p.Status, p.Counts.Failed)
	}
	throttling.Store(false)

	res, err := h.wait(t, run, 3*time.Minute)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Failed != 0 {
		t.Fatalf("status %q with %d failed (sample %+v)", res.Status, res.Counts.Failed, res.FailureSample)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, n := range written {
		twice += n - 1
	}
	t.Logf("SlowDown for %v mid-job: %d objects, %d written twice (at most %d pages of %d in flight)",
		slow, len(written), twice, pagesInFlight, spec.PageSize)
	if twice > pagesInFlight*spec.PageSize {
		t.Errorf("%d objects written twice: more than the %d pages of %d in flight", twice, pagesInFlight, spec.PageSize)
	}
}
