package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/internal/histories"
	"github.com/bucketferry/bucketferry/migration"
)

const mib = 1 << 20

func baseSpec() migration.JobSpec {
	return migration.JobSpec{
		Source:           migration.Location{Store: "src"},
		Destination:      migration.Location{Store: "dst"},
		Shards:           24,
		LargeObjectBytes: 8 * mib,
		Concurrency:      migration.Concurrency{Shards: 8, Objects: 32, LargeObjects: 2},
		SearchAttributes: true,
	}
}

// TestJobCopiesEverythingVerified: 5,000+ objects with nested prefixes,
// special-character and unicode keys, metadata and multipart-sized objects,
// over 20+ shards, end "succeeded" with every object verified.
func TestJobCopiesEverythingVerified(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{
		Objects: 5000, MinSize: 0, MaxSize: 64 << 10, Large: 6, LargeSize: 12*mib + 5, Seed: 11,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)
	spec := baseSpec()
	spec.PageSize = 200 // shards are never smaller than a page: 25 of them
	run := h.startJob(t, "job-full", spec)
	res, err := h.wait(t, run, 5*time.Minute)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	t.Logf("result: %+v", res.Counts)
	if res.Status != migration.StatusSucceeded {
		t.Fatalf("status %q, want %q (sample %+v)", res.Status, migration.StatusSucceeded, res.FailureSample)
	}
	if res.Shards < 20 {
		t.Errorf("planned %d shards, want at least 20", res.Shards)
	}
	if res.Counts.Copied != int64(st.Objects) || res.Counts.BytesCopied != st.Bytes {
		t.Errorf("copied %d objects / %d bytes, source has %d / %d", res.Counts.Copied, res.Counts.BytesCopied, st.Objects, st.Bytes)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
	if n := h.emu.Backend.UploadCount(dstBucket); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
	h.assertHistoriesBounded(t, 10000)

	if os.Getenv("BUCKETFERRY_RECORD_HISTORIES") == "1" {
		dir := filepath.Join("..", "workflows", "testdata")
		if err := histories.Record(context.Background(), h.c, dir, "job-full", "job-full/shard-00000"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestJobUnreadableObjects: objects the source refuses end the job
// "completed with failures", listing exactly those keys with reasons.
func TestJobUnreadableObjects(t *testing.T) {
	h := newHarness(t)
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 400, MaxSize: 8 << 10, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	keys := h.emu.Backend.Keys(srcBucket)
	bad := map[string]bool{keys[3]: true, keys[150]: true, keys[399]: true}
	h.denyReads(bad, nil)
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 4
	spec.MaxAttempts = 2
	res, err := h.wait(t, h.startJob(t, "job-unreadable", spec), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusCompletedWithFailures || res.Counts.Failed != int64(len(bad)) {
		t.Fatalf("status %q with %d failed, want %q with %d", res.Status, res.Counts.Failed, migration.StatusCompletedWithFailures, len(bad))
	}
	fails := h.failureLog(t, res.FailureLog)
	var got []string
	for _, f := range fails {
		got = append(got, f.Key)
		if f.Reason == "" || f.Kind == "" {
			t.Errorf("failure of %q has no reason: %+v", f.Key, f)
		}
	}
	var want []string
	for k := range bad {
		want = append(want, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("failure log lists %q, want exactly %q", got, want)
	}
	h.verifyAll(t, bad)
}

// TestJobWrongDestinationCredentialsFailsFast: a wrong secret fails the job
// within seconds, naming the store, instead of retrying for hours.
func TestJobWrongDestinationCredentialsFailsFast(t *testing.T) {
	h := newHarness(t)
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 50, MaxSize: 1024, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)
	spec := baseSpec()
	spec.Destination.Store = "baddst"
	_, err := h.wait(t, h.startJob(t, "job-badcreds", spec), time.Minute)
	if err == nil {
		t.Fatal("job with a wrong destination secret succeeded")
	}
	if appErrorType(err) != migration.ErrFatal {
		t.Errorf("error type %q, want %q: %v", appErrorType(err), migration.ErrFatal, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "baddst") || !strings.Contains(strings.ToLower(msg), "access denied") {
		t.Errorf("error does not name the store and the problem: %v", err)
	}
	// Fast: counted, not timed (the planning ran once, without retries).
	if got := planAttempts(t, h, "job-badcreds"); got != 1 {
		t.Errorf("planning ran %d attempts, want 1", got)
	}
	if n := len(h.emu.Backend.Keys(dstBucket)); n != 0 {
		t.Errorf("%d objects written with bad credentials", n)
	}
}

// TestJobSurvivesWorkerReplacement stops the only worker in the middle of a
// job and starts a new one: the job finishes with nothing lost, and the PUTs
// counted at the destination show little was sent twice.
func TestJobSurvivesWorkerReplacement(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 3000, MaxSize: 32 << 10, Large: 4, LargeSize: 24 * mib, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	// Slow the destination a little so that the stop lands mid-job.
	h.emu.COSFaults.Set(emulator.FaultConfig{Latency: 2 * time.Millisecond})
	w := h.startWorker(t)
	spec := baseSpec()
	spec.Concurrency.Shards = 4
	run := h.startJob(t, "job-replace", spec)
	deadline := time.Now().Add(2 * time.Minute)
	for len(h.emu.Backend.Keys(dstBucket)) < st.Objects/3 {
		if time.Now().After(deadline) {
			t.Fatal("job made no progress")
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.Stop()
	atStop := len(h.emu.Backend.Keys(dstBucket))
	t.Logf("worker stopped with %d of %d objects at the destination", atStop, st.Objects)
	h.emu.COSFaults.Set(emulator.FaultConfig{})
	h.startWorker(t)
	res, err := h.wait(t, run, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded {
		t.Fatalf("status %q", res.Status)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Fatalf("verified %d of %d", n, st.Objects)
	}
	// Every small object is one PUT; every large one 24 MiB / 2 MiB = 12 part
	// PUTs. Anything above that was sent twice.
	puts := h.emu.COSFaults.Stats().ByMethod[http.MethodPut]
	needed := int64(st.Objects-4) + 4*12
	extra := float64(puts-needed) / float64(needed)
	t.Logf("%d PUTs for %d needed: %.1f%% re-sent", puts, needed, 100*extra)
	if extra > 0.10 {
		t.Errorf("re-sent %.1f%% of the PUTs after a worker replacement, want under 10%%", 100*extra)
	}
}
