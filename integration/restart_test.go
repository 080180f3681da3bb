package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
)

// TestRestartSendsOnlyTheRest: a job (overwrite policy) cancelled at about
// half-way is finished by `starter restart`, which starts JOB-r1 and sends
// only the objects not yet at the destination: PUTs counted at the
// emulator.
func TestRestartSendsOnlyTheRest(t *testing.T) {
	h := newHarness(t)
	bin, err := buildStarter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 2000, MaxSize: 4 << 10, Seed: 23})
	if err != nil {
		t.Fatal(err)
	}
	// Slow enough to cancel at half-way.
	h.emu.COSFaults.Set(emulator.FaultConfig{Latency: 2 * time.Millisecond})
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 4
	spec.PageSize = 100
	// Two pages at once over the job, so that half-way leaves whole pages
	// not yet started.
	spec.Concurrency = migration.Concurrency{Shards: 4, Objects: 8, LargeObjects: 2, Activities: 2}
	const id = "job-half"
	run := h.startJob(t, id, spec)
	h.awaitProgress(t, id, 2*time.Minute, "half the objects copied", func(p migration.Progress) bool {
		return p.Counts.Copied >= int64(st.Objects/2)
	})
	if err := h.c.CancelWorkflow(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.wait(t, run, time.Minute); err == nil {
		t.Fatal("cancelled job succeeded")
	}
	// Pages in flight stop at their next heartbeat: count once the
	// destination stops changing.
	done := h.dstKeysUnder("")
	for {
		time.Sleep(time.Second)
		n := h.dstKeysUnder("")
		if n == done {
			break
		}
		done = n
	}
	if done >= st.Objects {
		t.Fatalf("the cancelled job copied all %d objects; nothing left to restart", done)
	}
	h.emu.COSFaults.Set(emulator.FaultConfig{})
	before := h.dstPuts()

	out, code := h.runStarter(t, bin, 3*time.Minute, "restart", id)
	if code != 0 || !strings.Contains(out, "started job job-half-r1") {
		t.Fatalf("restart: exit %d\n%s", code, out)
	}
	puts := h.dstPuts() - before
	t.Logf("cancelled with %d of %d objects at the destination; the restart sent %d PUTs", done, st.Objects, puts)
	if want := int64(st.Objects - done); puts != want {
		t.Errorf("restart sent %d PUTs, want %d (only the objects not yet copied)", puts, want)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
	// A second restart: the first ended well, nothing to restart.
	if out, code := h.runStarter(t, bin, time.Minute, "restart", id); code == 0 || !strings.Contains(out, "job-half-r1 is") {
		t.Errorf("restart of a job whose restart succeeded: exit %d\n%s", code, out)
	}
}
