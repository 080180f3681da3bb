package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
)

// TestOtherWritersUploadsLeftAlone: two jobs write the same large key at
// once, each as a multipart upload. Starting the second upload does not
// abort the first; cancelling the first job aborts its own upload only,
// and the second job completes the key with its own bytes.
func TestOtherWritersUploadsLeftAlone(t *testing.T) {
	h := newHarness(t)
	for i, k := range []string{"a/big", "b/big"} {
		if _, err := h.emu.Backend.AddObject(srcBucket, k, emulator.GeneratedBlob(uint64(100+i), 12*mib+3), emulator.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	// Slow uploads: both stay open for seconds.
	h.emu.COSFaults.Set(emulator.FaultConfig{Bandwidth: 4 << 20})
	h.startWorker(t)
	spec := func(prefix string) migration.JobSpec {
		s := baseSpec()
		s.Shards = 1
		s.Source.Prefix = prefix
		s.Destination.Prefix = "same/"
		return s
	}
	runA := h.startJob(t, "job-writer-a", spec("a/"))
	runB := h.startJob(t, "job-writer-b", spec("b/"))
	deadline := time.Now().Add(time.Minute)
	for h.emu.Backend.UploadCount(dstBucket) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("two uploads of the same key never open at once: %q", h.emu.Backend.OpenUploads(dstBucket))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.c.CancelWorkflow(context.Background(), "job-writer-a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.wait(t, runA, time.Minute); err == nil {
		t.Fatal("cancelled job succeeded")
	}
	res, err := h.wait(t, runB, 2*time.Minute)
	if err != nil {
		t.Fatalf("job b failed: %v", err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != 1 {
		t.Fatalf("job b: %q, counts %+v", res.Status, res.Counts)
	}
	s, _ := h.emu.Backend.Object(srcBucket, "b/big")
	d, err := h.emu.Backend.Object(dstBucket, "same/big")
	if err != nil {
		t.Fatal(err)
	}
	if p := emulator.CompareObjects(s, d); p != "" {
		t.Errorf("same/big is not job b's: %s", p)
	}
	deadline = time.Now().Add(30 * time.Second)
	for h.emu.Backend.UploadCount(dstBucket) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("uploads left open: %q", h.emu.Backend.OpenUploads(dstBucket))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One abort: job a's of its own upload.
	if n := h.emu.COSFaults.Stats().ByMethod[http.MethodDelete]; n != 1 {
		t.Errorf("%d DELETE requests (aborts) at the destination, want 1: job a's own", n)
	}
}
